# tools/plot_lab.py on bad input: a count that is not a whole number (nan, 2.5) and an --out
# that is a file are errors with exit status 1 and a message naming the file, line and column
# (or the path), not a Python traceback, and no figure is written.
#
#   cmake -DSOURCE_DIR=<repo> -DDATA_DIR=<csv dir> -DWORK_DIR=<dir> -P plot_lab_errors.cmake
cmake_minimum_required(VERSION 3.21)

set(python /usr/bin/python3)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs plot_lab.py --data <data> --out <out>; checks exit status 1, `expected` in stderr, no
# traceback, and that <out> holds no figure.
function(expect_error data out expected)
  execute_process(COMMAND ${python} ${SOURCE_DIR}/tools/plot_lab.py --data ${data} --out ${out}
    RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
  if(NOT status EQUAL 1)
    message(FATAL_ERROR "plot_lab.py exited with ${status}, expected 1\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}")
  endif()
  string(FIND "${stderr}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "stderr lacks '${expected}':\n${stderr}")
  endif()
  if(stderr MATCHES "Traceback")
    message(FATAL_ERROR "plot_lab.py printed a traceback:\n${stderr}")
  endif()
  if(IS_DIRECTORY "${out}")
    file(GLOB figures "${out}/*.png" "${out}/.*.tmp")
    if(figures)
      message(FATAL_ERROR "plot_lab.py wrote ${figures} although it failed")
    endif()
  endif()
endfunction()

# A depth of nan, then 2.5, in line 2 of the norms (the first data row).
foreach(bad nan 2.5)
  set(dir "${WORK_DIR}/data-${bad}")
  file(COPY "${DATA_DIR}/" DESTINATION "${dir}")
  file(STRINGS "${dir}/vanishing_gradient_norms.csv" lines)
  list(GET lines 1 row)
  string(REGEX REPLACE "^([^,]*,[^,]*,)[^,]*" "\\1${bad}" row "${row}")
  list(REMOVE_AT lines 1)
  list(INSERT lines 1 "${row}")
  list(JOIN lines "\n" text)
  file(WRITE "${dir}/vanishing_gradient_norms.csv" "${text}\n")
  expect_error("${dir}" "${WORK_DIR}/figures-${bad}"
    "plot_lab: error: ${dir}/vanishing_gradient_norms.csv:2: column 'depth': '${bad}' is not a whole number")
endforeach()

# --out names a file.
file(WRITE "${WORK_DIR}/a-file" "not a directory")
expect_error("${DATA_DIR}" "${WORK_DIR}/a-file" "plot_lab: error: --out ${WORK_DIR}/a-file exists and is not a directory")
file(READ "${WORK_DIR}/a-file" kept)
if(NOT kept STREQUAL "not a directory")
  message(FATAL_ERROR "plot_lab.py changed the file given as --out")
endif()
