#!/usr/bin/env bash
# Builds scalargrad (release preset) and runs the two-moons demo (examples/demo.cpp).
#
#   tools/quickstart-demo.sh [arguments for the demo]
#
# Environment (optional): SCALARGRAD_DEMO names the examples/ program to run (default:
# demo); SCALARGRAD_JOBS parallel build jobs; SCALARGRAD_SKIP_DEPS=1 skips the Debian
# package check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

demo=${SCALARGRAD_DEMO:-demo}
jobs=${SCALARGRAD_JOBS:-$(nproc)}

if [[ "${SCALARGRAD_SKIP_DEPS:-0}" != 1 ]]; then
  bash tools/install-deps.sh
fi

cmake --preset release
cmake --build --preset release --parallel "$jobs"
exec "build/release/examples/$demo" "$@"
