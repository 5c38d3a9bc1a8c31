// nn::Parameter, Activation, Neuron, Layer, MLP (nn/module.hpp, parameter.hpp, activation.hpp).
//
// References: micrograd's nn.py for parameter order, counts and repr; hand computation of
// activation(w . x + b) for a neuron; central finite differences for the gradient of a whole
// network's loss with respect to every parameter.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scalargrad/dot.hpp"
#include "scalargrad/nn/activation.hpp"
#include "scalargrad/nn/data.hpp"
#include "scalargrad/nn/loss.hpp"
#include "scalargrad/nn/module.hpp"
#include "scalargrad/nn/parameter.hpp"
#include "scalargrad/nn/random.hpp"
#include "scalargrad/value.hpp"

#include "support/test_support.hpp"

namespace {

using scalargrad::testing_support::Bits;

using scalargrad::Error;
using scalargrad::Value;
using scalargrad::nn::Activation;
using scalargrad::nn::Init;
using scalargrad::nn::init_bound;
using scalargrad::nn::init_name;
using scalargrad::nn::Layer;
using scalargrad::nn::MLP;
using scalargrad::nn::Neuron;
using scalargrad::nn::Parameter;
using scalargrad::nn::parse_init;
using scalargrad::nn::Rng;
using ::testing::AllOf;
using ::testing::Eq;
using ::testing::HasSubstr;

// ---- 1. Helpers ------------------------------------------------------------------------------

std::vector<std::uint64_t> DataBits(const scalargrad::nn::Module& module) {
  std::vector<std::uint64_t> bits;
  for (const Parameter* p : module.parameters()) bits.push_back(Bits(p->data));
  return bits;
}

template <typename F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no scalargrad::Error thrown";
  return "";
}

/// `count` copies of `item` joined by ", ".
std::string Repeat(const std::string& item, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += (i == 0 ? "" : ", ") + item;
  return text;
}

// What code outside namespace scalargrad can write with a Parameter (unqualified lookup from
// here, plus argument-dependent lookup, as in a user's program).
template <typename P>
concept TimesDouble = requires(const P& p) { p * 1.0; };
template <typename P>
concept DoubleTimes = requires(const P& p) { 1.0 * p; };
template <typename P>
concept TimesItself = requires(const P& p) { p * p; };
template <typename P>
concept TimesValue = requires(const P& p, const Value& x) { p * x + 1.0; };

// ---- 2. Parameter ----------------------------------------------------------------------------

TEST(Parameter, DataAndGradArePublicDoubles) {
  Parameter p(2.5);
  EXPECT_EQ(p.data, 2.5);
  EXPECT_EQ(p.grad, 0.0);
  p.data -= 0.5;  // micrograd's p.data += -lr * p.grad
  p.grad = 3.0;
  EXPECT_EQ(p.data, 2.0);
  EXPECT_EQ(p.grad, 3.0);
  EXPECT_EQ(Parameter().data, 0.0);
}

TEST(Parameter, EntersAnExpressionAsALeafHoldingItsData) {
  const Parameter p(1.5);
  EXPECT_TRUE(p.value().is_leaf());
  EXPECT_EQ(p.value().data(), 1.5);
  const Value y = p * 3.0 + 1.0;
  EXPECT_EQ(y.data(), 5.5);
  const std::vector<Value> path = y.operands();  // (p * 3) + 1
  ASSERT_FALSE(path.empty());
  const std::vector<Value> product = path[0].operands();
  ASSERT_FALSE(product.empty());
  EXPECT_TRUE(product[0].is_leaf());
  EXPECT_EQ(product[0].data(), 1.5);
}

TEST(Parameter, UsableInExpressionsLikeAValueFromUserCode) {
  // parameter.hpp: "So that a Parameter can be used in expressions like a Value: `p * x + 1.0`".
  EXPECT_TRUE(TimesValue<Parameter>);
  // micrograd writes `p * 2` and `p * p` (its l2 penalty). With a double or another Parameter
  // as the other operand, no Value brings namespace scalargrad into argument-dependent lookup:
  // the operators must be reachable from scalargrad::nn (parameter.hpp's using-declarations).
  EXPECT_TRUE(TimesDouble<Parameter>) << "p * 1.0 does not compile outside namespace scalargrad";
  EXPECT_TRUE(DoubleTimes<Parameter>) << "1.0 * p does not compile outside namespace scalargrad";
  EXPECT_TRUE(TimesItself<Parameter>) << "p * p does not compile outside namespace scalargrad";
}

TEST(Parameter, BackwardAddsIntoGradAndAccumulatesOverCalls) {
  Parameter p(3.0);
  p.grad = 0.5;  // backward adds to what is there
  const Value y = p * p + p;  // p used three times: dy/dp = 2p + 1 = 7
  y.backward();
  EXPECT_EQ(p.grad, 0.5 + 7.0);
  y.backward();  // a leaf accumulates over backward() calls (PyTorch semantics)
  EXPECT_EQ(p.grad, 0.5 + 14.0);
  const Value z = 2.0 * p;  // a second graph adds too
  z.backward();
  EXPECT_EQ(p.grad, 0.5 + 16.0);
  EXPECT_EQ(p.value().grad(), p.grad) << "the leaf reads the Parameter's grad";
}

TEST(Parameter, ZeroGradClearsTheGrad) {
  Neuron n(2, Activation::linear());
  const std::vector<double> x = {1.0, -2.0};
  n(x).backward();
  bool any_nonzero = false;
  for (const Parameter* p : n.parameters()) any_nonzero = any_nonzero || p->grad != 0.0;
  ASSERT_TRUE(any_nonzero);
  n.zero_grad();
  for (const Parameter* p : n.parameters()) EXPECT_EQ(p->grad, 0.0);
  n(x).backward();
  EXPECT_EQ(n.bias().grad, 1.0) << "after zero_grad, one backward gives exactly one gradient";
}

TEST(Parameter, ACopyIsAnIndependentLeaf) {
  Parameter p(2.0);
  (void)(p * 1.0);  // p has its leaf already
  Parameter q = p;
  EXPECT_EQ(q.data, 2.0);
  q.data = 5.0;
  EXPECT_EQ(p.data, 2.0);
  (q * q).backward();
  EXPECT_EQ(q.grad, 10.0);
  EXPECT_EQ(p.grad, 0.0) << "the copy's gradient must not reach the original";
  (p * 3.0).backward();
  EXPECT_EQ(p.grad, 3.0);
  EXPECT_EQ(q.grad, 10.0);

  Parameter r(7.0);
  (void)(r * 1.0);
  r = p;  // assignment copies the numbers; r stays its own leaf
  EXPECT_EQ(r.data, 2.0);
  (r * 4.0).backward();
  EXPECT_EQ(r.grad, 3.0 + 4.0);
  EXPECT_EQ(p.grad, 3.0);
}

TEST(Parameter, DestroyedWhileItsGraphLivesThenBackwardIsSafe) {
  // Run under AddressSanitizer too: backward() must not write into the freed Parameter.
  auto p = std::make_unique<Parameter>(3.0);
  const Value y = *p * *p + 1.0;
  const Value w = p->value();
  p.reset();
  EXPECT_EQ(y.data(), 10.0);
  y.backward();
  EXPECT_EQ(w.grad(), 6.0) << "the gradient lands in the orphaned leaf";
  EXPECT_EQ(w.data(), 3.0);
  const Value z = w * 2.0;  // the orphaned leaf is an ordinary leaf now
  EXPECT_EQ(z.data(), 6.0);
}

TEST(Parameter, ParametersOfADestroyedModelLeaveTheirGraphsUsable) {
  Value loss;
  {
    const MLP model(2, {4, 1}, Activation::tanh(), Activation::linear(), Init::Uniform, 9);
    loss = model.score(std::vector<double>{0.3, -0.2});
  }
  loss.backward();
  EXPECT_TRUE(std::isfinite(loss.data()));
}

TEST(Parameter, DataChangedBetweenForwardPassesWithoutBackwardIsSeen) {
  Parameter p(1.0);
  const Value y1 = p * p;
  p.data = 2.0;
  const Value y2 = p * p;
  p.data = 1.0;  // back to a value seen before: the third pass must not reuse the second's import
  const Value y3 = p * p;
  EXPECT_EQ(y1.data(), 1.0);
  EXPECT_EQ(y2.data(), 4.0);
  EXPECT_EQ(y3.data(), 1.0);
  y2.backward();
  EXPECT_EQ(p.grad, 4.0);  // 2 * 2.0
  y1.backward();
  EXPECT_EQ(p.grad, 4.0 + 2.0);  // + 2 * 1.0, into the same Parameter

  // The same through a Neuron, whose weights are cached as Values between passes.
  Neuron n(2, Activation::linear());
  const std::vector<double> x = {1.0, 1.0};
  const double before = n(x).data();
  n.parameters()[0]->data += 0.25;
  EXPECT_DOUBLE_EQ(n(x).data(), before + 0.25);
  n.parameters()[2]->data = 1.0;  // the bias
  EXPECT_DOUBLE_EQ(n(x).data(), before + 1.25);
}

TEST(Neuron, WeightChangedBetweenTwoCallsInOneGraphIsSeen) {
  // Both outputs alive: one graph, where the neuron's LeafBlock reuses the weights' nodes
  // unless a weight's data changed (a gradient check perturbs one weight at a time).
  Neuron n(3, Activation::linear());
  const std::vector<Parameter*> p = n.parameters();
  p[0]->data = 0.5;
  p[1]->data = -1.0;
  p[2]->data = 2.0;
  const std::vector<double> x = {1.0, 10.0, 100.0};
  const Value first = n(x);
  p[1]->data = -1.5;
  const Value second = n(x);
  const Value third = n(x);
  p[1]->data = -1.0;  // back to the first call's value
  const Value fourth = n(x);
  EXPECT_EQ(first.data(), 0.5 - 10.0 + 200.0);
  EXPECT_EQ(second.data(), 0.5 - 15.0 + 200.0);
  EXPECT_EQ(third.data(), second.data());
  EXPECT_EQ(fourth.data(), first.data());
  (first + second + third + fourth).backward();
  EXPECT_EQ(p[0]->grad, 4.0);
  EXPECT_EQ(p[1]->grad, 40.0);
  EXPECT_EQ(p[3]->grad, 4.0);  // the bias
}

// Regression: a Neuron's cached LeafBlock holds its bias's leaf, and a move copies the bias (a
// Parameter member, not in the moved vector): a move that kept the cache read the old bias and
// sent its gradient to the moved-from neuron.
TEST(Neuron, AMoveAfterAForwardPassUsesAndTrainsItsOwnBias) {
  const std::vector<double> x = {1.0, 10.0};
  const auto set = [](Neuron& n, double w0, double w1, double b) {
    const std::vector<Parameter*> p = n.parameters();
    p[0]->data = w0;
    p[1]->data = w1;
    p[2]->data = b;
  };
  std::optional<Neuron> source(std::in_place, 2, Activation::linear());
  set(*source, 0.5, -1.0, 2.0);
  EXPECT_EQ((*source)(x).data(), 0.5 - 10.0 + 2.0);  // the cache is made

  Neuron moved(std::move(*source));
  set(moved, 0.5, -1.0, 4.0);
  const Value y = moved(x);
  EXPECT_EQ(y.data(), 0.5 - 10.0 + 4.0);
  y.backward();
  EXPECT_EQ(moved.bias().grad, 1.0);
  EXPECT_EQ(moved.weights()[1].grad, 10.0);
  EXPECT_EQ(source->bias().grad, 0.0) << "the gradient reached the moved-from neuron";
  source.reset();  // the moved-from neuron's bias is gone: nothing may still read it
  moved.zero_grad();
  moved.parameters()[2]->data = -3.0;
  const Value z = moved(x);
  EXPECT_EQ(z.data(), 0.5 - 10.0 - 3.0);
  z.backward();
  EXPECT_EQ(moved.bias().grad, 1.0);

  // Move assignment onto a neuron that has made its own cache.
  Neuron from(2, Activation::linear(), 7);
  Neuron to(2, Activation::linear(), 8);
  (void)from(x);
  (void)to(x);
  to = std::move(from);
  set(to, 2.0, 0.25, -1.0);
  const Value t = to(x);
  EXPECT_EQ(t.data(), 2.0 + 2.5 - 1.0);
  t.backward();
  EXPECT_EQ(to.bias().grad, 1.0);
  EXPECT_EQ(to.weights()[0].grad, 1.0);
  EXPECT_EQ(from.bias().grad, 0.0) << "the gradient reached the moved-from neuron";
}

TEST(MLP, AMoveAfterAForwardPassComputesAsACopyDoes) {
  // A copy makes its caches anew; a moved model must give the same bits, gradients included.
  const std::vector<double> x = {0.3, -0.7};
  std::optional<MLP> source(std::in_place, 2, std::vector<std::size_t>{4, 3, 1});
  (void)source->score(x);
  MLP copy = *source;
  MLP moved(std::move(*source));
  source.reset();
  std::vector<Parameter*> a = moved.parameters();
  std::vector<Parameter*> b = copy.parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i]->data = b[i]->data = 0.1 * static_cast<double>(i % 7) - 0.2;
  const Value ya = moved.score(x);
  const Value yb = copy.score(x);
  EXPECT_EQ(Bits(ya.data()), Bits(yb.data()));
  ya.backward();
  yb.backward();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(Bits(a[i]->grad), Bits(b[i]->grad)) << i;

  MLP target(2, {4, 3, 1}, Activation::relu(), Activation::linear(), scalargrad::nn::Init::Uniform, 5);
  (void)target.score(x);
  target = std::move(moved);
  target.zero_grad();
  copy.zero_grad();
  const Value yt = target.score(x);
  const Value yc = copy.score(x);
  EXPECT_EQ(Bits(yt.data()), Bits(yc.data()));
  yt.backward();
  yc.backward();
  const std::vector<Parameter*> t = target.parameters();
  for (std::size_t i = 0; i < t.size(); ++i) EXPECT_EQ(Bits(t[i]->grad), Bits(b[i]->grad)) << i;
}

TEST(Parameter, ChangingTheSignOfZeroIsSeenByTheNextPass) {
  // A change of data that compares equal (0.0 to -0.0) is still a change: 1/x tells them apart.
  Parameter p(0.0);
  const Value y1 = 1.0 / p;
  p.data = -0.0;
  const Value y2 = 1.0 / p;
  EXPECT_EQ(y1.data(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(y2.data(), -std::numeric_limits<double>::infinity()) << "the second pass reused the +0.0 leaf";
}

// ---- 3. Structure: counts, order, repr -------------------------------------------------------

TEST(MLP, NumParametersIsMicrogradsCount) {
  EXPECT_EQ(MLP(2, {16, 16, 1}).num_parameters(), 337u);  // (2+1)*16 + (16+1)*16 + (16+1)*1
  EXPECT_EQ(MLP(3, {4, 4, 1}).num_parameters(), 41u);
  EXPECT_EQ(Neuron(5).num_parameters(), 6u);
  EXPECT_EQ(Layer(3, 4).num_parameters(), 16u);
  // PReLU adds one slope per neuron.
  EXPECT_EQ(MLP(2, {16, 16, 1}, Activation::prelu(), Activation::linear()).num_parameters(), 337u + 32u);
}

TEST(MLP, ParametersAreInMicrogradsOrder) {
  for (const Activation hidden : {Activation::relu(), Activation::prelu()}) {
    MLP model(2, {16, 16, 1}, hidden, Activation::linear());
    const std::vector<Parameter*> params = model.parameters();
    std::vector<const Parameter*> expected;
    for (const Layer& layer : model.layers()) {
      for (const Neuron& neuron : layer.neurons()) {
        for (const Parameter& w : neuron.weights()) expected.push_back(&w);
        expected.push_back(&neuron.bias());
        if (neuron.activation().has_parameter()) expected.push_back(&neuron.slope());
      }
    }
    ASSERT_EQ(params.size(), expected.size());
    for (std::size_t i = 0; i < params.size(); ++i) EXPECT_EQ(params[i], expected[i]) << "parameter " << i;
    // The const overload gives the same pointers.
    const std::vector<const Parameter*> const_params = std::as_const(model).parameters();
    EXPECT_EQ(const_params, expected);
  }
}

TEST(MLP, ReprIsMicrogradsText) {
  const MLP model(2, {16, 16, 1});
  const std::string expected = "MLP of [Layer of [" + Repeat("ReLUNeuron(2)", 16) + "], Layer of [" +
                               Repeat("ReLUNeuron(16)", 16) + "], Layer of [LinearNeuron(16)]]";
  EXPECT_EQ(model.repr(), expected);
  std::ostringstream printed;
  printed << model;
  EXPECT_EQ(printed.str(), expected);
  EXPECT_EQ(Neuron(3, Activation::tanh()).repr(), "TanhNeuron(3)");
  EXPECT_EQ(Layer(3, 2, Activation::leaky_relu(0.2)).repr(), "Layer of [LeakyReLUNeuron(3), LeakyReLUNeuron(3)]");
}

// ---- 4. Errors -------------------------------------------------------------------------------

TEST(Module, WrongInputSizeThrowsNamingBothSizes) {
  const Neuron neuron(3);
  const Layer layer(3, 2);
  const MLP mlp(3, {2, 1});
  const std::vector<double> doubles = {1.0, 2.0};
  const std::vector<Value> values = {Value(1.0), Value(2.0)};
  const auto names_sizes = [](std::string_view who) {
    return AllOf(HasSubstr(std::string(who)), HasSubstr("3 inputs"), HasSubstr("got 2"));
  };
  EXPECT_THAT(ErrorOf([&] { (void)neuron(doubles); }), names_sizes("Neuron"));
  EXPECT_THAT(ErrorOf([&] { (void)neuron(values); }), names_sizes("Neuron"));
  EXPECT_THAT(ErrorOf([&] { (void)layer(doubles); }), names_sizes("Layer"));
  EXPECT_THAT(ErrorOf([&] { (void)layer(values); }), names_sizes("Layer"));
  EXPECT_THAT(ErrorOf([&] { (void)mlp(doubles); }), names_sizes("MLP"));
  EXPECT_THAT(ErrorOf([&] { (void)mlp(values); }), names_sizes("MLP"));
  EXPECT_THAT(ErrorOf([&] { (void)mlp.score(doubles); }), names_sizes("MLP"));
  EXPECT_THAT(ErrorOf([&] { (void)mlp.score(values); }), names_sizes("MLP"));
}

TEST(MLP, ScoreNeedsExactlyOneOutput) {
  const MLP two(2, {4, 2});
  const std::vector<double> x = {0.5, -0.5};
  EXPECT_THAT(ErrorOf([&] { (void)two.score(x); }), AllOf(HasSubstr("one output"), HasSubstr("2")));
  const MLP one(2, {4, 1});
  EXPECT_EQ(Bits(one.score(x).data()), Bits(one(x).front().data()));
}

TEST(MLP, BatchesCheckTheirInputsNamingThePointAndTheSizes) {
  const MLP mlp(3, {2, 1});
  const Layer& layer = mlp.layers().front();
  const std::vector<Value> seven(7, Value(0.5));
  EXPECT_EQ(ErrorOf([&] { (void)layer.batch(seven, 2); }),
            "scalargrad::nn: Layer::batch() of 2 points expects 3 inputs for each, got 7 in all");
  EXPECT_EQ(ErrorOf([&] { (void)mlp.batch(seven, 3); }),
            "scalargrad::nn: MLP::batch() of 3 points expects 3 inputs for each, got 7 in all");
  // points * nin() overflowing std::size_t must not pass for a small input count.
  EXPECT_THAT(ErrorOf([&] { (void)layer.batch(seven, std::size_t{1} << 63); }), HasSubstr("got 7 in all"));
  const std::vector<std::vector<double>> ragged = {{1.0, 2.0, 3.0}, {1.0, 2.0, 3.0}, {1.0, 2.0}};
  EXPECT_EQ(ErrorOf([&] { (void)mlp.scores(ragged); }), "scalargrad::nn: MLP expects 3 inputs, got 2 in point 2");
  const std::vector<std::vector<Value>> ragged_values = {{Value(1.0)}};
  EXPECT_EQ(ErrorOf([&] { (void)mlp.scores(ragged_values); }), "scalargrad::nn: MLP expects 3 inputs, got 1 in point 0");
  const MLP two(3, {4, 2});
  EXPECT_EQ(ErrorOf([&] { (void)two.scores(std::vector<std::vector<double>>{{1.0, 2.0, 3.0}}); }),
            "scalargrad::nn: scores() needs an MLP with one output, this one has 2; use batch() for all outputs");
  EXPECT_EQ(two.batch(std::vector<Value>(6, Value(1.0)), 2).size(), 4u);  // 2 outputs per point
  EXPECT_TRUE(mlp.scores(std::vector<std::vector<double>>{}).empty());
  EXPECT_TRUE(mlp.batch(std::span<const Value>(), 0).empty());
  EXPECT_TRUE(mlp.batch(std::span<const double>(), 0).empty());
  EXPECT_EQ(ErrorOf([&] { (void)mlp.batch(std::vector<double>(7, 1.0), 0); }),
            "scalargrad::nn: MLP::batch() of 0 points takes no inputs, got 7");
  EXPECT_EQ(ErrorOf([&] { (void)mlp.batch(seven, 0); }), "scalargrad::nn: MLP::batch() of 0 points takes no inputs, got 7");
}

// Points written out in the call: a braced list of points, and {} for none, which both span
// forms would take (an ambiguous call before the initializer_list form).
TEST(MLP, ScoresOfPointsWrittenInTheCallAreThoseOfEachPoint) {
  const MLP model(2, {4, 1}, Activation::tanh(), Activation::linear(), Init::Uniform, 5);
  const std::vector<Value> scores = model.scores({{0.5, 1.0}, {-1.0, 0.25}, {0, 2}});
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_EQ(Bits(scores[0].data()), Bits(model.score(std::vector<double>{0.5, 1.0}).data()));
  EXPECT_EQ(Bits(scores[1].data()), Bits(model.score(std::vector<double>{-1.0, 0.25}).data()));
  EXPECT_EQ(Bits(scores[2].data()), Bits(model.score(std::vector<double>{0.0, 2.0}).data()));
  EXPECT_TRUE(model.scores({}).empty());
  EXPECT_EQ(ErrorOf([&] { (void)model.scores({{0.5, 1.0}, {1.0}}); }),
            "scalargrad::nn: MLP expects 2 inputs, got 1 in point 1");
}

TEST(MLP, ABatchLargerThanASegmentRecordsAboutTheLoopsNodes) {
  // Regression (review of the batch): 20,000 points through 2-16-16-1 take ~1.3 M nodes, more
  // than one segment holds. Recorded as one batch, every point's outputs left behind in the
  // full segment were imported one by one into the next: 24% more nodes than the loop, and 3x
  // its time at 60,000 points. In chunks (Note [Batch chunks] in nn/src/module.cpp) they are
  // about the loop's. The scores are the loop's to the bit; the gradients to rounding (each
  // segment's Import node of a weight sums that segment's part, and the two split the points
  // at other places).
  const scalargrad::nn::Dataset data = scalargrad::nn::make_moons(20000, 0.1, 4);
  struct Run {
    std::size_t nodes = 0;
    std::vector<double> scores;
    std::vector<double> grads;
  };
  const auto run = [&](bool batch) {
    Run r;
    scalargrad::testing_support::OnFreshTape([&] {  // a model per thread: its leaves are that thread's
      MLP model(2, {16, 16, 1}, Activation::relu(), Activation::linear(), Init::Uniform, 3);
      std::vector<Value> scores;
      if (batch) {
        scores = model.scores(data.inputs);
      } else {
        for (const std::vector<double>& x : data.inputs) scores.push_back(model.score(x));
      }
      r.nodes = scalargrad::tape_stats().nodes;
      for (const Value& s : scores) r.scores.push_back(s.data());
      model.zero_grad();
      scalargrad::nn::hinge_loss(scores, data.labels).backward();
      for (const Parameter* p : model.parameters()) r.grads.push_back(p->grad);
    });
    return r;
  };
  const Run batch = run(true);
  const Run loop = run(false);
  EXPECT_GT(loop.nodes, std::size_t{1} << 20) << "the test needs more than one segment";
  EXPECT_LT(static_cast<double>(batch.nodes), 1.01 * static_cast<double>(loop.nodes))
      << "batch " << batch.nodes << " nodes, loop " << loop.nodes;
  ASSERT_EQ(batch.scores.size(), loop.scores.size());
  for (std::size_t i = 0; i < loop.scores.size(); ++i) ASSERT_EQ(Bits(batch.scores[i]), Bits(loop.scores[i])) << i;
  for (std::size_t i = 0; i < loop.grads.size(); ++i) {
    EXPECT_NEAR(batch.grads[i], loop.grads[i], 1e-12 * (1.0 + std::abs(loop.grads[i]))) << "parameter " << i;
  }
}

TEST(MLP, ConstructorRejectsEmptyShapesNamingTheProblem) {
  EXPECT_THROW(MLP(0, {4, 1}), Error);
  EXPECT_THAT(ErrorOf([] { (void)MLP(0, {4, 1}); }), HasSubstr("an MLP needs at least one input"));
  EXPECT_THAT(ErrorOf([] { (void)MLP(2, {}); }), HasSubstr("an MLP needs at least one layer size"));
  EXPECT_THAT(ErrorOf([] { (void)MLP(2, {4, 0, 1}); }),
              HasSubstr("an MLP needs at least one neuron in each layer, but layer 2 of 3 has size 0"));
  EXPECT_THAT(ErrorOf([] { (void)MLP(2, {4, 1}, std::vector<Activation>{Activation::relu()}); }),
              HasSubstr("an MLP of 2 layers needs as many activations, got 1"));
  EXPECT_THAT(ErrorOf([] { (void)MLP(2, {4, 1}, std::vector<Activation>(3, Activation::relu())); }),
              HasSubstr("an MLP of 2 layers needs as many activations, got 3"));
  EXPECT_THAT(ErrorOf([] { (void)Neuron(0); }), HasSubstr("a Neuron needs at least one input"));
  EXPECT_THAT(ErrorOf([] { (void)Layer(0, 3); }), HasSubstr("a Layer needs at least one input"));
  EXPECT_THAT(ErrorOf([] { (void)Layer(3, 0); }), HasSubstr("a Layer needs at least one neuron"));
}

// Regression: a count no vector can hold threw std::length_error "vector::reserve", which named
// neither the call nor the number (Python showed "ValueError: vector::reserve").
TEST(MLP, ConstructorRejectsCountsNoVectorCanHoldNamingTheCount) {
  const std::size_t huge = std::size_t{1} << 62;
  const std::string max_parameters = std::to_string(std::vector<Parameter>().max_size());
  const std::string max_neurons = std::to_string(std::vector<Neuron>().max_size());
  EXPECT_THAT(ErrorOf([&] { (void)Neuron(huge); }),
              Eq("scalargrad::nn: a Neuron cannot have 4611686018427387904 inputs, more than the " + max_parameters +
                 " a vector can hold"));
  EXPECT_THAT(ErrorOf([&] { (void)Layer(2, huge); }),
              Eq("scalargrad::nn: a Layer cannot have 4611686018427387904 neurons, more than the " + max_neurons +
                 " a vector can hold"));
  EXPECT_THAT(ErrorOf([&] { (void)Layer(huge, 2); }), HasSubstr("a Neuron cannot have 4611686018427387904 inputs"));
  EXPECT_THAT(ErrorOf([&] { (void)MLP(2, {4, huge}); }), HasSubstr("a Layer cannot have 4611686018427387904 neurons"));
  EXPECT_THAT(ErrorOf([&] { (void)MLP(huge, {4}); }), HasSubstr("a Neuron cannot have 4611686018427387904 inputs"));
}

// Regression: a bound near the largest double gave the weights inf inf inf.
TEST(Neuron, ABoundNearTheLargestDoubleGivesFiniteWeights) {
  Rng rng(17);
  const Neuron neuron(3, Activation::relu(), rng, 1e308);
  for (const Parameter& w : neuron.weights()) {
    EXPECT_TRUE(std::isfinite(w.data)) << w.data;
    EXPECT_LE(std::abs(w.data), 1e308);
  }
}

TEST(Neuron, FromAGeneratorDrawsItsWeightsInOrderWithinTheBound) {
  Rng rng(17), reference(17);
  const Neuron neuron(3, Activation::tanh(), rng, 0.5);
  ASSERT_EQ(neuron.nin(), 3u);
  ASSERT_EQ(neuron.weights().size(), 3u);
  for (const Parameter& w : neuron.weights()) EXPECT_EQ(Bits(w.data), Bits(reference.uniform(-0.5, 0.5)));
  EXPECT_EQ(neuron.bias().data, 0.0);
  EXPECT_EQ(neuron.activation().name(), "tanh");
  EXPECT_EQ(rng.next(), reference.next());  // it drew exactly nin numbers
  // The seeded constructor is this one with Rng(seed) and bound 1 (micrograd's uniform(-1, 1)).
  Rng seeded(5);
  EXPECT_EQ(DataBits(Neuron(4, Activation::relu(), seeded)), DataBits(Neuron(4, Activation::relu(), 5)));
}

TEST(Neuron, FromAGeneratorWithBoundZeroHasZeroWeights) {
  Rng rng(1);
  const Neuron neuron(2, Activation::linear(), rng, 0.0);
  for (const Parameter& w : neuron.weights()) EXPECT_EQ(w.data, 0.0);
}

TEST(Neuron, RejectsABoundThatIsNegativeOrNotFinite) {
  for (const double bound : {-1.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    Rng rng(1), reference(1);
    EXPECT_THAT(ErrorOf([&] { (void)Neuron(2, Activation::relu(), rng, bound); }),
                HasSubstr("uniform(-bound, bound), which needs a finite bound >= 0, got"))
        << bound;
    EXPECT_EQ(rng.next(), reference.next()) << bound;  // nothing drawn
  }
  Rng rng(1);
  EXPECT_THAT(ErrorOf([&] { (void)Neuron(2, Activation::relu(), rng, -0.25); }), HasSubstr("got -0.25"));
}

TEST(Layer, FromAGeneratorGivesEachNeuronTheNextDrawsWithItsInitsBound) {
  Rng rng(23), reference(23);
  const Layer layer(3, 2, Activation::sigmoid(), Init::Xavier, rng);
  ASSERT_EQ(layer.nin(), 3u);
  ASSERT_EQ(layer.nout(), 2u);
  const double bound = init_bound(Init::Xavier, 3, 2);
  for (const Neuron& neuron : layer.neurons()) {
    EXPECT_EQ(neuron.nin(), 3u);
    EXPECT_EQ(neuron.activation().name(), "sigmoid");
    for (const Parameter& w : neuron.weights()) EXPECT_EQ(Bits(w.data), Bits(reference.uniform(-bound, bound)));
  }
  EXPECT_EQ(rng.next(), reference.next());
  // The seeded constructor draws the same from Rng(seed).
  Rng seeded(9);
  EXPECT_EQ(DataBits(Layer(3, 2, Activation::relu(), Init::He, seeded)), DataBits(Layer(3, 2, Activation::relu(), Init::He, 9)));
}

TEST(MLP, NinAndNoutAreTheFirstLayersInputsAndTheLastLayersNeurons) {
  const MLP mlp(3, {5, 4, 2});
  EXPECT_EQ(mlp.nin(), 3u);
  EXPECT_EQ(mlp.nout(), 2u);
  EXPECT_EQ(mlp.layers().front().nin(), 3u);
  EXPECT_EQ(MLP(2, {16, 16, 1}).nout(), 1u);
}

// ---- 5. Initialisation -----------------------------------------------------------------------

/// Checks every weight of `model` is in [-b, b) with b the layer's bound, reaches past b/2
/// somewhere (so the bound is the one used, not a smaller one), and every bias is 0.
void ExpectWithinBounds(const MLP& model, Init init) {
  for (const Layer& layer : model.layers()) {
    const double bound = init_bound(init, layer.nin(), layer.nout());
    double largest = 0.0;
    for (const Neuron& neuron : layer.neurons()) {
      for (const Parameter& w : neuron.weights()) {
        EXPECT_GE(w.data, -bound);
        EXPECT_LT(w.data, bound);
        largest = std::max(largest, std::abs(w.data));
      }
      EXPECT_EQ(neuron.bias().data, 0.0);
    }
    EXPECT_GT(largest, bound / 2) << init_name(init) << " layer of " << layer.nin() << " -> " << layer.nout();
  }
}

TEST(Init, WeightsAreWithinTheirBoundsAndBiasesZero) {
  EXPECT_EQ(init_bound(Init::Uniform, 4, 8), 1.0);
  EXPECT_DOUBLE_EQ(init_bound(Init::Xavier, 4, 8), std::sqrt(6.0 / 12.0));
  EXPECT_DOUBLE_EQ(init_bound(Init::He, 4, 8), std::sqrt(6.0 / 4.0));
  for (const Init init : {Init::Uniform, Init::Xavier, Init::He}) {
    ExpectWithinBounds(MLP(4, {32, 16, 1}, Activation::relu(), Activation::linear(), init, 3), init);
  }
  // Xavier's bound is below He's, and below 1, for these layers: the three are told apart.
  EXPECT_LT(init_bound(Init::Xavier, 16, 32), init_bound(Init::He, 16, 32));
  EXPECT_LT(init_bound(Init::He, 16, 32), 1.0);
}

// Regression: init_bound(Xavier, SIZE_MAX, 1) added the fans as size_t (wrapping to 0) and gave
// inf, so a Layer of SIZE_MAX inputs blamed "a finite bound" the user never passed; a fan of 0
// gave inf too.
TEST(Init, BoundRejectsAFanOfZeroAndDoesNotOverflow) {
  const std::size_t huge = std::numeric_limits<std::size_t>::max();
  EXPECT_GT(init_bound(Init::Xavier, huge, 1), 0.0);
  EXPECT_LT(init_bound(Init::Xavier, huge, 1), 1e-9);
  for (const Init init : {Init::Uniform, Init::Xavier, Init::He}) {
    EXPECT_THAT(ErrorOf([&] { (void)init_bound(init, 0, 5); }),
                Eq("scalargrad::nn: init_bound needs fan_in > 0 and fan_out > 0, got fan_in = 0, fan_out = 5"));
    EXPECT_THAT(ErrorOf([&] { (void)init_bound(init, 3, 0); }), HasSubstr("got fan_in = 3, fan_out = 0"));
  }
  EXPECT_THAT(ErrorOf([&] { (void)Layer(huge, 1, Activation::relu(), Init::Xavier); }),
              HasSubstr("a Neuron cannot have 18446744073709551615 inputs"));
}

TEST(Init, NamesRoundTripAndUnknownNamesThrow) {
  for (const Init init : {Init::Uniform, Init::Xavier, Init::He}) EXPECT_EQ(parse_init(init_name(init)), init);
  EXPECT_THAT(ErrorOf([] { (void)parse_init("glorot"); }), AllOf(HasSubstr("'glorot'"), HasSubstr("xavier")));
}

TEST(Init, SameSeedGivesBitIdenticalWeightsAnotherSeedOthers) {
  for (const Init init : {Init::Uniform, Init::Xavier, Init::He}) {
    const MLP a(2, {16, 16, 1}, Activation::relu(), Activation::linear(), init, 42);
    const MLP b(2, {16, 16, 1}, Activation::relu(), Activation::linear(), init, 42);
    const MLP c(2, {16, 16, 1}, Activation::relu(), Activation::linear(), init, 43);
    EXPECT_EQ(DataBits(a), DataBits(b));
    EXPECT_NE(DataBits(a), DataBits(c));
  }
  EXPECT_EQ(DataBits(Neuron(8, Activation::relu(), 5)), DataBits(Neuron(8, Activation::relu(), 5)));
  EXPECT_NE(DataBits(Neuron(8, Activation::relu(), 5)), DataBits(Neuron(8, Activation::relu(), 6)));
}

// ---- 6. Forward: a neuron by hand ------------------------------------------------------------

double ByHand(const Activation& activation, double z, double slope) {
  switch (activation.kind()) {
    case Activation::Kind::Linear: return z;
    case Activation::Kind::ReLU: return z > 0 ? z : 0.0;
    case Activation::Kind::LeakyReLU: return z > 0 ? z : activation.parameter() * z;
    case Activation::Kind::PReLU: return z > 0 ? z : slope * z;
    case Activation::Kind::Tanh: return std::tanh(z);
    case Activation::Kind::Sigmoid: return 1.0 / (1.0 + std::exp(-z));
    case Activation::Kind::ELU: return z > 0 ? z : activation.parameter() * (std::exp(z) - 1.0);
    case Activation::Kind::GELU: return 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
    case Activation::Kind::SiLU: return z / (1.0 + std::exp(-z));
    case Activation::Kind::Softplus: return std::log1p(std::exp(z));
  }
  return 0.0;
}

std::vector<std::string> ActivationNames() {
  std::vector<std::string> names;
  for (const std::string_view name : Activation::names()) names.emplace_back(name);
  for (const char* with_parameter : {"leaky_relu:0.2", "prelu:0.1", "elu:0.5"}) names.emplace_back(with_parameter);
  return names;
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (c == ':' || c == '.') c = '_';
  }
  return name;
}

class PerActivation : public ::testing::TestWithParam<std::string> {};

TEST_P(PerActivation, NeuronOutputIsActivationOfWeightedSumPlusBias) {
  const Activation activation = Activation::parse(GetParam());
  Neuron neuron(3, activation, 17);
  std::vector<Parameter*> params = neuron.parameters();
  params[3]->data = 0.3;                                   // bias
  if (activation.has_parameter()) params[4]->data = 0.07;  // PReLU slope
  const double slope = neuron.slope().data;
  for (const double sign : {1.0, -1.0}) {  // both sides of 0 for the piecewise activations
    const std::vector<double> x = {0.5 * sign, -1.2 * sign, 2.0 * sign};
    const std::vector<Parameter>& w = neuron.weights();
    const double z = w[0].data * x[0] + w[1].data * x[1] + w[2].data * x[2] + 0.3;
    EXPECT_NEAR(neuron(x).data(), ByHand(activation, z, slope), 1e-14 * std::max(1.0, std::abs(z)))
        << "z = " << z;
  }
}

// ---- 7. Backward: the whole network against finite differences -------------------------------

/// A loss written with engine ops only: the mean over four points of an MSE term plus a hinge
/// term, so that several paths reach every parameter.
Value Loss(const MLP& model) {
  static const double inputs[4][3] = {{0.5, -1.0, 0.25}, {-0.3, 0.8, 1.5}, {1.2, 0.1, -0.7}, {-0.9, -0.4, 0.3}};
  static const double labels[4] = {1.0, -1.0, -1.0, 1.0};
  Value total = 0.0;
  for (int i = 0; i < 4; ++i) {
    const Value s = model.score(std::vector<double>(inputs[i], inputs[i] + 3));
    total = total + (s - labels[i]).pow(2.0) + (1.0 - labels[i] * s).relu();
  }
  return total / 4.0;
}

TEST_P(PerActivation, WholeNetworkGradientMatchesCentralFiniteDifferences) {
  const Activation activation = Activation::parse(GetParam());
  // Output activation too, so that the output layer's derivative is checked for each kind.
  MLP model(3, {4, 4, 1}, std::vector<Activation>{activation, activation, activation}, Init::Uniform, 8);
  if (activation.has_parameter()) {
    // Distinct slopes, so that a slope gradient sent to the wrong neuron shows.
    double slope = 0.05;
    for (Parameter* p : model.parameters()) {
      for (const Layer& layer : model.layers()) {
        for (const Neuron& neuron : layer.neurons()) {
          if (p == &neuron.slope()) {
            p->data = slope;
            slope += 0.03;
          }
        }
      }
    }
    ASSERT_NEAR(slope, 0.05 + 9 * 0.03, 1e-12) << "every neuron's slope set";
  }

  model.zero_grad();
  Loss(model).backward();
  const std::vector<Parameter*> params = model.parameters();
  ASSERT_EQ(params.size(), activation.has_parameter() ? 41u + 9u : 41u);

  const double h = 1e-6;
  for (std::size_t i = 0; i < params.size(); ++i) {
    Parameter& p = *params[i];
    const double saved = p.data;
    p.data = saved + h;
    const double up = Loss(model).data();  // forward only: no backward between the passes
    p.data = saved - h;
    const double down = Loss(model).data();
    p.data = saved;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(p.grad, numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << "parameter " << i;
  }
  // Every parameter's gradient is reachable: the check above is not vacuous.
  int nonzero = 0;
  for (const Parameter* p : params) nonzero += p->grad != 0.0 ? 1 : 0;
  EXPECT_GT(nonzero, static_cast<int>(params.size()) / 2);
}

TEST_P(PerActivation, ApplyGivesEachValuesActivationToTheBitWithTheSameGradients) {
  const Activation activation = Activation::parse(GetParam());
  // Without a slope Value, PReLU is Leaky ReLU with its initial slope, in apply() as in ().
  const std::vector<double> points = {-3.0, -0.5, -0.0, 0.0, 1e-3, 0.7, 2.5};
  std::vector<Value> leaves(points.begin(), points.end());
  std::vector<Value> applied;
  for (const Value& x : leaves) applied.push_back(x * 1.0);
  activation.apply(applied);
  ASSERT_EQ(applied.size(), points.size());
  std::vector<double> by_apply;
  scalargrad::sum(applied).backward();
  for (Value& x : leaves) {
    by_apply.push_back(x.grad());
    x.zero_grad();
  }
  std::vector<Value> one_by_one;
  for (const Value& x : leaves) one_by_one.push_back(activation(x * 1.0));
  scalargrad::sum(one_by_one).backward();
  for (std::size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(Bits(applied[i].data()), Bits(one_by_one[i].data())) << "x = " << points[i];
    EXPECT_NEAR(applied[i].data(), ByHand(activation, points[i], activation.parameter()), 1e-15)
        << "x = " << points[i];
    EXPECT_EQ(Bits(by_apply[i]), Bits(leaves[i].grad())) << "x = " << points[i];
  }
  std::vector<Value> none;
  activation.apply(none);  // an empty span: nothing to do
  EXPECT_TRUE(none.empty());
}

TEST_P(PerActivation, LayerGivesEachNeuronsOutputAndGradientsToTheBit) {
  // Layer records its neurons' dots, then their biases, then their activations; each output is
  // still the neuron's own activation(w . x + b), with the same gradients.
  const Activation activation = Activation::parse(GetParam());
  Layer layer(3, 5, activation, Init::Uniform, 23);
  std::vector<Value> x = {0.4, -1.1, 0.9};
  Value by_layer = 0.0;
  const std::vector<Value> out = layer(x);
  ASSERT_EQ(out.size(), 5u);
  for (std::size_t j = 0; j < out.size(); ++j) {
    const Value alone = layer.neurons()[j](x);
    EXPECT_EQ(Bits(out[j].data()), Bits(alone.data())) << "neuron " << j;
    by_layer = by_layer + out[j] * (1.0 + static_cast<double>(j));
  }
  std::vector<double> grads;
  const std::vector<Parameter*> params = layer.parameters();
  layer.zero_grad();
  by_layer.backward();
  for (const Parameter* p : params) grads.push_back(p->grad);
  for (Value& v : x) grads.push_back(v.grad()), v.zero_grad();
  layer.zero_grad();
  Value by_neurons = 0.0;
  for (std::size_t j = 0; j < 5; ++j) by_neurons = by_neurons + layer.neurons()[j](x) * (1.0 + static_cast<double>(j));
  by_neurons.backward();
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_EQ(Bits(params[i]->grad), Bits(grads[i])) << "parameter " << i;
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_DOUBLE_EQ(x[i].grad(), grads[params.size() + i]) << "input " << i;
}

TEST_P(PerActivation, BatchesGiveTheOutputsAndGradientsOfALoopOverThePointsToTheBit) {
  // Layer::batch(), MLP::batch() and MLP::scores() against operator() and score() point by
  // point: the same values and, after backward(), the same gradients in every parameter and
  // input, to the bit (each weight gets its points' contributions in the same order).
  const Activation activation = Activation::parse(GetParam());
  MLP model(3, {4, 3, 1}, std::vector<Activation>{activation, activation, Activation::linear()}, Init::Uniform, 29);
  double slope = 0.05;  // distinct PReLU slopes: a slope gradient sent to the wrong neuron shows
  for (Parameter* p : model.parameters()) {
    if (p->name.ends_with(".a")) p->data = (slope += 0.02);
  }
  EXPECT_EQ(slope > 0.06, activation.has_parameter());
  const std::vector<std::vector<double>> points = {{0.5, -1.0, 0.25}, {-0.3, 0.8, 1.5}, {1.2, 0.1, -0.7},
                                                   {-0.9, -0.4, 0.3}, {0.0, 2.0, -2.0}};
  std::vector<Value> xs;
  for (const std::vector<double>& p : points) xs.insert(xs.end(), p.begin(), p.end());
  const std::vector<Parameter*> params = model.parameters();
  const auto grads = [&](const Value& root) {
    model.zero_grad();
    for (Value& x : xs) x.zero_grad();
    root.backward();
    std::vector<double> g;
    for (const Parameter* p : params) g.push_back(p->grad);
    for (const Value& x : xs) g.push_back(x.grad());
    return g;
  };
  const auto same_bits = [](const std::vector<double>& a, const std::vector<double>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(Bits(a[i]), Bits(b[i])) << what << " " << i;
  };

  // The first layer alone.
  const Layer& first = model.layers().front();
  const std::vector<Value> batch = first.batch(xs, points.size());
  std::vector<Value> loop;
  for (std::size_t p = 0; p < points.size(); ++p) {
    for (const Value& v : first(std::span<const Value>(xs).subspan(3 * p, 3))) loop.push_back(v);
  }
  ASSERT_EQ(batch.size(), 4 * points.size());
  for (std::size_t k = 0; k < batch.size(); ++k) EXPECT_EQ(Bits(batch[k].data()), Bits(loop[k].data())) << k;
  same_bits(grads(scalargrad::testing_support::WeightedSum(batch)),
            grads(scalargrad::testing_support::WeightedSum(loop)), "Layer::batch gradient");

  // The whole network: batch() from Values, scores() from doubles, score() point by point.
  const std::vector<Value> outputs = model.batch(xs, points.size());
  const std::vector<Value> scores = model.scores(points);
  std::vector<std::vector<Value>> value_points;
  for (std::size_t p = 0; p < points.size(); ++p) value_points.emplace_back(xs.begin() + 3 * p, xs.begin() + 3 * p + 3);
  const std::vector<Value> value_scores = model.scores(value_points);
  std::vector<Value> one_by_one;
  for (std::size_t p = 0; p < points.size(); ++p) {
    one_by_one.push_back(model.score(std::span<const Value>(xs).subspan(3 * p, 3)));
    EXPECT_EQ(Bits(scores[p].data()), Bits(model.score(points[p]).data())) << "point " << p;
    EXPECT_EQ(Bits(value_scores[p].data()), Bits(scores[p].data())) << "point " << p;
  }
  ASSERT_EQ(outputs.size(), points.size());
  ASSERT_EQ(scores.size(), points.size());
  for (std::size_t p = 0; p < points.size(); ++p) EXPECT_EQ(Bits(outputs[p].data()), Bits(one_by_one[p].data())) << p;
  same_bits(grads(scalargrad::testing_support::WeightedSum(outputs)),
            grads(scalargrad::testing_support::WeightedSum(one_by_one)), "MLP::batch gradient");

  // batch() of doubles (what scores() of doubles uses): the same values, and the same parameter
  // gradients, with no leaf for each input (PReLU: through leaves).
  std::vector<double> flat;
  for (const std::vector<double>& p : points) flat.insert(flat.end(), p.begin(), p.end());
  const std::vector<Value> from_doubles = model.batch(std::span<const double>(flat), points.size());
  ASSERT_EQ(from_doubles.size(), points.size());
  for (std::size_t p = 0; p < points.size(); ++p) {
    EXPECT_EQ(Bits(from_doubles[p].data()), Bits(outputs[p].data())) << p;
  }
  const auto parameter_grads = [&](const Value& root) {
    std::vector<double> g = grads(root);
    g.resize(params.size());
    return g;
  };
  same_bits(parameter_grads(scalargrad::testing_support::WeightedSum(from_doubles)),
            parameter_grads(scalargrad::testing_support::WeightedSum(outputs)), "MLP::batch of doubles gradient");
  int nonzero = 0;
  for (const Parameter* p : params) nonzero += p->grad != 0.0 ? 1 : 0;
  EXPECT_GT(nonzero, static_cast<int>(params.size()) / 2) << "the gradient comparison is not vacuous";
}

TEST_P(PerActivation, NameParsesBackToTheSameActivation) {
  const Activation activation = Activation::parse(GetParam());
  EXPECT_EQ(Activation::parse(activation.name()), activation);
  EXPECT_EQ(Activation::parse(activation.name()).name(), activation.name());
}

INSTANTIATE_TEST_SUITE_P(EveryActivation, PerActivation, ::testing::ValuesIn(ActivationNames()), TestName);

// ---- 8. Activation names ---------------------------------------------------------------------

TEST(Activation, ParseReadsParametersAndDefaults) {
  EXPECT_EQ(Activation::parse("leaky_relu:0.001"), Activation::leaky_relu(0.001));
  EXPECT_EQ(Activation::parse("leaky_relu:0.001").name(), "leaky_relu:0.001");
  EXPECT_EQ(Activation::parse("leaky_relu"), Activation::leaky_relu(0.01));
  EXPECT_EQ(Activation::parse("prelu"), Activation::prelu(0.25));
  EXPECT_EQ(Activation::parse("prelu:0.1").parameter(), 0.1);
  EXPECT_EQ(Activation::parse("elu"), Activation::elu(1.0));
  EXPECT_EQ(Activation::parse("elu:0.5"), Activation::elu(0.5));
  EXPECT_EQ(Activation::parse("relu"), Activation::relu());
  EXPECT_EQ(Activation::parse("linear"), Activation::linear());
  EXPECT_EQ(Activation::relu().name(), "relu");
  EXPECT_EQ(Activation::relu().display_name(), "ReLU");
  EXPECT_EQ(Activation::linear().display_name(), "Linear");
  // Shortest text that reads back to the same double.
  EXPECT_EQ(Activation::leaky_relu(0.1 + 0.2).name(), "leaky_relu:0.30000000000000004");
  EXPECT_EQ(Activation::parse(Activation::leaky_relu(0.1 + 0.2).name()).parameter(), 0.1 + 0.2);
  EXPECT_EQ(Activation::names().size(), 10u);
}

TEST(Activation, EachParameterlessFactoryIsItsParsedNameAndAppliesItsOp) {
  struct Case {
    Activation activation;
    Activation::Kind kind;
    const char* name;
    const char* display;
    Value (Value::*op)() const;
  };
  const std::vector<Case> cases = {
      {Activation::tanh(), Activation::Kind::Tanh, "tanh", "Tanh", &Value::tanh},
      {Activation::sigmoid(), Activation::Kind::Sigmoid, "sigmoid", "Sigmoid", &Value::sigmoid},
      {Activation::gelu(), Activation::Kind::GELU, "gelu", "GELU", &Value::gelu},
      {Activation::silu(), Activation::Kind::SiLU, "silu", "SiLU", &Value::silu},
      {Activation::softplus(), Activation::Kind::Softplus, "softplus", "Softplus", &Value::softplus},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.activation.kind(), c.kind) << c.name;
    EXPECT_EQ(c.activation, Activation::parse(c.name)) << c.name;
    EXPECT_EQ(c.activation.name(), c.name);
    EXPECT_EQ(c.activation.display_name(), c.display);
    EXPECT_EQ(c.activation.parameter(), 0.0) << c.name;
    EXPECT_FALSE(c.activation.has_parameter()) << c.name;
    for (const double x : {-3.0, -0.5, 0.0, 0.75, 4.0}) {
      Value a = x;
      Value b = x;
      const Value by_activation = c.activation(a);
      const Value by_op = (b.*c.op)();
      by_activation.backward();
      by_op.backward();
      EXPECT_EQ(Bits(by_activation.data()), Bits(by_op.data())) << c.name << " at " << x;
      EXPECT_EQ(Bits(a.grad()), Bits(b.grad())) << c.name << " at " << x;
    }
  }
}

TEST(Activation, ParseRejectsUnknownNamesBadNumbersAndUnwantedParameters) {
  EXPECT_THAT(ErrorOf([] { (void)Activation::parse("swish"); }),
              AllOf(HasSubstr("unknown activation 'swish'"), HasSubstr("relu"), HasSubstr("tanh"),
                    HasSubstr("softplus")));
  EXPECT_THAT(ErrorOf([] { (void)Activation::parse(""); }), HasSubstr("unknown activation"));
  EXPECT_THAT(ErrorOf([] { (void)Activation::parse("ReLU"); }), HasSubstr("unknown activation 'ReLU'"));
  // Regression: the message ended at the NUL byte ("unknown activation 'relu").
  EXPECT_THAT(ErrorOf([] { (void)Activation::parse(std::string_view("relu\0x", 6)); }),
              AllOf(HasSubstr("unknown activation 'relu\\0x'; valid: "), HasSubstr("softplus")));
  for (const char* bad : {"leaky_relu:abc", "leaky_relu:", "leaky_relu:0.1x", "prelu:nan", "leaky_relu: 0.1"}) {
    EXPECT_THAT(ErrorOf([&] { (void)Activation::parse(bad); }), HasSubstr("not a finite number")) << bad;
  }
  // Too large or (an underflow, which from_chars refuses too) too small: said so.
  for (const char* bad : {"elu:1e999", "elu:1e-400"}) {
    EXPECT_THAT(ErrorOf([&] { (void)Activation::parse(bad); }),
                HasSubstr("is out of the range of a double (magnitude above 1.8e308 or below 4.9e-324)"))
        << bad;
  }
  EXPECT_THAT(ErrorOf([] { (void)Activation::parse("relu:0.5"); }),
              AllOf(HasSubstr("'relu'"), HasSubstr("takes no parameter")));
  EXPECT_THAT(ErrorOf([] { (void)Activation::parse("tanh:1"); }), HasSubstr("takes no parameter"));
}

TEST(Activation, FactoriesRejectANonFiniteParameter) {
  // Regression: leaky_relu(NaN) was accepted, and save_model() then wrote a file that
  // load_model() refuses ("leaky_relu:nan"), over a good one.
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ErrorOf([&] { (void)Activation::leaky_relu(kNan); }),
            "scalargrad::nn: leaky_relu's slope must be a finite number, got nan");
  EXPECT_EQ(ErrorOf([&] { (void)Activation::prelu(-kInf); }),
            "scalargrad::nn: prelu's initial slope must be a finite number, got -inf");
  EXPECT_EQ(ErrorOf([&] { (void)Activation::elu(kInf); }),
            "scalargrad::nn: elu's alpha must be a finite number, got inf");
  EXPECT_EQ(Activation::leaky_relu(-0.5).parameter(), -0.5);  // any finite number, as parse() takes
}

TEST(Activation, PReLUOfInfinityIsInfinity) {
  // Regression: relu(x) + a (x - relu(x)) gave inf - inf = NaN at x = +inf; the header says x
  // for x > 0.
  Neuron neuron(1, Activation::prelu(0.25));
  const std::vector<Parameter*> p = neuron.parameters();  // w, b, a
  p[0]->data = 1.0;
  p[1]->data = 0.0;
  const Value x = std::numeric_limits<double>::infinity();
  const Value y = neuron(std::span<const Value>(&x, 1));
  EXPECT_EQ(y.data(), std::numeric_limits<double>::infinity());
  // Both branches keep their derivatives: d/dx = 1 or a, d/da = 0 or x.
  Value a = 0.25;
  for (const double at : {2.0, -2.0, 0.0}) {
    Value v = at;
    const Value out = Activation::prelu()(v, &a);
    out.backward();
    EXPECT_EQ(out.data(), at > 0 ? at : 0.25 * at) << at;
    EXPECT_EQ(v.grad(), at > 0 ? 1.0 : 0.25) << at;
    a.zero_grad();
  }
  Value v = -2.0;
  (Activation::prelu()(v, &a)).backward();
  EXPECT_EQ(a.grad(), -2.0);
}

TEST(MLP, AMovedFromModelSaysSoInsteadOfCrashing) {
  // Regression: it kept nin() but no layers, and nout(), score() and operator() read past the
  // end of its (empty) list of layers.
  MLP model(2, {3, 1});
  const MLP taken = std::move(model);
  const std::vector<double> x = {0.5, -0.5};
  const std::string moved = "scalargrad::nn: this MLP was moved from and has no layers; assign a model to it before using it";
  EXPECT_EQ(model.nout(), 0u);  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(ErrorOf([&] { (void)model(x); }), moved);
  EXPECT_EQ(ErrorOf([&] { (void)model.score(x); }), moved);
  const std::vector<Value> values = {Value(0.5), Value(-0.5)};
  EXPECT_EQ(ErrorOf([&] { (void)model(values); }), moved);
  EXPECT_EQ(ErrorOf([&] { (void)model.score(values); }), moved);
  EXPECT_EQ(ErrorOf([&] { (void)model.batch(values, 1); }), moved);
  EXPECT_EQ(ErrorOf([&] { (void)model.scores(std::vector<std::vector<double>>{x}); }), moved);
  model = taken;  // usable again
  EXPECT_EQ(model.score(x).data(), taken.score(x).data());
}

// ---- 9. Copies -------------------------------------------------------------------------------

TEST(MLP, ACopyHasIndependentWeightsThatTrainIndependently) {
  MLP original(2, {4, 1}, Activation::tanh(), Activation::linear(), Init::Uniform, 5);
  const std::vector<double> x = {0.7, -0.3};
  (void)original.score(x);  // the original's weights are cached as graph leaves already
  MLP copy = original;
  EXPECT_EQ(DataBits(copy), DataBits(original));
  const std::vector<Parameter*> a = original.parameters();
  const std::vector<Parameter*> b = copy.parameters();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NE(a[i], b[i]);

  const double original_output = original.score(x).data();
  original.zero_grad();
  copy.zero_grad();
  // A few steps of gradient descent on the copy only.
  for (int step = 0; step < 3; ++step) {
    copy.zero_grad();
    const Value loss = (copy.score(x) - 1.0).pow(2.0);
    loss.backward();
    for (Parameter* p : copy.parameters()) p->data -= 0.1 * p->grad;
  }
  for (const Parameter* p : original.parameters()) {
    EXPECT_EQ(p->grad, 0.0) << "the copy's backward reached the original";
  }
  EXPECT_EQ(original.score(x).data(), original_output);
  EXPECT_NE(copy.score(x).data(), original_output);

  // And the other way round: training the original leaves the copy alone.
  const std::vector<std::uint64_t> copy_before = DataBits(copy);
  copy.zero_grad();
  (original.score(x) * 2.0).backward();
  for (Parameter* p : original.parameters()) p->data -= 0.1 * p->grad;
  for (const Parameter* p : copy.parameters()) EXPECT_EQ(p->grad, 0.0) << "the original's backward reached the copy";
  EXPECT_EQ(DataBits(copy), copy_before);

  // Copy assignment onto a model that has been used: it takes the numbers, keeps its own leaves.
  MLP assigned(2, {4, 1}, Activation::tanh(), Activation::linear(), Init::Uniform, 6);
  (void)assigned.score(x);
  assigned = original;
  EXPECT_EQ(DataBits(assigned), DataBits(original));
  EXPECT_EQ(Bits(assigned.score(x).data()), Bits(original.score(x).data()));
  original.zero_grad();
  assigned.zero_grad();
  assigned.score(x).backward();
  for (const Parameter* p : original.parameters()) EXPECT_EQ(p->grad, 0.0);
}

TEST(Parameter, ItsNameLabelsItsLeafInTheGraph) {
  Parameter p(2.0);
  p.name = "layer1/n0.w0";
  EXPECT_EQ(p.value().label(), "layer1/n0.w0");
  const Parameter copy(p);
  EXPECT_EQ(copy.name, "layer1/n0.w0");
  EXPECT_EQ(Parameter(1.0).value().label(), "");  // unnamed: no label
}

TEST(MLPNames, EveryParameterIsNamedByLayerNeuronAndRole) {
  // Layer names group each layer's nodes in pictures of the graph (to_dot's clusters).
  const MLP model(2, {2, 1}, std::vector<Activation>{Activation::prelu(), Activation::linear()});
  std::vector<std::string> names;
  for (const Parameter* p : model.parameters()) names.push_back(p->name);
  EXPECT_THAT(names, ::testing::ElementsAre("layer1/n0.w0", "layer1/n0.w1", "layer1/n0.b", "layer1/n0.a",
                                            "layer1/n1.w0", "layer1/n1.w1", "layer1/n1.b", "layer1/n1.a",
                                            "layer2/n0.w0", "layer2/n0.w1", "layer2/n0.b"));
  const MLP copy = model;
  EXPECT_EQ(copy.parameters().back()->name, "layer2/n0.b");
}

TEST(MLPNames, APictureOfTheGraphDrawsEachNeuronAsOneAffineNodeInItsLayersBox) {
  // What the trace_graph example and docs/images/graphs/mlp.svg show: per neuron one "affine"
  // ellipse (w . x + b), then its activation; no separate + for the bias.
  const MLP model(2, {2, 1}, Activation::tanh(), Activation::linear());
  const Value score = model.score(std::vector<double>{0.5, -1.0});
  const std::string dot = scalargrad::to_dot(score);
  const auto count = [&](std::string_view what) {
    std::size_t n = 0;
    for (std::size_t at = dot.find(what); at != std::string::npos; at = dot.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("label=\"affine\""), 3u) << dot;
  EXPECT_EQ(count("label=\"tanh\""), 2u) << dot;
  EXPECT_EQ(count("label=\"+\""), 0u) << dot;
  EXPECT_EQ(count("label=\"dot\""), 0u) << dot;
  EXPECT_EQ(count("subgraph cluster_"), 2u) << dot;  // layer1, layer2
}

}  // namespace

// ---- The engine's range dot (Note [Range dot] in scalargrad/detail/tape.hpp) ------------------

TEST(Layer, RecordsItsActivationsOneAfterTheOtherSoThatEveryNeuronReadsARun) {
  // Speed, not values: an affine node whose operands are two runs of consecutive nodes (and the
  // bias just after the weights) stores no operand list. The first layer reads the point's
  // inputs (leaves imported one after the other), the others the activations of the layer
  // before, which Layer records one after the other; each neuron's LeafBlock imports its
  // weights then its bias one after the other. And no neuron records a separate + for its bias.
  scalargrad::testing_support::OnFreshTape([] {
    const MLP model(2, {4, 4, 1}, Activation::relu(), Activation::linear(), Init::Uniform, 5);
    std::vector<Value> scores;
    for (const double t : {0.25, -0.5, 1.0}) scores.push_back(model.score(std::vector<double>{t, 1.0 - t}));
    const scalargrad::detail::Segment& s = *scalargrad::detail::tls_tape->open;
    using scalargrad::detail::Op;
    std::map<Op, int> count;
    for (std::uint32_t i = 0; i < s.size; ++i) ++count[s.nodes.op[i]];
    EXPECT_EQ(count[Op::AffineRange], 3 * 9) << "every neuron's w . x + b, for each of the 3 points";
    EXPECT_EQ(count[Op::Affine], 0);
    EXPECT_EQ(count[Op::Dot] + count[Op::DotRange] + count[Op::Add], 0);
    EXPECT_EQ(count[Op::Relu], 3 * 8);
    EXPECT_EQ(count[Op::ImportExternal], 4 * 3 + 4 * 5 + 1 * 5) << "each weight and bias once";
  });
}
