// Diagnostics of a network: how large each layer's gradient is, and which neurons are dead.
// They back the activation lab (docs/activations.md): vanishing gradients and dying ReLUs.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <scalargrad/nn/module.hpp>

namespace scalargrad::nn {

/// The Euclidean norm of the gradient of each layer's weights (biases and PReLU slopes left
/// out), first layer first: sqrt(sum over the layer's weights w of w.grad^2), scaled where that
/// sum would overflow or underflow (gradients near 1e154 or 1e-146 and beyond). Read it after
/// backward(); a norm that shrinks towards the input is a vanishing gradient. Throws Error for
/// a moved-from MLP, as positive_counts() and dead_neurons() do.
std::vector<double> weight_grad_norms(const MLP& model);

/// For every neuron of every layer (first layer first), on how many of `inputs` its
/// pre-activation w . x + b is positive. Runs the network forward in plain arithmetic,
/// records nothing on the tape and leaves the model untouched. Throws Error if an input has
/// the wrong size (naming its index and both sizes).
std::vector<std::vector<std::size_t>> positive_counts(const MLP& model,
                                                      std::span<const std::vector<double>> inputs);

/// The neurons that are "dead" on a set of inputs: pre-activation <= 0 for every one of them.
/// A dead ReLU neuron outputs 0 and passes no gradient for all these inputs, so no step of
/// gradient descent on them changes its weights; a Leaky ReLU neuron in the same state
/// still passes `slope` times its gradient and can come back.
struct DeadNeurons {
  std::vector<std::vector<bool>> dead;  ///< dead[l][j]: neuron j of layer l (first layer first)

  /// Dead neurons in layer `layer`. Throws Error if there is no such layer.
  [[nodiscard]] std::size_t in_layer(std::size_t layer) const;
  /// Dead neurons in every layer but the last (the hidden neurons).
  [[nodiscard]] std::size_t hidden() const;
};

/// Which neurons of `model` are dead on `inputs` (see DeadNeurons). Throws Error for an
/// empty `inputs` (every neuron would count as dead) or an input of the wrong size.
DeadNeurons dead_neurons(const MLP& model, std::span<const std::vector<double>> inputs);

}  // namespace scalargrad::nn
