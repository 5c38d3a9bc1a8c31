// Text helpers shared by nn's sources (private: not installed).
#pragma once

#include <charconv>
#include <cmath>
#include <string>

namespace scalargrad::nn::detail {

/// Shortest text that reads back as the same double ("0.1", "-1", "1e-300", "inf"), and "nan"
/// for any NaN (to_chars writes "-nan" for one with its sign bit set, as 0.0 / 0.0 has here).
inline std::string format_number(double x) {
  if (std::isnan(x)) return "nan";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  return std::string(buffer, result.ptr);
}

}  // namespace scalargrad::nn::detail
