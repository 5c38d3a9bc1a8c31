# ctest python.install: `cmake --install` of the Python package (component scalargrad_python) into
# a scratch prefix, then `import scalargrad` from <prefix>/<SITE> with no build directory on the path.
#
# Inputs: BINARY_DIR (the build tree), PREFIX (scratch, emptied first), SITE (the package's install
# directory, relative to the prefix, or absolute), PYTHON (the interpreter).
cmake_minimum_required(VERSION 3.21)

file(REMOVE_RECURSE ${PREFIX})
# scalargrad_runtime: the engine's shared libraries, when BUILD_SHARED_LIBS made them.
foreach(component IN ITEMS scalargrad_runtime scalargrad_python)
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${PREFIX} --component ${component}
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install --component ${component} failed (${rc})")
  endif()
endforeach()
if(IS_ABSOLUTE "${SITE}")
  message(STATUS "SCALARGRAD_INSTALL_PYTHONDIR is absolute (${SITE}): installed there, not under the prefix")
  set(site ${SITE})
else()
  set(site ${PREFIX}/${SITE})
endif()
if(NOT EXISTS ${site}/scalargrad/__init__.py)
  message(FATAL_ERROR "the package is not at ${site}/scalargrad")
endif()
# -I: isolated mode, so that neither PYTHONPATH nor the current directory can supply the package.
execute_process(
  COMMAND ${PYTHON} -I -c "import sys; sys.path.insert(0, sys.argv[1]); import scalargrad, scalargrad.nn as nn; from scalargrad.engine import Value; assert scalargrad.__file__.startswith(sys.argv[1]), scalargrad.__file__; y = (Value(2.0) * 3).relu(); y.backward(); assert len(nn.MLP(2, [16, 16, 1]).parameters()) == 337; print('imported from', scalargrad.__file__)" ${site}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the installed package does not import (${rc})")
endif()
