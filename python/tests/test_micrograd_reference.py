"""micrograd's published reference values (its test/test_engine.py, checked there against PyTorch
in float64, and the lecture's neuron), through scalargrad's Python module, written as micrograd's
tests write them. The exact values are worked out by hand as in
tests/autograd/micrograd_reference_test.cpp."""

import math

import pytest

from scalargrad.engine import Value


def test_sanity_check_gives_exact_value_and_gradient():
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xmg, ymg = x, y

    # Published (micrograd vs PyTorch): y = -20, dy/dx = 46; all intermediates are integers.
    assert ymg.data == -20.0
    assert xmg.grad == 46.0
    assert (z.data, q.data, h.data) == (-10.0, 40.0, 100.0)


def test_more_ops_gives_published_value_and_gradients():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()

    assert (c.data, d.data, e.data, f.data) == (-1.0, 6.0, -7.0, 49.0)
    # micrograd's tolerance (1e-6) on PyTorch's values.
    tol = 1e-6
    assert abs(g.data - 24.70408163265306) < tol
    assert abs(a.grad - 138.83381924198250) < tol
    assert abs(b.grad - 645.57725947521870) < tol
    # The README's printed digits.
    assert f"{g.data:.4f} {a.grad:.4f} {b.grad:.4f}" == "24.7041 138.8338 645.5773"
    # Exact: g = 2421/98, dg/da = 47620/343, dg/db = 221433/343.
    assert g.data == pytest.approx(2421 / 98, rel=1e-14)
    assert a.grad == pytest.approx(47620 / 343, rel=1e-14)
    assert b.grad == pytest.approx(221433 / 343, rel=1e-14)


def lecture_neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    return (x1, x2, w1, w2, b), n


@pytest.mark.parametrize("form", ["tanh", "exp"])
def test_lecture_neuron_gives_published_output_and_gradients(form):
    (x1, x2, w1, w2, b), n = lecture_neuron()
    if form == "tanh":
        o = n.tanh()
    else:  # the lecture's second form: tanh written with exp, / and -
        e = (2 * n).exp()
        o = (e - 1) / (e + 1)
    o.backward()
    assert f"{o.data:.4f}" == "0.7071"
    assert o.data == pytest.approx(1 / math.sqrt(2), rel=1e-14)
    # do/dn = 1 - o^2 = 1/2; the gradients are 1/2 times x1, w1, x2, w2, 1.
    expected = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}
    got = {v.label: v.grad for v in (x1, x2, w1, w2, b)}
    assert got == pytest.approx(expected, abs=1e-12)


def test_micrograd_readme_program_runs_with_only_its_imports_changed(capsys):
    program = '''
from micrograd.engine import Value

a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
print(f'{g.data:.4f}') # prints 24.7041, the outcome of this forward pass
g.backward()
print(f'{a.grad:.4f}') # prints 138.8338, i.e. the numerical value of dg/da
print(f'{b.grad:.4f}') # prints 645.5773, i.e. the numerical value of dg/db
'''
    exec(compile(program.replace("micrograd", "scalargrad"), "readme", "exec"), {})
    assert capsys.readouterr().out.split() == ["24.7041", "138.8338", "645.5773"]
