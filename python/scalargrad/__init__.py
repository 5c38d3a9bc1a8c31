"""scalargrad: micrograd's ``Value`` and ``nn`` on a C++ tape-based autodiff engine.

A micrograd program runs on it once its imports say scalargrad::

    from scalargrad.engine import Value
    from scalargrad.nn import MLP

See docs/python.md for the API, the differences from micrograd, and the notebooks.
"""

import os as _os
import tempfile as _tempfile

from ._scalargrad import (  # noqa: F401  (re-exported)
    AnomalyError,
    Error,
    GradcheckEntry,
    GradcheckReport,
    Value,
    __version__,
    affine,
    detect_anomaly,
    dot,
    gradcheck,
    is_grad_enabled,
    no_grad,
    render_backend,
    sum,
    tape_stats,
    to_dot,
    topological_order,
)
from ._scalargrad import _render_file
from . import engine, nn  # noqa: F401,E402

# The fused ops `sum`, `dot` and `affine` are left out of `from scalargrad import *`: `sum` would
# hide the builtin sum, and the other two go with it, so that all three are reached one way (sg.dot).
__all__ = [
    "Value", "Error", "AnomalyError", "to_dot", "render", "draw_dot", "SVG", "render_backend",
    "gradcheck", "GradcheckReport", "GradcheckEntry", "no_grad", "detect_anomaly",
    "is_grad_enabled", "tape_stats", "topological_order", "engine", "nn",
]


class SVG:
    """An SVG picture that Jupyter shows inline (``_repr_svg_``); ``.data`` is its text."""

    def __init__(self, data):
        self.data = data

    def _repr_svg_(self):
        return self.data

    def __str__(self):
        return self.data

    def __repr__(self):
        return "SVG(%d characters)" % len(self.data)

    def save(self, path):
        """Writes the SVG text to ``path``."""
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.data)


def render(root, path=None, **options):
    """Draws ``root``'s graph through Graphviz (micrograd's ``draw_dot``).

    With ``path`` (ending in .svg, .png or .pdf), writes that file and returns the path. Without,
    returns an :class:`SVG` that a notebook shows inline. ``options`` are ``to_dot``'s:
    ``precision``, ``show_grad``, ``color_by_grad``, ``cluster_layers``, ``max_nodes``. Raises
    :class:`Error` when Graphviz is missing (``render_backend()`` is then ``''``).
    """
    if path is not None:
        _render_file(root, _os.fspath(path), **options)
        return path
    with _tempfile.TemporaryDirectory(prefix="scalargrad-") as tmp:
        svg = _os.path.join(tmp, "graph.svg")
        _render_file(root, svg, **options)
        with open(svg, encoding="utf-8") as f:
            return SVG(f.read())


def draw_dot(root, format="svg", rankdir="LR", **options):
    """micrograd's notebook helper: ``render(root)`` as an inline SVG (format must be 'svg',
    rankdir 'LR': the picture is always drawn left to right)."""
    if format != "svg" or rankdir != "LR":
        raise ValueError("draw_dot draws SVG left to right; use render(root, 'graph.png') for a PNG")
    return render(root, **options)
