# Checks that a program whose standard output cannot take what it prints says so and exits 1
# (examples/support/output.hpp), instead of printing into the void and exiting 0. Unix only:
# stdout is /dev/full, where every write fails with ENOSPC.
#
#   cmake -DPROGRAM=<executable> -DARGS=<arguments separated by |> -DNAME=<program's name>
#         [-DREASON=ON] -P stdout_full_test.cmake
#
# With REASON, the message must end in the system's reason (": No space left on device"). A
# program whose output outgrows stdio's buffer meets the failure inside a printf, whose errno
# is gone by the time it can be reported: then the message may have no reason.
cmake_minimum_required(VERSION 3.21)

if(NOT EXISTS /dev/full)
  message(STATUS "skipped: this system has no /dev/full")
  return()
endif()
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND sh -c "exec \"$0\" \"$@\" > /dev/full" "${PROGRAM}" ${args}
  RESULT_VARIABLE status ERROR_VARIABLE err TIMEOUT 120)
set(shown "command: ${PROGRAM} ${args} > /dev/full\n--- stderr:\n${err}")
if(NOT (status STREQUAL 1))
  message(FATAL_ERROR "exit status ${status}, expected 1\n${shown}")
endif()
if(REASON)
  set(expected "${NAME}: cannot write standard output: No space left on device")
else()
  set(expected "${NAME}: cannot write standard output(: No space left on device)?")
endif()
if(NOT (err MATCHES "(^|\n)${expected}\n$"))
  message(FATAL_ERROR "stderr does not end in '${expected}'\n${shown}")
endif()
message(STATUS "${NAME}: a full standard output is an error (exit 1)")
