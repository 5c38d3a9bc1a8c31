#include "file.hpp"

#include <scalargrad/error.hpp>
#include <scalargrad/file.hpp>

namespace scalargrad::nn::detail {

std::string quoted(const std::filesystem::path& path) {
  // Appends rather than writing "'" + ... + "'", which trips GCC 12's false -Wrestrict (PR 105329).
  std::string text = "'";
  text += path.string();
  text += '\'';
  return text;
}

void replace_file(const std::filesystem::path& path, std::string_view text, const std::string& failure) {
  try {
    scalargrad::replace_file(path, text);
  } catch (const Error& error) {
    std::string message = failure;
    message += ": ";
    message += error.what();
    throw Error(message);
  }
}

}  // namespace scalargrad::nn::detail
