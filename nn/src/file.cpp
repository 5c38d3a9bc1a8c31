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

/// Where `path` leads through symbolic links (itself if it is none): each link read and, if
/// relative, taken from its own folder. Stops after 40 links, as POSIX's SYMLOOP_MAX allows;
/// opening the file then fails with a clear reason.
std::filesystem::path follow_links(std::filesystem::path path) {
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code error;
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(path, error))) break;
    const std::filesystem::path next = std::filesystem::read_symlink(path, error);
    if (error) break;
    path = next.is_absolute() ? next : path.parent_path() / next;
  }
  return path;
}

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

  namespace fs = std::filesystem;
  const fs::path target = follow_links(path);  // a link stays a link: its file is replaced
  std::error_code status_error;
  const fs::file_status old = fs::status(target, status_error);
  std::error_code link_error;
  if (fs::is_symlink(fs::symlink_status(target, link_error))) {
    // A loop of links, or more than 40: renaming would replace the last link by a file.
    throw fail("cannot follow the links of " + quoted(path), ELOOP);
  }
  if (status_error && status_error != std::errc::no_such_file_or_directory) {
    throw fail("cannot look at " + quoted(target), status_error.value());  // a folder without search permission, ...
  }
  if (fs::exists(old) && !fs::is_regular_file(old) && !fs::is_directory(old)) {
    // A device or a FIFO: renaming would put a regular file in its place. Write into it.
    std::FILE* file = std::fopen(target.string().c_str(), "wb");
    int error = file == nullptr ? errno : 0;
    if (file != nullptr) {
      if (std::fwrite(text.data(), 1, text.size(), file) != text.size() || std::fflush(file) != 0) {
        error = errno != 0 ? errno : EIO;
      }
      if (std::fclose(file) != 0 && error == 0) error = errno;
    }
    if (error != 0) throw fail("cannot write " + quoted(target), error);
    return;
  }

  const fs::path temporary = temporary_beside(target);
  // "x": fail rather than share a file another writer has just created under the same name.
  std::FILE* file = std::fopen(temporary.string().c_str(), "wbx");
  if (file == nullptr) {
    const int error = errno;
    throw fail("cannot create " + quoted(temporary), error);
  }
  RemoveOnExit remove_temporary(temporary);  // on any failure below
  if (fs::is_regular_file(old)) {
    // The old file's permission bits, before any byte is written: a file kept private with
    // chmod 600 stays private, and its new contents are never readable by others meanwhile.
    std::error_code permission_error;
    fs::permissions(temporary, old.permissions() & fs::perms::mask, fs::perm_options::replace, permission_error);
    if (permission_error) {
      std::fclose(file);
      throw Error(failure + ": cannot give " + quoted(temporary) + " the permissions of " + quoted(target) + ": " +
                  permission_error.message());
    }
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size() && std::fflush(file) == 0;
  int error = written ? 0 : (errno != 0 ? errno : EIO);  // a failure never renames a partial file
#ifdef SCALARGRAD_HAVE_FSYNC
  if (error == 0 && ::fsync(fileno(file)) != 0) error = errno;  // on disk before it replaces the old file
#endif
  if (std::fclose(file) != 0 && error == 0) error = errno;
  if (error != 0) throw fail("cannot write " + quoted(temporary), error);

  std::error_code rename_error;
  fs::rename(temporary, target, rename_error);  // atomic replacement (POSIX rename)
  if (rename_error) throw Error(failure + ": cannot rename " + quoted(temporary) + " over it: " + rename_error.message());
  remove_temporary.release();
}

}  // namespace scalargrad::nn::detail
