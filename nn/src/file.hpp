// Text for messages about files (private: not installed). save_model() and save_csv() write
// through scalargrad::replace_file() (<scalargrad/file.hpp>), which keeps the file already
// there when anything fails.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace scalargrad::nn::detail {

/// `path` in single quotes, as messages write it.
std::string quoted(const std::filesystem::path& path);

/// The most bytes read_file() reads: far more than any model or data set nn can train with, and
/// a clear error instead of reading until memory runs out (`load_model("/dev/zero")`).
inline constexpr std::size_t kMaxFileBytes = std::size_t{256} << 20;

/// The whole file. Throws Error "scalargrad::nn: cannot open <kind>'<path>': <reason>" (and
/// "cannot read"), or, for more than kMaxFileBytes (a regular file by its size, before reading;
/// a device or a pipe once that many were read), "cannot read <kind>'<path>': it holds more than
/// 268435456 bytes (256 MiB), the most nn reads from a file". `kind` is "" or, e.g., "model file ".
std::string read_file(const std::filesystem::path& path, std::string_view kind);

}  // namespace scalargrad::nn::detail
