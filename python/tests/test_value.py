"""Value beyond its operators: every op as a method (value and derivative against closed forms),
data and grad, micrograd's constructor and repr, graph introspection, gradient semantics, and the
errors: scalargrad.Error for misuse, and a Value used on another thread."""

import math
import os
import re
import struct
import threading

import pytest

import scalargrad as sg
from scalargrad import Value


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def phi(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def Phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


# name -> (call on a Value, f, f')
OPS = {
    "relu": (lambda v: v.relu(), lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda v: v.leaky_relu(), lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
    "leaky_relu(0.2)": (lambda v: v.leaky_relu(0.2), lambda x: x if x > 0 else 0.2 * x,
                        lambda x: 1.0 if x > 0 else 0.2),
    "tanh": (lambda v: v.tanh(), math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "sigmoid": (lambda v: v.sigmoid(), sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x))),
    "exp": (lambda v: v.exp(), math.exp, math.exp),
    "elu": (lambda v: v.elu(), lambda x: x if x > 0 else math.exp(x) - 1, lambda x: 1.0 if x > 0 else math.exp(x)),
    "elu(0.5)": (lambda v: v.elu(0.5), lambda x: x if x > 0 else 0.5 * (math.exp(x) - 1),
                 lambda x: 1.0 if x > 0 else 0.5 * math.exp(x)),
    "gelu": (lambda v: v.gelu(), lambda x: x * Phi(x), lambda x: Phi(x) + x * phi(x)),
    "silu": (lambda v: v.silu(), lambda x: x * sigmoid(x), lambda x: sigmoid(x) * (1 + x * (1 - sigmoid(x)))),
    "softplus": (lambda v: v.softplus(), lambda x: math.log1p(math.exp(x)), sigmoid),
    "abs": (lambda v: v.abs(), abs, lambda x: math.copysign(1.0, x) if x != 0 else 0.0),
}
POSITIVE_OPS = {  # defined for x > 0 only
    "log": (lambda v: v.log(), math.log, lambda x: 1 / x),
    "sqrt": (lambda v: v.sqrt(), math.sqrt, lambda x: 0.5 / math.sqrt(x)),
}


@pytest.mark.parametrize("x", [-2.0, -0.5, 0.0, 0.3, 1.7])
@pytest.mark.parametrize("name", OPS)
def test_op_value_and_derivative(name, x):
    call, f, df = OPS[name]
    v = Value(x)
    y = call(v)
    assert type(y) is Value
    assert y.data == pytest.approx(f(x), rel=1e-14, abs=1e-15)
    y.backward()
    assert v.grad == pytest.approx(df(x), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("x", [0.25, 1.0, 3.5])
@pytest.mark.parametrize("name", POSITIVE_OPS)
def test_positive_op_value_and_derivative(name, x):
    call, f, df = POSITIVE_OPS[name]
    v = Value(x)
    y = call(v)
    y.backward()
    assert y.data == pytest.approx(f(x), rel=1e-14)
    assert v.grad == pytest.approx(df(x), rel=1e-14)


def test_domain_errors_are_ieee_values_not_exceptions():
    assert Value(0.0).log().data == -math.inf
    assert math.isnan(Value(-1.0).log().data)
    assert math.isnan(Value(-1.0).sqrt().data)
    assert (Value(1.0) / 0.0).data == math.inf


def test_label_takes_text_and_names_what_it_was_given():
    # Regression: `v.label = None` raised "(): incompatible function arguments", with no name.
    v = Value(1.0, label="before")
    for bad, kind in ((None, "NoneType"), (3, "int"), (b"x", "bytes")):
        with pytest.raises(TypeError, match=r"^Value\.label must be a str, not '" + kind + "'$"):
            v.label = bad
    with pytest.raises(ValueError, match=r"^Value\.label must be text that UTF-8 can encode, not '\\udcff'$"):
        v.label = os.fsdecode(b"\xff")
    assert v.label == "before"  # untouched by the refused ones
    v.label = "w\u00e9ight"
    assert v.label == "w\u00e9ight"


def test_micrograd_constructor_signature_and_repr():
    x = Value(2.0, (), "", label="x")
    assert x.label == "x"
    assert repr(x) == "Value(data=2.0, grad=0.0)"
    assert repr(Value(0.1)) == "Value(data=0.1, grad=0.0)"
    assert repr(Value(-3)) == "Value(data=-3.0, grad=0.0)"
    y = x * 3
    y.backward()
    assert repr(x) == "Value(data=2.0, grad=3.0)"
    assert repr(y) == "Value(data=6.0, grad=1.0)"
    assert type(Value(1).data) is float and type(Value(1).grad) is float


def test_data_of_a_leaf_is_settable_and_later_ops_see_it():
    x = Value(1.0)
    y = x * 2
    x.data = 5.0
    z = x * 2
    assert (x.data, y.data, z.data) == (5.0, 2.0, 10.0)
    x.data -= 0.5  # micrograd's update, on a plain leaf
    assert x.data == 4.5


def test_data_of_an_op_result_is_fixed():
    y = Value(1.0) + 1
    with pytest.raises(sg.Error, match="only leaves can change their data"):
        y.data = 3.0
    assert isinstance(sg.Error("x"), RuntimeError)


def test_grad_can_be_zeroed_and_a_leafs_set():
    x = Value(2.0)
    y = x * x
    y.backward()
    assert x.grad == 4.0
    x.grad = 0  # micrograd's zero_grad()
    assert x.grad == 0.0
    x.grad = 1.5  # a leaf's: any number (the lecture sets grads by hand)
    assert x.grad == 1.5
    (x * 2).backward()
    assert x.grad == 3.5  # leaves accumulate
    y.grad = 0
    assert y.grad == 0.0
    with pytest.raises(sg.Error, match="set by backward"):
        y.grad = 1.0
    x.zero_grad()
    assert x.grad == 0.0


def bits(x):
    return struct.pack("<d", x)


# Every double reads back bit for bit (Value::set_grad), -0.0 included.
EXACT_GRADS = [1.5, 0.1, -1.0 / 3.0, 5e-324, -1.7976931348623157e308, math.inf, -math.inf, math.nan, -0.0]


@pytest.mark.parametrize("g", EXACT_GRADS, ids=repr)
def test_a_leafs_grad_is_set_to_exactly_the_number_given(g):
    x = Value(2.0)
    x.grad = g
    assert bits(x.grad) == bits(g)
    x.grad = 0  # zeroed
    assert bits(x.grad) == bits(0.0)


@pytest.mark.parametrize("g", EXACT_GRADS, ids=repr)
def test_setting_a_grad_inside_no_grad_and_detect_anomaly_records_nothing(g):
    x = Value(2.0)
    with sg.no_grad():
        x.grad = g
        assert bits(x.grad) == bits(g)
        assert not sg.is_grad_enabled()  # the block's mode is back
        assert (x * 2).is_leaf
    with sg.detect_anomaly():
        x.grad = g  # an infinite or NaN grad is the user's number, not an anomaly of an op
        assert bits(x.grad) == bits(g)
        with pytest.raises(sg.AnomalyError, match="log"):  # the block still checks ops
            Value(0.0).log()
    with sg.no_grad(), sg.detect_anomaly():
        x.grad = g
        assert bits(x.grad) == bits(g)
    assert sg.is_grad_enabled()
    assert not (x * 2).is_leaf
    x.grad = 1.0
    (x * 3.0).backward()  # leaves still accumulate onto a set grad
    assert x.grad == 4.0


def test_an_op_results_grad_rules_hold_inside_no_grad_and_detect_anomaly():
    x = Value(2.0)
    y = x * x
    y.backward()
    for guard in (sg.no_grad, sg.detect_anomaly):
        with guard():
            y.grad = 0  # any Value's grad can be zeroed
            assert y.grad == 0.0
            with pytest.raises(sg.Error, match=r"the grad of an op result \(or of an input that dense\(\) took "
                                               r"as a double\) is set by backward\(\); it can only be set to 0"):
                y.grad = 1.5
    with pytest.raises(TypeError, match=r"^Value\.grad must be a number \(float or int\), not 'str'$"):
        x.grad = "1"
    with pytest.raises(TypeError, match=r"^Value\.data must be a number \(float or int\), not 'NoneType'$"):
        x.data = None


# Every way to reach the C++ object of a Value whose __init__ never ran.
UNINITIALISED_VALUE_USES = {
    "data": lambda v: v.data,
    "grad": lambda v: v.grad,
    "set data": lambda v: setattr(v, "data", 1.0),
    "set grad": lambda v: setattr(v, "grad", 1.0),
    "set grad 0": lambda v: setattr(v, "grad", 0),
    "relu": lambda v: v.relu(),
    "tanh": lambda v: v.tanh(),
    "backward": lambda v: v.backward(),
    "label": lambda v: v.label,
    "set label": lambda v: setattr(v, "label", "x"),
    "_op": lambda v: v._op,
    "_prev": lambda v: v._prev,
    "is_leaf": lambda v: v.is_leaf,
    "operands": lambda v: v.operands(),
    "constant": lambda v: v.constant,
    "zero_grad": lambda v: v.zero_grad(),
    "detach": lambda v: v.detach(),
    "repr": repr,
    "v + 1": lambda v: v + 1,
    "1.0 * v": lambda v: 1.0 * v,
    "Value + v": lambda v: Value(1.0) + v,
    "v ** 2": lambda v: v ** 2,
    "-v": lambda v: -v,
    "abs": abs,
    "__add__": lambda v: v.__add__(1.0),
    "__rsub__": lambda v: v.__rsub__(1.0),
    "pow": lambda v: v.pow(2.0),
    "leaky_relu": lambda v: v.leaky_relu(),
    "elu": lambda v: v.elu(),
    "sum": lambda v: sg.sum([v]),
    "dot": lambda v: sg.dot([v], [1.0]),
    "affine": lambda v: sg.affine([1.0], [1.0], v),
    "to_dot": lambda v: sg.to_dot(v),
    "topological_order": lambda v: sg.topological_order(v),
    "model input": lambda v: sg.nn.MLP(2, [1])([1.0, v]),
    "hinge_loss": lambda v: sg.nn.hinge_loss([v], [1]),
}


@pytest.mark.parametrize("use", UNINITIALISED_VALUE_USES.values(), ids=UNINITIALISED_VALUE_USES.keys())
def test_a_value_whose_init_never_ran_raises_type_error(use):
    v = Value.__new__(Value)
    message = "^" + re.escape("Value object is not initialised: __init__ was not called") + "$"
    with pytest.raises(TypeError, match=message):
        use(v)
    with pytest.raises(TypeError, match=message):  # and again: the first use allocated nothing
        v.data


def test_a_value_subclass_whose_init_never_ran_raises_type_error():
    class Named(Value):
        pass

    v = Named.__new__(Named)
    for use in (lambda: v.data, lambda: v.relu(), lambda: v + 1, lambda: sg.to_dot(v)):
        with pytest.raises(TypeError, match=r"^Named object is not initialised: __init__ was not called$"):
            use()
    v.__init__(2.0)  # once it has run, the object works
    assert (v * 3).data == 6.0


def test_gradients_accumulate_over_backward_calls_for_leaves_only():
    x = Value(3.0)
    y = x * x
    y.backward()
    y.backward()
    assert x.grad == 12.0  # PyTorch semantics: leaves accumulate
    assert y.grad == 1.0  # op results are recomputed


def test_graph_introspection():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    c = a * b + 1.0
    assert c._op == "+" and a._op == ""
    assert c.constant == 1.0
    (prod,) = c._prev
    assert prod._op == "*"
    assert sorted(v.data for v in prod._prev) == [2.0, 3.0]
    assert [v.label for v in prod.operands()] == ["a", "b"]
    assert a.is_leaf and not c.is_leaf
    order = sg.topological_order(c)
    assert order[-1]._op == "+" and len(order) == 4
    d = c.detach()
    assert d.is_leaf and d.data == c.data


def test_sum_and_dot_are_one_node():
    xs = [Value(float(i)) for i in range(1, 5)]
    s = sg.sum(xs)
    assert s.data == 10.0 and len(s.operands()) == 4
    s.backward()
    assert [x.grad for x in xs] == [1.0] * 4
    d = sg.dot(xs, [1.0, 2.0, 3.0, 4.0])
    assert d.data == 30.0
    assert sg.sum([]).data == 0.0
    with pytest.raises(sg.Error):
        sg.dot(xs, [1.0])
    with pytest.raises(TypeError, match="sum: each item must be a number or a Value, not 'str'"):
        sg.sum(["a"])


def test_affine_is_one_node_with_the_value_of_dot_plus_bias():
    w = [Value(0.1 * i - 0.35) for i in range(6)]
    x = [Value(1 / (i + 3)) for i in range(6)]
    b = Value(0.3)
    y = sg.affine(w, x, b)
    assert y._op == "affine"
    assert [v.data for v in y.operands()] == [v.data for v in w + x + [b]]  # weights, inputs, bias
    expected = 0.0
    for wi, xi in zip(w, x):
        expected += wi.data * xi.data
    expected += b.data
    assert y.data == expected  # left to right, then the bias: to the bit
    assert y.data == (sg.dot(w, x) + b).data
    y.backward()
    assert [wi.grad for wi in w] == [xi.data for xi in x]  # d/dw_i = x_i
    assert [xi.grad for xi in x] == [wi.data for wi in w]  # d/dx_i = w_i
    assert b.grad == 1.0  # d/db = 1


def test_affine_accumulates_the_gradient_of_a_value_used_many_times():
    a = Value(2.0)
    y = sg.affine([a, a], [a, 3.0], a)  # a^2 + 3a + a
    assert y.data == 12.0
    y.backward()
    assert a.grad == 8.0  # 2a + 3 + 1


def test_affine_takes_numbers_as_items_and_bias():
    x = [Value(1.5), Value(-2.0)]
    assert sg.affine([2, 0.5], x, 1).data == 2 * 1.5 + 0.5 * -2.0 + 1
    y = sg.affine(x, [4.0, 1.0], 0.25)
    assert y.data == (sg.dot(x, [4.0, 1.0]) + 0.25).data
    y.backward()
    assert [v.grad for v in x] == [4.0, 1.0]
    assert sg.affine([], [], Value(0.5)).data == 0.5


def test_affine_rejects_lengths_that_differ_and_items_that_are_not_numbers():
    with pytest.raises(sg.Error, match=r"^scalargrad: affine\(\) needs as many weights as inputs, got 2 and 1$"):
        sg.affine([1.0, 2.0], [Value(1.0)], 0.0)
    with pytest.raises(TypeError, match="affine: the bias must be a number or a Value, not 'str'"):
        sg.affine([1.0], [1.0], "b")
    with pytest.raises(TypeError, match="affine: each item must be a number or a Value, not 'NoneType'"):
        sg.affine([None], [1.0], 0.0)


def test_no_grad_records_nothing():
    x = Value(2.0)
    assert sg.is_grad_enabled()
    with sg.no_grad():
        assert not sg.is_grad_enabled()
        y = x * 3
        assert y.is_leaf
        with pytest.raises(sg.Error):
            y.backward()
    assert sg.is_grad_enabled()
    assert not (x * 3).is_leaf


def test_detect_anomaly_names_the_op():
    x = Value(0.0, label="x")
    with sg.detect_anomaly():
        with pytest.raises(sg.AnomalyError) as caught:
            x.log()
    assert caught.value.op == "log"
    assert isinstance(caught.value, sg.Error)
    assert "log" in str(caught.value)
    x.log()  # outside: a value (-inf), not an error


def test_tape_stats():
    stats = sg.tape_stats()
    assert set(stats) == {"nodes", "segments", "leaves", "bytes", "high_water_nodes", "high_water_bytes"}


def test_a_value_used_on_another_thread_raises():
    x = Value(1.0) * 2  # made on this thread
    caught = []

    def worker():
        try:
            x + 1
        except sg.Error as e:
            caught.append(str(e))
        # A thread's own Values work.
        y = Value(2.0) * 3
        y.backward()
        caught.append(y.data)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(caught) == 2 and "thread" in caught[0] and caught[1] == 6.0


def test_a_deep_chain_does_not_recurse():
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0
