#!/usr/bin/env bash
# Fuzzes the expression language of the scalargrad command (tools/cli/fuzz_expression.cpp) with
# libFuzzer for a bounded time, then keeps what it found as regression input.
#
#   tools/cli/fuzz.sh                                # 60 seconds
#   SCALARGRAD_FUZZ_SECONDS=600 tools/cli/fuzz.sh    # longer
#
# 1. Builds the target with clang++ in its own build directory (RelWithDebInfo, AddressSanitizer
#    + UndefinedBehaviorSanitizer on the whole engine, SCALARGRAD_FUZZ=ON).
# 2. Runs it for SCALARGRAD_FUZZ_SECONDS on a copy of tools/cli/corpus. Any crash, sanitizer
#    report, leak, timeout (10 s per input) or broken property fails the script (exit 1); the
#    input that did it is left in <build>/artifacts/ (replay: <build>/tools/scalargrad_fuzz_expression FILE).
# 3. Merges the inputs that reached new code into tools/cli/corpus (libFuzzer's -merge=1, in
#    its -set_cover_merge=1 form: a smallest set with the same coverage, about half the files),
#    so that they are kept, committed, as regression input: ctest tools.fuzz_corpus replays the
#    corpus in every build, with any compiler.
#
# Environment (all optional):
#   SCALARGRAD_FUZZ_SECONDS    how long to fuzz (default 60)
#   SCALARGRAD_FUZZ_BUILD_DIR  build directory (default build/fuzz)
#   SCALARGRAD_FUZZ_CXX        the Clang C++ compiler (default clang++-14)
#   SCALARGRAD_FUZZ_MERGE=0    do not merge into tools/cli/corpus (e.g. in CI that does not commit)
#   SCALARGRAD_JOBS            parallel build jobs (default: number of CPUs)
# Debian packages: clang-14 and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes), plus
# what the build needs (tools/install-deps.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

seconds=${SCALARGRAD_FUZZ_SECONDS:-60}
build=${SCALARGRAD_FUZZ_BUILD_DIR:-build/fuzz}
# Debian 12: clang-14, whose libFuzzer is libclang-rt-14-dev (tools/install-deps.sh).
cxx=${SCALARGRAD_FUZZ_CXX:-clang++-14}
jobs=${SCALARGRAD_JOBS:-$(nproc)}
corpus=tools/cli/corpus

# libFuzzer is there: a trivial target links.
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz.sh: $cxx not found (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/probe.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" 2>"$probe/log"; then
  cat "$probe/log" >&2
  echo "fuzz.sh: $cxx cannot link a libFuzzer target (Debian: apt-get install libclang-rt-14-dev)" >&2
  exit 1
fi

# 1. Build.
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSCALARGRAD_FUZZ=ON \
  -DSCALARGRAD_SANITIZE=address,undefined \
  -DSCALARGRAD_BUILD_TESTS=OFF -DSCALARGRAD_BUILD_EXAMPLES=OFF -DSCALARGRAD_BUILD_BENCHMARKS=OFF \
  -DSCALARGRAD_INSTALL=OFF
cmake --build "$build" --target scalargrad_fuzz_expression --parallel "$jobs"
fuzzer=$build/tools/scalargrad_fuzz_expression

# 2. Fuzz a copy of the corpus: new inputs go into the copy, not into the source tree.
work=$build/corpus
artifacts=$build/artifacts
rm -rf "$work"
mkdir -p "$work" "$artifacts"
cp "$corpus"/* "$work"/
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
echo "fuzz.sh: fuzzing for ${seconds}s on a copy of $corpus ($(ls "$corpus" | wc -l) inputs)"
if ! "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work"; then
  echo "fuzz.sh: FAILED: the fuzzer found an input that crashes or breaks a property; see $artifacts/" >&2
  exit 1
fi

# 3. Keep the inputs that reach new code.
if [[ "${SCALARGRAD_FUZZ_MERGE:-1}" != 0 ]]; then
  before=$(ls "$corpus" | wc -l)
  "$fuzzer" -set_cover_merge=1 -timeout=10 -rss_limit_mb=2048 "$corpus" "$work" 2>"$build/merge.log" || {
    cat "$build/merge.log" >&2
    echo "fuzz.sh: FAILED: merging into $corpus" >&2
    exit 1
  }
  after=$(ls "$corpus" | wc -l)
  echo "fuzz.sh: passed; $((after - before)) new inputs merged into $corpus ($after in all): commit them"
else
  echo "fuzz.sh: passed (SCALARGRAD_FUZZ_MERGE=0: $corpus unchanged)"
fi
