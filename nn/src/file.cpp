#include "file.hpp"

namespace scalargrad::nn::detail {

std::string quoted(const std::filesystem::path& path) {
  // Appends rather than writing "'" + ... + "'", which trips GCC 12's false -Wrestrict (PR 105329).
  std::string text = "'";
  text += path.string();
  text += '\'';
  return text;
}

}  // namespace scalargrad::nn::detail
