# Runs one example program and checks its exit status, and optionally its output and the CSV
# files it writes. Used by the examples.* tests of the activation lab in tests/CMakeLists.txt:
#
#   cmake -DPROGRAM=<executable> -DARGS=<arguments separated by |> -DEXPECT_EXIT=<status>
#         [-DEXPECT_STDOUT=<regex>] [-DEXPECT_STDERR=<regex>]
#         [-DCSV_DIR=<dir> -DEXPECT_CSV=<file>=<header>|<file>=<header>...]
#         -P example_run_test.cmake
#
# An argument @EMPTY@ is passed as an empty string ("" on a command line): a CMake list
# cannot hold one, so such a run goes through sh, which puts it back.
# Each EXPECT_CSV file in CSV_DIR is removed before the run, and must then exist, start with its
# header and hold at least one data row.
cmake_minimum_required(VERSION 3.21)

foreach(var PROGRAM EXPECT_EXIT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "example_run_test.cmake: ${var} is not set")
  endif()
endforeach()
string(REPLACE "|" ";" args "${ARGS}")

# EXPECT_CSV as a list of (file, header).
set(csv_files)
set(csv_headers)
if(DEFINED EXPECT_CSV)
  string(REPLACE "|" ";" expected "${EXPECT_CSV}")
  foreach(item IN LISTS expected)
    string(FIND "${item}" "=" eq)
    string(SUBSTRING "${item}" 0 ${eq} file)
    math(EXPR eq "${eq} + 1")
    string(SUBSTRING "${item}" ${eq} -1 header)
    list(APPEND csv_files "${CSV_DIR}/${file}")
    list(APPEND csv_headers "${header}")
    file(REMOVE "${CSV_DIR}/${file}")
  endforeach()
endif()

set(command "${PROGRAM}" ${args})
if("@EMPTY@" IN_LIST args)
  # (newlines, not semicolons, between the commands: a semicolon would split the list)
  set(command sh -c [[for a do
shift
if [ "$a" = @EMPTY@ ]
then set -- "$@" ""
else set -- "$@" "$a"
fi
done
exec "$@"]] sh "${PROGRAM}" ${args})
endif()
execute_process(COMMAND ${command}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

get_filename_component(name "${PROGRAM}" NAME)
set(shown "command: ${name} ${args}\n--- stdout:\n${out}\n--- stderr:\n${err}")
if(NOT status STREQUAL EXPECT_EXIT)
  message(FATAL_ERROR "exit status ${status}, expected ${EXPECT_EXIT}\n${shown}")
endif()
if(DEFINED EXPECT_STDOUT AND NOT out MATCHES "${EXPECT_STDOUT}")
  message(FATAL_ERROR "stdout does not match '${EXPECT_STDOUT}'\n${shown}")
endif()
if(DEFINED EXPECT_STDERR AND NOT err MATCHES "${EXPECT_STDERR}")
  message(FATAL_ERROR "stderr does not match '${EXPECT_STDERR}'\n${shown}")
endif()

foreach(path header IN ZIP_LISTS csv_files csv_headers)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "${name} did not write ${path}\n${shown}")
  endif()
  file(STRINGS "${path}" lines LIMIT_COUNT 2)
  list(GET lines 0 first)
  if(NOT first STREQUAL header)
    message(FATAL_ERROR "${path}: header '${first}', expected '${header}'")
  endif()
  list(LENGTH lines count)
  if(count LESS 2)
    message(FATAL_ERROR "${path}: no data rows")
  endif()
endforeach()
