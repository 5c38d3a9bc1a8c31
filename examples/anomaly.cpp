// anomaly.cpp: finding the op where a NaN or an infinity first appears.
//
// Without anomaly mode, a NaN flows silently to the loss and every gradient. Under a
// scalargrad::AnomalyGuard, the first op whose value, or whose gradient passed back to an
// operand, is not finite throws scalargrad::AnomalyError naming the op and its operands.
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
  CLI::App app{"Shows how anomaly mode names the op where a NaN or an infinity first appears.", "anomaly"};
  if (const std::optional<int> status = scalargrad::support::parse_command_line(app, argc, argv)) return *status;

  Value x = 0.0;
  x.label("x");
  Value w = 2.0;
  w.label("w");

  // 1. Without the guard: sqrt(x) is 0 at x = 0, but its derivative is infinite, and the
  //    gradient of x comes out inf with no hint of where.
  Value y = sqrt(x) * w + log(w);
  y.backward();
  std::printf("without anomaly mode: y = %g, dy/dx = %g\n", y.data(), x.grad());

  // 2. With it: the same backward() names the op.
  try {
    const scalargrad::AnomalyGuard anomaly;
    Value z = sqrt(x) * w + log(w);
    z.backward();
  } catch (const scalargrad::AnomalyError& e) {
    std::printf("with anomaly mode: %s\n", e.what());
  }

  // 3. A value that is not finite is caught in the forward pass, where it is made.
  try {
    const scalargrad::AnomalyGuard anomaly;
    Value ratio = w / x;
    (void)ratio;
  } catch (const scalargrad::AnomalyError& e) {
    std::printf("with anomaly mode: %s\n", e.what());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return scalargrad::support::finish_output("anomaly", program_main(argc, argv));
}
