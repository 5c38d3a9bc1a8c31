# Checks that a program replaces the file it writes only when the write succeeds
# (examples/support/write_file.hpp, used by the examples and tools/cli/main.cpp). Used by the *_atomic_write tests
# of tests/CMakeLists.txt (Unix only: it needs sh, ulimit, mkfifo and stat):
#
#   cmake -DPROGRAM=<executable> -DARGS=<arguments separated by |, @FILE@ for the file written>
#         -DWORK_DIR=<scratch directory> [-DOUT_NAME=<file name>] -P atomic_write_test.cmake
#
# With OUT_NAME (a program that writes a fixed file name into an --out directory), @FILE@
# stands for a directory of WORK_DIR per case, and the file checked is OUT_NAME in it.
#
# 1. full:    under `ulimit -f 0` every write fails (EFBIG; the program ignores SIGXFSZ): exit 1,
#             "cannot write ...: File too large", the old file unchanged, no temporary left;
# 2. replace: a normal run replaces an existing file and keeps its permission bits (0600);
# 3. symlink: through a symbolic link the file it points to is replaced, the link stays;
#    a loop of links is an error (exit 1) that replaces neither link;
# 4. fifo:    a FIFO is written into (a reader gets the content), not replaced by a file;
# 5. device:  a character device made with mknod in WORK_DIR (a twin of /dev/null; real /dev
#             files are never touched) stays a device. Skipped where mknod is not allowed.
cmake_minimum_required(VERSION 3.21)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
get_filename_component(name "${PROGRAM}" NAME)

# path_of(<case> <var>): the file a case writes.
macro(path_of case var)
  if(DEFINED OUT_NAME)
    file(MAKE_DIRECTORY "${WORK_DIR}/${case}")
    set(${var} "${WORK_DIR}/${case}/${OUT_NAME}")
  else()
    set(${var} "${WORK_DIR}/${case}")
  endif()
endmacro()

# run(<file> <result var> <sh prefix>): runs PROGRAM writing <file>; sets <var>_status, _out, _err.
macro(run target var prefix)
  if(DEFINED OUT_NAME)
    get_filename_component(_file_arg "${target}" DIRECTORY)
  else()
    set(_file_arg "${target}")
  endif()
  string(REPLACE "@FILE@" "${_file_arg}" _args "${ARGS}")
  string(REPLACE "|" ";" _args "${_args}")
  execute_process(COMMAND sh -c "${prefix} \"$0\" \"$@\"" "${PROGRAM}" ${_args}
    RESULT_VARIABLE ${var}_status OUTPUT_VARIABLE ${var}_out ERROR_VARIABLE ${var}_err TIMEOUT 60)
  set(shown "command: ${name} ${_args}\n--- stdout:\n${${var}_out}\n--- stderr:\n${${var}_err}")
endmacro()

macro(fail message)
  message(FATAL_ERROR "${message}\n${shown}")
endmacro()

# expect_status(<case> <var> <status>): the run() into <var> exited with <status>.
macro(expect_status case var expected)
  if(NOT (${var}_status STREQUAL ${expected}))
    fail("${case}: exit status ${${var}_status}, expected ${expected}")
  endif()
endmacro()

# expect_error(<case> <var> <regex> <what>): the run() into <var> printed <regex> on stderr.
macro(expect_error case var regex what)
  if(NOT (${var}_err MATCHES "${regex}"))
    fail("${case}: stderr does not say '${what}'")
  endif()
endmacro()

# 1. A write that fails leaves the old file whole.
set(old "the old content, which a failed write must keep\n")
path_of(full full)
file(WRITE "${full}" "${old}")
# No `trap '' XFSZ`: the programs ignore SIGXFSZ themselves (support::report_file_size_limit()),
# without which the signal ends them at once and leaves the temporary behind.
run("${full}" full "ulimit -f 0; exec")
expect_status(full full 1)
expect_error(full full "cannot write [^\n]*: File too large" "cannot write ...: File too large")
file(READ "${full}" now)
if(NOT (now STREQUAL old))
  fail("full: the old file was changed to '${now}'")
endif()
get_filename_component(dir "${full}" DIRECTORY)
file(GLOB left "${dir}/*.tmp-*")
if(NOT ("${left}" STREQUAL ""))
  fail("full: temporary files left behind: ${left}")
endif()

# 2. A write that succeeds replaces the file and keeps its permission bits.
path_of(replace replace)
file(WRITE "${replace}" "${old}")
file(CHMOD "${replace}" PERMISSIONS OWNER_READ OWNER_WRITE)
run("${replace}" replace "exec")
expect_status(replace replace 0)
file(READ "${replace}" now)
if(now STREQUAL old)
  fail("replace: the file was not replaced")
endif()
execute_process(COMMAND stat -c %a "${replace}" OUTPUT_VARIABLE mode OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT (mode STREQUAL 600))
  fail("replace: permissions ${mode}, expected 600")
endif()

# 3. Through a symbolic link: the file it points to is replaced, the link stays a link.
path_of(link link)
get_filename_component(real "${link}" DIRECTORY)
set(real "${real}/real.out")
file(WRITE "${real}" "${old}")
file(CREATE_LINK "real.out" "${link}" SYMBOLIC)
run("${link}" link "exec")
expect_status(symlink link 0)
if(NOT (IS_SYMLINK "${link}"))
  fail("symlink: link.out is no longer a symbolic link")
endif()
file(READ "${real}" now)
if(now STREQUAL old)
  fail("symlink: the file the link points to was not replaced")
endif()

# 3b. A loop of symbolic links is an error (exit 1), and both links stay links.
path_of(loop loop)
get_filename_component(loop_dir "${loop}" DIRECTORY)
get_filename_component(loop_name "${loop}" NAME)
file(CREATE_LINK "other.out" "${loop}" SYMBOLIC)
file(CREATE_LINK "${loop_name}" "${loop_dir}/other.out" SYMBOLIC)
run("${loop}" loop "exec")
expect_status(loop loop 1)
expect_error(loop loop "[Tt]oo many levels of symbolic links" "too many levels of symbolic links")
if(NOT (IS_SYMLINK "${loop}" AND IS_SYMLINK "${loop_dir}/other.out"))
  fail("loop: a link of the loop was replaced")
endif()

# 4. A FIFO is written into: a reader gets the content, and it stays a FIFO.
path_of(fifo fifo)
execute_process(COMMAND mkfifo "${fifo}" RESULT_VARIABLE mkfifo_status)
if(NOT (mkfifo_status STREQUAL 0))
  fail("mkfifo failed")
endif()
run("${fifo}" fifo "cat '${fifo}' > '${WORK_DIR}/from_fifo.out' & \"$0\" \"$@\"; s=$?; wait; exit $s; :")
expect_status(fifo fifo 0)
file(SIZE "${WORK_DIR}/from_fifo.out" size)
if(NOT (size GREATER 0))
  fail("fifo: the reader got nothing")
endif()
execute_process(COMMAND test -p "${fifo}" RESULT_VARIABLE is_fifo)
if(NOT (is_fifo STREQUAL 0))
  fail("fifo: it is no longer a FIFO")
endif()

# 5. A character device (a twin of /dev/null made here) stays a device.
path_of(null null)
execute_process(COMMAND mknod "${null}" c 1 3 RESULT_VARIABLE mknod_status ERROR_QUIET)
if(mknod_status STREQUAL 0)
  run("${null}" device "exec")
  expect_status(device device 0)
  execute_process(COMMAND test -c "${null}" RESULT_VARIABLE is_device)
  if(NOT (is_device STREQUAL 0))
    fail("device: it is no longer a character device")
  endif()
  file(REMOVE "${null}")
else()
  message(STATUS "device case skipped: mknod is not allowed here")
endif()
message(STATUS "${name}: all write cases passed")
