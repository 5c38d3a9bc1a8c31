#!/usr/bin/env bash
# Builds scalargrad and runs its whole test suite (ctest).
#
#   tools/quickstart-test.sh [extra ctest arguments, e.g. -R autograd]
#
# Environment (all optional):
#   SCALARGRAD_PRESET        configure/build/test preset of CMakePresets.json (default: release;
#                            e.g. asan for Debug + AddressSanitizer + UBSan)
#   SCALARGRAD_WERROR        ON/OFF: warnings are errors (default OFF)
#   SCALARGRAD_TEST_PACKAGE  ON/OFF: also test the installed CMake package and add_subdirectory
#                            use (default OFF)
#   SCALARGRAD_JOBS          parallel build jobs (default: number of CPUs)
#   SCALARGRAD_SKIP_DEPS=1   do not check/install the Debian packages
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

preset=${SCALARGRAD_PRESET:-release}
jobs=${SCALARGRAD_JOBS:-$(nproc)}

if [[ "${SCALARGRAD_SKIP_DEPS:-0}" != 1 ]]; then
  bash tools/install-deps.sh
fi

# Sanitizer runtime settings (also used when the build runs the test binaries to list tests).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Always passed, so that a value cached by an earlier run does not linger.
cmake --preset "$preset" \
  -DSCALARGRAD_WERROR="${SCALARGRAD_WERROR:-OFF}" \
  -DSCALARGRAD_TEST_PACKAGE="${SCALARGRAD_TEST_PACKAGE:-OFF}"
cmake --build --preset "$preset" --parallel "$jobs"
ctest --preset "$preset" "$@"
