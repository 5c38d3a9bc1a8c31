// Umbrella header: everything of scalargrad's public API (the engine, and scalargrad::nn when
// it is part of the installation).
#pragma once

#include "scalargrad/dot.hpp"
#include "scalargrad/error.hpp"
#include "scalargrad/file.hpp"
#include "scalargrad/gradcheck.hpp"
#include "scalargrad/value.hpp"
#include "scalargrad/version.hpp"

#if __has_include(<scalargrad/nn.hpp>)
#include <scalargrad/nn.hpp>
#endif
