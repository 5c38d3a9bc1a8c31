"""The Python module against the C++ side: the same expression, written in Python and given to the
`scalargrad grad --json` command (tools/cli, the engine driven from C++), has the same value and the
same gradient to the last bit; and against finite differences through gradcheck."""

import json
import subprocess

import pytest

import scalargrad as sg

# (expression for the command, the same in Python, the point)
CASES = [
    ("tanh(x1*w1 + x2*w2 + b)",
     lambda v: (v["x1"] * v["w1"] + v["x2"] * v["w2"] + v["b"]).tanh(),
     {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}),
    ("x^3 / y - exp(y) * log(x)",
     lambda v: v["x"] ** 3 / v["y"] - v["y"].exp() * v["x"].log(),
     {"x": 1.5, "y": -0.7}),
    ("relu(x - y) + leaky_relu(y, 0.1) + sigmoid(x*y) + leaky_relu(x)",
     lambda v: (v["x"] - v["y"]).relu() + v["y"].leaky_relu(0.1) + (v["x"] * v["y"]).sigmoid() + v["x"].leaky_relu(),
     {"x": 0.25, "y": -1.25}),
    ("elu(x, 0.5) + gelu(y) + silu(x) + softplus(y) + elu(y)",
     lambda v: v["x"].elu(0.5) + v["y"].gelu() + v["x"].silu() + v["y"].softplus() + v["y"].elu(),
     {"x": -0.3, "y": 0.8}),
    ("sqrt(x) * abs(y) - 2^x + pow(x, y) + x^y",
     lambda v: v["x"].sqrt() * abs(v["y"]) - 2 ** v["x"] + v["x"] ** v["y"] + v["x"].pow(v["y"]),
     {"x": 1.7, "y": -2.5}),
    ("(-x) / (1 + y*y) + 3 - x*2 - 1/x",
     lambda v: (-v["x"]) / (1 + v["y"] * v["y"]) + 3 - v["x"] * 2 - 1 / v["x"],
     {"x": 0.6, "y": 1.1}),
    ("sum(x, y, x*y, tanh(x))",
     lambda v: sg.sum([v["x"], v["y"], v["x"] * v["y"], v["x"].tanh()]),
     {"x": 0.4, "y": -0.9}),
]


def python_side(f, point):
    leaves = {name: sg.Value(x, label=name) for name, x in point.items()}
    y = f(leaves)
    y.backward()
    return y.data, {name: v.grad for name, v in leaves.items()}


def cpp_side(cli, expr, point):
    at = ",".join(f"{name}={x!r}" for name, x in point.items())
    run = subprocess.run([cli, "grad", expr, "--at", at, "--json"], capture_output=True, text=True, check=True)
    result = json.loads(run.stdout)
    return result["value"], result["grad"]


@pytest.mark.parametrize("expr, f, point", CASES, ids=[c[0] for c in CASES])
def test_value_and_gradient_match_the_command_line_exactly(cli, expr, f, point):
    value, grads = python_side(f, point)
    cpp_value, cpp_grads = cpp_side(cli, expr, point)
    assert value == cpp_value
    assert grads == cpp_grads


@pytest.mark.parametrize("expr, f, point", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(expr, f, point):
    names = list(point)
    report = sg.gradcheck(lambda xs: f(dict(zip(names, xs))), [point[n] for n in names], names=names)
    assert report.passed, str(report)
