"""Every operator of Value and its reflected form, with float, int, bool, Value, Parameter and
numpy operands: the value, the type of the result and both gradients; the unary operators; and
the TypeError of an operand of another type, which must read as Python's own."""

import math
import operator
import re

import pytest

import scalargrad as sg
from scalargrad import Value
from scalargrad.nn import Parameter

# name -> (operator, (a, b) -> (d/da, d/db))
BINARY = {
    "+": (operator.add, lambda a, b: (1.0, 1.0)),
    "-": (operator.sub, lambda a, b: (1.0, -1.0)),
    "*": (operator.mul, lambda a, b: (b, a)),
    "/": (operator.truediv, lambda a, b: (1 / b, -a / b**2)),
    "**": (operator.pow, lambda a, b: (b * a ** (b - 1), a**b * math.log(a))),
}

# Constant operands: (python value, as a double)
CONSTANTS = {
    "float": 0.75,
    "int": 3,
    "bool": True,
    "negative int": -2,
}

X = 1.5  # positive: every op (including x ** y and c ** x) is defined here


@pytest.mark.parametrize("kind", CONSTANTS)
@pytest.mark.parametrize("name", BINARY)
def test_value_op_number(name, kind):
    op, grads = BINARY[name]
    c = CONSTANTS[kind]
    x = Value(X)
    y = op(x, c)
    assert type(y) is Value
    assert y.data == pytest.approx(op(X, float(c)), rel=1e-15)
    y.backward()
    assert x.grad == pytest.approx(grads(X, float(c))[0], rel=1e-14)


@pytest.mark.parametrize("kind", ["float", "int", "bool"])
@pytest.mark.parametrize("name", BINARY)
def test_number_op_value_uses_the_reflected_form(name, kind):
    op, grads = BINARY[name]
    c = {"float": 0.75, "int": 3, "bool": True}[kind]
    x = Value(X)
    y = op(c, x)  # int.__add__(Value) is NotImplemented: Value.__radd__ & co.
    assert type(y) is Value
    assert y.data == pytest.approx(op(float(c), X), rel=1e-15)
    y.backward()
    assert x.grad == pytest.approx(grads(float(c), X)[1], rel=1e-14)


@pytest.mark.parametrize("name", BINARY)
def test_value_op_value_gives_both_gradients(name):
    op, grads = BINARY[name]
    a, b = Value(X), Value(2.5)
    y = op(a, b)
    y.backward()
    assert y.data == pytest.approx(op(X, 2.5), rel=1e-15)
    da, db = grads(X, 2.5)
    assert a.grad == pytest.approx(da, rel=1e-14)
    assert b.grad == pytest.approx(db, rel=1e-14)


@pytest.mark.parametrize("name", BINARY)
def test_one_value_on_both_sides_accumulates(name):
    op, grads = BINARY[name]
    x = Value(X)
    y = op(x, x)
    y.backward()
    assert x.grad == pytest.approx(sum(grads(X, X)), rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("name", BINARY)
def test_parameters_are_operands_on_either_side(name):
    op, grads = BINARY[name]
    cases = [  # (expression, the point (a, b), which of a and b the parameter is)
        (lambda p, x: op(p, x), (X, 2.5), 0),
        (lambda p, x: op(x, p), (2.5, X), 1),
        (lambda p, x: op(p, 2.0), (X, 2.0), 0),
        (lambda p, x: op(2.0, p), (2.0, X), 1),
    ]
    for f, point, which in cases:
        p, x = Parameter(X), Value(2.5)
        y = f(p, x)
        assert type(y) is Value
        assert y.data == pytest.approx(op(*point), rel=1e-15)
        y.backward()
        assert p.grad == pytest.approx(grads(*point)[which], rel=1e-14)


def test_in_place_operators_rebind_as_in_micrograd():
    x = Value(2.0)
    y = x
    y += 1  # no __iadd__: a new Value, x untouched
    y *= 3
    y -= 1
    y /= 2
    y **= 2
    assert (x.data, y.data) == (2.0, 16.0)
    y.backward()
    assert x.grad == pytest.approx(2 * 4.0 * 1.5)  # d/dx ((3(x+1) - 1)/2)^2


def test_value_exponent_and_number_base():
    x, p = Value(1.5), Value(2.0)
    y = x**p
    y.backward()
    assert y.data == pytest.approx(1.5**2)
    assert x.grad == pytest.approx(2 * 1.5)
    assert p.grad == pytest.approx(1.5**2 * math.log(1.5))
    z = Value(3.0)
    w = 2**z  # __rpow__: micrograd has none
    w.backward()
    assert w.data == pytest.approx(8.0)
    assert z.grad == pytest.approx(8.0 * math.log(2.0))
    assert Value(2.0).pow(3).data == 8.0
    assert Value(2.0).pow(Value(3.0)).data == 8.0


def test_pow_with_a_modulus_is_refused():
    with pytest.raises(TypeError):
        pow(Value(2.0), 3, 5)


def test_unary_operators():
    x = Value(-1.5)
    n, p, a = -x, +x, abs(x)
    for y in (n, p, a):
        assert type(y) is Value
    assert (n.data, p.data, a.data) == (1.5, -1.5, 1.5)
    (n + a).backward()
    assert x.grad == -2.0  # d(-x)/dx = -1, d|x|/dx = sign(x) = -1
    y = Value(2.0)
    (+y).backward()
    assert y.grad == 1.0


def test_numpy_scalars_are_numbers():
    np = pytest.importorskip("numpy")
    x = Value(1.5)
    for c in (np.float64(2.0), np.int64(2), np.float32(2.0), np.int32(2)):
        for y in (x * c, c * x, x + c, c + x, x - c, c - x, x / c, c / x, x**c):
            assert isinstance(y, Value)
    assert (x * np.int64(2)).data == 3.0
    assert (np.int64(2) * x).data == 3.0
    assert (-np.int64(1) * x).data == -1.5  # micrograd's demo: -yi*scorei with numpy labels
    assert Value(np.float64(0.25)).data == 0.25
    assert Value(np.int64(3)).data == 3.0


def test_other_number_types_are_numbers():
    from decimal import Decimal
    from fractions import Fraction
    x = Value(1.5)
    assert (x * Fraction(1, 2)).data == 0.75
    assert (Decimal("0.5") + x).data == 2.0


def test_an_int_too_large_for_a_double_raises_overflow():
    with pytest.raises(OverflowError):
        Value(1.0) + 10**400


# ---- TypeError for other operand types ---------------------------------------------------------

class _Reference:
    """A class written in Python whose operators give NotImplemented for everything: Python's
    own message for an unsupported operand, which Value's must match word for word."""

    def _no(self, other):
        return NotImplemented

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _no
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = _no


def python_message(op, left, right):
    try:
        op(left, right)
    except TypeError as e:
        return str(e)
    raise AssertionError("expected a TypeError")


BAD_OPERANDS = {
    "str": "x",
    "None": None,
    "list": [1.0],
    "dict": {"a": 1},
    "object": object(),
    "complex": 1j,
}


@pytest.mark.parametrize("bad", BAD_OPERANDS)
@pytest.mark.parametrize("name", BINARY)
def test_bad_operand_raises_pythons_type_error(name, bad):
    op = BINARY[name][0]
    other = BAD_OPERANDS[bad]
    Reference = type("Value", (_Reference,), {})  # same class name: same message
    for left_is_value in (True, False):
        v, r = Value(1.5), Reference()
        args, ref_args = ((v, other), (r, other)) if left_is_value else ((other, v), (other, r))
        with pytest.raises(TypeError) as caught:
            op(*args)
        assert str(caught.value) == python_message(op, *ref_args)


def test_bad_operand_messages_read_as_the_issue_says():
    with pytest.raises(TypeError, match=re.escape("unsupported operand type(s) for +: 'Value' and 'str'")):
        Value(1.0) + "x"
    with pytest.raises(TypeError, match=re.escape("unsupported operand type(s) for *: 'NoneType' and 'Value'")):
        None * Value(1.0)
    with pytest.raises(TypeError, match=re.escape("unsupported operand type(s) for ** or pow(): 'Value' and 'list'")):
        Value(1.0) ** [2]
    with pytest.raises(TypeError, match=re.escape("unsupported operand type(s) for /: 'Parameter' and 'str'")):
        Parameter(1.0) / "x"


def test_comparisons_are_not_defined_as_in_micrograd():
    a, b = Value(1.0), Value(2.0)
    with pytest.raises(TypeError):
        a < b
    assert a != b and a == a  # identity, as micrograd's
    assert len({a, b, a}) == 2


def test_bad_data_and_grad_types():
    with pytest.raises(TypeError, match=re.escape("Value(data): data must be a number (float or int), not 'str'")):
        Value("1.0")
    with pytest.raises(TypeError, match="not 'NoneType'"):
        Value(None)
    with pytest.raises(TypeError, match="not 'Value'"):
        Value(Value(1.0))
    x = Value(1.0)
    with pytest.raises(TypeError, match=re.escape("Value.data must be a number (float or int), not 'str'")):
        x.data = "2"
    with pytest.raises(TypeError, match=re.escape("Value.grad must be a number (float or int), not 'list'")):
        x.grad = [1]
    with pytest.raises(TypeError, match=re.escape("Parameter.data must be a number")):
        Parameter(1.0).data = None
