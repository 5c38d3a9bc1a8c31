// expression.cpp: build an expression from Values, call backward(), read every gradient.
//
// The neuron of micrograd's lecture: o = tanh(x1*w1 + x2*w2 + b). Each Value records the op
// that made it; o.backward() sweeps that record once, from o back to the inputs, and leaves
// do/dv in v.grad() for every Value v that o depends on.
#include <cstdio>
#include <optional>

#include <CLI/CLI.hpp>
#include <scalargrad/scalargrad.hpp>

#include "support/options.hpp"  // parse_command_line(): --help exits 0, a bad command line 2
#include "support/output.hpp"   // finish_output(): what main() returns, stdout checked

using scalargrad::Value;

namespace {

int program_main(int argc, char** argv) {
  // No options: --help says what the program shows; anything else is a bad command line (exit 2).
  CLI::App app{"Builds micrograd's neuron o = tanh(x1*w1 + x2*w2 + b) and prints do/dv for every value.", "expression"};
  if (const std::optional<int> status = scalargrad::support::parse_command_line(app, argc, argv)) return *status;

  // Inputs and weights are leaves: Values made from plain numbers.
  Value x1 = 2.0;
  Value x2 = 0.0;
  Value w1 = -3.0;
  Value w2 = 1.0;
  Value b = 6.8813735870195432;  // chosen so that n = 0.8814 and tanh(n) = 1/sqrt(2)

  // The forward pass: ordinary C++ expressions.
  Value x1w1 = x1 * w1;
  Value x2w2 = x2 * w2;
  Value n = x1w1 + x2w2 + b;
  Value o = n.tanh();

  // The backward pass: do/dv for every v above.
  o.backward();

  std::printf("o = tanh(x1*w1 + x2*w2 + b) = %.4f\n\n", o.data());
  std::printf("%-6s %10s %10s\n", "value", "data", "do/dv");
  const struct {
    const char* name;
    const Value& v;
  } rows[] = {{"n", n}, {"x1*w1", x1w1}, {"x2*w2", x2w2}, {"x1", x1}, {"w1", w1},
              {"x2", x2}, {"w2", w2}, {"b", b}};
  for (const auto& row : rows) std::printf("%-6s %10.4f %10.4f\n", row.name, row.v.data(), row.v.grad());

  // The chain rule, by hand, for one of them: do/dw1 = (1 - o^2) * x1.
  std::printf("\nby hand: do/dw1 = (1 - o^2) * x1 = %.4f\n", (1.0 - o.data() * o.data()) * x1.data());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return scalargrad::support::finish_output("expression", program_main(argc, argv));
}
