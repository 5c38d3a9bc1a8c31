// output.hpp: a program's last step, making sure what it printed reached standard output.
//
// printf and std::cout report nothing when stdout is a full disk or a device that refuses
// bytes (`program > /dev/full`): the program would print its results into the void and exit 0.
// The example programs with options (all but ten_lines, the README's ten lines) and the
// scalargrad command end through finish_output(), which flushes stdout and turns a failed write
// into a message and exit status 1, as they treat a file that cannot be written. (std::cout
// writes through stdout's buffer: std::ios::sync_with_stdio is left on, so one check covers
// both.)
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace scalargrad::support {

/// Flushes stdout. Returns false, after printing "<program>: cannot write standard output:
/// <reason>" on stderr, if stdout could not take everything printed to it; its error indicator
/// is then cleared, so that a later call does not report the same failure again without its
/// reason (errno is long gone by then).
inline bool flush_output(const char* program) {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int error = errno;
  if (flushed && std::ferror(stdout) == 0) return true;
  std::clearerr(stdout);
  std::string message = program;
  message += ": cannot write standard output";
  if (error != 0) {
    message += ": ";
    message += std::strerror(error);
  }
  std::fprintf(stderr, "%s\n", message.c_str());
  return false;
}

/// The status main() returns: `status`, or 1 when flush_output() fails on a successful run.
inline int finish_output(const char* program, int status) {
  const bool flushed = flush_output(program);
  return flushed || status != 0 ? status : 1;
}

}  // namespace scalargrad::support
