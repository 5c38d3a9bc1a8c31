"""Pictures and checks: to_dot, render (SVG files, and SVG for notebooks), gradcheck."""

import math
import os
import pathlib
import re

import pytest

import scalargrad as sg
from scalargrad import Value
from scalargrad.nn import MLP


def neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.label = "o"
    o.backward()
    return o


def test_to_dot_is_micrograds_picture():
    text = sg.to_dot(neuron())
    assert "digraph" in text
    for label in ("x1", "w1", "x2", "w2", "b", "o", "tanh"):
        assert label in text
    assert "data 0.7071" in text and "grad 1.0000" in text
    assert "data 0.707107" in sg.to_dot(neuron(), precision=6)
    assert "| grad" in text and "| grad" not in sg.to_dot(neuron(), show_grad=False)
    with pytest.raises(sg.Error):
        sg.to_dot(neuron(), precision=99)
    with pytest.raises(sg.Error):
        sg.to_dot(MLP(2, [16, 16, 1])([1.0, 2.0]), max_nodes=10)


def test_to_dot_of_a_model_clusters_its_layers():
    model = MLP(2, [3, 1])
    out = model([1.0, 2.0])
    out.backward()
    text = sg.to_dot(out, color_by_grad=True)
    assert "cluster" in text and "layer1" in text


def test_cluster_layers_groups_labelled_values_by_their_prefix():
    w, x = Value(2.0, label="layer1/w"), Value(3.0, label="x")
    y = w * x
    y.label = "layer1/y"
    clustered = sg.to_dot(y)  # cluster_layers=True by default
    cluster = re.search(r'subgraph cluster_0_layer1 \{\n    label="layer1";\n(.*?)\n  \}', clustered, re.S)
    assert cluster is not None
    inside = cluster.group(1)
    assert '{ w | data 2.0000' in inside and '{ y | data 6.0000' in inside and 'label="*"' in inside
    assert '{ x | data 3.0000' not in inside and '{ x | data 3.0000' in clustered  # unlabelled: outside
    assert sg.to_dot(y, cluster_layers=True) == clustered
    flat = sg.to_dot(y, cluster_layers=False)
    assert "subgraph" not in flat and "cluster" not in flat
    assert '{ layer1/w | data 2.0000' in flat and '{ layer1/y | data 6.0000' in flat  # full labels kept
    model_out = MLP(2, [3, 1])([1.0, 2.0])
    assert "subgraph cluster_0_layer2" in sg.to_dot(model_out)
    assert "subgraph" not in sg.to_dot(model_out, cluster_layers=False)


def test_version_is_the_projects():
    # The top CMakeLists.txt's project(VERSION ...), which the module is built with.
    text = (pathlib.Path(__file__).resolve().parents[2] / "CMakeLists.txt").read_text(encoding="utf-8")
    declared = re.search(r"project\(\s*scalargrad\b.*?\bVERSION\s+(\d+\.\d+\.\d+)", text, re.S)
    assert declared is not None
    assert sg.__version__ == declared.group(1)
    assert sg._scalargrad.__version__ is sg.__version__


needs_graphviz = pytest.mark.skipif(sg.render_backend() == "", reason="Graphviz is not installed")


@needs_graphviz
def test_render_writes_an_svg_file(tmp_path):
    path = tmp_path / "neuron.svg"
    assert sg.render(neuron(), path) == path
    text = path.read_text()
    assert "<svg" in text and "tanh" in text


@needs_graphviz
def test_render_without_a_path_gives_an_svg_for_notebooks():
    svg = sg.render(neuron())
    assert isinstance(svg, sg.SVG)
    assert "<svg" in svg._repr_svg_() and svg.data == str(svg)
    assert "<svg" in sg.draw_dot(neuron()).data


@needs_graphviz
def test_render_takes_a_name_that_is_not_utf8(tmp_path):
    # Regression: _render_file took a C++ std::string, and TypeError refused '\udcff.svg'.
    path = os.path.join(str(tmp_path), os.fsdecode(b"\xff.svg"))
    assert sg.render(neuron(), path) == path
    assert b"<svg" in open(os.fsencode(path), "rb").read()
    with pytest.raises(TypeError, match="^render: path must be a str or os.PathLike"):
        sg._render_file(neuron(), 3)


def test_render_refuses_an_unknown_format(tmp_path):
    with pytest.raises(sg.Error):
        sg.render(neuron(), tmp_path / "graph.gif")
    with pytest.raises(ValueError):
        sg.draw_dot(neuron(), format="png")


def test_gradcheck_report():
    report = sg.gradcheck(lambda v: (v[0] * v[1]).tanh() + v[0] ** 3, [0.5, -1.5])
    assert report.passed and bool(report)
    assert report.value == pytest.approx(math.tanh(-0.75) + 0.125)
    assert [e.name for e in report.entries] == ["x0", "x1"]
    for e in report.entries:
        assert e.passed and e.abs_error <= 1e-6
        assert e.analytic == pytest.approx(e.numeric, rel=1e-6)
        assert e.abs_error == pytest.approx(abs(e.analytic - e.numeric))
        assert e.rel_error >= 0.0
    assert [e.input for e in report.entries] == [0.5, -1.5]
    assert "gradcheck: passed" in str(report)
    named = sg.gradcheck(lambda v: v[0] * v[1], [1.0, 2.0], names=["a", "b"])
    assert [e.name for e in named.entries] == ["a", "b"]
    assert "GradcheckEntry(name='a'" in repr(named.entries[0])


def test_gradcheck_finds_the_kink_and_reports_failure():
    report = sg.gradcheck(lambda v: v[0].relu(), [0.0])  # relu'(0) = 0; the difference says 0.5
    assert not report.passed
    assert report.entries[0].analytic == 0.0 and report.entries[0].numeric == pytest.approx(0.5)
    assert "FAILED" in str(report)


def test_gradcheck_errors():
    with pytest.raises(TypeError, match="gradcheck: f's result must be a number or a Value, not 'str'"):
        sg.gradcheck(lambda v: "x", [1.0])
    with pytest.raises(ZeroDivisionError):
        sg.gradcheck(lambda v: 1 / 0, [1.0])
    with pytest.raises(sg.Error, match="eps must be positive"):
        sg.gradcheck(lambda v: v[0], [1.0], eps=0.0)
    with pytest.raises(sg.Error, match="names"):
        sg.gradcheck(lambda v: v[0], [1.0], names=["a", "b"])

    def calls_backward(v):
        y = v[0] * v[0]
        y.backward()
        return y

    # Regression: the message was about a NoGradGuard the caller never made (gradcheck's own).
    with pytest.raises(sg.Error, match=r"^scalargrad: gradcheck: the function called backward\(\), which "
                                       r"gradcheck calls itself"):
        sg.gradcheck(calls_backward, [3.0])
    assert sg.is_grad_enabled()
