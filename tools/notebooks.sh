#!/usr/bin/env bash
# Opens the notebooks of examples/notebooks/ in Jupyter with the scalargrad Python module of the
# build importable: nothing to add to PYTHONPATH by hand. Builds the module first (release preset).
#
#   tools/notebooks.sh [jupyter arguments...]   # jupyter notebook in examples/notebooks
#   tools/notebooks.sh --execute                # runs every notebook headless instead, exactly as
#                                               # the notebooks.* tests do (python/run_notebooks.py)
#
# Jupyter gets PYTHONPATH=build/<preset>/python and JUPYTER_PATH=build/<preset>/python/jupyter,
# whose kernel "python3" runs the interpreter the module was built for (Debian's /usr/bin/python3
# unless CMake was given another Python3_EXECUTABLE).
#
# Environment (all optional):
#   SCALARGRAD_PRESET        configure/build preset of CMakePresets.json (default: release)
#   SCALARGRAD_JOBS          parallel build jobs (default: number of CPUs)
#   SCALARGRAD_SKIP_DEPS=1   do not check/install the Debian packages (jupyter-notebook included)
#   SCALARGRAD_SKIP_BUILD=1  use the build as it is
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

preset=${SCALARGRAD_PRESET:-release}
jobs=${SCALARGRAD_JOBS:-$(nproc)}
mode=open
if [[ "${1:-}" == --execute ]]; then
  mode=execute
  shift
fi

if [[ "${SCALARGRAD_SKIP_DEPS:-0}" != 1 ]]; then
  if [[ $mode == open ]]; then
    bash tools/install-deps.sh jupyter-notebook  # the notebook server, beside the usual packages
  else
    bash tools/install-deps.sh
  fi
fi
if [[ "${SCALARGRAD_SKIP_BUILD:-0}" != 1 ]]; then
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" --target scalargrad_python --parallel "$jobs"
fi

build="$PWD/build/$preset/python"
if [[ ! -f "$build/scalargrad/__init__.py" ]]; then
  echo "notebooks: $build/scalargrad is missing: the Python module was not built" \
       "(it needs Debian's pybind11-dev and python3-dev; see the cmake output)" >&2
  exit 1
fi
python=$(sed -n 's/^Python3_EXECUTABLE:FILEPATH=//p' "build/$preset/CMakeCache.txt")
python=${python:-/usr/bin/python3}

shopt -s nullglob
notebooks=(examples/notebooks/*.ipynb)
if [[ $mode == execute ]]; then
  if ((${#notebooks[@]} == 0)); then
    echo "notebooks: no notebook in examples/notebooks" >&2
    exit 1
  fi
  exec "$python" python/run_notebooks.py --build-python-dir "$build" \
    --output-dir "$build/notebooks-out" "${notebooks[@]}"
fi

export PYTHONPATH="$build${PYTHONPATH:+:$PYTHONPATH}"
export JUPYTER_PATH="$build/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
if ! "$python" -c "import notebook" 2>/dev/null; then
  echo "notebooks: $python has no Jupyter Notebook (Debian: sudo apt-get install jupyter-notebook)" >&2
  exit 1
fi
echo "notebooks: PYTHONPATH=$PYTHONPATH"
exec "$python" -m notebook --notebook-dir=examples/notebooks "$@"
