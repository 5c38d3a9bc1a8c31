// Extra translation unit of bench_w1_micrograd_step: W1 on a copy of the engine compiled WITH
// handle counting exactly as w1_micrograd_step.uncounted.cc compiles it without: the engine's
// source included in this TU, renamed to namespace scalargrad_counted. The counted/uncounted
// ratio of these two copies is what counting costs, free of the differences between the library
// build (its own TUs, maybe other flags: -O3, -fPIC) and this one (engine and model code in one
// TU). The library engine is measured too (w1_micrograd_step.cpp) for the other targets.
// If autograd/src/ gains a source file, include it below too (a missing one fails at link time).

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "w1_problem.hpp"

#define SCALARGRAD_UNCOUNTED_HANDLES 0
#define scalargrad scalargrad_counted  // NOLINT: the point of this file

#include "scalargrad/value.hpp"
#include "../autograd/src/tape.cpp"
#include "../autograd/src/value.cpp"

#define W1_COPY_API w1_counted_copy
#define W1_ENGINE_NS w1_counted_copy_impl
#include "w1_engine_copy.inc"

#undef scalargrad
