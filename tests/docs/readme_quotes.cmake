# Fails unless README.md quotes each given example file verbatim, so that the code in the
# README is code that the build compiles and runs.
#   cmake -DREADME=<README.md> -DEXAMPLES=<file;file> -P readme_quotes.cmake
file(READ ${README} readme)
foreach(example IN LISTS EXAMPLES)
  file(READ ${example} code)
  string(FIND "${readme}" "${code}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "README.md does not quote ${example} verbatim: update one from the other")
  endif()
  message(STATUS "README.md quotes ${example}")
endforeach()
