// output.hpp: a program's last step, making sure what it printed reached standard output.
//
// printf and std::cout report nothing when stdout is a full disk or a device that refuses
// bytes (`program > /dev/full`): the program would print its results into the void and exit 0.
// The example programs and the scalargrad command end through finish_output(), which flushes
// stdout and turns a failed write into a message and exit status 1, as they treat a file that
// cannot be written. (std::cout writes through stdout's buffer: std::ios::sync_with_stdio is
// left on, so one check covers both.)
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace scalargrad::support {

/// The status main() returns: `status`, or 1 (with "<program>: cannot write standard output:
/// <reason>" on stderr) when stdout could not take everything printed to it.
inline int finish_output(const char* program, int status) {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int error = errno;
  if (flushed && std::ferror(stdout) == 0) return status;
  std::string message = program;
  message += ": cannot write standard output";
  if (error != 0) {
    message += ": ";
    message += std::strerror(error);
  }
  std::fprintf(stderr, "%s\n", message.c_str());
  return status == 0 ? 1 : status;
}

}  // namespace scalargrad::support
