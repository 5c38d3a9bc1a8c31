"""micrograd's ``micrograd.engine``: ``from scalargrad.engine import Value``."""

from ._scalargrad import Value  # noqa: F401

__all__ = ["Value"]
