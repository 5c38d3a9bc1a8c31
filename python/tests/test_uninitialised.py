"""Objects made by `Cls.__new__(Cls)`, whose __init__ never ran, hold no C++ object: every use of
one, by any compiled class, raises TypeError rather than reading uninitialised memory (Note
[Objects without __init__] in python/src/module.cpp).

On a module without the check these uses crash the interpreter, so each test runs in a child
pytest (@isolated): a crash is then this test's failure, with the child's exit code and output,
and not the end of the whole file."""

import functools
import inspect
import os
import re
import subprocess
import sys

import pytest

import scalargrad as sg
import scalargrad.nn as nn
from scalargrad import _scalargrad as compiled


def isolated(test):
    """Runs the test in a child pytest (same interpreter and environment); fails if the child
    fails or dies (exit code -11: a segmentation fault)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        if os.environ.get("SCALARGRAD_ISOLATED") == "1":
            return test(*args, **kwargs)
        # PYTEST_CURRENT_TEST: "<file>::<test name, with its parameters> (call)"
        name = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0].split("::", 1)[1]
        child = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--rootdir", os.path.dirname(__file__), __file__ + "::" + name],
            env={**os.environ, "SCALARGRAD_ISOLATED": "1"}, capture_output=True, text=True, timeout=300)
        if child.returncode != 0 or "1 passed" not in child.stdout:
            pytest.fail("child pytest exited with %d (-11: a segmentation fault)\n%s\n%s" % (
                child.returncode, child.stdout[-3000:], child.stderr[-3000:]), pytrace=False)

    return run


def not_initialised(cls):
    """The message of a use of an instance of cls whose __init__ never ran."""
    return "^" + re.escape(cls.__name__ + " object is not initialised: __init__ was not called") + "$"


# Every class the extension binds, by its public path.
CLASSES = {
    "Value": sg.Value,
    "no_grad": sg.no_grad,
    "detect_anomaly": sg.detect_anomaly,
    "GradcheckEntry": sg.GradcheckEntry,
    "GradcheckReport": sg.GradcheckReport,
    "nn.Parameter": nn.Parameter,
    "nn._Module": compiled.nn._Module,
    "nn.Neuron": nn.Neuron,
    "nn.Layer": nn.Layer,
    "nn.MLP": nn.MLP,
    "nn.Optimizer": nn.Optimizer,
    "nn.SGD": nn.SGD,
    "nn.Adam": nn.Adam,
}


def test_every_compiled_class_is_swept():
    bound = set()
    for module in (compiled, compiled.nn):
        for obj in vars(module).values():
            if isinstance(obj, type) and type(obj).__name__ == "pybind11_type":
                bound.add(obj)
    assert bound == set(CLASSES.values())


# Names of the classes' own attributes that do not reach the C++ object: construction, and
# Python's bookkeeping.
NOT_USES = {"__init__", "__new__", "__module__", "__doc__", "__dict__", "__weakref__"}

# Arguments of the methods that take some (the rest are called without).
ARGUMENTS = {
    "__call__": ([1.0, 2.0],),
    "scores": ([[1.0, 2.0]],),
    "__exit__": (None, None, None),
    "save": ("unused.json",),
    "load_weights": ("unused.json",),
    "pow": (2.0,),
    "leaky_relu": (0.1,),
    "elu": (1.0,),
}
BINARY = {"__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
          "__rtruediv__", "__pow__", "__rpow__"}
# Properties and data descriptors that can be set, and a value for each.
SETTABLE = {"learning_rate": 0.1, "label": "x", "data": 1.0, "grad": 1.0}


def uses_of(cls):
    """{name: use(obj)} for every method, property and data descriptor cls and its compiled bases
    define: a call with plausible arguments, a read, and a write where settable."""
    uses = {}
    for klass in cls.__mro__:
        if klass is object or klass.__name__ == "pybind11_object":
            continue
        for name, attr in vars(klass).items():
            if name in NOT_USES or name in uses or isinstance(attr, (staticmethod, classmethod)):
                continue
            if inspect.isdatadescriptor(attr):
                uses[name] = lambda obj, name=name: getattr(obj, name)
                if name in SETTABLE:
                    uses["set " + name] = lambda obj, name=name: setattr(obj, name, SETTABLE[name])
            elif callable(attr):
                args = (2.0,) if name in BINARY else ARGUMENTS.get(name, ())
                uses[name] = lambda obj, name=name, args=args: getattr(obj, name)(*args)
    return uses


def test_the_sweep_finds_the_methods_and_properties():
    assert {"parameters", "zero_grad", "num_parameters", "__repr__", "__call__", "layers", "nin", "nout",
            "to_json", "save", "load_weights"} <= set(uses_of(nn.MLP))
    assert {"w", "b", "nonlin", "activation", "nin", "__call__", "parameters"} <= set(uses_of(nn.Neuron))
    assert {"step", "zero_grad", "learning_rate", "set learning_rate"} <= set(uses_of(nn.SGD))
    assert {"__enter__", "__exit__"} <= set(uses_of(sg.no_grad))
    assert {"name", "passed", "__repr__"} <= set(uses_of(sg.GradcheckEntry))
    assert {"entries", "__bool__", "__str__"} <= set(uses_of(sg.GradcheckReport))


@pytest.mark.parametrize("cls", CLASSES.values(), ids=CLASSES.keys())
@isolated
def test_every_method_and_property_raises_type_error(cls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # save() would write there
    obj = cls.__new__(cls)
    for attempt in ("first", "second"):  # the second: no use allocated a C++ object in its place
        for name, use in uses_of(cls).items():
            try:
                with pytest.raises(TypeError, match=not_initialised(cls)):
                    use(obj)
            except (AssertionError, pytest.fail.Exception) as e:
                pytest.fail("%s, %s use: %s" % (cls.__name__, name, e), pytrace=False)
    assert os.listdir(tmp_path) == []


# The reports that found this: each crashed, printed garbage or said something else.
@isolated
def test_an_mlp_s_parameters():
    with pytest.raises(TypeError, match=not_initialised(nn.MLP)):
        nn.MLP.__new__(nn.MLP).parameters()


@isolated
def test_an_sgd_s_step():
    with pytest.raises(TypeError, match=not_initialised(nn.SGD)):
        nn.SGD.__new__(nn.SGD).step()


@isolated
def test_a_neuron_s_nin():
    with pytest.raises(TypeError, match=not_initialised(nn.Neuron)):
        nn.Neuron.__new__(nn.Neuron).nin


@isolated
def test_entering_a_no_grad_block():
    guard = sg.no_grad.__new__(sg.no_grad)
    with pytest.raises(TypeError, match=not_initialised(sg.no_grad)):
        with guard:
            pass
    assert sg.is_grad_enabled()


# Functions that take a compiled object as an argument.
MODEL_ARGUMENT_USES = {
    "l2_penalty": lambda model: nn.l2_penalty(model, 0.1),
    "_l2_penalty": lambda model: compiled.nn._l2_penalty(model, 0.1),
    "weight_grad_norms": nn.weight_grad_norms,
    "dead_neurons": lambda model: nn.dead_neurons(model, [[1.0, 2.0]]),
    "SGD(model.parameters())": lambda model: nn.SGD(model.parameters(), lr=0.1),
    "Adam(model.parameters())": lambda model: nn.Adam(model.parameters()),
}


@pytest.mark.parametrize("use", MODEL_ARGUMENT_USES.values(), ids=MODEL_ARGUMENT_USES.keys())
@isolated
def test_a_model_as_an_argument(use):
    with pytest.raises(TypeError, match=not_initialised(nn.MLP)):
        use(nn.MLP.__new__(nn.MLP))


@isolated
def test_a_subclass_is_named_and_works_once_init_ran():
    class Net(nn.MLP):
        pass

    net = Net.__new__(Net)
    for use in (lambda: net.parameters(), lambda: net([1.0, 2.0]), lambda: nn.l2_penalty(net, 0.1),
                lambda: repr(net)):
        with pytest.raises(TypeError, match=r"^Net object is not initialised: __init__ was not called$"):
            use()
    net.__init__(2, [3, 1])  # once it has run, the object works
    assert net.nin == 2 and len(net.parameters()) == 13
    assert isinstance(net([1.0, 2.0]), sg.Value)


def test_views_into_a_model_are_initialised():
    # model.layers and layer.neurons own nothing (their holders are never constructed): they work.
    model = nn.MLP(2, [3, 1])
    neuron = model.layers[0].neurons[1]
    assert neuron.nin == 2 and model.layers[1].nout == 1
    assert len(neuron.parameters()) == 3
    assert nn.l2_penalty(model.layers[0], 0.5).data > 0


@isolated
def test_value_init_on_a_parameter_raises_type_error():
    # Regression: Value.__init__ on a Parameter (a pybind11 subclass of Value) aborted the
    # interpreter inside pybind11's dispatcher (Note [Value.__init__ on a Parameter]).
    message = r"^Value\.__init__\(\) cannot initialise a Parameter: call Parameter\.__init__\(\)"
    p = nn.Parameter(2.0)
    with pytest.raises(TypeError, match=message):
        sg.Value.__init__(p, 1.0)
    assert p.data == 2.0  # untouched
    with pytest.raises(TypeError, match=message):
        sg.Value.__init__(nn.Parameter.__new__(nn.Parameter), 1.0)

    class Weight(nn.Parameter):
        def __init__(self, x):
            sg.Value.__init__(self, x)  # the mistake: Value's __init__, not Parameter's

    with pytest.raises(TypeError, match=message):
        Weight(1.0)


def test_value_init_keeps_its_signature_and_forms():
    assert str(inspect.signature(sg.Value.__init__)) == "(self, data, _children=(), _op='', label='')"
    assert sg.Value(2.5).data == 2.5
    assert sg.Value(data=5).data == 5.0
    assert sg.Value(1.0, (), "", "z").label == "z"

    class Named(sg.Value):
        def __init__(self, x):
            super().__init__(x, label="named")

    v = Named(3.0)
    assert (v.data, v.label, type(v).__name__) == (3.0, "named", "Named")
    assert (v * 2).data == 6.0
    with pytest.raises(TypeError, match=r"^descriptor '__init__' for 'Value' objects doesn't apply to a 'int'"):
        sg.Value.__init__(5, 1.0)
