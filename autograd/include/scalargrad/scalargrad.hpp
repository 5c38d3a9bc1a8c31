// Umbrella header: everything of scalargrad's public API.
#pragma once

#include "scalargrad/error.hpp"
#include "scalargrad/value.hpp"
#include "scalargrad/version.hpp"
