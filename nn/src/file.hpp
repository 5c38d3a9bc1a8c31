// Writing a file so that a failure never costs the user the file already there (private: not
// installed). Used by save_model() and save_csv().
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace scalargrad::nn::detail {

/// Replaces the file at `path` by `text`, or leaves it as it was: writes a new file beside it
/// (path + ".tmp-" + 64 random bits in hex), flushes it to disk, then renames it over `path`
/// (atomic on POSIX). On any failure removes the new file and throws Error
/// "<failure>: <step>: <reason>", the step naming the temporary file ("cannot create '...'",
/// "cannot write '...'", "cannot rename '...' over it").
void replace_file(const std::filesystem::path& path, std::string_view text, const std::string& failure);

/// `path` in single quotes, as messages write it.
std::string quoted(const std::filesystem::path& path);

}  // namespace scalargrad::nn::detail
