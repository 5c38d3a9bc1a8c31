# Runs examples/demo once through example_run_test.cmake (exit status, stdout, stderr), then
# optionally checks the decision-boundary CSV file it wrote. Used by the examples.demo_* tests
# of tests/CMakeLists.txt:
#
#   cmake -DPROGRAM=<demo executable> -DARGS=<arguments separated by |> -DEXPECT_EXIT=<status>
#         [-DEXPECT_STDOUT=<regex>] [-DEXPECT_STDERR=<regex>] [-DBOUNDARY_CSV=<file>]
#         [-DEXPECT_NO_FILES=<file>|<file>...] -P demo_cli_test.cmake
#
# BOUNDARY_CSV names the --boundary-csv file of the run: it is removed before the run, and must
# then hold the documented header and one "point" row per training point (100).
# EXPECT_NO_FILES are removed before the run and must still not exist after it.
cmake_minimum_required(VERSION 3.21)

if(DEFINED BOUNDARY_CSV)
  file(REMOVE "${BOUNDARY_CSV}")
endif()
string(REPLACE "|" ";" no_files "${EXPECT_NO_FILES}")
foreach(file IN LISTS no_files)
  file(REMOVE "${file}")
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/example_run_test.cmake)

foreach(file IN LISTS no_files)
  if(EXISTS "${file}")
    message(FATAL_ERROR "the demo wrote ${file}, which it must not\n${shown}")
  endif()
endforeach()

if(DEFINED BOUNDARY_CSV)
  if(NOT EXISTS "${BOUNDARY_CSV}")
    message(FATAL_ERROR "the demo did not write ${BOUNDARY_CSV}\n${shown}")
  endif()
  file(STRINGS "${BOUNDARY_CSV}" lines)
  list(GET lines 0 header)
  if(NOT header STREQUAL "kind,x,y,score,class,label")
    message(FATAL_ERROR "${BOUNDARY_CSV}: unexpected header '${header}'")
  endif()
  list(FILTER lines INCLUDE REGEX "^point,")
  list(LENGTH lines points)
  if(NOT points EQUAL 100)
    message(FATAL_ERROR "${BOUNDARY_CSV}: ${points} point rows, expected 100")
  endif()
endif()
