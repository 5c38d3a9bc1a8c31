# Runs the scalargrad command once through tests/examples/example_run_test.cmake (PROGRAM, ARGS
# separated by |, EXPECT_EXIT, EXPECT_STDOUT / EXPECT_STDERR regexes), and then checks the files
# it must or must not have written and its --json output. Used by the tools.cli_* tests in
# tests/CMakeLists.txt:
#
#   cmake -DRUN_TEST=<path of example_run_test.cmake> -DPROGRAM=... -DARGS=... -DEXPECT_EXIT=...
#         [-DEXPECT_STDOUT=<regex>] [-DEXPECT_STDERR=<regex>]
#         [-DEXPECT_FILES=<file>|<file>...]     removed before the run; must then exist, not empty
#         [-DEXPECT_NO_FILES=<file>|<file>...]  removed before the run; must still not exist
#         [-DEXPECT_JSON=<key>=<number>|<key>=<number>...]
#                                               stdout must be one JSON object {"value": number,
#                                               "grad": {...}} with exactly these grad names; key
#                                               "value" or "grad.NAME"; each number must read as
#                                               the double whose %.17g text is given (CMake's JSON
#                                               reader prints numbers so: a full-precision check;
#                                               EXPECT_STDOUT checks the text and the key order)
#         -P cli_run_test.cmake
cmake_minimum_required(VERSION 3.21)

if(NOT DEFINED RUN_TEST)
  message(FATAL_ERROR "cli_run_test.cmake: RUN_TEST is not set")
endif()
string(REPLACE "|" ";" expect_files "${EXPECT_FILES}")
string(REPLACE "|" ";" expect_no_files "${EXPECT_NO_FILES}")
foreach(path IN LISTS expect_files expect_no_files)
  file(REMOVE "${path}")
endforeach()

# Runs the program and checks the exit status and the output; sets `out` and `err`.
include("${RUN_TEST}")

foreach(path IN LISTS expect_files)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "${path} was not written\n${shown}")
  endif()
  file(SIZE "${path}" size)
  if(size EQUAL 0)
    message(FATAL_ERROR "${path} is empty\n${shown}")
  endif()
endforeach()
foreach(path IN LISTS expect_no_files)
  if(EXISTS "${path}")
    message(FATAL_ERROR "${path} was written, but the input was bad\n${shown}")
  endif()
endforeach()

if(DEFINED EXPECT_JSON)
  string(JSON value_type ERROR_VARIABLE json_error TYPE "${out}" value)
  if(json_error)
    message(FATAL_ERROR "stdout is not the JSON expected: ${json_error}\n${shown}")
  endif()
  string(JSON grad_count ERROR_VARIABLE json_error LENGTH "${out}" grad)
  if(json_error)
    message(FATAL_ERROR "stdout has no \"grad\" object: ${json_error}\n${shown}")
  endif()
  string(REPLACE "|" ";" expected "${EXPECT_JSON}")
  set(expected_grads 0)
  foreach(item IN LISTS expected)
    string(FIND "${item}" "=" eq)
    string(SUBSTRING "${item}" 0 ${eq} key)
    math(EXPR eq "${eq} + 1")
    string(SUBSTRING "${item}" ${eq} -1 number)
    string(REPLACE "." ";" path "${key}")
    if(key MATCHES "^grad\\.")
      math(EXPR expected_grads "${expected_grads} + 1")
    endif()
    string(JSON type ERROR_VARIABLE json_error TYPE "${out}" ${path})
    if(json_error OR NOT type STREQUAL "NUMBER")
      message(FATAL_ERROR "JSON ${key}: not a number (${json_error})\n${shown}")
    endif()
    # string(JSON GET) reads the number into a double and prints it with %.17g: equal texts,
    # equal doubles.
    string(JSON got GET "${out}" ${path})
    if(NOT got STREQUAL number)
      message(FATAL_ERROR "JSON ${key} is ${got}, expected ${number}\n${shown}")
    endif()
  endforeach()
  if(NOT grad_count EQUAL expected_grads)
    message(FATAL_ERROR "JSON grad has ${grad_count} entries, expected ${expected_grads}\n${shown}")
  endif()
endif()
