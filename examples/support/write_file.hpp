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

#include <filesystem>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include <scalargrad/file.hpp>

namespace scalargrad::support {

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

}  // namespace scalargrad::support
