"""micrograd's ``micrograd.nn`` on scalargrad's C++ nn layer.

``Neuron(nin, nonlin=True)``, ``Layer(nin, nout, **kwargs)`` and ``MLP(nin, nouts)`` take
micrograd's arguments, plus keyword-only ``activation=`` (a name from ``activations()``),
``init=`` ('uniform', 'xavier', 'he') and ``seed=`` (the weights are drawn from a seeded
generator: the same seed gives the same weights everywhere). Calling a model with a list of
numbers runs the whole forward pass in C++; with Values, the graph also reaches those Values.
``parameters()`` returns :class:`Parameter` objects whose ``data`` and ``grad`` write through to
the model, so micrograd's ``p.data -= lr * p.grad`` and ``p.grad = 0`` work.
"""

import abc as _abc

from ._scalargrad import nn as _nn

Parameter = _nn.Parameter
Neuron = _nn.Neuron
Layer = _nn.Layer
MLP = _nn.MLP
Optimizer = _nn.Optimizer
SGD = _nn.SGD
Adam = _nn.Adam
hinge_loss = _nn.hinge_loss
mse_loss = _nn.mse_loss
bce_with_logits_loss = _nn.bce_with_logits_loss
accuracy = _nn.accuracy
linear_decay = _nn.linear_decay
make_moons = _nn.make_moons
activations = _nn.activations
weight_grad_norms = _nn.weight_grad_norms
dead_neurons = _nn.dead_neurons

__all__ = [
    "Module", "Parameter", "Neuron", "Layer", "MLP", "Optimizer", "SGD", "Adam", "hinge_loss",
    "mse_loss", "bce_with_logits_loss", "l2_penalty", "accuracy", "linear_decay", "make_moons",
    "activations", "weight_grad_norms", "dead_neurons",
]


class Module(_abc.ABC):
    """micrograd's Module: subclass it for a model written in Python, and override
    ``parameters()``. Neuron, Layer and MLP (compiled) count as Modules for ``isinstance``."""

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []


for _compiled in (Neuron, Layer, MLP):
    Module.register(_compiled)
del _compiled


def l2_penalty(model, alpha):
    """``alpha * sum(p * p for p in model.parameters())`` (micrograd's reg_loss), as one node for
    the compiled modules."""
    if isinstance(model, _nn._Module):
        return _nn._l2_penalty(model, alpha)
    if not callable(getattr(model, "parameters", None)):
        raise TypeError("l2_penalty: model must be a Module (anything with parameters()), not '"
                        + type(model).__name__ + "'")
    from ._scalargrad import sum as _sum
    return alpha * _sum(p * p for p in model.parameters())
