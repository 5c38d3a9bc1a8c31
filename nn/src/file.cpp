#include "file.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <system_error>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // fsync
#define SCALARGRAD_HAVE_FSYNC 1
#endif

#include <scalargrad/error.hpp>

namespace scalargrad::nn::detail {

namespace {

std::string errno_text(int error) { return std::system_category().message(error); }

/// A name beside `path` that no other writer picks: path + ".tmp-" + 64 random bits in hex.
std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t bits = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                       (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
  try {
    std::random_device device;
    bits ^= (std::uint64_t{device()} << 32) ^ device();
  } catch (const std::exception&) {
    // no entropy source: the clock and the counter still keep names apart
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(bits));
  std::filesystem::path temporary = path;
  temporary += ".tmp-";
  temporary += hex;
  return temporary;
}

/// Removes a file when it goes out of scope, unless released.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(std::filesystem::path path) : path_(std::move(path)) {}
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  ~RemoveOnExit() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  void release() { path_.clear(); }

 private:
  std::filesystem::path path_;
};

}  // namespace

std::string quoted(const std::filesystem::path& path) {
  // Appends rather than writing "'" + ... + "'", which trips GCC 12's false -Wrestrict (PR 105329).
  std::string text = "'";
  text += path.string();
  text += '\'';
  return text;
}

void replace_file(const std::filesystem::path& path, std::string_view text, const std::string& failure) {
  const auto fail = [&](const std::string& step, int error) {
    return Error(failure + ": " + step + ": " + errno_text(error));
  };

  const std::filesystem::path temporary = temporary_beside(path);
  // "x": fail rather than share a file another writer has just created under the same name.
  std::FILE* file = std::fopen(temporary.string().c_str(), "wbx");
  if (file == nullptr) {
    const int error = errno;
    throw fail("cannot create " + quoted(temporary), error);
  }
  RemoveOnExit remove_temporary(temporary);  // on any failure below
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size() && std::fflush(file) == 0;
  int error = written ? 0 : errno;
#ifdef SCALARGRAD_HAVE_FSYNC
  if (error == 0 && ::fsync(fileno(file)) != 0) error = errno;  // on disk before it replaces the old file
#endif
  if (std::fclose(file) != 0 && error == 0) error = errno;
  if (error != 0) throw fail("cannot write " + quoted(temporary), error);

  std::error_code rename_error;
  std::filesystem::rename(temporary, path, rename_error);  // atomic replacement (POSIX rename)
  if (rename_error) throw Error(failure + ": cannot rename " + quoted(temporary) + " over it: " + rename_error.message());
  remove_temporary.release();
}

}  // namespace scalargrad::nn::detail
