// write_file.hpp: writing a file so that a failed write leaves the old one as it was.
//
// An std::ofstream opened on its target truncates the target at once: if the disk fills up or
// the process reaches its file-size limit, half a file replaces a good one. AtomicFile writes
// to a temporary file beside the target (target + ".tmp-" + 16 random hex digits), flushes
// and closes it checking for errors, and only then renames it over the target. POSIX makes
// the rename atomic: the target is the whole old file or the whole new one, never a mix. On
// any failure the temporary is removed and std::runtime_error("cannot write TARGET: reason")
// is thrown.
//
// Targets that are not plain files:
//   - a symbolic link is followed: the file it points to is replaced (the temporary goes
//     beside that file, so that the rename stays on one file system) and the link stays;
//   - a target that exists and is neither a regular file nor a directory (/dev/null, a FIFO,
//     a terminal) is written directly: a rename would put a regular file in its place;
//   - an existing regular file keeps its permission bits.
//
// The examples and the scalargrad command (tools/cli/main.cpp, whose target adds examples/ to
// its include path) share this file.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace scalargrad::support {

/// A file being written: the target named at construction is replaced by what stream()
/// received when commit() succeeds, and left as it was otherwise.
class AtomicFile {
 public:
  /// Opens the temporary file beside `target` (or `target` itself when it is a device or a
  /// FIFO). Throws std::runtime_error when it cannot.
  explicit AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
    namespace fs = std::filesystem;
    // Follow symbolic links to the file that will really be written (40 hops, as Linux).
    std::error_code error;
    destination_ = target_;
    for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(destination_, error)); ++hops) {
      const fs::path next = fs::read_symlink(destination_, error);
      if (error) break;
      destination_ = next.is_absolute() ? next : destination_.parent_path() / next;
    }
    std::error_code link_error;
    if (fs::is_symlink(fs::symlink_status(destination_, link_error))) {
      fail("too many levels of symbolic links");  // a loop: renaming would replace the last link
    }
    const fs::file_status status = fs::status(destination_, error);
    if (error && error != std::errc::no_such_file_or_directory) fail(error.message());
    if (fs::is_directory(status)) fail("it is a directory");
    errno = 0;
    if (fs::exists(status) && !fs::is_regular_file(status)) {  // a device or a FIFO: write into it
      out_.open(destination_, std::ios::binary);
      if (!out_) fail(reason());
      return;
    }
    temporary_ = destination_;
    temporary_ += ".tmp-" + random_hex();
    // Created exclusively ("x": fails if anything, a link included, has that name), then
    // opened as a stream: never someone else's file.
    std::FILE* created = std::fopen(temporary_.string().c_str(), "wbx");
    if (created == nullptr) {
      const std::string why = reason();
      temporary_.clear();  // nothing was created
      fail(why);
    }
    std::fclose(created);
    out_.open(temporary_, std::ios::binary);
    if (!out_) fail(reason());
    if (fs::exists(status)) {
      fs::permissions(temporary_, status.permissions(), fs::perm_options::replace, error);
      if (error) fail("cannot give the new file the old one's permissions: " + error.message());
    }
  }

  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile() {
    if (committed_ || temporary_.empty()) return;
    out_.close();
    std::error_code ignored;
    std::filesystem::remove(temporary_, ignored);
  }

  /// Where the content goes.
  std::ostream& stream() { return out_; }

  /// Flushes and closes the file, then renames it over the target. Throws std::runtime_error
  /// (after removing the temporary) if any of it fails: then the target is as it was.
  void commit() {
    errno = 0;
    out_.flush();
    out_.close();
    if (!out_) fail(reason());
    if (!temporary_.empty()) {
      std::error_code error;
      std::filesystem::rename(temporary_, destination_, error);
      if (error) fail(error.message());
    }
    committed_ = true;
  }

 private:
  /// errno as text, or a plain word when the stream failed without setting it.
  static std::string reason() {
    return errno != 0 ? std::generic_category().message(errno) : std::string("write error");
  }

  static std::string random_hex() {
    std::uint64_t bits = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    try {
      std::random_device device;
      bits ^= (std::uint64_t{device()} << 32) ^ device();
    } catch (const std::exception&) {
      // no entropy source: the clock alone; the exclusive open still refuses a taken name
    }
    std::string hex(16, '0');
    for (char& digit : hex) {
      digit = "0123456789abcdef"[bits & 15];
      bits >>= 4;
    }
    return hex;
  }

  [[noreturn]] void fail(const std::string& why) {
    if (out_.is_open()) out_.close();
    if (!temporary_.empty()) {
      std::error_code ignored;
      std::filesystem::remove(temporary_, ignored);
      temporary_.clear();
    }
    throw std::runtime_error("cannot write " + target_.string() + ": " + why);
  }

  std::filesystem::path target_;       // as the caller named it, for messages
  std::filesystem::path destination_;  // the file written in the end: target_, symbolic links followed
  std::filesystem::path temporary_;    // beside destination_; empty when writing destination_ directly
  std::ofstream out_;
  bool committed_ = false;
};

/// Replaces `target` by `text` as AtomicFile does. Throws std::runtime_error on failure.
inline void write_file(const std::filesystem::path& target, std::string_view text) {
  AtomicFile file(target);
  file.stream().write(text.data(), static_cast<std::streamsize>(text.size()));
  file.commit();
}

}  // namespace scalargrad::support
