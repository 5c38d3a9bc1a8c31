# Runs tools/plot_lab.py on the CSV files the activation lab's example tests wrote, and checks
# that it writes every figure of docs/activations.md as a PNG file.
#
#   cmake -DSOURCE_DIR=<repo> -DDATA_DIR=<csv dir> -DOUT_DIR=<dir> -P lab_figures.cmake
#
# tests/CMakeLists.txt adds it only when Debian's Python (/usr/bin/python3) has matplotlib,
# which tools/install-deps.sh installs (python3-matplotlib); otherwise it is listed as disabled.
cmake_minimum_required(VERSION 3.21)

set(python /usr/bin/python3)
file(REMOVE_RECURSE "${OUT_DIR}")
execute_process(COMMAND ${python} ${SOURCE_DIR}/tools/plot_lab.py --data ${DATA_DIR} --out ${OUT_DIR}
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "plot_lab.py exited with ${status}\n--- stdout:\n${out}\n--- stderr:\n${err}")
endif()
if(err MATCHES "warning")
  message(FATAL_ERROR "plot_lab.py warned (a CSV file is missing?):\n${err}")
endif()
foreach(figure activations gradient_vs_depth layer_norms_depth20 training_depth10 dead_neurons)
  set(png "${OUT_DIR}/${figure}.png")
  if(NOT EXISTS "${png}")
    message(FATAL_ERROR "plot_lab.py did not write ${png}\n--- stdout:\n${out}")
  endif()
  file(READ "${png}" signature LIMIT 8 HEX)
  if(NOT signature STREQUAL "89504e470d0a1a0a")
    message(FATAL_ERROR "${png} is not a PNG file (starts with ${signature})")
  endif()
endforeach()
