// Text helpers shared by the engine's sources (not installed).
#pragma once

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

/// `path` in single quotes, as messages write it.
inline std::string quoted(const std::filesystem::path& path) { return concat({"'", path.string(), "'"}); }

}  // namespace scalargrad::detail
