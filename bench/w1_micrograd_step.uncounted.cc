// Extra translation unit of bench_w1_micrograd_step: W1 on the engine compiled WITHOUT handle
// counting, to measure what counting costs (against w1_micrograd_step.counted.cc, the same source
// with counting, compiled the same way).
//
// The whole engine (headers and autograd/src/*.cpp) is compiled here once more, inside namespace
// scalargrad_uncounted (by `#define scalargrad scalargrad_uncounted`) and with
// SCALARGRAD_UNCOUNTED_HANDLES=1, next to the normal engine (namespace scalargrad, from the
// library) in the same executable. Nothing may collide: every engine symbol lands in
// scalargrad_uncounted (the file-local ones of tape.cpp are in anonymous namespaces), the W1 code
// in w1_uncounted_impl, the entry points in w1_uncounted. bench/check_odr.sh checks it with nm.
// If autograd/src/ gains a source file, include it below too (a missing one fails at link time).
//
// Not a bench/*.cpp on purpose: bench/CMakeLists.txt makes one executable per *.cpp and adds
// bench/<name>.*.cc to the executable of bench/<name>.cpp.

// Everything that does not belong to the engine first, before the rename.
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "w1_problem.hpp"

#define SCALARGRAD_UNCOUNTED_HANDLES 1
#define scalargrad scalargrad_uncounted  // NOLINT: the point of this file

#include "scalargrad/value.hpp"
// The engine's sources, relative to this file (bench/ -> autograd/src/).
#include "../autograd/src/tape.cpp"
#include "../autograd/src/value.cpp"

#define W1_COPY_API w1_uncounted
#define W1_ENGINE_NS w1_uncounted_impl
#include "w1_engine_copy.inc"

#undef scalargrad
