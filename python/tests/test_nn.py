"""scalargrad.nn: micrograd's Neuron, Layer and MLP (signatures, parameter counts, repr, return
types), the parameters writing through to the C++ model, gradients against finite differences
and a forward pass in plain Python, activations, initialisation, losses, optimizers, model files."""

import gc
import math
import os
import re

import pytest

import scalargrad as sg
from scalargrad import Value
from scalargrad.nn import MLP, Layer, Module, Neuron, Parameter
import scalargrad.nn as nn


def test_parameter_counts_as_micrograd():
    assert len(MLP(2, [16, 16, 1]).parameters()) == 337  # the demo's network
    assert len(MLP(3, [4, 4, 1]).parameters()) == 41  # micrograd's README network
    assert len(Layer(3, 2).parameters()) == 8
    assert len(Neuron(3).parameters()) == 4
    assert MLP(2, [16, 16, 1]).num_parameters() == 337


def test_repr_as_micrograd():
    assert repr(Neuron(3)) == "ReLUNeuron(3)"
    assert repr(Neuron(3, nonlin=False)) == "LinearNeuron(3)"
    assert repr(Neuron(3, False)) == "LinearNeuron(3)"
    assert repr(Layer(3, 2)) == "Layer of [ReLUNeuron(3), ReLUNeuron(3)]"
    assert repr(Layer(3, 1, nonlin=False)) == "Layer of [LinearNeuron(3)]"
    assert repr(MLP(2, [2, 1])) == "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(2)]]"
    assert repr(MLP(2, [2, 1], activation="tanh")) == (
        "MLP of [Layer of [TanhNeuron(2), TanhNeuron(2)], Layer of [LinearNeuron(2)]]")


def test_calls_return_a_value_for_one_output_else_a_list():
    assert type(Neuron(2)([1.0, 2.0])) is Value
    assert type(Layer(2, 1)([1.0, 2.0])) is Value
    out = Layer(2, 3)([1.0, 2.0])
    assert type(out) is list and len(out) == 3 and all(type(v) is Value for v in out)
    assert type(MLP(2, [4, 1])([1.0, 2.0])) is Value
    out = MLP(2, [4, 2])([1.0, 2.0])
    assert type(out) is list and len(out) == 2


def test_inputs_may_be_any_sequence_of_numbers_and_values():
    model = MLP(3, [4, 1])
    expected = model([1.0, -2.0, 0.5]).data
    assert model((1.0, -2.0, 0.5)).data == expected
    assert model([1, -2, 0.5]).data == expected
    assert model(x for x in [1.0, -2.0, 0.5]).data == expected
    assert model([Value(1.0), -2.0, Value(0.5)]).data == expected
    assert model([Parameter(1.0), -2, 0.5]).data == expected
    np = pytest.importorskip("numpy")
    assert model(np.array([1.0, -2.0, 0.5])).data == expected


def test_floats_and_values_give_the_same_outputs_and_gradients():
    model = MLP(2, [8, 8, 1], seed=3)
    params = model.parameters()

    out = model([0.5, -1.25])
    model.zero_grad()
    out.backward()
    grads_floats = [p.grad for p in params]

    xs = [Value(0.5), Value(-1.25)]
    out_values = model(xs)
    model.zero_grad()
    out_values.backward()
    grads_values = [p.grad for p in params]

    assert out.data == out_values.data
    assert grads_floats == grads_values
    assert any(g != 0.0 for g in grads_floats)
    assert all(x.grad != 0.0 for x in xs) or all(math.isfinite(x.grad) for x in xs)


def python_forward(model, x):
    """The network's output computed in plain Python from its parameters (micrograd's nn.py)."""
    for layer in model.layers:
        out = []
        for n in layer.neurons:
            act = sum((wi.data * xi for wi, xi in zip(n.w, x)), n.b.data)
            out.append(max(act, 0.0) if n.nonlin else act)
        x = out
    return x[0] if len(x) == 1 else x


def test_forward_pass_matches_plain_python():
    model = MLP(2, [16, 16, 1])
    for x in ([0.3, -0.7], [1.5, 0.25], [-2.0, 2.0]):
        assert model(x).data == pytest.approx(python_forward(model, x), rel=1e-12, abs=1e-12)


def test_gradients_match_finite_differences():
    model = MLP(2, [6, 6, 1], activation="tanh", seed=5)
    x = [0.4, -0.9]
    out = model(x)
    model.zero_grad()
    out.backward()
    eps = 1e-6
    for p in model.parameters():
        analytic = p.grad
        original = p.data
        p.data = original + eps
        up = model(x).data
        p.data = original - eps
        down = model(x).data
        p.data = original
        assert analytic == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8), p.name


def test_parameters_write_through_to_the_model():
    model = MLP(2, [3, 1])
    p = model.parameters()[0]
    assert p.name == "layer1/n0.w0"
    assert isinstance(p, Parameter) and isinstance(p, Value)
    p.data = 0.5
    assert model.parameters()[0].data == 0.5
    assert model.layers[0].neurons[0].w[0].data == 0.5
    p.data -= 0.25  # micrograd's update
    assert model.layers[0].neurons[0].w[0].data == 0.25
    assert model([1.0, 0.0]).data == pytest.approx(python_forward(model, [1.0, 0.0]))
    p.grad = 7.0
    assert model.parameters()[0].grad == 7.0
    model.zero_grad()
    assert all(q.grad == 0.0 for q in model.parameters())
    names = [q.name for q in model.parameters()]
    assert names[:3] == ["layer1/n0.w0", "layer1/n0.w1", "layer1/n0.b"] and names[-1] == "layer2/n0.b"


def test_parameter_grads_are_set_by_backward_and_zeroed_by_micrograd_loop():
    model = MLP(2, [4, 1])
    loss = model([1.0, 2.0]) ** 2
    loss.backward()
    assert any(p.grad != 0 for p in model.parameters())
    for p in model.parameters():
        p.grad = 0  # micrograd's Module.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_views_and_parameters_keep_their_model_alive():
    params = MLP(2, [3, 1]).parameters()
    layer = MLP(2, [3, 1], seed=2).layers[0]
    neuron = Layer(2, 2).neurons[1]
    gc.collect()
    assert len(params) == 13
    y = sum(p * p for p in params)
    y.backward()
    assert params[0].grad == pytest.approx(2 * params[0].data)
    assert len(layer([1.0, 2.0])) == 3
    assert type(neuron([1.0, 2.0])) is Value
    assert len(neuron.w) == 2 and neuron.b.data == 0.0 and neuron.nonlin


def test_modules_are_micrograd_modules():
    assert isinstance(MLP(2, [1]), Module)
    assert isinstance(Layer(2, 1), Module)
    assert isinstance(Neuron(2), Module)

    class Affine(Module):  # a model written in Python, as in micrograd
        def __init__(self):
            self.w = Value(0.5)
            self.b = Parameter(0.0)

        def __call__(self, x):
            return self.w * x + self.b

        def parameters(self):
            return [self.w, self.b]

    m = Affine()
    (m(2.0) ** 2).backward()
    assert m.w.grad == pytest.approx(2 * 1.0 * 2.0)
    m.zero_grad()
    assert m.w.grad == 0.0 and m.b.grad == 0.0
    assert nn.l2_penalty(m, 0.5).data == pytest.approx(0.5 * 0.25)


def test_l2_penalty_of_something_without_parameters_is_a_type_error():
    # Regression: it gave AttributeError: 'int' object has no attribute 'parameters'.
    with pytest.raises(TypeError, match=r"^l2_penalty: model must be a Module \(anything with parameters\(\)\), not 'int'$"):
        nn.l2_penalty(5, 1.0)


def test_counts_and_seeds_out_of_range_are_named():
    # Regression: taken as C++ unsigned types, -1 or 2**64 got pybind11's "incompatible function
    # arguments", which names neither the argument nor the range.
    top = "from 0 to 2\\*\\*64 - 1"
    cases = [
        (lambda: MLP(-1, [1]), "MLP: nin must be a whole number " + top + ", got -1"),
        (lambda: MLP(2, [3, -1]), "MLP: each of nouts must be a whole number " + top + ", got -1"),
        (lambda: MLP(2, [1], seed=2**64), "MLP: seed must be a whole number " + top + ", got 18446744073709551616"),
        (lambda: nn.Layer(2, -3), "Layer: nout must be a whole number " + top + ", got -3"),
        (lambda: nn.Neuron(-2), "Neuron: nin must be a whole number " + top + ", got -2"),
        (lambda: nn.make_moons(-1), "make_moons: n must be a whole number " + top + ", got -1"),
        (lambda: sg.to_dot(Value(1.0), max_nodes=10**30), "to_dot: max_nodes must be a whole number " + top),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match="^" + message):
            call()
    with pytest.raises(TypeError, match=r"^MLP: nouts must hold whole numbers, got 'float'$"):
        MLP(2, [3.5])
    assert MLP(2, (3, 1), seed=2**64 - 1).num_parameters() == 3 * 3 + 4  # a tuple, the largest seed


def test_activation_choices():
    assert set(nn.activations()) >= {"relu", "leaky_relu", "tanh", "sigmoid", "linear", "elu", "gelu", "silu",
                                     "softplus", "prelu"}
    for name in ("relu", "leaky_relu", "leaky_relu:0.1", "tanh", "sigmoid", "elu", "gelu", "silu", "softplus",
                 "linear"):
        model = MLP(2, [3, 1], activation=name)
        assert model.layers[0].activation.split(":")[0] == name.split(":")[0]
        assert math.isfinite(model([0.5, -0.5]).data)
    model = MLP(2, [3, 3, 1], activation=["tanh", "sigmoid", "linear"])
    assert [l.activation for l in model.layers] == ["tanh", "sigmoid", "linear"]
    model = MLP(2, [3, 1], output_activation="sigmoid")
    assert 0.0 < model([0.5, 0.5]).data < 1.0
    prelu = MLP(2, [3, 1], activation="prelu")
    assert len(prelu.parameters()) == 3 * 4 + 4  # each PReLU neuron learns its slope
    assert Neuron(2, activation="tanh").activation == "tanh"
    assert Layer(2, 2, activation="sigmoid").activation == "sigmoid"
    with pytest.raises(sg.Error, match="unknown activation 'swish'"):
        MLP(2, [1], activation="swish")
    with pytest.raises(sg.Error):
        MLP(2, [3, 1], activation=["tanh"])
    with pytest.raises(TypeError):
        MLP(2, [3, 1], activation=["tanh", 3])


def test_mlp_activation_arguments_of_the_wrong_type_raise_type_error():
    with pytest.raises(TypeError, match="^" + re.escape(
            "MLP: output_activation must be an activation name such as 'sigmoid' (or None: linear), not 'int'") + "$"):
        MLP(2, [3, 1], output_activation=5)
    with pytest.raises(TypeError, match="^" + re.escape(
            "MLP: activation must be an activation name such as 'relu', or a list of names, one per layer, "
            "not 'NoneType'") + "$"):
        MLP(2, [3, 1], activation=None)
    with pytest.raises(TypeError, match="^" + re.escape(
            "MLP: activation must be an activation name such as 'relu', or a list of names, one per layer, "
            "not 'int'") + "$"):
        MLP(2, [3, 1], activation=3)
    with pytest.raises(TypeError, match=re.escape("one per layer; the list holds a 'int'")):
        MLP(2, [3, 1], activation=["tanh", 3])
    with pytest.raises(TypeError, match="output_activation goes with a single activation name"):
        MLP(2, [3, 1], activation=["tanh", "tanh"], output_activation="sigmoid")
    # Tuples are lists of names too.
    assert [l.activation for l in MLP(2, [3, 1], activation=("tanh", "sigmoid")).layers] == ["tanh", "sigmoid"]


def test_seeded_initialisation():
    data = lambda m: [p.data for p in m.parameters()]
    assert data(MLP(2, [4, 1])) == data(MLP(2, [4, 1], seed=1))
    assert data(MLP(2, [4, 1], seed=2)) != data(MLP(2, [4, 1]))
    weights = [p.data for p in MLP(2, [4, 1]).parameters() if not p.name.endswith(".b")]
    assert all(-1.0 <= w < 1.0 for w in weights)  # micrograd's uniform(-1, 1)
    xavier = MLP(8, [8, 1], init="xavier")
    bound = math.sqrt(6 / (8 + 8))
    assert all(abs(p.data) <= bound for p in xavier.layers[0].parameters())
    with pytest.raises(sg.Error, match="unknown initialisation"):
        MLP(2, [1], init="zeros")


def test_scores_give_each_points_score_and_the_same_gradients_as_a_loop():
    model = MLP(2, [5, 4, 1], seed=3)
    X, y = nn.make_moons(12, 0.1, seed=2)
    batch = model.scores(X)
    loop = [model(x) for x in X]
    assert [s.data for s in batch] == [s.data for s in loop]  # to the bit
    assert all(isinstance(s, Value) for s in batch)

    def gradient(scores):
        model.zero_grad()
        nn.hinge_loss(scores, y).backward()
        return [p.grad for p in model.parameters()]

    by_batch = gradient(batch)
    assert gradient(loop) == by_batch
    assert sum(g != 0.0 for g in by_batch) > len(by_batch) // 2  # not vacuous
    # Points as Values (micrograd's `inputs`), or a mix: the same scores, and input gradients.
    inputs = [list(map(Value, row)) for row in X]
    mixed = model.scores([inputs[0]] + X[1:])
    assert [s.data for s in mixed] == [s.data for s in batch]
    mixed[0].backward()
    assert inputs[0][0].grad != 0.0 or inputs[0][1].grad != 0.0
    assert model.scores([]) == []


def test_scores_bad_inputs_name_the_point():
    model = MLP(2, [3, 1])
    with pytest.raises(sg.Error, match=re.escape("MLP expects 2 inputs, got 3 in point 1")):
        model.scores([[1.0, 2.0], [1.0, 2.0, 3.0]])
    with pytest.raises(sg.Error, match=re.escape("MLP expects 2 inputs, got 1 in point 0")):
        model.scores([[Value(1.0)]])
    with pytest.raises(TypeError, match=re.escape("MLP.scores(points): points[1][0] is a 'str'")):
        model.scores([[1.0, 2.0], ["a", 2.0]])
    with pytest.raises(TypeError, match=re.escape(
            "MLP.scores(points): points[0] must be a list of numbers or Values, not 'float'")):
        model.scores([1.0, 2.0])
    with pytest.raises(TypeError, match=re.escape("MLP.scores(points): points must be a list of points")):
        model.scores(3)
    with pytest.raises(sg.Error, match=re.escape("scores() needs an MLP with one output, this one has 2")):
        MLP(2, [3, 2]).scores([[1.0, 2.0]])


def test_bad_inputs():
    model = MLP(2, [3, 1])
    with pytest.raises(sg.Error, match="MLP expects 2 inputs, got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=re.escape("MLP(x): x[1] is a 'str'; inputs must be numbers or Values")):
        model([1.0, "a"])
    with pytest.raises(TypeError, match=re.escape("MLP(x): x must be a list of numbers or Values, not 'float'")):
        model(1.0)
    with pytest.raises(TypeError, match=re.escape("Neuron(x): x[0] is a 'NoneType'")):
        Neuron(1)([None])
    with pytest.raises(ValueError, match="^MLP: each of nouts must be a whole number"):
        MLP(2, [-1])  # a TypeError from pybind11 until its message named the argument
    with pytest.raises(sg.Error, match="layer 2 of 3 has size 0"):
        MLP(2, [4, 0, 1])
    with pytest.raises(sg.Error, match="a Layer needs at least one input"):
        Layer(0, 2)
    # Regression: these raised "ValueError: vector::reserve", which named neither call nor number.
    with pytest.raises(sg.Error, match="a Neuron cannot have 4611686018427387904 inputs, more than the "):
        Neuron(2**62)
    with pytest.raises(sg.Error, match="a Layer cannot have 4611686018427387904 neurons"):
        MLP(2, [4, 2**62])
    with pytest.raises(sg.Error, match="make_moons cannot make 4611686018427387904 points"):
        nn.make_moons(2**62)


def test_sizes_are_readable():
    neuron = Neuron(3)
    assert neuron.nin == 3
    layer = Layer(3, 2)
    assert (layer.nin, layer.nout) == (3, 2)
    model = MLP(3, [5, 4, 2])
    assert (model.nin, model.nout) == (3, 2)
    assert MLP(2, [16, 16, 1]).nout == 1


def test_losses_match_their_formulas():
    scores = [Value(0.5), Value(-2.0), Value(1.5)]
    labels = [1, -1, -1]
    hinge = nn.hinge_loss(scores, labels)
    assert hinge.data == pytest.approx(sum(max(0, 1 - y * s.data) for s, y in zip(scores, labels)) / 3)
    assert nn.mse_loss(scores, [0.0, 0.0, 1.0]).data == pytest.approx((0.25 + 4 + 0.25) / 3)
    bce = nn.bce_with_logits_loss(scores, [1, 0, 0])
    expected = sum(math.log1p(math.exp(s.data)) - y * s.data for s, y in zip(scores, [1, 0, 0])) / 3
    assert bce.data == pytest.approx(expected)
    assert nn.accuracy(scores, labels) == pytest.approx(2 / 3)
    model = MLP(2, [3, 1])
    assert nn.l2_penalty(model, 1e-4).data == pytest.approx(1e-4 * sum(p.data**2 for p in model.parameters()))
    with pytest.raises(sg.Error, match="labels must be -1 or 1"):
        nn.hinge_loss(scores, [1, 0, 1])
    with pytest.raises(sg.Error):
        nn.mse_loss(scores, [1.0])


def test_sgd_is_micrograds_update():
    model = MLP(2, [3, 1])
    (model([1.0, 2.0]) ** 2).backward()
    before = [(p.data, p.grad) for p in model.parameters()]
    opt = nn.SGD(model.parameters(), lr=0.1)
    opt.step()
    assert [p.data for p in model.parameters()] == [d - 0.1 * g for d, g in before]
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    with pytest.raises(sg.Error):
        opt.learning_rate = -1.0
    assert nn.linear_decay(0, 100) == 1.0 and nn.linear_decay(50, 100) == pytest.approx(0.55)


def test_sgd_weight_decay_adds_decay_times_data_to_the_gradient():
    # v = momentum v + (grad + weight_decay data); data -= lr v (nn/include/scalargrad/nn/optim.hpp).
    p = Parameter(2.0)
    p.grad = 0.5
    opt = nn.SGD([p], lr=0.1, weight_decay=0.01)
    opt.step()
    assert p.data == pytest.approx(1.948, abs=1e-12)  # 2 - 0.1 (0.5 + 0.01 * 2) = 2 - 0.052
    assert p.data == 2.0 - 0.1 * (0.5 + 0.01 * 2.0)  # the same operations: the same bits
    first = p.data
    opt.step()  # the same grad, decay now of 1.948
    assert p.data == pytest.approx(1.8960520, abs=1e-12)  # 1.948 - 0.1 (0.5 + 0.01948)
    assert p.data == first - 0.1 * (0.5 + 0.01 * first)
    # With momentum: v1 = 0.52, v2 = 0.9 * 0.52 + (0.5 + 0.01 * 1.948) = 0.98748.
    q = Parameter(2.0)
    q.grad = 0.5
    opt = nn.SGD([q], lr=0.1, momentum=0.9, weight_decay=0.01)
    opt.step()
    opt.step()
    assert q.data == pytest.approx(1.849252, abs=1e-12)  # 2 - 0.1 * 0.52 - 0.1 * 0.98748
    # Decay alone shrinks a weight with no gradient by the factor (1 - lr weight_decay).
    r = Parameter(3.0)
    nn.SGD([r], lr=0.5, weight_decay=0.2).step()
    assert r.data == pytest.approx(2.7, abs=1e-12)  # 3 - 0.5 (0 + 0.2 * 3) = 3 (1 - 0.1)
    with pytest.raises(sg.Error, match="weight_decay"):
        nn.SGD([Parameter(1.0)], lr=0.1, weight_decay=-1.0)


def test_a_wrong_kind_of_argument_names_the_call():
    # Regression: these said "'int' object is not iterable", or pybind11's "incompatible
    # function arguments", naming neither the call nor the argument.
    with pytest.raises(TypeError, match=re.escape("MLP: nouts must be a list of layer sizes, such as [16, 16, 1], not 'int'")):
        MLP(2, 3)
    with pytest.raises(TypeError, match=re.escape("SGD: parameters must be a list of Parameters, such as model.parameters(), not 'int'")):
        nn.SGD(3, 0.1)
    with pytest.raises(TypeError, match=re.escape("Adam: parameters must be a list of Parameters, such as model.parameters(), not 'NoneType'")):
        nn.Adam(None)
    with pytest.raises(ValueError, match=re.escape("linear_decay: step must be a whole number from 0 to 2**64 - 1, got -5")):
        nn.linear_decay(-5, 100)
    with pytest.raises(ValueError, match=re.escape("linear_decay: steps must be a whole number")):
        nn.linear_decay(5, -100)
    assert nn.linear_decay(5, 100) == pytest.approx(0.955)
    assert nn.SGD(iter(MLP(2, [1]).parameters()), 0.1) is not None  # any iterable, as before


def adam_reference(grads, data, lr, beta1, beta2, eps):
    """Kingma & Ba (2015), Algorithm 1, in plain Python: data after one step per grad."""
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        data -= lr * (m / (1 - beta1**t)) / (math.sqrt(v / (1 - beta2**t)) + eps)
    return data


def test_adam_betas_weigh_the_moment_averages():
    # The first step is lr * sign(g) for any betas (bias correction); the second shows them:
    # grads 0.5 then 1.0, beta1 = 0.5, beta2 = 0.75: m = 0.625, m_hat = 0.625 / 0.75 = 5/6;
    # v = 0.296875, v_hat = 0.296875 / 0.4375 = 19/28; step 2 = 0.1 (5/6) / sqrt(19/28) = 0.1011628.
    results = {}
    for betas in ((0.5, 0.75), (0.9, 0.999)):
        p = Parameter(1.0)
        opt = nn.Adam([p], lr=0.1, beta1=betas[0], beta2=betas[1], eps=1e-8)
        p.grad = 0.5
        opt.step()
        assert p.data == pytest.approx(0.9, abs=1e-8)  # lr * 0.5 / (0.5 + eps)
        p.grad = 1.0
        opt.step()
        results[betas] = p.data
        assert p.data == pytest.approx(adam_reference([0.5, 1.0], 1.0, 0.1, betas[0], betas[1], 1e-8), rel=1e-14)
    assert results[(0.5, 0.75)] == pytest.approx(0.9 - 0.1 * (5 / 6) / math.sqrt(19 / 28), abs=1e-8)
    assert results[(0.5, 0.75)] == pytest.approx(0.7988372, abs=1e-7)
    assert results[(0.9, 0.999)] == pytest.approx(0.8034819, abs=1e-7)  # the defaults: another step
    for name in ("beta1", "beta2"):
        with pytest.raises(sg.Error, match=name):
            nn.Adam([Parameter(1.0)], **{name: 1.0})


def test_optimizer_is_the_base_of_sgd_and_adam():
    p = Parameter(1.0)
    sgd, adam = nn.SGD([p], lr=0.5), nn.Adam([Parameter(1.0)], lr=0.1)
    assert isinstance(sgd, nn.Optimizer) and isinstance(adam, nn.Optimizer)
    assert issubclass(nn.SGD, nn.Optimizer) and issubclass(nn.Adam, nn.Optimizer)
    p.grad = 2.0
    nn.Optimizer.step(sgd)  # the base's step() runs the subclass's update
    assert p.data == 0.0  # 1 - 0.5 * 2
    nn.Optimizer.zero_grad(sgd)
    assert p.grad == 0.0
    assert nn.Optimizer.learning_rate.__get__(sgd) == 0.5
    with pytest.raises(TypeError, match="No constructor defined"):
        nn.Optimizer([p], 0.1)


def test_optimizers_minimise_and_keep_their_parameters_alive():
    for make in (lambda ps: nn.SGD(ps, lr=0.1, momentum=0.9), lambda ps: nn.Adam(ps, lr=0.1)):
        r = Parameter(3.0)
        opt = make(iter([r]))  # any iterable of Parameters
        for _ in range(300):
            opt.zero_grad()
            ((r - 1.0) ** 2).backward()
            opt.step()
        assert r.data == pytest.approx(1.0, abs=1e-2)
    # The optimizer holds the Parameters, and they their model: nothing is freed under it.
    opt = nn.SGD(MLP(2, [3, 1]).parameters(), lr=0.1)
    gc.collect()
    opt.zero_grad()
    opt.step()
    with pytest.raises(TypeError, match="parameter 0 is a 'Value', not a Parameter"):
        nn.SGD([Value(1.0)], lr=0.1)


@pytest.mark.parametrize("as_path", [str, lambda p: p], ids=["str", "pathlib.Path"])
def test_model_files_take_str_and_pathlib_paths(tmp_path, as_path):
    model = MLP(2, [4, 1], activation="tanh", seed=7)
    x = [0.3, -0.4]
    path = as_path(tmp_path / "model.json")
    model.save(path)
    assert MLP.load(path)(x).data == model(x).data
    other = MLP(2, [4, 1], activation="tanh", seed=8)
    other.load_weights(path)
    assert other(x).data == model(x).data
    for call, who in ((lambda: model.save(3), "MLP.save"), (lambda: MLP.load(None), "MLP.load"),
                      (lambda: model.load_weights(1.5), "MLP.load_weights")):
        message = who + ": path must be a str or os.PathLike (pathlib.Path), not '"
        with pytest.raises(TypeError, match="^" + re.escape(message)):
            call()


def test_model_files_take_names_that_are_not_utf8(tmp_path):
    # Regression: os.listdir() gives '\udcff.json' for the bytes b'\xff.json'; such a str raised
    # "Unable to cast Python instance to C++ type". It is now encoded as os.fsencode() does.
    model = MLP(2, [4, 1], activation="tanh", seed=7)
    x = [0.3, -0.4]
    name = os.fsdecode(b"\xff.json")
    path = os.path.join(str(tmp_path), name)
    model.save(path)
    assert os.listdir(str(tmp_path)) == [name]
    assert (tmp_path / name).exists() and os.path.exists(os.fsencode(path))
    assert MLP.load(path)(x).data == model(x).data
    assert MLP.load(os.fsencode(path))(x).data == model(x).data  # bytes too
    other = MLP(2, [4, 1], activation="tanh", seed=8)
    other.load_weights(path)
    assert other(x).data == model(x).data


def test_model_files_refuse_a_null_byte_in_the_path(tmp_path):
    # Regression: "a\0b.json" wrote a file named "a" (the system cuts the name at the NUL).
    model = MLP(2, [4, 1])
    with pytest.raises(ValueError, match=r"^MLP\.save: embedded null byte in the path$"):
        model.save(os.path.join(str(tmp_path), "a\0b.json"))
    with pytest.raises(ValueError, match="embedded null byte"):
        MLP.load(b"a\0b.json")
    assert os.listdir(str(tmp_path)) == []


def test_model_files_round_trip(tmp_path):
    model = MLP(2, [4, 1], activation="tanh", seed=7)
    x = [0.3, -0.4]
    copy = MLP.from_json(model.to_json())
    assert copy(x).data == model(x).data
    path = tmp_path / "model.json"
    model.save(str(path))
    assert MLP.load(str(path))(x).data == model(x).data
    other = MLP(2, [4, 1], activation="tanh", seed=8)
    other.load_weights(str(path))
    assert other(x).data == model(x).data
    with pytest.raises(sg.Error):
        MLP.from_json("{")


def test_diagnostics():
    model = MLP(2, [4, 4, 1])
    model.zero_grad()
    model([1.0, 2.0]).backward()
    assert len(nn.weight_grad_norms(model)) == 3
    dead = nn.dead_neurons(model, [[1.0, 2.0], [-1.0, 0.5]])
    assert [len(layer) for layer in dead] == [4, 4, 1]


def test_a_parameters_grad_is_stored_as_given_inside_no_grad_and_detect_anomaly():
    p = MLP(2, [1]).parameters()[0]
    own = Parameter(0.5)
    for q in (p, own):
        with sg.no_grad():
            q.grad = 1.5
        assert q.grad == 1.5
        with sg.detect_anomaly():
            q.grad = math.inf
        assert q.grad == math.inf
        q.grad = -0.0  # written straight to the weight: the sign of zero is kept
        assert math.copysign(1.0, q.grad) == -1.0
        q.grad = 0


# Every way to reach the C++ object of a Parameter whose __init__ never ran.
UNINITIALISED_PARAMETER_USES = {
    "set grad": lambda p: setattr(p, "grad", 1.0),
    "grad": lambda p: p.grad,
    "data": lambda p: p.data,
    "set data": lambda p: setattr(p, "data", 1.0),
    "name": lambda p: p.name,
    "relu": lambda p: p.relu(),
    "backward": lambda p: p.backward(),
    "label": lambda p: p.label,
    "p + 1": lambda p: p + 1,
    "2.0 * p": lambda p: 2.0 * p,
    "__mul__": lambda p: p.__mul__(2.0),
    "repr": repr,
    "SGD": lambda p: nn.SGD([p], lr=0.1),
    "Adam": lambda p: nn.Adam([p]),
    "mse_loss": lambda p: nn.mse_loss([p], [0.0]),
}


@pytest.mark.parametrize("use", UNINITIALISED_PARAMETER_USES.values(), ids=UNINITIALISED_PARAMETER_USES.keys())
def test_a_parameter_whose_init_never_ran_raises_type_error(use):
    p = Parameter.__new__(Parameter)
    message = "^" + re.escape("Parameter object is not initialised: __init__ was not called") + "$"
    with pytest.raises(TypeError, match=message):
        use(p)
    with pytest.raises(TypeError, match=message):  # nothing was allocated in its place by the first use
        p.grad = 1.0


def test_a_parameter_subclass_whose_init_never_ran_raises_type_error():
    class Weight(Parameter):
        pass

    w = Weight.__new__(Weight)
    for use in (lambda: w.grad, lambda: w.name, lambda: w * 2, lambda: nn.SGD([w], lr=0.1)):
        with pytest.raises(TypeError, match=r"^Weight object is not initialised: __init__ was not called$"):
            use()
    with pytest.raises(TypeError, match=r"^Parameter\.__init__\(\) must be called when overriding __init__$"):
        type("Skips", (Parameter,), {"__init__": lambda self: None})()


def test_errors_keep_their_message_when_it_is_not_utf8(tmp_path):
    # Regression: an Error whose message held bytes that are not UTF-8 (a file name from
    # os.fsencode(), a model file in Latin-1) reached Python with an empty message.
    missing = os.path.join(os.fsencode(str(tmp_path)), b"\xff-missing.json")
    with pytest.raises(sg.Error) as caught:
        MLP.load(missing)
    assert str(caught.value).startswith("scalargrad::nn: cannot open model file '")
    assert "\\xff-missing.json': No such file or directory" in str(caught.value)
    with pytest.raises(sg.Error) as caught:
        MLP.load(os.fsdecode(missing))  # the same name as a str
    assert "\\xff-missing.json'" in str(caught.value)

    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(MLP(2, [1]).to_json().replace('"linear"', '"lin\xe9ar"').encode("latin1"))
    with pytest.raises(sg.Error) as caught:
        MLP.load(str(latin1))
    assert str(caught.value) != "" and "latin1.json" in str(caught.value)


def test_a_model_first_used_on_an_ended_thread_is_copied_to_go_on():
    # docs/python.md, section 5: the Parameters belong to the thread that first used them, also
    # after it ended; from_json(to_json()) is a copy with the same weights that belongs to none.
    import threading

    model = MLP(2, [3, 1], seed=5)

    def train():
        model([1.0, 2.0]).backward()

    worker = threading.Thread(target=train)
    worker.start()
    worker.join()
    with pytest.raises(sg.Error, match="a Value was used on a thread other than the one that recorded it"):
        model([1.0, 2.0])
    with pytest.raises(sg.Error, match="a Value was used on a thread other than the one that recorded it"):
        model.parameters()  # each Parameter is a Value of the worker's
    text = model.to_json()  # reads the weights as numbers: works on any thread
    copy = MLP.from_json(text)
    assert copy.to_json() == text
    copy([1.0, 2.0]).backward()
    assert any(p.grad != 0.0 for p in copy.parameters())


def test_calling_init_again_changes_nothing():
    # docs/python.md, section 5: pybind11 builds the C++ object once.
    model = MLP(2, [3, 1])
    before = repr(model)
    model.__init__(3, [4])
    assert repr(model) == before and model.nin == 2
