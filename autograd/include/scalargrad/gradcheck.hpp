// gradcheck: the gradients backward() computes, against central finite differences.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "scalargrad/value.hpp"

namespace scalargrad {

/// One input of a gradcheck.
struct GradcheckEntry {
  std::string name;   ///< the input's name (given, or "x0", "x1", ...)
  double input;       ///< where the derivative was taken
  double analytic;    ///< d f / d input by backward()
  double numeric;     ///< (f(x + h) - f(x - h)) / (2 h), h = eps * max(1, |x|)
  double abs_error;   ///< |analytic - numeric|
  double rel_error;   ///< abs_error / max(|analytic|, |numeric|): 0 when both are 0, NaN when either is NaN or infinite
  bool passed;        ///< abs_error finite and <= tolerance * (1 + |numeric|)
};

/// What gradcheck() found: f's value, one entry per input, and the verdict.
struct GradcheckReport {
  double value = 0.0;                   ///< f(inputs)
  std::vector<GradcheckEntry> entries;  ///< in input order
  bool passed = true;                   ///< every entry passed
};

/// Prints the report as a table, one input per line, then "gradcheck: passed" or "FAILED".
std::ostream& operator<<(std::ostream& out, const GradcheckReport& report);

/// The function a gradcheck differentiates: a scalar of its inputs.
using GradcheckFunction = std::function<Value(std::span<const Value>)>;

/// Evaluates f at `inputs` (as labelled leaves named `names`, or x0, x1, ...), calls
/// backward(), and compares each input's gradient with a central finite difference of step
/// eps * max(1, |x|) (relative for large inputs, whose absolute eps would be lost in rounding)
/// computed in plain doubles through f. Throws Error, before calling f, if eps or tolerance is
/// not positive and finite, if names are given but not one per input, if f is empty, if an
/// input is not finite, or if an input's step is lost in rounding (x + h == x) or overflows
/// (naming the input).
GradcheckReport gradcheck(const GradcheckFunction& f, std::span<const double> inputs, double eps = 1e-6,
                          double tolerance = 1e-5, std::span<const std::string> names = {});

}  // namespace scalargrad
