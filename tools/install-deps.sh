#!/usr/bin/env bash
# Installs the Debian packages scalargrad needs to build, test, benchmark and draw its figures -- only the ones
# that are missing (apt-get update runs only then). Extra package names may be given as
# arguments. Uses sudo when not run as root.
#
#   tools/install-deps.sh [extra-package...]
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libadolc-dev
  nlohmann-json3-dev libcli11-dev
  python3-matplotlib  # tools/plot_lab.py: the activation lab's figures (test docs.lab_figures)
  graphviz libgraphviz-dev  # render(): the dot program and libgvc (the autograd.Render* tests)
  clang libclang-rt-14-dev  # tools/cli/fuzz.sh: libFuzzer and the sanitizer runtimes
  pybind11-dev python3-dev python3-pytest jupyter-nbconvert python3-ipykernel python3-numpy  # python/: the module, its tests, the notebooks
  "$@"
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all required Debian packages are installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing packages (${missing[*]}) and not root, and sudo is not available" >&2
    exit 1
  fi
  sudo=(sudo)
fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0)

echo "install-deps: installing ${missing[*]}"
# A mirror hiccup should not fail the whole run: retry a few times.
for attempt in 1 2 3; do
  if "${apt[@]}" -qq update && "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "install-deps: done"
    exit 0
  fi
  echo "install-deps: apt-get failed (attempt $attempt of 3)" >&2
  if ((attempt < 3)); then sleep $((attempt * 10)); fi
done
echo "install-deps: could not install: ${missing[*]}" >&2
exit 1
