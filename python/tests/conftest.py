"""Shared fixtures of scalargrad's Python tests (run by ctest as python.<name>, with PYTHONPATH
pointing at the built package; see python/CMakeLists.txt)."""

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def cli():
    """The `scalargrad` command built with the module (ctest sets SCALARGRAD_CLI), else skip."""
    path = os.environ.get("SCALARGRAD_CLI") or shutil.which("scalargrad")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("the scalargrad command is not built (SCALARGRAD_CLI is not set)")
    return path
