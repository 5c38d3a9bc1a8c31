// nn::Parameter: a trainable weight, with public data and grad as in micrograd.
#pragma once

#include <optional>
#include <string>

#include <scalargrad/value.hpp>

namespace scalargrad::nn {

/// A trainable weight. `data` and `grad` are plain doubles that optimizers and users read and
/// write directly (as micrograd's `p.data += -lr * p.grad`). Used in an expression, a Parameter
/// enters the graph as a leaf holding the current `data`, and backward() adds its gradient into
/// `grad`.
///
/// A Parameter belongs to the thread that first uses it in a graph (as Values do).
class Parameter {
 public:
  double data = 0.0;  ///< the weight
  /// d(root)/d(weight), accumulated by every backward() through it until zeroed. Mutable:
  /// backward() writes it even through a const model, as a cache of the last pass.
  mutable double grad = 0.0;
  /// The label of its leaf in pictures of the graph (to_dot). MLP names its parameters
  /// "layer1/n0.w1" (layer 1, neuron 0, weight 1), "layer1/n0.b", "layer1/n0.a" (PReLU
  /// slope): the part before '/' groups a layer's nodes in one box. Set it before the
  /// Parameter's first use in a graph.
  std::string name;

  Parameter() = default;
  explicit Parameter(double initial) : data(initial) {}
  /// Copies data, grad and name; the copy enters graphs as a leaf of its own.
  Parameter(const Parameter& other) : data(other.data), grad(other.grad), name(other.name) {}
  Parameter& operator=(const Parameter& other) {
    data = other.data;
    grad = other.grad;
    name = other.name;
    return *this;
  }
  ~Parameter() {
    if (leaf_) leaf_->unbind();  // graphs that outlive this Parameter stay valid
  }

  /// This Parameter as a leaf Value of the graph being recorded.
  [[nodiscard]] const Value& value() const {
    if (!leaf_) {
      leaf_.emplace(Value::external(data, grad));
      if (!name.empty()) leaf_->label(name);
    }
    return *leaf_;
  }
  /// So that a Parameter can be used in expressions like a Value: `p * x + 1.0`.
  operator const Value&() const { return value(); }  // NOLINT(google-explicit-constructor)

 private:
  mutable std::optional<Value> leaf_;  // external leaf bound to data and grad, made on first use
};

// The engine's operators and ops, made visible to argument-dependent lookup on a Parameter
// (its namespace is scalargrad::nn), so that `p * 2.0`, `p - q` and `tanh(p)` compile anywhere.
using scalargrad::operator+;
using scalargrad::operator-;
using scalargrad::operator*;
using scalargrad::operator/;
using scalargrad::abs;
using scalargrad::elu;
using scalargrad::exp;
using scalargrad::gelu;
using scalargrad::leaky_relu;
using scalargrad::log;
using scalargrad::pow;
using scalargrad::relu;
using scalargrad::sigmoid;
using scalargrad::silu;
using scalargrad::softplus;
using scalargrad::sqrt;
using scalargrad::tanh;

}  // namespace scalargrad::nn
