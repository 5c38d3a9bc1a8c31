// trace_graph.cpp: micrograd's trace_graph notebook in C++: pictures of two small graphs.
//
// to_dot(root) returns Graphviz DOT text of everything root depends on: a record per value
// { label | data | grad }, an ellipse per op, edges left to right, as micrograd's draw_dot.
// render(root, "file.svg") draws it through Graphviz (its library or the `dot` program).
//
//   trace_graph                  writes expression, neuron and mlp .dot/.svg here
//   trace_graph --out DIR        ... into DIR
//   trace_graph --no-render      only the .dot files (no Graphviz needed)
//
// Exit status: 0 on success, 1 if a file cannot be written or Graphviz is missing, 2 for a bad
// command line. docs/graphs.md shows the pictures.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <scalargrad/scalargrad.hpp>

#include "support/options.hpp"     // parse_command_line(): --help exits 0, a bad command line 2
#include "support/output.hpp"      // finish_output(): what main() returns, stdout checked
#include "support/write_file.hpp"  // write_file(): a failed write leaves the old file as it was

using scalargrad::Value;

namespace {

/// Writes root's DOT text to DIR/NAME.dot and, unless `dot_only`, its picture to DIR/NAME.svg.
void draw(const Value& root, const std::filesystem::path& dir, const std::string& name, bool dot_only,
          const scalargrad::DotOptions& options = {}) {
  const std::filesystem::path dot_path = dir / (name + ".dot");
  scalargrad::support::write_file(dot_path, scalargrad::to_dot(root, options));  // temporary, then rename
  std::printf("wrote %s\n", dot_path.c_str());
  if (dot_only) return;
  const std::filesystem::path svg_path = dir / (name + ".svg");
  scalargrad::render(root, svg_path, options);
  std::printf("wrote %s\n", svg_path.c_str());
}

int program_main(int argc, char** argv) {
  CLI::App app{"micrograd's trace_graph examples: DOT text and SVG pictures of two graphs.", "trace_graph"};
  std::filesystem::path out = ".";
  bool no_render = false;
  app.add_option("--out", out, "directory for the files")->capture_default_str();
  app.add_flag("--no-render", no_render, "write only the .dot files");
  if (const std::optional<int> status = scalargrad::support::parse_command_line(app, argc, argv)) return *status;

  try {
    std::error_code ignored;  // a directory that cannot be made shows up as a file that cannot be written
    std::filesystem::create_directories(out, ignored);

    // 1. A small expression: y = x * 2 + 1, differentiated (micrograd's first picture).
    Value x = 1.0;
    x.label("x");
    Value y = x * 2.0 + 1.0;
    y.label("y");
    y.backward();
    draw(y, out, "expression", no_render);

    // 2. micrograd's neuron: o = tanh(x1*w1 + x2*w2 + b), with every value labelled.
    Value x1 = 2.0, x2 = 0.0, w1 = -3.0, w2 = 1.0, b = 6.8813735870195432;
    x1.label("x1");
    x2.label("x2");
    w1.label("w1");
    w2.label("w2");
    b.label("b");
    Value x1w1 = x1 * w1;
    x1w1.label("x1*w1");
    Value x2w2 = x2 * w2;
    x2w2.label("x2*w2");
    Value x1w1x2w2 = x1w1 + x2w2;
    x1w1x2w2.label("x1*w1 + x2*w2");
    Value n = x1w1x2w2 + b;
    n.label("n");
    Value o = n.tanh();
    o.label("o");
    o.backward();
    draw(o, out, "neuron", no_render);
    std::printf("o = %.4f; do/dx1 = %.4f, do/dw1 = %.4f, do/dx2 = %.4f, do/dw2 = %.4f, do/db = %.4f\n", o.data(),
                x1.grad(), w1.grad(), x2.grad(), w2.grad(), b.grad());

    // 3. Beyond micrograd's notebook: an nn::MLP (2-3-1, tanh) on one point. MLP names its
    //    parameters "layer1/n0.w1", ..., so each layer is drawn in its own box; values are
    //    coloured by |grad|, a shade per decade, so small gradients stand out.
    const scalargrad::nn::MLP model(2, {3, 1}, scalargrad::nn::Activation::tanh());
    Value score = model.score(std::vector<double>{0.5, -1.0});
    score.label("score");
    Value loss = (score - 1.0).pow(2.0);
    loss.label("loss");
    loss.backward();
    scalargrad::DotOptions coloured;
    coloured.color_by_grad = true;
    draw(loss, out, "mlp", no_render, coloured);
    std::printf("loss = %.4f\n", loss.data());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trace_graph: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  scalargrad::support::report_file_size_limit();
  return scalargrad::support::finish_output("trace_graph", program_main(argc, argv));
}
