#include "scalargrad/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "scalargrad/detail/tape.hpp"
#include "scalargrad/error.hpp"
#include "text.hpp"

namespace scalargrad {

namespace {

using detail::concat;

// While alive, a backward() under NoGradGuard on this thread is f's, and its error says so.
class DifferencesScope {
 public:
  DifferencesScope() : tape_(detail::this_thread_tape()) { ++tape_.in_gradcheck_differences; }
  ~DifferencesScope() { --tape_.in_gradcheck_differences; }
  DifferencesScope(const DifferencesScope&) = delete;
  DifferencesScope& operator=(const DifferencesScope&) = delete;

 private:
  detail::Tape& tape_;
};

// f at `inputs` with input i moved by `delta`, in plain doubles (nothing is recorded).
double evaluate_shifted(const GradcheckFunction& f, std::span<const double> inputs, std::size_t i, double delta) {
  const NoGradGuard no_grad;
  const DifferencesScope differences;
  std::vector<Value> shifted(inputs.begin(), inputs.end());
  shifted[i] = Value(inputs[i] + delta);
  return f(shifted).data();
}

}  // namespace

GradcheckReport gradcheck(const GradcheckFunction& f, std::span<const double> inputs, double eps, double tolerance,
                          std::span<const std::string> names) {
  if (!(std::isfinite(eps) && eps > 0.0)) {
    throw Error(concat({"scalargrad: gradcheck: eps must be positive and finite, got ", detail::shortest(eps)}));
  }
  if (!(std::isfinite(tolerance) && tolerance > 0.0)) {
    throw Error(concat({"scalargrad: gradcheck: tolerance must be positive and finite, got ", detail::shortest(tolerance)}));
  }
  if (!names.empty() && names.size() != inputs.size()) {
    throw Error(concat({"scalargrad: gradcheck: ", std::to_string(names.size()), " names for ",
                        std::to_string(inputs.size()), " inputs; give one name per input, or none"}));
  }
  if (!f) throw Error("scalargrad: gradcheck: f is empty (a std::function holding no function)");
  const auto name_of = [names](std::size_t i) { return names.empty() ? concat({"x", std::to_string(i)}) : names[i]; };
  // The step grows with |x|: an absolute 1e-6 is lost in rounding at x = 1e12.
  const auto step_at = [eps](double x) { return eps * std::max(1.0, std::abs(x)); };
  // Each step must move its input, both ways, and its difference quotient must not overflow:
  // else the numeric derivative is 0 or NaN, and the report would blame the analytic one.
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const double x = inputs[i];
    const std::string name = name_of(i);
    if (!std::isfinite(x)) {
      throw Error(concat({"scalargrad: gradcheck: input ", name, " is ", detail::shortest(x),
                          "; finite differences need finite inputs"}));
    }
    if (std::abs(x) > 0x1p1022) {  // within a factor 2 of the largest double: no eps both moves x and stays finite
      throw Error(concat({"scalargrad: gradcheck: input ", name, " = ", detail::shortest(x),
                          " is too close to the largest double for a finite difference: any step that moves "
                          "it overflows"}));
    }
    const double h = step_at(x);
    if (!std::isfinite(2.0 * h) || !std::isfinite(x + h) || !std::isfinite(x - h)) {
      throw Error(concat({"scalargrad: gradcheck: eps ", detail::shortest(eps), " is too large for input ", name,
                          " = ", detail::shortest(x), ": the step h = ", detail::shortest(h),
                          " overflows; use a smaller eps (the default is 1e-6)"}));
    }
    if (x + h == x || x - h == x) {
      throw Error(concat({"scalargrad: gradcheck: eps ", detail::shortest(eps), " is too small for input ", name,
                          " = ", detail::shortest(x), ": x + h rounds to x for h = ", detail::shortest(h),
                          "; use a larger eps (the default is 1e-6)"}));
    }
  }

  // 1. The analytic gradient: one forward pass on labelled leaves, one backward().
  std::vector<Value> leaves;
  leaves.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    leaves.emplace_back(inputs[i]);
    leaves.back().label(name_of(i));
  }
  const Value y = f(leaves);
  y.backward();

  // 2. The numeric one: (f(x + h e_i) - f(x - h e_i)) / (2 h) per input, h = eps max(1, |x_i|).
  GradcheckReport report;
  report.value = y.data();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    GradcheckEntry e;
    e.name = leaves[i].label();
    e.input = inputs[i];
    e.analytic = leaves[i].grad();
    const double h = step_at(inputs[i]);
    e.numeric = (evaluate_shifted(f, inputs, i, h) - evaluate_shifted(f, inputs, i, -h)) / (2.0 * h);
    e.abs_error = std::abs(e.analytic - e.numeric);
    const double scale = std::max(std::abs(e.analytic), std::abs(e.numeric));
    // NaN when either side is NaN (not "no difference": std::max can drop a NaN) or infinite
    // (inf / inf).
    e.rel_error = std::isnan(e.abs_error) ? e.abs_error : scale > 0.0 ? e.abs_error / scale : 0.0;
    // An infinite or NaN error fails: without the isfinite, an overflowing difference quotient
    // (numeric inf) would pass any analytic value, as inf <= tolerance * (1 + inf).
    e.passed = std::isfinite(e.abs_error) && e.abs_error <= tolerance * (1.0 + std::abs(e.numeric));
    report.passed = report.passed && e.passed;
    report.entries.push_back(std::move(e));
  }
  return report;
}

namespace {

// One number right-aligned in `width` columns with printf's `format` ("%.8g"); NaN as "nan"
// whatever its sign bit (glibc prints "-nan").
std::string column(double x, int width, const char* format) {
  char text[64];
  if (std::isnan(x)) {
    std::snprintf(text, sizeof text, "%*s", width, "nan");
  } else {
    char number[48];
    std::snprintf(number, sizeof number, format, x);
    std::snprintf(text, sizeof text, "%*s", width, number);
  }
  return text;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const GradcheckReport& report) {
  std::size_t width = 5;  // "input"
  for (const GradcheckEntry& e : report.entries) width = std::max(width, e.name.size());
  const auto name_column = [width](const std::string& name) { return name + std::string(width - name.size(), ' '); };
  out << name_column("input") << "          value       analytic        numeric  abs error  rel error  verdict\n";
  for (const GradcheckEntry& e : report.entries) {
    out << name_column(e.name) << ' ' << column(e.input, 14, "%.6g") << ' ' << column(e.analytic, 14, "%.8g") << ' '
        << column(e.numeric, 14, "%.8g") << ' ' << column(e.abs_error, 10, "%.2e") << ' '
        << column(e.rel_error, 10, "%.2e") << "  " << (e.passed ? "ok" : "FAILED") << '\n';
  }
  return out << "gradcheck: " << (report.passed ? "passed" : "FAILED") << '\n';
}

}  // namespace scalargrad
