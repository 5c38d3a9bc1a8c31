#include "file.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <system_error>

#include <sys/stat.h>

#include <scalargrad/error.hpp>

namespace scalargrad::nn::detail {

std::string quoted(const std::filesystem::path& path) {
  // Appends rather than writing "'" + ... + "'", which trips GCC 12's false -Wrestrict (PR 105329).
  std::string text = "'";
  text += path.string();
  text += '\'';
  return text;
}

namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

std::string reason(int error) { return error != 0 ? std::system_category().message(error) : "unknown error"; }

[[noreturn]] void fail(std::string_view verb, std::string_view kind, const std::filesystem::path& path,
                       const std::string& why) {
  std::string message = "scalargrad::nn: cannot ";
  message += verb;
  message += ' ';
  message += kind;
  message += quoted(path);
  message += ": ";
  message += why;
  throw Error(message);
}

[[noreturn]] void too_large(std::string_view kind, const std::filesystem::path& path) {
  fail("read", kind, path,
       "it holds more than " + std::to_string(kMaxFileBytes) + " bytes (" + std::to_string(kMaxFileBytes >> 20) +
           " MiB), the most nn reads from a file");
}

}  // namespace

std::string read_file(const std::filesystem::path& path, std::string_view kind) {
  errno = 0;
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.string().c_str(), "rb"));
  if (!file) fail("open", kind, path, reason(errno));
  std::string text;
  // A regular file is refused by its size before anything is read; a device or a pipe (which
  // has none) once more than the most was read.
  struct ::stat info {};
  if (::fstat(::fileno(file.get()), &info) == 0 && S_ISREG(info.st_mode)) {
    if (static_cast<std::uintmax_t>(info.st_size) > kMaxFileBytes) too_large(kind, path);
    text.reserve(static_cast<std::size_t>(info.st_size));
  }
  char buffer[1 << 16];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    if (got > kMaxFileBytes - text.size()) too_large(kind, path);
    text.append(buffer, got);
  }
  if (std::ferror(file.get())) fail("read", kind, path, reason(errno));
  return text;
}

}  // namespace scalargrad::nn::detail
