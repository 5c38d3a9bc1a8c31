// Writing a file so that a failure never costs the user the file already there (private: not
// installed). Used by save_model() and save_csv().
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace scalargrad::nn::detail {

/// Replaces the file at `path` by `text`, or leaves it as it was: scalargrad::replace_file()
/// (<scalargrad/file.hpp>: a new file beside it, renamed over it; links followed; a device or
/// a FIFO written in place; permission bits kept). Its errors are thrown again as
/// Error("<failure>: <its message>").
void replace_file(const std::filesystem::path& path, std::string_view text, const std::string& failure);

/// `path` in single quotes, as messages write it.
std::string quoted(const std::filesystem::path& path);

}  // namespace scalargrad::nn::detail
