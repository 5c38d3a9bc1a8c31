#include <scalargrad/nn/diagnostics.hpp>

#include <cmath>
#include <string>

#include <scalargrad/error.hpp>

#include "checks.hpp"

namespace scalargrad::nn {

namespace {

/// sqrt(sum of g^2) over a layer's weight gradients. The plain sum, unless it overflowed or came
/// near the subnormals (gradients above ~1e154 or below ~1e-146); then the sum of (g / m)^2
/// times m, for m the largest |g|, which does neither (a vanishing gradient of 1e-170 reads as
/// such, not as 0).
double layer_grad_norm(const Layer& layer) {
  // f(g) for the gradient g of each of the layer's weights, neuron by neuron.
  const auto for_each_grad = [&layer](auto f) {
    for (const Neuron& neuron : layer.neurons()) {
      for (const Parameter& w : neuron.weights()) f(w.grad);
    }
  };
  double squares = 0.0;
  for_each_grad([&](double g) { squares += g * g; });
  constexpr double kSmallestSafe = 0x1p-968;  // 2^54 times the smallest normal double
  if (squares >= kSmallestSafe && std::isfinite(squares)) return std::sqrt(squares);
  double largest = 0.0;
  for_each_grad([&](double g) { largest = std::fmax(largest, std::fabs(g)); });
  if (largest == 0.0 || !std::isfinite(largest)) return std::sqrt(squares);  // 0 (all zero), inf or NaN
  double scaled = 0.0;
  for_each_grad([&](double g) {
    const double r = g / largest;
    scaled += r * r;
  });
  return largest * std::sqrt(scaled);
}

}  // namespace

std::vector<double> weight_grad_norms(const MLP& model) {
  detail::check_has_layers(model.layers().size());
  std::vector<double> norms;
  norms.reserve(model.layers().size());
  for (const Layer& layer : model.layers()) norms.push_back(layer_grad_norm(layer));
  return norms;
}

std::vector<std::vector<std::size_t>> positive_counts(const MLP& model,
                                                      std::span<const std::vector<double>> inputs) {
  detail::check_has_layers(model.layers().size());
  std::vector<std::vector<std::size_t>> counts;
  counts.reserve(model.layers().size());
  for (const Layer& layer : model.layers()) counts.emplace_back(layer.nout(), 0);

  // The activations run on Values (they are the engine's functions), recording nothing.
  const NoGradGuard no_grad;
  std::vector<double> x;
  std::vector<double> next;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].size() != model.nin()) {
      throw Error("scalargrad::nn: input " + std::to_string(i) + " has " + std::to_string(inputs[i].size()) +
                  (inputs[i].size() == 1 ? " value" : " values") + ", the model expects " +
                  std::to_string(model.nin()));
    }
    x = inputs[i];
    for (std::size_t l = 0; l < model.layers().size(); ++l) {
      const Layer& layer = model.layers()[l];
      next.clear();
      for (std::size_t j = 0; j < layer.nout(); ++j) {
        const Neuron& neuron = layer.neurons()[j];
        double z = neuron.bias().data;
        for (std::size_t k = 0; k < x.size(); ++k) z += neuron.weights()[k].data * x[k];
        if (z > 0.0) ++counts[l][j];
        const Value slope(neuron.slope().data);
        next.push_back(neuron.activation()(Value(z), &slope).data());
      }
      x.swap(next);
    }
  }
  return counts;
}

std::size_t DeadNeurons::in_layer(std::size_t layer) const {
  if (layer >= dead.size()) {
    throw Error("scalargrad::nn: DeadNeurons::in_layer(" + std::to_string(layer) + "): the model has " +
                std::to_string(dead.size()) + " layers");
  }
  std::size_t n = 0;
  for (const bool d : dead[layer]) n += d ? 1 : 0;
  return n;
}

std::size_t DeadNeurons::hidden() const {
  std::size_t n = 0;
  for (std::size_t l = 0; l + 1 < dead.size(); ++l) n += in_layer(l);
  return n;
}

DeadNeurons dead_neurons(const MLP& model, std::span<const std::vector<double>> inputs) {
  if (inputs.empty()) {
    throw Error("scalargrad::nn: dead_neurons needs at least one input (with none, every neuron would count as dead)");
  }
  DeadNeurons result;
  for (const std::vector<std::size_t>& layer : positive_counts(model, inputs)) {
    std::vector<bool>& dead = result.dead.emplace_back();
    dead.reserve(layer.size());
    for (const std::size_t positive : layer) dead.push_back(positive == 0);
  }
  return result;
}

}  // namespace scalargrad::nn
