// Text helpers shared by the engine's sources (not installed).
#pragma once

#include <charconv>
#include <cstddef>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

namespace scalargrad::detail {

/// The parts joined into one string. (Written with +=: GCC 12 gives a false -Wrestrict for
/// "literal" + std::string under -Werror.)
inline std::string concat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const std::string_view part : parts) out += part;
  return out;
}

/// The shortest text that reads back as x exactly ("2", "0.01", "1e-08", "inf", "-inf"),
/// without locale, and "nan" for any NaN (whatever its sign bit).
inline std::string shortest(double x) {
  if (std::isnan(x)) return "nan";
  char text[32];
  const std::to_chars_result end = std::to_chars(text, text + sizeof text, x);
  return std::string(text, end.ptr);
}

/// "1 leaf", "2 leaves": the count and the noun in the number it asks for.
inline std::string counted(std::size_t n, std::string_view one, std::string_view many) {
  return concat({std::to_string(n), " ", n == 1 ? one : many});
}

/// "there is 1 input", "there are 2 inputs".
inline std::string there_are(std::size_t n, std::string_view one, std::string_view many) {
  return concat({n == 1 ? "there is " : "there are ", counted(n, one, many)});
}

/// `path` in single quotes, as messages write it.
inline std::string quoted(const std::filesystem::path& path) { return concat({"'", path.string(), "'"}); }

}  // namespace scalargrad::detail
