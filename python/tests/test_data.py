"""make_moons: the shapes, labels and geometry of the two moons, and their seed."""

import math

import pytest

from scalargrad.nn import make_moons


def test_shapes_and_labels():
    X, y = make_moons(100, 0.1)
    assert len(X) == 100 and len(y) == 100
    assert all(len(row) == 2 for row in X)
    assert all(isinstance(v, float) for row in X for v in row)
    assert sorted(set(y)) == [-1.0, 1.0]
    assert y.count(-1.0) == 50 and y.count(1.0) == 50
    X, y = make_moons(7, 0.1, zero_one=True)
    assert len(X) == 7 and set(y) <= {0.0, 1.0} and y.count(0.0) == 3


def test_seed():
    assert make_moons(50, 0.1, seed=3) == make_moons(50, 0.1, seed=3)
    assert make_moons(50, 0.1, seed=3) != make_moons(50, 0.1, seed=4)
    assert make_moons() == make_moons(100, 0.1, 1)


def test_without_noise_points_lie_on_the_two_half_circles():
    X, y = make_moons(40, 0.0)
    for (a, b), label in zip(X, y):
        if label < 0:  # the upper moon: the unit circle, y >= 0
            assert math.hypot(a, b) == pytest.approx(1.0) and b >= -1e-12
        else:  # the lower moon: centred at (1, 0.5), y <= 0.5
            assert math.hypot(a - 1, b - 0.5) == pytest.approx(1.0) and b <= 0.5 + 1e-12


def test_numpy_arrays_from_the_lists():
    np = pytest.importorskip("numpy")
    X, y = make_moons(100, 0.1)
    assert np.asarray(X).shape == (100, 2) and np.asarray(y).shape == (100,)
