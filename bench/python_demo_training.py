#!/usr/bin/env python3
"""micrograd's demo training from Python: scalargrad's module against micrograd's code path in pure
Python, on the same machine, data and initial weights.

The training (micrograd's demo.ipynb): 100 two-moons points (noise 0.1), an MLP 2-16-16-1 (ReLU
hidden, linear output), loss = mean of relu(1 - y s) + 1e-4 * sum of w^2, 100 full-batch SGD steps
with learning rate 1.0 - 0.9 k / 100. Three variants, each timed over all the steps:

  micrograd   the reference algorithm in pure Python, written below (not micrograd's source): a
              Value of Python floats with a closure per op for its backward, a recursive
              topological sort with a visited set, Neuron/Layer/MLP as lists of Values; the demo's
              loop as the notebook writes it
  scalargrad  the same loop, text unchanged, on scalargrad (from scalargrad.engine import Value,
              from scalargrad.nn import MLP): inputs as lists of Values, loss terms in Python
              operators, p.data -= lr * p.grad over model.parameters()
  scalargrad-nn  the loop written with scalargrad.nn: model.scores(X), the points as one batch
              (the whole forward pass in C++), hinge_loss + l2_penalty, SGD (every op in C++)

micrograd runs twice: as a user runs it (Python's cyclic garbage collector on: each op's closure
and its result form a cycle, so every step's graph is garbage for the collector, which then
dominates the time), and with the collector off during the run (the interpreter's cost alone, the
bound micrograd cannot beat).

Both engines start from scalargrad's weights (seed 1) and the same points; the script checks that
all reach the same loss at the first and last step (to 1e-9 relative: the order of sums differs)
and 100% accuracy, then prints the CPU time of each (this thread's, time.thread_time) and the
speed-ups micrograd / scalargrad. Rounds are interleaved, the start rotated; medians over rounds.
The scalargrad variants are warmed up first. This is a benchmark, not a test: no threshold, exit
status 0 unless the check fails. A round takes a few minutes (micrograd with its collector).

It first prints the cost of single ops from Python (a + b, a.relu(), Value(x), ...), scalargrad
against the reference, interleaved the same way (--ops-only: only that).

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python_demo_training.py [--rounds N] [--steps K]
"""

import argparse
import gc
import math
import platform
import statistics
import sys
import time
import timeit

import scalargrad
import scalargrad.nn as sgnn

# ---- The reference: micrograd's algorithm in pure Python -------------------------------------------


class RefValue:
    """A scalar with its gradient, micrograd's way: children in a set, a closure for the chain rule."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, RefValue) else RefValue(other)
        out = RefValue(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, RefValue) else RefValue(other)
        out = RefValue(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        out = RefValue(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += (k * self.data ** (k - 1)) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = RefValue(0 if self.data < 0 else self.data, (self,), "ReLU")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        # Every node once, each after its children: a recursive depth-first search.
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1
        for v in reversed(topo):
            v._backward()

    # Sugar through the ops above.
    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1


class RefNeuron:
    def __init__(self, weights, nonlin):
        self.w = [RefValue(w) for w in weights]
        self.b = RefValue(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class RefLayer:
    def __init__(self, neurons):
        self.neurons = neurons

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class RefMLP:
    """micrograd's MLP with the weights of a scalargrad MLP (same order: layer, neuron, w then b)."""

    def __init__(self, model):
        self.layers = [
            RefLayer([RefNeuron([w.data for w in n.w], n.nonlin) for n in layer.neurons]) for layer in model.layers
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


# ---- The demo's loop, as the notebook writes it (the same text for micrograd and scalargrad) -------


def micrograd_loop(Value, model, X, y, steps):
    history = []
    for k in range(steps):
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((total_loss.data, sum(accuracy) / len(accuracy)))
    return history


def scalargrad_nn_loop(model, X, y, steps):
    optimizer = sgnn.SGD(model.parameters(), lr=1.0)
    history = []
    for k in range(steps):
        scores = model.scores(X)
        loss = sgnn.hinge_loss(scores, y) + sgnn.l2_penalty(model, 1e-4)
        history.append((loss.data, sgnn.accuracy(scores, y)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.learning_rate = sgnn.linear_decay(k, 100)
        optimizer.step()
    return history


def run(variant, X, y, steps):
    """(CPU seconds of this thread, history) of one training from scalargrad's initial weights."""
    model = sgnn.MLP(2, [16, 16, 1], seed=1)
    if variant.startswith("micrograd"):
        model = RefMLP(model)
    gc.collect()  # no garbage of an earlier run is collected (and charged) during this one
    if variant == "micrograd (gc off)":
        gc.disable()
    try:
        start = time.thread_time()
        if variant.startswith("micrograd"):
            history = micrograd_loop(RefValue, model, X, y, steps)
        elif variant == "scalargrad":
            history = micrograd_loop(scalargrad.Value, model, X, y, steps)
        else:
            history = scalargrad_nn_loop(model, X, y, steps)
        seconds = time.thread_time() - start
    finally:
        gc.enable()
    return seconds, history


def op_costs(rounds=7, number=100_000):
    """CPU time per op from Python (the whole statement: call, the op, the new object, its release),
    scalargrad against the pure-Python reference; median over interleaved rounds."""
    a, b, p = scalargrad.Value(1.5), scalargrad.Value(2.5), sgnn.Parameter(0.5)
    ra, rb = RefValue(1.5), RefValue(2.5)
    cases = [  # (what, scalargrad statement, reference statement or None)
        ("a + b", "a + b", "ra + rb"),
        ("a * 2.0", "a * 2.0", "ra * 2.0"),
        ("2.0 * a", "2.0 * a", "2.0 * ra"),
        ("a + 1 (int)", "a + 1", "ra + 1"),
        ("a ** 2", "a ** 2", "ra ** 2"),
        ("-a", "-a", "-ra"),
        ("a.relu()", "a.relu()", "ra.relu()"),
        ("Value(0.5)", "Value(0.5)", "RefValue(0.5)"),
        ("a.data", "a.data", "ra.data"),
        ("p * p (Parameter)", "p * p", None),
        ("p.data -= 0.1 * p.grad", "p.data -= 0.1 * p.grad", None),
    ]
    names = {"a": a, "b": b, "p": p, "ra": ra, "rb": rb, "Value": scalargrad.Value, "RefValue": RefValue}
    timers = []
    for _, ours, ref in cases:
        timers.append((timeit.Timer(ours, globals=names, timer=time.thread_time),
                       timeit.Timer(ref, globals=names, timer=time.thread_time) if ref else None))
    samples = [([], []) for _ in cases]
    for _ in range(rounds):
        for (ours, ref), (s_ours, s_ref) in zip(timers, samples):
            s_ours.append(ours.timeit(number) / number * 1e9)
            if ref:
                s_ref.append(ref.timeit(number) / number * 1e9)
    print(f"per op from Python, ns (CPU time, median of {rounds} rounds of {number}):")
    print(f"  {'statement':24s} {'scalargrad':>10s} {'micrograd':>10s} {'ratio':>7s}")
    for (what, _, ref), (s_ours, s_ref) in zip(cases, samples):
        ours_ns = statistics.median(s_ours)
        if ref:
            ref_ns = statistics.median(s_ref)
            print(f"  {what:24s} {ours_ns:10.0f} {ref_ns:10.0f} {ref_ns / ours_ns:6.1f}x")
        else:
            print(f"  {what:24s} {ours_ns:10.0f}")
    print()


def main():
    parser = argparse.ArgumentParser(description="micrograd's demo training: scalargrad vs pure Python")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--steps", type=int, default=100, help="training steps per run (default 100)")
    parser.add_argument("--ops-only", action="store_true", help="only the cost per op")
    args = parser.parse_args()

    op_costs()
    if args.ops_only:
        return

    X, y = sgnn.make_moons(100, 0.1, seed=1)
    variants = ["micrograd", "micrograd (gc off)", "scalargrad", "scalargrad-nn"]
    reference, engines = variants[:2], variants[2:]
    for v in engines:  # warm-up (the reference runs take minutes: they are not repeated for it)
        run(v, X, y, args.steps)

    times = {v: [] for v in variants}
    histories = {}
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for v in order:
            seconds, histories[v] = run(v, X, y, args.steps)
            times[v].append(seconds)
        print(f"round {r + 1}: " + ", ".join(f"{v} {times[v][-1]:.3f} s" for v in variants), flush=True)

    # The check: the same losses at the first and last step (the order of sums differs: 1e-9
    # relative), 100% accuracy after 100 steps.
    ref = histories["micrograd"]
    for v in variants[1:]:
        h = histories[v]
        for i in (0, len(h) - 1):
            if not math.isclose(h[i][0], ref[i][0], rel_tol=1e-9):
                sys.exit(f"check failed: {v} step {i} loss {h[i][0]!r}, micrograd {ref[i][0]!r}")
    if args.steps >= 100 and any(histories[v][-1][1] != 1.0 for v in variants):
        sys.exit("check failed: not 100% accuracy after the steps: "
                 + ", ".join(f"{v} {histories[v][-1][1]:.2f}" for v in variants))

    checked = "same losses" + (", 100% accuracy" if args.steps >= 100 else "")
    print(f"\n{args.steps} steps of micrograd's demo, CPU time of this thread, median of {args.rounds} rounds "
          f"(checked: {checked})")
    print(f"python {platform.python_version()} ({sys.executable}), scalargrad {scalargrad.__version__}")
    for v in variants:
        median = statistics.median(times[v])
        print(f"  {v:20s} {median:9.3f} s  ({median / args.steps * 1e3:8.2f} ms/step)")
    for m in reference:
        for v in engines:
            ratios = [a / b for a, b in zip(times[m], times[v])]
            print(f"  {m:20s} / {v:14s} {statistics.median(ratios):8.1f}x  (rounds: "
                  + ", ".join(f"{x:.1f}" for x in ratios) + ")")


if __name__ == "__main__":
    main()
