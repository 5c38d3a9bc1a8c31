// gradcheck.cpp: checking the gradients backward() gives against finite differences.
//
// scalargrad::gradcheck(f, inputs) evaluates f on labelled leaves, calls backward(), and
// compares each input's gradient with (f(x + eps) - f(x - eps)) / (2 eps). Use it on your own
// functions of Values, such as this softmax cross-entropy, before you trust their gradients.
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <scalargrad/scalargrad.hpp>

#include "support/options.hpp"  // parse_command_line(): --help exits 0, a bad command line 2
#include "support/output.hpp"   // finish_output(): what main() returns, stdout checked

using scalargrad::Value;

// -log(softmax(z)[0]) = log(sum e^z_k) - z_0, written the stable way (shift by the largest z).
Value cross_entropy_of_first(std::span<const Value> z) {
  double largest = z[0].data();
  for (const Value& zk : z) largest = std::max(largest, zk.data());
  std::vector<Value> exps;
  for (const Value& zk : z) exps.push_back(exp(zk - largest));
  return log(scalargrad::sum(exps)) + largest - z[0];
}

namespace {

int program_main(int argc, char** argv) {
  // No options: --help says what the program shows; anything else is a bad command line (exit 2).
  CLI::App app{"Checks the gradients of a softmax cross-entropy against central finite differences.", "gradcheck"};
  if (const std::optional<int> status = scalargrad::support::parse_command_line(app, argc, argv)) return *status;

  const std::vector<double> logits = {2.0, -1.0, 0.5};
  const std::vector<std::string> names = {"z0", "z1", "z2"};
  const scalargrad::GradcheckReport report =
      scalargrad::gradcheck(cross_entropy_of_first, logits, /*eps=*/1e-6, /*tolerance=*/1e-6, names);
  std::cout << "loss = " << report.value << "\n" << report;
  return report.passed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return scalargrad::support::finish_output("gradcheck", program_main(argc, argv));
}
