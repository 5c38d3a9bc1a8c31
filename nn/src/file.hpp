// Writing a file so that a failure never costs the user the file already there (private: not
// installed). Used by save_model() and save_csv().
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace scalargrad::nn::detail {

/// Replaces the file at `path` by `text`, or leaves it as it was: writes a new file beside it
/// (path + ".tmp-" + 64 random bits in hex) with the old file's permission bits, flushes it to
/// disk, then renames it over `path` (atomic on POSIX). On any failure removes the new file and
/// throws Error "<failure>: <step>: <reason>", the step naming the temporary file ("cannot
/// create '...'", "cannot write '...'", "cannot rename '...' over it").
///
/// A symbolic link at `path` stays: the file it points to (through any chain of links) is
/// replaced, beside itself. Something that exists and is neither a regular file nor a folder (a
/// device such as /dev/null, a FIFO) cannot be replaced by renaming: `text` is written into it,
/// and a failure is "<failure>: cannot write '...': <reason>".
void replace_file(const std::filesystem::path& path, std::string_view text, const std::string& failure);

/// `path` in single quotes, as messages write it.
std::string quoted(const std::filesystem::path& path);

}  // namespace scalargrad::nn::detail
