// Text for messages about files (private: not installed). save_model() and save_csv() write
// through scalargrad::replace_file() (<scalargrad/file.hpp>), which keeps the file already
// there when anything fails.
#pragma once

#include <filesystem>
#include <string>

namespace scalargrad::nn::detail {

/// `path` in single quotes, as messages write it.
std::string quoted(const std::filesystem::path& path);

}  // namespace scalargrad::nn::detail
