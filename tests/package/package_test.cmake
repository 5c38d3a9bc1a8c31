# Packaging test driver, run by ctest as `cmake -D... -P package_test.cmake`.
#
#   MODE=consumer      install SCALARGRAD_BINARY_DIR into WORK_DIR/prefix, then configure and
#                      build tests/package/consumer with CMAKE_PREFIX_PATH=<prefix>, run it.
#   MODE=subdirectory  configure and build tests/package/subdir, which add_subdirectory()s
#                      SCALARGRAD_SOURCE_DIR, run the program it builds.
#
# Other inputs: WORK_DIR, CONFIG, GENERATOR, MAKE_PROGRAM, CXX_COMPILER, SANITIZE.
cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS MODE SCALARGRAD_SOURCE_DIR SCALARGRAD_BINARY_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "package_test.cmake: ${var} is not set")
  endif()
endforeach()
if("${CONFIG}" STREQUAL "")
  set(CONFIG Release)
endif()

# run(<what> <command>...): echo and run a command, stop on failure.
function(run what)
  string(REPLACE ";" " " _pretty "${ARGN}")
  message(STATUS "[package.${MODE}] ${what}: ${_pretty}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "[package.${MODE}] ${what} failed (${_rc})")
  endif()
endfunction()

# Settings the inner project must share with the outer build (same compiler, generator, and
# the sanitizer runtime when the library itself was built with sanitizers).
set(_configure_args -G "${GENERATOR}" "-DCMAKE_BUILD_TYPE=${CONFIG}")
if(NOT "${MAKE_PROGRAM}" STREQUAL "")
  list(APPEND _configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(NOT "${CXX_COMPILER}" STREQUAL "")
  list(APPEND _configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(NOT "${SANITIZE}" STREQUAL "")
  list(APPEND _configure_args
    "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE} -fno-omit-frame-pointer"
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()

set(_tests_dir ${SCALARGRAD_SOURCE_DIR}/tests/package)

if(MODE STREQUAL "consumer")
  set(_prefix ${WORK_DIR}/prefix)
  set(_build ${WORK_DIR}/consumer-build)
  file(REMOVE_RECURSE ${_prefix} ${_build})
  run("install" ${CMAKE_COMMAND} --install ${SCALARGRAD_BINARY_DIR}
    --config ${CONFIG} --prefix ${_prefix})
  if(NOT EXISTS ${_prefix}/include/scalargrad/version.hpp
     OR NOT EXISTS ${_prefix}/include/scalargrad/scalargrad.hpp)
    message(FATAL_ERROR "[package.consumer] headers missing under ${_prefix}/include/scalargrad")
  endif()
  run("configure" ${CMAKE_COMMAND} -S ${_tests_dir}/consumer -B ${_build} ${_configure_args}
    "-DCMAKE_PREFIX_PATH=${_prefix}"
    # Only the freshly installed package may satisfy find_package(scalargrad).
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
  run("build" ${CMAKE_COMMAND} --build ${_build} --config ${CONFIG})
  set(_exe_name consumer)
elseif(MODE STREQUAL "subdirectory")
  set(_build ${WORK_DIR}/subdir-build)
  file(REMOVE_RECURSE ${_build})
  run("configure" ${CMAKE_COMMAND} -S ${_tests_dir}/subdir -B ${_build} ${_configure_args}
    "-DSCALARGRAD_SOURCE_DIR=${SCALARGRAD_SOURCE_DIR}")
  run("build" ${CMAKE_COMMAND} --build ${_build} --config ${CONFIG})
  set(_exe_name consumer_subdir)
else()
  message(FATAL_ERROR "package_test.cmake: unknown MODE '${MODE}'")
endif()

# Single-config generators put the program in the build dir, multi-config ones in <CONFIG>/.
set(_exe ${_build}/${_exe_name}${CMAKE_EXECUTABLE_SUFFIX})
if(NOT EXISTS ${_exe} AND EXISTS ${_build}/${CONFIG}/${_exe_name}${CMAKE_EXECUTABLE_SUFFIX})
  set(_exe ${_build}/${CONFIG}/${_exe_name}${CMAKE_EXECUTABLE_SUFFIX})
endif()
run("run" ${_exe})
message(STATUS "[package.${MODE}] OK")
