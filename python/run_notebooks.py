#!/usr/bin/env python3
"""Executes notebooks headless with the scalargrad package of a build tree importable.

    run_notebooks.py --build-python-dir build/release/python [--output-dir DIR] NOTEBOOK...

Each notebook is copied into the output directory and executed there (so that the files it writes
stay out of the source tree) by ``python -m nbconvert --to notebook --execute`` with this
interpreter, which is Jupyter's ``jupyter nbconvert`` run by the interpreter the module was built
for. The environment is the one tools/notebooks.sh gives Jupyter: PYTHONPATH starts with the build's
python/ directory, and JUPYTER_PATH with its jupyter/ directory, whose kernel "python3" runs this
same interpreter. The ctest tests notebooks.<name> (python/CMakeLists.txt) run this script; a cell
that raises fails the notebook, and the script (exit status 1).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def notebook_environment(build_python_dir):
    """os.environ with the build's package and Jupyter kernel first on their paths."""
    env = dict(os.environ)
    for var, path in (("PYTHONPATH", build_python_dir), ("JUPYTER_PATH", os.path.join(build_python_dir, "jupyter"))):
        env[var] = path + (os.pathsep + env[var] if env.get(var) else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiets the kernel's debugger
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-python-dir", required=True,
                        help="the build tree's python/ directory (holding scalargrad/ and jupyter/)")
    parser.add_argument("--output-dir", help="where the executed notebooks go (default: a temporary directory)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()

    build = os.path.abspath(args.build_python_dir)
    if not os.path.isfile(os.path.join(build, "scalargrad", "__init__.py")):
        sys.exit(f"run_notebooks: no scalargrad package in {build}: build the module first")
    env = notebook_environment(build)
    check = subprocess.run([sys.executable, "-c", "import scalargrad"], env=env)
    if check.returncode != 0:
        sys.exit(f"run_notebooks: {sys.executable} cannot import scalargrad from {build}")

    out_dir = os.path.abspath(args.output_dir) if args.output_dir else tempfile.mkdtemp(prefix="scalargrad-notebooks-")
    os.makedirs(out_dir, exist_ok=True)
    failed = []
    for notebook in args.notebooks:
        target = os.path.join(out_dir, os.path.basename(notebook))
        shutil.copyfile(notebook, target)
        command = [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                   "--ExecutePreprocessor.kernel_name=python3", f"--ExecutePreprocessor.timeout={args.timeout}",
                   target]
        print("run_notebooks:", " ".join(command), flush=True)
        if subprocess.run(command, env=env, cwd=out_dir).returncode != 0:
            failed.append(notebook)
        else:
            print(f"run_notebooks: {notebook}: ok (executed copy: {target})", flush=True)
    if failed:
        sys.exit("run_notebooks: failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
