#!/usr/bin/env bash
# Regenerates the figures of the activation and vanishing-gradient lab in docs/images: builds
# the three lab examples (release preset), runs each into build/release/lab, then plots the
# CSVs they wrote with tools/plot_lab.py.
#
#   tools/lab-figures.sh
#
# Environment (optional): SCALARGRAD_JOBS parallel build jobs (default: number of CPUs);
# SCALARGRAD_SKIP_DEPS=1 skips the Debian package check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${SCALARGRAD_JOBS:-$(nproc)}
data=build/release/lab

if [[ "${SCALARGRAD_SKIP_DEPS:-0}" != 1 ]]; then
  bash tools/install-deps.sh python3-matplotlib
fi

cmake --preset release
cmake --build --preset release --parallel "$jobs" \
  --target example_activations example_vanishing_gradient example_dying_relu

# Fresh output directory: a CSV left over from an earlier run must not be plotted as new.
rm -rf "$data"
mkdir -p "$data"
for example in activations vanishing_gradient dying_relu; do
  "build/release/examples/$example" --out "$data"
done

# Debian's interpreter, named in full: python3-matplotlib installs for it, and another python3
# earlier on PATH (a virtualenv, a newer Python) may not have matplotlib.
/usr/bin/python3 tools/plot_lab.py --data "$data" --out docs/images
