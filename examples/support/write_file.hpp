// write_file.hpp: writing a file so that a failed write leaves the old one as it was.
//
// The example programs and the scalargrad command (tools/cli/main.cpp, whose target adds
// examples/ to its include path) write every file through scalargrad::FileReplacement
// (<scalargrad/file.hpp>): a new file beside the target, renamed over it once complete; a
// symbolic link followed; a device or a FIFO written in place; permission bits kept. This
// header gives it the shape the programs want: a std::ostream to format into, and errors as
// scalargrad::Error (a std::runtime_error) "cannot write TARGET: reason", which the programs
// print before exiting 1.
#pragma once

#include <csignal>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <scalargrad/file.hpp>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>  // stat, fstat
#include <unistd.h>    // STDOUT_FILENO, isatty
#endif

namespace scalargrad::support {

/// Makes a write over the file-size limit (`ulimit -f`) fail with EFBIG, "File too large", which
/// FileReplacement reports and after which it removes its new file, instead of raising SIGXFSZ,
/// whose default action ends the program at once (exit status 153) and leaves the new file
/// beside the old one. Called first in main() by every program that writes files.
inline void report_file_size_limit() {
#if defined(SIGXFSZ)
  std::signal(SIGXFSZ, SIG_IGN);
#endif
}

/// A file being written: the target named at construction is replaced by what stream()
/// received when commit() succeeds, and left as it was otherwise.
class AtomicFile {
 public:
  /// Creates the new file beside `target` at once (or opens `target` when it is a device or a
  /// FIFO), so that a path that cannot be written fails before any work is done. Throws
  /// scalargrad::Error when it cannot.
  explicit AtomicFile(const std::filesystem::path& target) : file_(target, "cannot write " + target.string()) {}

  /// Where the content goes (kept in memory until commit()).
  std::ostream& stream() { return text_; }

  /// Writes what stream() received and puts it in the target's place. Throws
  /// scalargrad::Error if any of it fails: then the target is as it was.
  void commit() {
    file_.write(std::move(text_).str());
    file_.commit();
  }

 private:
  scalargrad::FileReplacement file_;  // its errors start "cannot write <target>: "
  std::ostringstream text_;
};

/// Replaces `target` by `text` as AtomicFile does. Throws scalargrad::Error on failure.
inline void write_file(const std::filesystem::path& target, std::string_view text) {
  AtomicFile file(target);
  file.stream().write(text.data(), static_cast<std::streamsize>(text.size()));
  file.commit();
}

/// Throws now the Error that writing `path` later would throw if its new file cannot be made
/// (a folder, a missing folder, no permission), so that a bad path fails before the work rather
/// than after it: a FileReplacement made and let go at once (its new file is removed). Returns
/// true when `path` is written into rather than replaced: a FIFO or a device (not tried, as
/// opening one waits for its reader), or one of this process's descriptors (`/dev/stdout`).
inline bool probe_output(const std::string& path, const std::string& context) {
  std::error_code ignored;
  const std::filesystem::file_status status = std::filesystem::status(path, ignored);
  if (std::filesystem::is_fifo(status) || std::filesystem::is_character_file(status) ||
      std::filesystem::is_block_file(status)) {
    return true;
  }
  return scalargrad::FileReplacement(path, context).in_place();
}

/// True when `path` is this process's standard output: `/dev/stdout`, `/dev/fd/1`, or the file,
/// pipe or terminal that standard output goes to (the same device and inode as descriptor 1).
/// Not a device that is not a terminal: `--dot /dev/null > /dev/null` names no output to keep
/// clean.
inline bool is_standard_output(const std::string& path) {
#if defined(__unix__) || defined(__APPLE__)
  struct ::stat target {};
  struct ::stat out {};
  if (::stat(path.c_str(), &target) != 0 || ::fstat(STDOUT_FILENO, &out) != 0) return false;
  if (S_ISCHR(out.st_mode) && ::isatty(STDOUT_FILENO) == 0) return false;
  return target.st_dev == out.st_dev && target.st_ino == out.st_ino;
#else
  (void)path;
  return false;
#endif
}

/// True when two outputs that replace their targets (probe_output() false for both) replace one
/// file: the same path however spelt (`x`, `./x`, a symbolic link to it) or two hard links of
/// one file. (Outputs written in place may share one: `/dev/stdout` takes both in turn.)
inline bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(a, error) && fs::exists(b, error)) return fs::equivalent(a, b, error);
  const fs::path full_a = fs::weakly_canonical(fs::absolute(a, error), error);
  if (error) return a == b;
  const fs::path full_b = fs::weakly_canonical(fs::absolute(b, error), error);
  return error ? a == b : full_a == full_b;
}

}  // namespace scalargrad::support
