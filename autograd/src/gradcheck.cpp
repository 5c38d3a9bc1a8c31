#include "scalargrad/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "scalargrad/error.hpp"

namespace scalargrad {

namespace {

// Concatenates its arguments (strings and numbers) into one message. (Written with += rather
// than "literal" + std::string, which GCC 12 flags with a false -Wrestrict.)
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string text;
  const auto append = [&text](const auto& part) {
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(part)>>) {
      text += std::to_string(part);
    } else {
      text += part;
    }
  };
  (append(parts), ...);
  return text;
}

// f at `inputs` with input i moved by `delta`, in plain doubles (nothing is recorded).
double evaluate_shifted(const GradcheckFunction& f, std::span<const double> inputs, std::size_t i, double delta) {
  const NoGradGuard no_grad;
  std::vector<Value> shifted(inputs.begin(), inputs.end());
  shifted[i] = Value(inputs[i] + delta);
  return f(shifted).data();
}

}  // namespace

GradcheckReport gradcheck(const GradcheckFunction& f, std::span<const double> inputs, double eps, double tolerance,
                          std::span<const std::string> names) {
  if (!(std::isfinite(eps) && eps > 0.0)) {
    throw Error(concat("scalargrad: gradcheck: eps must be positive and finite, got ", eps));
  }
  if (!(std::isfinite(tolerance) && tolerance > 0.0)) {
    throw Error(concat("scalargrad: gradcheck: tolerance must be positive and finite, got ", tolerance));
  }
  if (!names.empty() && names.size() != inputs.size()) {
    throw Error(concat("scalargrad: gradcheck: ", names.size(), " names for ", inputs.size(),
                       " inputs; give one name per input, or none"));
  }

  // 1. The analytic gradient: one forward pass on labelled leaves, one backward().
  std::vector<Value> leaves;
  leaves.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    leaves.emplace_back(inputs[i]);
    leaves.back().label(names.empty() ? concat("x", i) : names[i]);
  }
  const Value y = f(leaves);
  y.backward();

  // 2. The numeric one: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) per input.
  GradcheckReport report;
  report.value = y.data();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    GradcheckEntry e;
    e.name = leaves[i].label();
    e.input = inputs[i];
    e.analytic = leaves[i].grad();
    e.numeric = (evaluate_shifted(f, inputs, i, eps) - evaluate_shifted(f, inputs, i, -eps)) / (2.0 * eps);
    e.abs_error = std::abs(e.analytic - e.numeric);
    const double scale = std::max(std::abs(e.analytic), std::abs(e.numeric));
    e.rel_error = scale > 0.0 ? e.abs_error / scale : 0.0;
    // A NaN anywhere fails: the comparison below is false for it.
    e.passed = e.abs_error <= tolerance * (1.0 + std::abs(e.numeric));
    report.passed = report.passed && e.passed;
    report.entries.push_back(std::move(e));
  }
  return report;
}

std::ostream& operator<<(std::ostream& out, const GradcheckReport& report) {
  std::size_t width = 5;  // "input"
  for (const GradcheckEntry& e : report.entries) width = std::max(width, e.name.size());
  char line[256];
  std::snprintf(line, sizeof line, "%-*s %14s %14s %14s %10s %10s  %s\n", static_cast<int>(width), "input", "value",
                "analytic", "numeric", "abs error", "rel error", "verdict");
  out << line;
  for (const GradcheckEntry& e : report.entries) {
    std::snprintf(line, sizeof line, "%-*s %14.6g %14.8g %14.8g %10.2e %10.2e  %s\n", static_cast<int>(width),
                  e.name.c_str(), e.input, e.analytic, e.numeric, e.abs_error, e.rel_error, e.passed ? "ok" : "FAILED");
    out << line;
  }
  return out << "gradcheck: " << (report.passed ? "passed" : "FAILED") << '\n';
}

}  // namespace scalargrad
