"""Training from Python: micrograd's demo loop, unchanged but for its imports, reaches 100% training
accuracy on the two moons in 100 steps, as the C++ demo does; so does the same loop written with
scalargrad.nn's loss and optimizer, on the same losses."""

import pytest

from scalargrad.engine import Value
from scalargrad.nn import MLP, SGD, accuracy, hinge_loss, l2_penalty, linear_decay, make_moons

DEMO = '''
from micrograd.engine import Value
from micrograd.nn import Neuron, Layer, MLP

model = MLP(2, [16, 16, 1]) # 2-layer neural network

def loss(batch_size=None):
    Xb, yb = X, y
    inputs = [list(map(Value, xrow)) for xrow in Xb]
    # forward the model to get scores
    scores = list(map(model, inputs))
    # svm "max-margin" loss
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(yb, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    # L2 regularization
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    # also get accuracy
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
    return total_loss, sum(accuracy) / len(accuracy)

history = []
for k in range(100):
    # forward
    total_loss, acc = loss()
    # backward
    model.zero_grad()
    total_loss.backward()
    # update (sgd)
    learning_rate = 1.0 - 0.9*k/100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    history.append((total_loss.data, acc))
'''


def run_demo(X, y):
    scope = {"X": X, "y": y}
    exec(compile(DEMO.replace("micrograd", "scalargrad"), "demo", "exec"), scope)
    return scope["history"]


def test_micrograd_demo_reaches_full_accuracy():
    X, y = make_moons(100, 0.1)
    history = run_demo(X, y)
    loss, acc = history[-1]
    assert acc == 1.0
    assert loss < 0.05
    assert history[0][0] > 0.5  # it did learn


def test_micrograd_demo_runs_on_numpy_data():
    np = pytest.importorskip("numpy")
    X, y = make_moons(100, 0.1, zero_one=True)
    X, y = np.array(X), np.array(y, dtype=np.int64) * 2 - 1  # as sklearn's data in the notebook
    history = run_demo(X, y)
    assert history[-1][1] == 1.0


def test_library_loop_trains_on_the_same_losses():
    X, y = make_moons(100, 0.1)
    reference = run_demo(X, y)

    def train(batch):
        model = MLP(2, [16, 16, 1])
        opt = SGD(model.parameters(), lr=1.0)
        history = []
        for k in range(100):
            # numbers in: the whole forward pass in C++, point by point or as one batch
            scores = model.scores(X) if batch else [model(x) for x in X]
            loss = hinge_loss(scores, y) + l2_penalty(model, 1e-4)
            history.append((loss.data, accuracy(scores, y)))
            opt.zero_grad()
            loss.backward()
            opt.learning_rate = linear_decay(k, 100)
            opt.step()
        return history

    history = train(batch=True)
    # The same model, data and steps: the same losses up to the order of the sums.
    assert history[0][0] == pytest.approx(reference[0][0], rel=1e-12)
    assert history[-1][1] == 1.0
    assert history[-1][0] == pytest.approx(reference[-1][0], rel=1e-6)
    # A batch gives the loop's values and gradients to the bit: the same 100 steps exactly.
    assert train(batch=False) == history


def test_input_leaves_get_gradients_as_in_micrograd():
    model = MLP(2, [4, 1])
    x = [Value(0.5), Value(-0.5)]
    model(x).backward()
    eps = 1e-6
    for i in range(2):
        up = [v.data for v in x]
        down = list(up)
        up[i] += eps
        down[i] -= eps
        assert x[i].grad == pytest.approx((model(up).data - model(down).data) / (2 * eps), rel=1e-5, abs=1e-9)
