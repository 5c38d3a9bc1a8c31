// FileReplacement (file.hpp): a new file beside the target, renamed over it once complete.
#include "scalargrad/file.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <random>
#include <string>
#include <system_error>
#include <utility>

#include "scalargrad/error.hpp"
#include "text.hpp"

#if defined(__unix__) || defined(__APPLE__)
#define SCALARGRAD_FILE_POSIX 1
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#define SCALARGRAD_FILE_POSIX 0
#endif

namespace scalargrad {
namespace {

namespace fs = std::filesystem;
using detail::concat;
using detail::quoted;

/// The system's text for an errno value.
std::string reason(int error) { return std::system_category().message(error); }

/// The descriptor N when `path` names one of this process's open files through its descriptor
/// table (/proc/self/fd/N, /dev/fd/N, /proc/thread-self/fd/N, /proc/<own pid>/fd/N; what
/// /dev/stdout and /dev/stderr link to); -1 otherwise.
int own_descriptor(const fs::path& path) {
#if SCALARGRAD_FILE_POSIX
  const std::string name = path.filename().string();
  if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos) return -1;
  std::error_code error;
  const fs::path folder = fs::canonical(path.parent_path(), error);  // /proc/<pid>/fd, or .../task/<tid>/fd
  if (error || folder.filename() != "fd") return -1;
  const fs::path mine = fs::path("/proc") / std::to_string(::getpid());
  const bool own = folder.parent_path() == mine || folder.parent_path().parent_path() == mine / "task";
  return own ? std::stoi(name) : -1;
#else
  (void)path;
  return -1;
#endif
}

/// Where a path leads through symbolic links.
struct Followed {
  fs::path path;        // the path itself if it is no link
  int descriptor = -1;  // >= 0: a link into this process's descriptor table (own_descriptor)
  int error = 0;        // a link that could not be read (errno), or ELOOP: still a link after 40
};

/// Follows `path`'s symbolic links, each read and, when relative, taken from its own folder.
/// Stops at a link into this process's descriptor table: its target is not a path (a pipe
/// reads "pipe:[1234]"), and a file reached through it would be opened anew, at offset 0.
/// Stops after 40 links (SYMLOOP_MAX on Linux) with ELOOP.
Followed follow_links(fs::path path) {
  for (int hops = 0; hops <= 40; ++hops) {
    std::error_code error;
    if (!fs::is_symlink(fs::symlink_status(path, error))) return {path, -1, 0};
    if (const int descriptor = own_descriptor(path); descriptor >= 0) return {path, descriptor, 0};
    if (hops == 40) break;
    const fs::path next = fs::read_symlink(path, error);
    if (error) return {path, -1, error.value()};
    path = next.is_absolute() ? next : path.parent_path() / next;
  }
  return {path, -1, ELOOP};
}

/// 64 bits no other writer of this process, nor very likely of another one, draws: the clock, a
/// counter and (when the system has one) an entropy source.
std::uint64_t fresh_bits() {
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t bits = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                       (counter.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B97F4A7C15ull);
  try {
    std::random_device device;
    bits ^= (std::uint64_t{device()} << 32) ^ device();
  } catch (const std::exception&) {
    // no entropy source: the clock and the counter keep names apart; the exclusive create checks
  }
  return bits;
}

/// `path` + ".tmp-" + 16 hex digits, in path's folder. A file name longer than 234 bytes is cut
/// to its first 234 first (fewer, to end on a whole UTF-8 character): file systems take names of
/// up to 255 bytes, and the name the caller gave may be one of them.
fs::path temporary_name(const fs::path& path) {
  constexpr std::size_t kNameMax = 255;
  constexpr std::size_t kSuffix = 21;  // ".tmp-" and 16 hex digits
  std::uint64_t bits = fresh_bits();
  std::string hex(16, '0');
  for (auto digit = hex.rbegin(); digit != hex.rend(); ++digit, bits >>= 4) *digit = "0123456789abcdef"[bits & 15];
  std::string file_name = path.filename().string();
  if (file_name.size() > kNameMax - kSuffix) {
    std::size_t keep = kNameMax - kSuffix;
    // Not inside a UTF-8 character: back off over its continuation bytes (10xxxxxx) to its first.
    while (keep > 0 && (static_cast<unsigned char>(file_name[keep]) & 0xC0) == 0x80) --keep;
    file_name.resize(keep);
  }
  fs::path name = path.parent_path() / file_name;
  name += ".tmp-";
  name += hex;
  return name;
}

/// `path` opened for writing as a stream: created exclusively (failing if anything, a link
/// included, has that name; 0666 less the umask), or else an existing device or FIFO opened
/// without creating or truncating anything. nullptr with errno set when it cannot.
std::FILE* open_for_writing(const fs::path& path, bool create) {
#if SCALARGRAD_FILE_POSIX
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0666);
  if (fd < 0) return nullptr;
  std::FILE* file = ::fdopen(fd, "wb");
  if (file == nullptr) {
    const int error = errno;
    ::close(fd);
    errno = error;
  }
  return file;
#else
  return std::fopen(path.string().c_str(), create ? "wbx" : "wb");
#endif
}

/// errno after a failed stream call, or EIO when the call failed without setting it.
int last_error() { return errno != 0 ? errno : EIO; }

}  // namespace

void FileReplacement::Close::operator()(std::FILE* file) const noexcept { std::fclose(file); }

FileReplacement::FileReplacement(std::filesystem::path target, std::string context)
    : target_(std::move(target)), context_(std::move(context)) {
  if (target_.empty()) throw error("cannot write a file with an empty name");
  const Followed followed = follow_links(target_);  // a link stays a link: the file it leads to is replaced
  if (followed.error != 0) {
    // A loop, or more than 40 links: renaming would replace the last link by a file.
    throw error(concat({"cannot follow the links of ", quoted(target_), ": ", reason(followed.error)}));
  }
  destination_ = followed.path;
  if (followed.descriptor >= 0) {
    // /dev/stdout and the like: written through a copy of the descriptor, so that its file
    // offset and append mode are the process's (`program --out /dev/stdout >> log` appends).
    in_place_ = true;
    path_ = target_;
#if SCALARGRAD_FILE_POSIX
    errno = 0;
    const int copy = ::fcntl(followed.descriptor, F_DUPFD_CLOEXEC, 0);
    if (copy >= 0) {
      file_.reset(::fdopen(copy, "wb"));
      if (!file_) ::close(copy);
    }
#endif
    if (!file_) throw error(concat({"cannot open ", quoted(path_), " for writing: ", reason(last_error())}));
    return;
  }
  std::error_code status_error;
  const fs::file_status old = fs::status(destination_, status_error);
  if (status_error && status_error != std::errc::no_such_file_or_directory) {
    throw error(concat({"cannot look at ", quoted(destination_), ": ", status_error.message()}));
  }
  if (fs::is_directory(old)) throw error(concat({"cannot replace ", quoted(destination_), ": ", reason(EISDIR)}));

  if (fs::exists(old) && !fs::is_regular_file(old)) {
    // A device or a FIFO: a rename would put a regular file in its place. Written in place.
    in_place_ = true;
    path_ = destination_;
    errno = 0;
    file_.reset(open_for_writing(path_, false));
    if (!file_) throw error(concat({"cannot open ", quoted(path_), " for writing: ", reason(last_error())}));
    return;
  }

  for (int attempt = 0;; ++attempt) {
    path_ = temporary_name(destination_);
    errno = 0;
    file_.reset(open_for_writing(path_, true));
    if (file_) break;
    const int code = last_error();
    if (code != EEXIST || attempt == 99) {
      const fs::path tried = std::exchange(path_, fs::path());  // nothing to remove
      throw error(concat({"cannot create ", quoted(tried), ": ", reason(code)}));
    }
  }
  if (fs::is_regular_file(old)) {
    // The old file's permission bits (never set-user-ID, set-group-ID or sticky), before any
    // byte is written: new contents of a private file are never readable by others. The owner
    // may write meanwhile, so that another writer can open path() by name; commit() then
    // gives the exact bits (a read-only file stays read-only).
    permissions_ = old.permissions() & fs::perms::all;
    set_permissions(permissions_ | fs::perms::owner_write);
#if SCALARGRAD_FILE_POSIX
    // Its owner and group too, where the system allows it (root may give a file away; others
    // may pick one of their own groups): as root, editing another user's file keeps it theirs.
    struct ::stat info {};
    if (::stat(destination_.c_str(), &info) == 0) {
      const int fd = ::fileno(file_.get());
      if (::fchown(fd, info.st_uid, info.st_gid) != 0 && ::fchown(fd, static_cast<uid_t>(-1), info.st_gid) != 0) {
        // keeps ours: the new file belongs to whoever writes it, as after `mv`
      }
    }
#endif
  }
}

void FileReplacement::set_permissions(std::filesystem::perms permissions) {
  std::error_code code;
  fs::permissions(path_, permissions, fs::perm_options::replace, code);
  if (code) {
    fail(concat({"cannot give ", quoted(path_), " the permissions of ", quoted(destination_), ": ", code.message()}));
  }
}

FileReplacement::~FileReplacement() {
  if (!committed_) discard();
}

void FileReplacement::discard() noexcept {
  file_.reset();  // closes; an error no longer matters
  if (!in_place_ && !path_.empty()) {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
}

Error FileReplacement::error(std::string_view message) const {
  return Error(context_.empty() ? std::string(message) : concat({context_, ": ", message}));
}

void FileReplacement::fail(std::string_view message) {
  discard();
  failure_ = error(message).what();
  throw Error(failure_);
}

void FileReplacement::write(std::string_view bytes) {
  if (!failure_.empty()) throw Error(failure_);
  if (committed_) throw error(concat({"cannot write ", quoted(target_), ": it was already committed"}));
  if (bytes.empty()) return;  // (fwrite may not be given a null pointer, as an empty view may hold)
  errno = 0;
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_.get()) != bytes.size()) {
    fail(concat({"cannot write ", quoted(path_), ": ", reason(last_error())}));
  }
}

void FileReplacement::commit() {
  if (!failure_.empty()) throw Error(failure_);
  if (committed_) throw error(concat({"cannot commit ", quoted(target_), " again: it was already committed"}));
  errno = 0;
  int code = std::fflush(file_.get()) == 0 ? 0 : last_error();
#if SCALARGRAD_FILE_POSIX
  // On disk before it replaces the old file (a device or a FIFO has nothing to sync).
  if (code == 0 && !in_place_ && ::fsync(::fileno(file_.get())) != 0) code = last_error();
#endif
  errno = 0;
  if (std::fclose(file_.release()) != 0 && code == 0) code = last_error();
  if (code != 0) fail(concat({"cannot write ", quoted(path_), ": ", reason(code)}));
  if (!in_place_) {
    if ((permissions_ & fs::perms::owner_write) == fs::perms::none) set_permissions(permissions_);  // read-only again
    std::error_code rename_error;
    fs::rename(path_, destination_, rename_error);  // atomic replacement (POSIX rename)
    if (rename_error) {
      fail(concat({"cannot rename ", quoted(path_), " to ", quoted(destination_), ": ", rename_error.message()}));
    }
  }
  committed_ = true;
}

void replace_file(const std::filesystem::path& target, std::string_view contents, std::string context) {
  FileReplacement file(target, std::move(context));
  file.write(contents);
  file.commit();
}

}  // namespace scalargrad
