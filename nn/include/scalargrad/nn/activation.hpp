// nn::Activation: the nonlinearity of a neuron, chosen per layer.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <scalargrad/value.hpp>

namespace scalargrad::nn {

/// The activation function of a neuron. A value type: `Activation::relu()`,
/// `Activation::leaky_relu(0.001)`, or parsed from a name with parse().
class Activation {
 public:
  enum class Kind { Linear, ReLU, LeakyReLU, PReLU, Tanh, Sigmoid, ELU, GELU, SiLU, Softplus };

  /// The identity (micrograd's "Linear" neuron, nonlin=False).
  static Activation linear() { return Activation(Kind::Linear, 0.0); }
  /// max(x, 0); micrograd's default.
  static Activation relu() { return Activation(Kind::ReLU, 0.0); }
  /// x for x > 0, slope x otherwise. Throws Error if slope is NaN or infinite (as do prelu()
  /// and elu() for theirs): a model with it could be saved but not loaded again.
  static Activation leaky_relu(double slope = 0.01) { return Activation(Kind::LeakyReLU, slope); }
  /// Leaky ReLU whose slope is a Parameter of each neuron, learnt with the weights
  /// (initialised to `initial_slope`, 0.25 as in PyTorch).
  static Activation prelu(double initial_slope = 0.25) { return Activation(Kind::PReLU, initial_slope); }
  static Activation tanh() { return Activation(Kind::Tanh, 0.0); }
  static Activation sigmoid() { return Activation(Kind::Sigmoid, 0.0); }
  /// x for x > 0, alpha (e^x - 1) otherwise.
  static Activation elu(double alpha = 1.0) { return Activation(Kind::ELU, alpha); }
  static Activation gelu() { return Activation(Kind::GELU, 0.0); }
  static Activation silu() { return Activation(Kind::SiLU, 0.0); }
  static Activation softplus() { return Activation(Kind::Softplus, 0.0); }

  /// Parses "relu", "leaky_relu", "leaky_relu:0.001", "prelu", "prelu:0.1", "tanh", "sigmoid",
  /// "elu", "elu:0.5", "gelu", "silu", "softplus", "linear". Throws Error naming the
  /// valid names for anything else.
  static Activation parse(std::string_view text);
  /// Every name parse() accepts (without parameters).
  static std::vector<std::string_view> names();

  [[nodiscard]] Kind kind() const { return kind_; }
  /// The slope of LeakyReLU, the initial slope of PReLU, the alpha of ELU; 0 otherwise.
  [[nodiscard]] double parameter() const { return parameter_; }
  /// The name parse() reads back: "relu", "leaky_relu:0.001", ...
  [[nodiscard]] std::string name() const;
  /// The name micrograd prints in a neuron's repr: "ReLU", "Linear", "Tanh", ...
  [[nodiscard]] std::string_view display_name() const;
  /// True when each neuron owns a learnable slope (PReLU).
  [[nodiscard]] bool has_parameter() const { return kind_ == Kind::PReLU; }

  /// Applies the activation to x; `slope` is the neuron's PReLU slope (ignored otherwise).
  [[nodiscard]] Value operator()(const Value& x, const Value* slope = nullptr) const;
  /// Replaces each of xs by its activation, as `x = (*this)(x)` (no PReLU slope: PReLU applies
  /// its initial slope as a constant), choosing the function once for all of them: a layer's
  /// neurons.
  void apply(std::span<Value> xs) const;

  friend bool operator==(const Activation&, const Activation&) = default;

 private:
  /// Throws Error if `parameter` is not finite (the name of the kind and the number in it).
  Activation(Kind kind, double parameter);
  Kind kind_;
  double parameter_;
};

}  // namespace scalargrad::nn
