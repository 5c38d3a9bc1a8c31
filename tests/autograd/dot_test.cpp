// to_dot() and render() (scalargrad/dot.hpp): Graphviz pictures of a graph.
//
// Golden files: the DOT text of micrograd's trace_graph examples and of a two-layer network
// with layer labels is compared byte for byte with tests/autograd/golden/*.dot (found next to
// this file through __FILE__). After an intended change of the output, regenerate them and
// review the difference:
//
//   SCALARGRAD_UPDATE_GOLDEN=1 build/<dir>/tests/autograd/dot_test --gtest_filter='ToDotGolden.*'
//   git diff tests/autograd/golden
//
// (while updating, those tests write their file and report themselves skipped).
//
// Render tests need Graphviz (Debian: apt-get install graphviz libgraphviz-dev; CI installs
// both): without it they are skipped with the reason. The tests of render() without Graphviz,
// and with a dot program that fails, replace PATH for their duration; they apply only when
// scalargrad was built without libgvc (-DSCALARGRAD_WITH_GRAPHVIZ=OFF, or libgvc absent) and
// are skipped otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>          // open
#include <sys/resource.h>   // setrlimit
#include <sys/stat.h>       // mknod, mkfifo
#include <sys/sysmacros.h>  // makedev
#include <unistd.h>

#include "scalargrad/dot.hpp"
#include "support/test_support.hpp"

// LeakSanitizer (CI runs the tests under ASan with detect_leaks=1): Graphviz 2.43's library and
// the fontconfig it loads keep caches for the life of the process and leak a few bytes per layout
// (record labels); those leaks are theirs, not scalargrad's.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgvc.so\nleak:libcgraph.so\nleak:libcdt.so\nleak:libgvplugin_\nleak:libfontconfig.so\n"
         "leak:libpango\nleak:libcairo\n";
}

namespace {

namespace fs = std::filesystem;
using scalargrad::DotOptions;
using scalargrad::Value;
using scalargrad::testing_support::ErrorMessage;

// ---- Helpers ------------------------------------------------------------------------------------

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Compares `text` with golden/<name>, or rewrites the file when SCALARGRAD_UPDATE_GOLDEN=1.
void ExpectMatchesGolden(const std::string& text, const std::string& name) {
  const fs::path path = fs::path(__FILE__).parent_path() / "golden" / name;
  ASSERT_TRUE(path.is_absolute()) << "__FILE__ is not an absolute path: cannot find " << path;
  const char* update = std::getenv("SCALARGRAD_UPDATE_GOLDEN");
  if (update != nullptr && std::string_view(update) == "1") {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    GTEST_SKIP() << "SCALARGRAD_UPDATE_GOLDEN=1: wrote " << path;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; SCALARGRAD_UPDATE_GOLDEN=1 writes it";
  EXPECT_EQ(text, ReadFile(path)) << "to_dot() differs from " << path
                                  << " (if intended: SCALARGRAD_UPDATE_GOLDEN=1, see the top of "
                                     "this file)";
}

/// The line of `dot` that contains `needle` (the first), or "" if none.
std::string LineWith(const std::string& dot, std::string_view needle) {
  const std::size_t at = dot.find(needle);
  if (at == std::string::npos) return "";
  const std::size_t begin = dot.rfind('\n', at) + 1;  // npos + 1 == 0
  return dot.substr(begin, dot.find('\n', at) - begin);
}

bool Contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

/// micrograd's lecture neuron: o = tanh(x1 w1 + x2 w2 + b), every value labelled, after
/// backward(). `reversed` builds the same expression with leaves and products made in another
/// order.
struct Neuron {
  Value x1, x2, w1, w2, b, x1w1, x2w2, sum, n, o;
  explicit Neuron(bool reversed = false) {
    if (reversed) {
      b = Value(6.8813735870195432);
      w2 = Value(1.0);
      x2 = Value(0.0);
      w1 = Value(-3.0);
      x1 = Value(2.0);
      x2w2 = x2 * w2;
      x1w1 = x1 * w1;
    } else {
      x1 = Value(2.0);
      x2 = Value(0.0);
      w1 = Value(-3.0);
      w2 = Value(1.0);
      b = Value(6.8813735870195432);
      x1w1 = x1 * w1;
      x2w2 = x2 * w2;
    }
    x1.label("x1");
    x2.label("x2");
    w1.label("w1");
    w2.label("w2");
    b.label("b");
    x1w1.label("x1*w1");
    x2w2.label("x2*w2");
    sum = x1w1 + x2w2;
    sum.label("x1*w1 + x2*w2");
    n = sum + b;
    n.label("n");
    o = n.tanh();
    o.label("o");
    o.backward();
  }
};

/// A two-layer network built by hand with nn-style labels: two tanh neurons on inputs x0, x1
/// (layer1/w00 ... layer1/b1), one linear neuron on their outputs (layer2/...), and a squared
/// error labelled "loss". After backward().
struct TwoLayers {
  std::vector<Value> keep;  // every leaf, so that the graph is easy to extend in a test
  Value out, loss;
  TwoLayers() {
    const auto leaf = [this](double v, const char* label) {
      Value x(v);
      x.label(label);
      keep.push_back(x);
      return x;
    };
    const Value x[] = {leaf(0.5, "x0"), leaf(-1.0, "x1")};
    const Value w1[2][2] = {{leaf(0.1, "layer1/w00"), leaf(-0.2, "layer1/w01")},
                            {leaf(0.3, "layer1/w10"), leaf(0.4, "layer1/w11")}};
    const Value b1[] = {leaf(0.0, "layer1/b0"), leaf(0.1, "layer1/b1")};
    std::vector<Value> h;
    for (int i = 0; i < 2; ++i) h.push_back((scalargrad::dot(w1[i], x) + b1[i]).tanh());
    const Value w2[] = {leaf(0.7, "layer2/w0"), leaf(-0.5, "layer2/w1")};
    out = scalargrad::dot(w2, h) + leaf(0.2, "layer2/b");
    loss = (out - 1.0).pow(2.0);
    loss.label("loss");
    loss.backward();
  }
};

// ---- Golden files -------------------------------------------------------------------------------

// micrograd's trace_graph: a small expression, y = relu(x * 2 + 1).
TEST(ToDotGolden, ExpressionMatchesMicrogradPicture) {
  Value x = 2.0;
  x.label("x");
  Value y = (x * 2.0 + 1.0).relu();
  y.label("y");
  y.backward();
  ExpectMatchesGolden(scalargrad::to_dot(y), "expression.dot");
}

// micrograd's lecture neuron, every value labelled.
TEST(ToDotGolden, NeuronMatchesMicrogradPicture) {
  const Neuron neuron;
  ExpectMatchesGolden(scalargrad::to_dot(neuron.o), "neuron.dot");
}

TEST(ToDotGolden, LayerLabelsMakeClusters) {
  const TwoLayers net;
  ExpectMatchesGolden(scalargrad::to_dot(net.loss), "two_layers.dot");
}

// ---- The picture --------------------------------------------------------------------------------

TEST(ToDot, RecordsHoldLabelDataAndGrad) {
  const Neuron neuron;
  const std::string dot = scalargrad::to_dot(neuron.o);
  EXPECT_TRUE(Contains(dot, "rankdir=LR;"));
  // x1 = 2, do/dx1 = w1 (1 - o^2) = -3 / 2.
  EXPECT_TRUE(Contains(dot, "n0 [label=\"{ x1 | data 2.0000 | grad -1.5000 }\"];")) << dot;
  EXPECT_TRUE(Contains(dot, "[label=\"{ o | data 0.7071 | grad 1.0000 }\"];")) << dot;
  EXPECT_TRUE(Contains(dot, "_op [shape=ellipse, label=\"tanh\"];")) << dot;
}

TEST(ToDot, ValuesAreNamedInTopologicalOrderRootLast) {
  const Neuron neuron;
  const std::string dot = scalargrad::to_dot(neuron.o);
  const std::vector<Value> order = scalargrad::topological_order(neuron.o);
  ASSERT_EQ(order.size(), 10U);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string record = std::string("n") + std::to_string(i) + " [label=\"{ ";
    EXPECT_TRUE(Contains(dot, record + order[i].label().substr(0, 2))) << record << order[i].label();
  }
  EXPECT_TRUE(Contains(dot, "n9_op -> n9;"));
  EXPECT_FALSE(Contains(dot, "n10"));
}

TEST(ToDot, EdgesGoOperandToOpToResultOncePerUse) {
  Value x = 3.0;
  Value y = x * x;
  const std::string dot = scalargrad::to_dot(y);
  EXPECT_TRUE(Contains(dot, "  n0 -> n1_op;\n  n0 -> n1_op;\n  n1_op -> n1;\n")) << dot;
}

TEST(ToDot, OpEllipseShowsConstantOnItsSide) {
  Value a = 3.0;
  const auto op_label = [](const Value& v) {
    const std::string dot = scalargrad::to_dot(v);
    const std::string line = LineWith(dot, "_op [");
    const std::size_t at = line.find("label=\"");
    return line.substr(at + 7, line.rfind('"') - at - 7);
  };
  EXPECT_EQ(op_label(a * 2.0), "* 2");
  EXPECT_EQ(op_label(2.0 * a), "* 2");
  EXPECT_EQ(op_label(a + 1.0), "+ 1");
  EXPECT_EQ(op_label(a - 1.0), "+ -1");  // recorded as a + (-1)
  EXPECT_EQ(op_label(1.0 - a), "1 -");
  EXPECT_EQ(op_label(a / 2.0), "/ 2");
  EXPECT_EQ(op_label(2.0 / a), "2 /");
  EXPECT_EQ(op_label(a.pow(3.0)), "pow 3");
  EXPECT_EQ(op_label(pow(2.0, a)), "2 pow");
  EXPECT_EQ(op_label(a.pow(0.5)), "pow 0.5");
  EXPECT_EQ(op_label(a.leaky_relu(0.01)), "leaky_relu 0.01");
  EXPECT_EQ(op_label(a.elu()), "elu 1");
  EXPECT_EQ(op_label(-a), "neg");
  EXPECT_EQ(op_label(a * a), "*");
  EXPECT_EQ(op_label(a - a), "-");
  EXPECT_EQ(op_label(scalargrad::sum({a, a, a})), "sum");
  // Regression: where c op x == x op c (2 / -2 == -2 / 2, 2^4 == 4^2), the side is still right.
  Value minus_two = -2.0;
  Value four = 4.0;
  EXPECT_EQ(op_label(2.0 / minus_two), "2 /");
  EXPECT_EQ(op_label(minus_two / 2.0), "/ 2");
  EXPECT_EQ(op_label(pow(2.0, four)), "2 pow");
  EXPECT_EQ(op_label(four.pow(2.0)), "pow 2");
}

// ---- Options ------------------------------------------------------------------------------------

TEST(ToDot, ShowGradFalseDropsTheGradField) {
  const Neuron neuron;
  DotOptions options;
  options.show_grad = false;
  const std::string dot = scalargrad::to_dot(neuron.o, options);
  EXPECT_FALSE(Contains(dot, "| grad ")) << dot;
  EXPECT_TRUE(Contains(dot, "n0 [label=\"{ x1 | data 2.0000 }\"];")) << dot;
}

TEST(ToDot, PrecisionSetsDigitsAfterThePoint) {
  const Neuron neuron;
  DotOptions options;
  options.precision = 2;
  EXPECT_TRUE(Contains(scalargrad::to_dot(neuron.o, options), "{ x1 | data 2.00 | grad -1.50 }"));
  options.precision = 0;
  EXPECT_TRUE(Contains(scalargrad::to_dot(neuron.o, options), "{ w1 | data -3 | grad 1 }"));
  options.precision = 8;
  EXPECT_TRUE(Contains(scalargrad::to_dot(neuron.o, options), "{ o | data 0.70710678 | grad 1.00000000 }"));
}

TEST(ToDot, PrecisionOutsideZeroToSeventeenIsAnError) {
  const Value x = 1.0;
  DotOptions options;
  options.precision = -1;
  EXPECT_EQ(ErrorMessage([&] { (void)scalargrad::to_dot(x, options); }),
            "scalargrad: to_dot: DotOptions::precision = -1 is not in [0, 17]");
  options.precision = 18;
  EXPECT_EQ(ErrorMessage([&] { (void)scalargrad::to_dot(x, options); }),
            "scalargrad: to_dot: DotOptions::precision = 18 is not in [0, 17]");
}

TEST(ToDot, TinyAndHugeNumbersSwitchToScientific) {
  const auto data_of = [](double v, int precision = 4) {
    DotOptions options;
    options.precision = precision;
    const std::string dot = scalargrad::to_dot(Value(v), options);
    const std::size_t at = dot.find("{ data ") + 2;
    return dot.substr(at + 5, dot.find(" |", at) - at - 5);
  };
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(data_of(1e-12), "1.0000e-12");  // not 0.0000: a vanishing gradient stays visible
  EXPECT_EQ(data_of(-4.2e-5), "-4.2000e-05");
  EXPECT_EQ(data_of(0.0001), "0.0001");  // reads nonzero in fixed notation: stays fixed
  EXPECT_EQ(data_of(0.00004), "4.0000e-05");
  EXPECT_EQ(data_of(0.3, 0), "3e-01");
  EXPECT_EQ(data_of(999999.5), "999999.5000");
  EXPECT_EQ(data_of(2.5e7), "2.5000e+07");
  // Regression: rounded up to 10^6, these read 1000000.0000 and -1000000.
  EXPECT_EQ(data_of(999999.99999), "1.0000e+06");
  EXPECT_EQ(data_of(-999999.6, 0), "-1e+06");
  EXPECT_EQ(data_of(-999999.4, 0), "-999999");
  EXPECT_EQ(data_of(-1e300), "-1.0000e+300");
  EXPECT_EQ(data_of(0.0), "0.0000");
  EXPECT_EQ(data_of(-0.0), "0.0000");
  EXPECT_EQ(data_of(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(data_of(-std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(data_of(inf), "inf");
  EXPECT_EQ(data_of(-inf), "-inf");
  EXPECT_TRUE(Contains(scalargrad::to_dot(Value(1.0)), "grad 0.0000"));
}

// Leaves whose gradients are 1, 1e-3, exactly 1e-8, 1e-9, 0 and inf.
TEST(ToDot, ColorByGradFadesWithEachDecade) {
  Value a = 1.0, b = 1.0, c = 1.0, d = 1.0, e = 1.0, f = 0.0;
  a.label("a");
  b.label("b");
  c.label("c");
  d.label("d");
  e.label("e");
  f.label("f");
  Value y = scalargrad::sum({a * 1.0, b * 1e-3, c * 1e-8, d * 1e-9, e * 0.0, f.sqrt()});
  y.backward();
  ASSERT_EQ(c.grad(), 1e-8);
  DotOptions options;
  options.color_by_grad = true;
  const std::string dot = scalargrad::to_dot(y, options);
  const auto fill_of = [&](const std::string& label) {
    const std::string line = LineWith(dot, std::string("{ ") + label + " |");
    const std::size_t at = line.find("fillcolor=\"");
    return at == std::string::npos ? line : line.substr(at + 11, 7);
  };
  EXPECT_EQ(fill_of("a"), "#440154");  // |grad| >= 1: darkest
  EXPECT_EQ(fill_of("b"), "#31688e");  // [1e-3, 1e-2)
  EXPECT_EQ(fill_of("c"), "#b5de2b");  // [1e-8, 1e-7)
  EXPECT_EQ(fill_of("d"), "#fde725");  // below 1e-8: lightest
  EXPECT_EQ(fill_of("e"), "#d9d9d9");  // 0: grey
  EXPECT_EQ(fill_of("f"), "#e41a1c");  // inf (d sqrt(x)/dx at 0): red
  EXPECT_TRUE(Contains(LineWith(dot, "{ a |"), "fontcolor=white"));
  EXPECT_TRUE(Contains(LineWith(dot, "{ d |"), "fontcolor=black"));
  // The scale is stated in the text and drawn as a legend.
  EXPECT_TRUE(Contains(dot, "// Fill: |grad| on a log10 scale")) << dot;
  EXPECT_TRUE(Contains(dot, "legend [shape=plaintext")) << dot;
  EXPECT_FALSE(Contains(scalargrad::to_dot(y), "fillcolor"));
}

TEST(ToDot, ColorByGradShowsAVanishingChain) {
  // tanh(tanh(... x)) at a large x: each tanh' is tiny, so the gradient falls decade by decade.
  Value x = 5.0;
  Value y = x;
  for (int i = 0; i < 6; ++i) y = (y * 2.0).tanh();
  y.backward();
  DotOptions options;
  options.color_by_grad = true;
  const std::string dot = scalargrad::to_dot(y, options);
  EXPECT_LT(std::abs(x.grad()), 1e-8);
  EXPECT_TRUE(Contains(LineWith(dot, "n0 [label"), "fillcolor=\"#fde725\"")) << dot;
  EXPECT_TRUE(Contains(LineWith(dot, "n12 [label"), "fillcolor=\"#440154\"")) << dot;  // the root
}

// ---- Clusters -----------------------------------------------------------------------------------

TEST(ToDotClusters, LayerWeightsDecideTheClusterOfTheirProducts) {
  const TwoLayers net;
  const std::string dot = scalargrad::to_dot(net.loss);
  const std::size_t layer1 = dot.find("subgraph cluster_1_layer1 {");
  const std::size_t layer2 = dot.find("subgraph cluster_0_layer2 {");
  ASSERT_NE(layer1, std::string::npos) << dot;
  ASSERT_NE(layer2, std::string::npos) << dot;
  const std::string box1 = dot.substr(layer1, dot.find("  }\n", layer1) - layer1);
  const std::string box2 = dot.substr(layer2, dot.find("  }\n", layer2) - layer2);
  EXPECT_TRUE(Contains(box1, "label=\"layer1\";"));
  EXPECT_TRUE(Contains(box1, "{ w00 | data 0.1000")) << box1;  // the record shows <name>
  EXPECT_EQ(std::count(box1.begin(), box1.end(), '\n'), 2 + 6 + 3 * 2 * 2) << box1;
  // layer2's dot takes layer1's outputs and layer2's weights: the weights decide (rule 1).
  EXPECT_TRUE(Contains(box2, "_op [shape=ellipse, label=\"dot\"];")) << box2;
  // The inputs and the labelled loss are outside; `out - 1`, unlabelled, joins layer2 (rule 2).
  EXPECT_FALSE(Contains(box1 + box2, "{ x0 |"));
  EXPECT_FALSE(Contains(box1 + box2, "{ loss |"));
  EXPECT_TRUE(Contains(box2, "label=\"+ -1\"")) << box2;
}

TEST(ToDotClusters, ResultsOfTwoClustersBelongToNone) {
  Value a = 1.0, b = 2.0;
  a.label("left/a");
  b.label("right/b");
  Value a2 = a * 2.0, b2 = b * 2.0;
  Value y = a2 + b2;
  const std::string dot = scalargrad::to_dot(y);
  const std::string last = dot.substr(dot.rfind("  }\n"));
  EXPECT_TRUE(Contains(last, "n4 [label=\"{ data 6.0000")) << dot;   // after every cluster
  EXPECT_TRUE(Contains(dot.substr(0, dot.rfind("  }\n")), "n1 [label")) << dot;  // a * 2: left
}

TEST(ToDotClusters, ClusterLayersFalseKeepsFullLabels) {
  const TwoLayers net;
  DotOptions options;
  options.cluster_layers = false;
  const std::string dot = scalargrad::to_dot(net.loss, options);
  EXPECT_FALSE(Contains(dot, "subgraph")) << dot;
  EXPECT_TRUE(Contains(dot, "{ layer1/w00 | data 0.1000")) << dot;
}

TEST(ToDotClusters, LabelSplitsAtLastSlashWithBothPartsNonEmpty) {
  Value a = 1.0, b = 2.0, c = 3.0;
  a.label("mlp/layer 1/w0");
  b.label("/b");
  c.label("c/");
  Value y = a + b + c;
  const std::string dot = scalargrad::to_dot(y);
  EXPECT_TRUE(Contains(dot, "subgraph \"cluster_0_mlp/layer 1\" {\n    label=\"mlp/layer 1\";\n    n0 [label=\"{ w0 |"))
      << dot;
  EXPECT_TRUE(Contains(dot, "{ /b |")) << dot;
  EXPECT_TRUE(Contains(dot, "{ c/ |")) << dot;
  EXPECT_EQ(dot.find("subgraph", dot.find("subgraph") + 1), std::string::npos) << dot;
}

// ---- Limits, escaping, determinism ----------------------------------------------------------------

TEST(ToDot, MoreValuesThanMaxNodesIsAClearError) {
  Value x = 0.0;
  Value y = x;
  for (int i = 0; i < 1233; ++i) y = y + 1.0;  // 1234 values
  EXPECT_EQ(ErrorMessage([&] { (void)scalargrad::to_dot(y); }),
            "scalargrad: to_dot: the graph has 1234 values, more than DotOptions::max_nodes = 1000; "
            "raise max_nodes to draw it anyway");
  DotOptions options;
  options.max_nodes = 1234;
  EXPECT_TRUE(Contains(scalargrad::to_dot(y, options), "n1233 [label"));
}

TEST(ToDot, LabelsAreEscapedForRecords) {
  Value x = 1.0;
  x.label("a|b{c}<d> \"q\" \\ e\nf");
  const std::string dot = scalargrad::to_dot(x);
  EXPECT_TRUE(Contains(dot, R"(n0 [label="{ a\|b\{c\}\<d\> \"q\" \\ e\nf | data 1.0000 | grad 0.0000 }"];)"))
      << dot;
  // Spaces a record would drop (leading, trailing, runs) are escaped; single ones stay plain.
  x.label("  two  spaces ");
  EXPECT_TRUE(Contains(scalargrad::to_dot(x), R"({ \ \ two \ spaces\  | data)")) << scalargrad::to_dot(x);
}

TEST(ToDot, ClustersWhoseTitlesReadAlikeStayApart) {
  // Regression: control characters show as spaces, so "L\x01" and "L\x02" escaped to one
  // subgraph id, and Graphviz merged the two boxes. The index in the id keeps them apart.
  Value a = 1.0;
  Value b = 2.0;
  a.label("L\x01/w");
  b.label("L\x02/w");
  const std::string dot = scalargrad::to_dot(a * b);
  EXPECT_TRUE(Contains(dot, "subgraph \"cluster_0_L \" {")) << dot;
  EXPECT_TRUE(Contains(dot, "subgraph \"cluster_1_L \" {")) << dot;
}

TEST(ToDot, AnAmpersandIsShownAsTyped) {
  // Regression: Graphviz decodes entities in labels, so a label "a &lt; b" showed "a < b".
  Value x = 1.0;
  x.label("a &lt; b & c/w &#65;");
  const std::string dot = scalargrad::to_dot(x * 2.0);
  EXPECT_TRUE(Contains(dot, "{ w &amp;#65; |")) << dot;
  EXPECT_TRUE(Contains(dot, "label=\"a &amp;lt; b &amp; c\";")) << dot;
  EXPECT_FALSE(Contains(dot, "&lt;")) << dot;
}

TEST(ToDot, ClusterTitlesAreEscaped) {
  Value x = 1.0;
  x.label("my \"net\"/w");
  const std::string dot = scalargrad::to_dot(x * 2.0);
  EXPECT_TRUE(Contains(dot, R"(subgraph "cluster_0_my \"net\"" {)")) << dot;
  EXPECT_TRUE(Contains(dot, R"(label="my \"net\"";)")) << dot;
}

TEST(ToDot, SameGraphGivesSameText) {
  const Neuron neuron;
  EXPECT_EQ(scalargrad::to_dot(neuron.o), scalargrad::to_dot(neuron.o));
}

TEST(ToDot, BuildOrderDoesNotChangeTheText) {
  const Neuron neuron(false);
  const Neuron reversed(true);
  EXPECT_EQ(scalargrad::to_dot(neuron.o), scalargrad::to_dot(reversed.o));
}

// docs/graphs.md shows expression.dot as its example: it must be the golden file, verbatim.
TEST(ToDotGolden, DocsQuoteTheExpressionGolden) {
  const fs::path root = fs::path(__FILE__).parent_path().parent_path().parent_path();
  const std::string docs = ReadFile(root / "docs" / "graphs.md");
  const std::string golden = ReadFile(root / "tests" / "autograd" / "golden" / "expression.dot");
  ASSERT_FALSE(golden.empty());
  EXPECT_TRUE(Contains(docs, std::string("```dot\n") + golden + "```\n"))
      << "docs/graphs.md no longer quotes tests/autograd/golden/expression.dot: copy it there";
}

// ---- render ---------------------------------------------------------------------------------------

/// What a small XML check found: is the text well-formed (one root element, tags nested and
/// closed in order, attributes quoted and unique, entities known), and the text of every
/// <title> and <text> element, entities decoded. Enough for Graphviz's SVG; no DTD processing.
struct XmlFacts {
  std::string error;  // empty: well-formed
  std::string root;   // name of the root element
  std::vector<std::string> titles;
  std::vector<std::string> texts;
};

XmlFacts CheckXml(std::string_view xml) {
  XmlFacts facts;
  std::vector<std::string> open;
  std::string collected;  // text of the current <title> or <text>
  std::size_t i = 0;
  const auto fail = [&](const std::string& what) {
    facts.error = what + " at offset " + std::to_string(i);
    return facts;
  };
  const auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == ':' || c == '.';
  };
  const auto name_at = [&]() {
    const std::size_t begin = i;
    while (i < xml.size() && is_name_char(xml[i])) ++i;
    return std::string(xml.substr(begin, i - begin));
  };
  const auto skip_space = [&]() {
    while (i < xml.size() && std::isspace(static_cast<unsigned char>(xml[i])) != 0) ++i;
  };
  // Decodes `text`, checking its entities; false if one is malformed or unknown.
  const auto decode = [](std::string_view text, std::string& out) {
    for (std::size_t k = 0; k < text.size(); ++k) {
      if (text[k] == '<') return false;
      if (text[k] != '&') {
        out += text[k];
        continue;
      }
      const std::size_t end = text.find(';', k);
      if (end == std::string_view::npos) return false;
      const std::string_view entity = text.substr(k + 1, end - k - 1);
      if (entity == "lt") out += '<';
      else if (entity == "gt") out += '>';
      else if (entity == "amp") out += '&';
      else if (entity == "quot") out += '"';
      else if (entity == "apos") out += '\'';
      else if (entity.size() > 1 && entity[0] == '#') {
        const bool hex = entity[1] == 'x';
        const std::string digits(entity.substr(hex ? 2 : 1));
        if (digits.empty() || digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") !=
                                  std::string::npos) {
          return false;
        }
        const unsigned long code = std::stoul(digits, nullptr, hex ? 16 : 10);
        if (code < 0x80) {
          out += static_cast<char>(code);
        } else {
          out += "?";  // not needed here: the labels of these tests are ASCII
        }
      } else {
        return false;
      }
      k = end;
    }
    return true;
  };
  bool root_closed = false;
  while (i < xml.size()) {
    if (xml[i] != '<') {
      const std::size_t end = std::min(xml.find('<', i), xml.size());
      const std::string_view text = xml.substr(i, end - i);
      std::string decoded;
      if (!decode(text, decoded)) return fail("bad character data or entity");
      if (open.empty() && decoded.find_first_not_of(" \t\r\n") != std::string::npos) {
        return fail("text outside the root element");
      }
      collected += decoded;
      i = end;
      continue;
    }
    const std::string_view rest = xml.substr(i);
    if (rest.starts_with("<?")) {
      const std::size_t end = xml.find("?>", i);
      if (end == std::string_view::npos) return fail("unterminated processing instruction");
      i = end + 2;
    } else if (rest.starts_with("<!--")) {
      const std::size_t end = xml.find("-->", i + 4);
      if (end == std::string_view::npos) return fail("unterminated comment");
      i = end + 3;
    } else if (rest.starts_with("<!DOCTYPE")) {
      if (!open.empty() || !facts.root.empty()) return fail("DOCTYPE inside the document");
      const std::size_t end = xml.find('>', i);
      if (end == std::string_view::npos) return fail("unterminated DOCTYPE");
      i = end + 1;
    } else if (rest.starts_with("<![CDATA[")) {
      if (open.empty()) return fail("CDATA outside the root element");
      const std::size_t end = xml.find("]]>", i);
      if (end == std::string_view::npos) return fail("unterminated CDATA");
      collected += xml.substr(i + 9, end - i - 9);
      i = end + 3;
    } else if (rest.starts_with("</")) {
      i += 2;
      const std::string name = name_at();
      skip_space();
      if (i >= xml.size() || xml[i] != '>') return fail("bad end tag");
      ++i;
      if (open.empty() || open.back() != name) return fail(std::string("end tag </") + name + "> does not match");
      if (name == "title") facts.titles.push_back(collected);
      if (name == "text") facts.texts.push_back(collected);
      open.pop_back();
      if (open.empty()) root_closed = true;
    } else {
      ++i;
      const std::string name = name_at();
      if (name.empty()) return fail("bad start tag");
      if (open.empty()) {
        if (root_closed) return fail(std::string("a second root element <") + name + ">");
        facts.root = name;
      }
      std::vector<std::string> attributes;
      while (true) {
        const std::size_t before = i;
        skip_space();
        if (i >= xml.size()) return fail("unterminated start tag");
        if (xml[i] == '>' || xml.substr(i).starts_with("/>")) break;
        if (i == before) return fail("no space before an attribute");
        const std::string attribute = name_at();
        if (attribute.empty()) return fail(std::string("bad attribute in <") + name + ">");
        if (std::find(attributes.begin(), attributes.end(), attribute) != attributes.end()) {
          return fail(std::string("attribute ") + attribute + " twice");
        }
        attributes.push_back(attribute);
        skip_space();
        if (i >= xml.size() || xml[i] != '=') return fail("attribute without =");
        ++i;
        skip_space();
        if (i >= xml.size() || (xml[i] != '"' && xml[i] != '\'')) return fail("unquoted attribute");
        const std::size_t end = xml.find(xml[i], i + 1);
        if (end == std::string_view::npos) return fail("unterminated attribute");
        std::string ignored;
        if (!decode(xml.substr(i + 1, end - i - 1), ignored)) return fail("bad attribute value");
        i = end + 1;
      }
      if (xml[i] == '>') {
        ++i;
        open.push_back(name);
        collected.clear();
      } else {
        i += 2;  // empty element
        if (open.empty()) root_closed = true;
      }
    }
  }
  if (!open.empty()) return fail(std::string("<") + open.back() + "> is not closed");
  if (!root_closed) return fail("no root element");
  return facts;
}

TEST(CheckXml, AcceptsWellFormedAndRejectsBrokenXml) {
  const XmlFacts good = CheckXml(
      "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<!-- c -->\n<svg a=\"1\" b='2'><g><title>n&#45;0</title>"
      "<text x=\"1\">a &lt; b</text><path d=\"M0\"/></g></svg>\n");
  EXPECT_EQ(good.error, "");
  EXPECT_EQ(good.root, "svg");
  EXPECT_EQ(good.titles, std::vector<std::string>{"n-0"});
  EXPECT_EQ(good.texts, std::vector<std::string>{"a < b"});
  EXPECT_NE(CheckXml("<svg><g></svg></g>").error, "");
  EXPECT_NE(CheckXml("<svg><text>a < b</text></svg>").error, "");
  EXPECT_NE(CheckXml("<svg a=1/>").error, "");
  EXPECT_NE(CheckXml("<svg a=\"1\" a=\"2\"/>").error, "");
  EXPECT_NE(CheckXml("<svg>&nbsp;</svg>").error, "");
  EXPECT_NE(CheckXml("<svg/><svg/>").error, "");
  EXPECT_NE(CheckXml("<svg>").error, "");
}

/// Sets PATH for the life of the guard.
class ScopedPath {
 public:
  explicit ScopedPath(const std::string& path) {
    const char* old = std::getenv("PATH");
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv("PATH", path.c_str(), 1);
  }
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;
  ~ScopedPath() {
    if (had_) {
      ::setenv("PATH", old_.c_str(), 1);
    } else {
      ::unsetenv("PATH");
    }
  }

 private:
  bool had_ = false;
  std::string old_;
};

/// A fresh directory per test, removed after it.
class Render : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("scalargrad-dot-test-") + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  /// True when render() cannot draw here.
  static bool NoGraphviz() { return scalargrad::render_backend().empty(); }

  /// The names of the files in `dir` (default: the test's directory).
  std::vector<std::string> Files(const fs::path& dir = {}) const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir.empty() ? dir_ : dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

/// Skips a test that draws where Graphviz is missing, except in CI (CI=true), which installs
/// it: there a missing Graphviz must fail, not leave every drawing test skipped and CI green.
#define SKIP_WITHOUT_GRAPHVIZ()                                                                   \
  if (NoGraphviz()) {                                                                             \
    const char* ci = std::getenv("CI");                                                           \
    if (ci != nullptr && std::string_view(ci) == "true") {                                        \
      FAIL() << "CI=true, but render() cannot draw: tools/install-deps.sh installs graphviz";     \
    }                                                                                             \
    GTEST_SKIP() << "Graphviz is not available (no libgvc at build time, no dot on PATH): "       \
                    "apt-get install graphviz libgraphviz-dev";                                   \
  }

TEST_F(Render, BackendIsLibgvcDotOrNothing) {
  const std::string backend = scalargrad::render_backend();
  EXPECT_TRUE(backend == "libgvc" || backend == "dot" || backend.empty()) << backend;
}

TEST_F(Render, SvgIsWellFormedXmlNamingEveryNode) {
  SKIP_WITHOUT_GRAPHVIZ();
  const Neuron neuron;
  Value odd = neuron.o * 2.0;
  odd.label("a|b{c}<d> \"q\" \\ e");
  const fs::path folder = dir_ / "a folder with 'quotes\" & spaces";
  fs::create_directories(folder);
  const fs::path path = folder / "neuron.svg";
  DotOptions options;
  options.color_by_grad = true;
  scalargrad::render(odd, path, options);

  const XmlFacts svg = CheckXml(ReadFile(path));
  ASSERT_EQ(svg.error, "");
  EXPECT_EQ(svg.root, "svg");
  const auto has = [](const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
  };
  const std::vector<Value> order = scalargrad::topological_order(odd);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string id = std::string("n") + std::to_string(i);
    EXPECT_TRUE(has(svg.titles, id)) << id;
    EXPECT_EQ(has(svg.titles, id + "_op"), !order[i].is_leaf()) << id;
    EXPECT_TRUE(has(svg.texts, order[i].label())) << order[i].label();
  }
  EXPECT_TRUE(has(svg.texts, "a|b{c}<d> \"q\" \\ e"));  // escaping survives the trip through dot
  EXPECT_TRUE(has(svg.texts, "data 2.0000"));
  EXPECT_TRUE(has(svg.texts, "grad -1.5000"));
  EXPECT_TRUE(has(svg.texts, "tanh"));
  EXPECT_TRUE(has(svg.texts, "* 2"));
  EXPECT_EQ(Files(folder), std::vector<std::string>{"neuron.svg"});  // no temporary file left
}

TEST_F(Render, PngStartsWithThePngSignature) {
  SKIP_WITHOUT_GRAPHVIZ();
  const Neuron neuron;
  scalargrad::render(neuron.o, dir_ / "neuron.png");
  EXPECT_EQ(ReadFile(dir_ / "neuron.png").substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(Files(), std::vector<std::string>{"neuron.png"});
}

TEST_F(Render, PdfStartsWithThePdfHeader) {
  SKIP_WITHOUT_GRAPHVIZ();
  const Neuron neuron;
  scalargrad::render(neuron.o, dir_ / "neuron.pdf");
  EXPECT_EQ(ReadFile(dir_ / "neuron.pdf").substr(0, 5), "%PDF-");
}

TEST_F(Render, ExtensionIsCaseInsensitiveAndReplacesAnOldFile) {
  SKIP_WITHOUT_GRAPHVIZ();
  const Neuron neuron;
  std::ofstream(dir_ / "neuron.SVG") << "old";
  scalargrad::render(neuron.o, dir_ / "neuron.SVG");
  EXPECT_EQ(CheckXml(ReadFile(dir_ / "neuron.SVG")).error, "");
  EXPECT_EQ(Files(), std::vector<std::string>{"neuron.SVG"});
}

TEST_F(Render, UnknownExtensionIsAnErrorNamingTheAllowedOnes) {
  const Neuron neuron;
  const fs::path jpg = dir_ / "neuron.jpg";
  EXPECT_EQ(ErrorMessage([&] { scalargrad::render(neuron.o, jpg); }),
            std::string("scalargrad: render: cannot tell the format of '") + jpg.string() +
                "': its extension '.jpg' is not .svg, .png or .pdf");
  const fs::path bare = dir_ / "neuron";
  EXPECT_EQ(ErrorMessage([&] { scalargrad::render(neuron.o, bare); }),
            std::string("scalargrad: render: cannot tell the format of '") + bare.string() +
                "': it has no extension: use .svg, .png or .pdf");
  EXPECT_TRUE(Files().empty());
}

TEST_F(Render, ADeviceOrAFifoIsDrawnIntoNotReplaced) {
  // Regression: render() renamed its temporary file over the target, so drawing to a device
  // (as root) or a FIFO put a regular file in its place. Nodes made here, never /dev's own.
  SKIP_WITHOUT_GRAPHVIZ();
  const Neuron neuron;
  const fs::path fifo = dir_ / "pipe.svg";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The reading end, opened first without waiting: Graphviz's open returns at once (the picture
  // fits the pipe's buffer), and a FIFO replaced by a file leaves nothing to read, not a hang.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  scalargrad::render(neuron.o, fifo);
  std::string drawn;
  char buffer[4096];
  for (ssize_t n; (n = ::read(reader, buffer, sizeof buffer)) > 0;) drawn.append(buffer, static_cast<std::size_t>(n));
  ::close(reader);
  EXPECT_EQ(CheckXml(drawn).error, "");
  EXPECT_NE(drawn, "");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
  const fs::path null = dir_ / "null.svg";
  if (::mknod(null.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
    GTEST_SKIP() << "cannot make a device node here (not root?)";
  }
  scalargrad::render(neuron.o, null);
  EXPECT_TRUE(fs::is_character_file(fs::symlink_status(null)));
  EXPECT_EQ(Files(), (std::vector<std::string>{"null.svg", "pipe.svg"}));
}

TEST_F(Render, MissingFolderIsAnErrorAndLeavesNoFile) {
  SKIP_WITHOUT_GRAPHVIZ();
  const Neuron neuron;
  const fs::path path = dir_ / "no such folder" / "neuron.svg";
  const std::string message = ErrorMessage([&] { scalargrad::render(neuron.o, path); });
  EXPECT_TRUE(message.starts_with(std::string("scalargrad: render: cannot write '") + path.string() + "': "))
      << message;
  EXPECT_TRUE(Files().empty());
}

TEST_F(Render, TooManyNodesIsAnErrorAndLeavesNoFile) {
  SKIP_WITHOUT_GRAPHVIZ();
  const Neuron neuron;
  DotOptions options;
  options.max_nodes = 5;
  EXPECT_TRUE(ErrorMessage([&] { scalargrad::render(neuron.o, dir_ / "neuron.svg", options); })
                  .starts_with("scalargrad: to_dot: the graph has 10 values"));
  EXPECT_TRUE(Files().empty());
}

TEST_F(Render, ThreadsDrawAtTheSameTime) {
  SKIP_WITHOUT_GRAPHVIZ();
  std::vector<std::thread> threads;
  std::vector<std::string> errors(4);
  for (std::size_t t = 0; t < errors.size(); ++t) {
    threads.emplace_back([&, t] {  // each thread draws a graph of its own tape
      const Neuron neuron;
      errors[t] = ErrorMessage(
          [&] { scalargrad::render(neuron.o, dir_ / (std::string("neuron") + std::to_string(t) + ".svg")); });
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::size_t t = 0; t < errors.size(); ++t) {
    EXPECT_EQ(errors[t], "<no exception>");
    const std::string name = std::string("neuron") + std::to_string(t) + ".svg";
    EXPECT_EQ(CheckXml(ReadFile(dir_ / name)).error, "") << name;
  }
  EXPECT_EQ(Files().size(), errors.size());
}

// libgvc failing (here: GVBINDIR points at a folder without Graphviz's plugins, so it knows no
// "dot" layout) is an Error carrying Graphviz's own message, and the file already at the path is
// left as it was. Graphviz reads GVBINDIR when its process-wide context is made (Note [Graphviz
// library state]), so the scenario runs in a fresh process: a "threadsafe" death test re-runs
// this binary for it and checks there; this process matches what it printed.
TEST_F(Render, LibgvcFailingIsAnErrorWithItsMessageAndKeepsTheOldFile) {
  if (scalargrad::render_backend() != "libgvc") {
    GTEST_SKIP() << "built without libgvc: the dot program's failures are tested instead";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto scenario = [&] {
    const fs::path plugins = dir_ / "no plugins";
    fs::create_directories(plugins);
    ::setenv("GVBINDIR", plugins.c_str(), 1);
    const fs::path svg = dir_ / "neuron.svg";
    std::ofstream(svg) << "old";
    const Neuron neuron;
    const std::string message = ErrorMessage([&] { scalargrad::render(neuron.o, svg); });
    const bool untouched = ReadFile(svg) == "old" && Files() == std::vector<std::string>{"neuron.svg", "no plugins"};
    const std::string expected =
        "scalargrad: render: Graphviz (libgvc) could not draw '" + svg.string() + "': ";
    std::fprintf(stderr, "message [%s] old file %s\n", message.c_str(), untouched ? "kept" : "CHANGED");
    fs::remove_all(dir_);
    std::_Exit(message.starts_with(expected) && untouched ? 0 : 1);
  };
  EXPECT_EXIT(scenario(), ::testing::ExitedWithCode(0),
      "message \\[scalargrad: render: Graphviz \\(libgvc\\) could not draw '.*neuron\\.svg': "
      ".*Layout type: \"dot\" not recognized.*\\] old file kept");
}

// Regression: with libgvc, Graphviz wrote the file itself and called exit(1) when a write failed
// (a full disk, a file-size limit), ending the caller's program and leaving its new file behind.
// Through the dot program (a build without libgvc, such as CI's sanitizer build), dot writes the
// new file and fails with its own message: an Error too, and the old file kept.
TEST_F(Render, AWriteThatFailsIsAnErrorAndKeepsTheOldFile) {
  SKIP_WITHOUT_GRAPHVIZ();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto scenario = [&](const std::string& name) {
    const fs::path picture = dir_ / name;
    std::ofstream(picture) << "old";
    Value y = 2.0;
    for (int i = 0; i < 30; ++i) y = (y * 1.01 + 0.5).tanh();  // a picture of more than 2000 bytes
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{2000, 2000};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) std::_Exit(2);
    const std::string message = ErrorMessage([&] { scalargrad::render(y, picture); });
    const bool untouched = ReadFile(picture) == "old" && Files() == std::vector<std::string>{name};
    std::fprintf(stderr, "message [%s] old file %s\n", message.c_str(), untouched ? "kept" : "CHANGED");
    fs::remove_all(dir_);
    std::_Exit(untouched ? 0 : 1);
  };
  const bool libgvc = scalargrad::render_backend() == "libgvc";
  for (const std::string name : {"chain.svg", "chain.png", "chain.pdf"}) {
    const std::string why = libgvc ? "cannot write '.*" + name + "': cannot write '.*" + name +
                                         "\\.tmp-[0-9a-f]+': File too large"
                                   : "Graphviz's dot \\(.*\\) could not draw '.*" + name + "' \\(exit status 1\\): .*";
    EXPECT_EXIT(scenario(name), ::testing::ExitedWithCode(0), "message \\[scalargrad: render: " + why + "\\] old file kept")
        << name;
  }
}

TEST_F(Render, WithoutGraphvizSaysToInstallIt) {
  if (scalargrad::render_backend() == "libgvc") {
    GTEST_SKIP() << "built with libgvc: render() never looks for the dot program";
  }
  const ScopedPath path(dir_.string());  // a PATH without dot
  ASSERT_EQ(scalargrad::render_backend(), "");
  const Neuron neuron;
  EXPECT_EQ(ErrorMessage([&] { scalargrad::render(neuron.o, dir_ / "neuron.svg"); }),
            "scalargrad: render: Graphviz is not available: install it (Debian: apt-get install "
            "graphviz) or write to_dot() text to a file");
  EXPECT_TRUE(Files().empty());
}

/// Writes an executable shell script `dot` into `dir` (the fake Graphviz of the tests below).
void WriteFakeDot(const fs::path& dir, const std::string& body) {
  const fs::path script = dir / "dot";
  std::ofstream(script) << "#!/bin/sh\n" << body;
  fs::permissions(script, fs::perms::owner_all);
}

TEST_F(Render, FailingDotIsAnErrorWithItsMessageAndLeavesNoFile) {
  if (scalargrad::render_backend() == "libgvc") {
    GTEST_SKIP() << "built with libgvc: render() never runs the dot program";
  }
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  WriteFakeDot(bin, "cat >/dev/null\necho 'dot: something broke' >&2\nexit 3\n");
  const ScopedPath path(bin.string() + ":/usr/bin:/bin");
  ASSERT_EQ(scalargrad::render_backend(), "dot");
  const Neuron neuron;
  const fs::path svg = dir_ / "neuron.svg";
  EXPECT_EQ(ErrorMessage([&] { scalargrad::render(neuron.o, svg); }),
            std::string("scalargrad: render: Graphviz's dot (") + (bin / "dot").string() + ") could not draw '" +
                svg.string() + "' (exit status 3): dot: something broke");
  EXPECT_EQ(Files(), std::vector<std::string>{"bin"});
}

// A dot that exits without reading its input: writing the rest must not kill the process
// (SIGPIPE) and the exit status is reported.
TEST_F(Render, DotThatStopsReadingIsReported) {
  if (scalargrad::render_backend() == "libgvc") {
    GTEST_SKIP() << "built with libgvc: render() never runs the dot program";
  }
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  WriteFakeDot(bin, "exit 4\n");
  const ScopedPath path(bin.string() + ":/usr/bin:/bin");
  Value x = 1.0;
  Value y = x;
  for (int i = 0; i < 5000; ++i) y = y * 1.0001;  // about 400 KB of DOT text
  DotOptions options;
  options.max_nodes = 10000;
  const fs::path svg = dir_ / "chain.svg";
  EXPECT_TRUE(ErrorMessage([&] { scalargrad::render(y, svg, options); }).ends_with("' (exit status 4)"));
  EXPECT_EQ(Files(), std::vector<std::string>{"bin"});
}

}  // namespace
