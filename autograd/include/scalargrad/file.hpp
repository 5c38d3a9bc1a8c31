// Replacing a file all at once or not at all: what render(), scalargrad::nn's save_model() and
// save_csv(), the example programs and the scalargrad command use to write their files.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "scalargrad/error.hpp"

namespace scalargrad {

/// A new version of a file, put in the file's place only when it is complete.
///
/// Opening a file for writing truncates it at once: a full disk, a file-size limit or a crash
/// then leaves half a file where a good one was. A FileReplacement writes a new file beside the
/// target instead, named target + ".tmp-" + 16 hex digits (a file name longer than 234 bytes cut
/// to its first 234, so that the new name keeps within 255 bytes) and created exclusively (never
/// a file that was already there, nor a link's target), and commit() flushes it to disk and renames it
/// over the target: POSIX makes the rename atomic, so a reader sees the whole old file or the
/// whole new one. Destroyed without a successful commit(), it removes the new file and the
/// target stays as it was.
///
/// Targets that are not regular files:
///  - a symbolic link (or a chain of them) is followed: the file it leads to is replaced, the
///    new file is written beside that file (so the rename stays on one file system), and the
///    links stay links. A loop of links, or more than 40, is an error;
///  - a folder is an error, before anything is written;
///  - a device or a FIFO (/dev/null, a terminal, a named pipe) cannot be replaced by a rename,
///    which would put a regular file in its place: it is written in place, and commit() only
///    flushes and closes it. in_place() tells which. A failure may then leave part of the
///    contents written;
///  - a link into this process's open files (/dev/stdout, /dev/stderr, /dev/fd/N,
///    /proc/self/fd/N) is written in place through a copy of that descriptor, with its file
///    offset and append mode: `program --out /dev/stdout >> log` appends to the log, and a pipe
///    gets the contents.
/// An existing regular file's permission bits are given to the new file before any byte is
/// written, so that a file kept private (chmod 600) stays private; the owner may write it until
/// commit(), which then gives the exact bits (a read-only file stays read-only). The
/// set-user-ID, set-group-ID and sticky bits are not copied. The owner and group are kept
/// where the system allows it (root; a group of one's own), else the new file is the writer's,
/// as after `mv`.
///
/// Every failure throws Error naming the step, the file it concerned and the system's reason:
///   "cannot write a file with an empty name"        (an empty target, before anything is made)
///   "cannot follow the links of '<target>': Too many levels of symbolic links" (or why a link
///                                                   could not be read)
///   "cannot look at '<file>': <reason>"             (e.g. a folder without search permission)
///   "cannot replace '<file>': Is a directory"
///   "cannot create '<new file>': <reason>"          (e.g. a missing folder, no write permission)
///   "cannot open '<device>' for writing: <reason>"
///   "cannot give '<new file>' the permissions of '<file>': <reason>"
///   "cannot write '<new file or device>': <reason>" (e.g. No space left on device, File too large)
///   "cannot rename '<new file>' to '<file>': <reason>"
///   "cannot write '<target>': it was already committed", "cannot commit '<target>' again: ..."
/// where <target> is the path given and <file> is where its links lead. A caller may name what
/// it was doing: given a `context`, every message starts with it and ": " ("scalargrad::nn:
/// cannot save model to 'm.json': cannot create 'm.json.tmp-...': Permission denied").
///
/// Contents come from write() (render() writes the picture that libgvc drew into memory), or
/// from another writer that opens path() by name (the `dot` program, when render() runs it). One object belongs to one thread; two objects for the
/// same target write separate new files, and the last commit() wins.
class FileReplacement {
 public:
  /// Creates the new file beside `target` (or opens `target` when it is a device or a FIFO,
  /// which waits for a FIFO's reader). Throws Error when it cannot. `context`, if not empty,
  /// goes in front of every error message of this object, followed by ": ".
  explicit FileReplacement(std::filesystem::path target, std::string context = {});
  FileReplacement(const FileReplacement&) = delete;
  FileReplacement& operator=(const FileReplacement&) = delete;
  /// Removes the new file unless commit() succeeded; never throws.
  ~FileReplacement();

  /// The path given to the constructor.
  [[nodiscard]] const std::filesystem::path& target() const noexcept { return target_; }
  /// The file that receives the contents until commit(): the new file, or the device or FIFO
  /// itself when in_place().
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// True when the target (its links followed) is a device or a FIFO, written in place.
  [[nodiscard]] bool in_place() const noexcept { return in_place_; }

  /// Appends `bytes`. Throws Error "cannot write '<path>': <reason>" when the system refuses
  /// them; the new file is then removed, and every later write() and commit() throws the same
  /// error, so a partial file is never committed.
  void write(std::string_view bytes);

  /// Flushes the new file to disk, closes it and renames it over the target (links followed).
  /// Throws Error on any failure, after removing the new file: the target is then as it was.
  /// Throws Error when called again after a commit() that succeeded.
  void commit();

 private:
  struct Close {
    void operator()(std::FILE* file) const noexcept;
  };

  [[noreturn]] void fail(std::string_view message);
  [[nodiscard]] Error error(std::string_view message) const;  // with the context in front
  void discard() noexcept;
  void set_permissions(std::filesystem::perms permissions);

  std::filesystem::path target_;       // as given, for messages
  std::string context_;                // in front of every message, if not empty
  std::filesystem::path destination_;  // target_ with its links followed: the file replaced
  std::filesystem::path path_;         // the new file beside destination_, or destination_ when in place
  std::unique_ptr<std::FILE, Close> file_;
  std::string failure_;  // the error of a failed write() or commit(), thrown again by later calls
  std::filesystem::perms permissions_ = std::filesystem::perms::owner_write;  // the old file's, given at commit()
  bool in_place_ = false;
  bool committed_ = false;
};

/// Replaces the file at `target` by `contents` through a FileReplacement (same rules, same
/// errors, `context` in front of them): the target ends up holding `contents`, or is left as
/// it was.
void replace_file(const std::filesystem::path& target, std::string_view contents, std::string context = {});

}  // namespace scalargrad
