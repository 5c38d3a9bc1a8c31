# Runs examples/demo once and checks its exit status, and optionally its output and CSV file.
# Used by the examples.demo_* tests of tests/CMakeLists.txt:
#
#   cmake -DDEMO=<demo executable> -DARGS=<arguments separated by |> -DEXPECT_EXIT=<status>
#         [-DEXPECT_STDOUT=<regex>] [-DEXPECT_STDERR=<regex>] [-DEXPECT_CSV=<file>]
#         -P demo_cli_test.cmake
#
# EXPECT_CSV names the --boundary-csv file of the run: it is removed before the run, and must
# then hold the documented header and one "point" row per training point (100).
cmake_minimum_required(VERSION 3.21)

foreach(var DEMO EXPECT_EXIT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "demo_cli_test.cmake: ${var} is not set")
  endif()
endforeach()
string(REPLACE "|" ";" args "${ARGS}")

if(DEFINED EXPECT_CSV)
  file(REMOVE "${EXPECT_CSV}")
endif()

execute_process(COMMAND "${DEMO}" ${args}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

set(shown "command: demo ${args}\n--- stdout:\n${out}\n--- stderr:\n${err}")
if(NOT status STREQUAL EXPECT_EXIT)
  message(FATAL_ERROR "exit status ${status}, expected ${EXPECT_EXIT}\n${shown}")
endif()
if(DEFINED EXPECT_STDOUT AND NOT out MATCHES "${EXPECT_STDOUT}")
  message(FATAL_ERROR "stdout does not match '${EXPECT_STDOUT}'\n${shown}")
endif()
if(DEFINED EXPECT_STDERR AND NOT err MATCHES "${EXPECT_STDERR}")
  message(FATAL_ERROR "stderr does not match '${EXPECT_STDERR}'\n${shown}")
endif()

if(DEFINED EXPECT_CSV)
  if(NOT EXISTS "${EXPECT_CSV}")
    message(FATAL_ERROR "the demo did not write ${EXPECT_CSV}\n${shown}")
  endif()
  file(STRINGS "${EXPECT_CSV}" lines)
  list(GET lines 0 header)
  if(NOT header STREQUAL "kind,x,y,score,class,label")
    message(FATAL_ERROR "${EXPECT_CSV}: unexpected header '${header}'")
  endif()
  list(FILTER lines INCLUDE REGEX "^point,")
  list(LENGTH lines points)
  if(NOT points EQUAL 100)
    message(FATAL_ERROR "${EXPECT_CSV}: ${points} point rows, expected 100")
  endif()
endif()
