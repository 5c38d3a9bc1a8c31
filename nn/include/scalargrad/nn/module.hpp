// nn::Module, Neuron, Layer, MLP: micrograd's nn.py, in C++.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include <scalargrad/nn/activation.hpp>
#include <scalargrad/nn/parameter.hpp>
#include <scalargrad/nn/random.hpp>
#include <scalargrad/value.hpp>

namespace scalargrad::nn {

namespace detail {
/// A cache a module makes from its own parameters' leaves. Neither a copy nor a move of the
/// module may keep it: a copy's parameters are other leaves, and a move copies the Parameter
/// members (a Neuron's bias), whose leaves are then new too. So copying or moving gives an empty
/// T, made again on use, and a moved-from cache is emptied as well (no leaf outlives its use).
template <typename T>
struct ResetOnCopyOrMove {
  static_assert(std::is_nothrow_default_constructible_v<T> && std::is_nothrow_move_assignable_v<T>);
  T value;
  ResetOnCopyOrMove() = default;
  ResetOnCopyOrMove(const ResetOnCopyOrMove&) {}
  ResetOnCopyOrMove& operator=(const ResetOnCopyOrMove&) {
    value = T();
    return *this;
  }
  ResetOnCopyOrMove(ResetOnCopyOrMove&& other) noexcept { other.value = T(); }
  ResetOnCopyOrMove& operator=(ResetOnCopyOrMove&& other) noexcept {
    value = T();
    other.value = T();
    return *this;
  }
  ~ResetOnCopyOrMove() = default;
};
}  // namespace detail

/// How initial weights are drawn (biases start at 0).
enum class Init {
  Uniform,  ///< uniform(-1, 1), as micrograd
  Xavier,   ///< Glorot uniform: uniform(-b, b), b = sqrt(6 / (fan_in + fan_out))
  He,       ///< Kaiming uniform for ReLU: uniform(-b, b), b = sqrt(6 / fan_in)
};
/// "uniform", "xavier", "he".
std::string_view init_name(Init init);
/// Parses init_name()'s names; throws Error listing them for anything else.
Init parse_init(std::string_view text);
/// The bound b of uniform(-b, b) for a layer of fan_in inputs and fan_out outputs: 1 (Uniform),
/// sqrt(6 / (fan_in + fan_out)) (Xavier), sqrt(6 / fan_in) (He). Throws Error if a fan is 0.
double init_bound(Init init, std::size_t fan_in, std::size_t fan_out);

/// Anything with parameters.
class Module {
 public:
  virtual ~Module() = default;

  /// Every parameter, in micrograd's order: layer by layer, neuron by neuron, its weights
  /// then its bias (then its PReLU slope, if any).
  [[nodiscard]] virtual std::vector<Parameter*> parameters() = 0;
  [[nodiscard]] std::vector<const Parameter*> parameters() const;
  /// Sets every parameter's grad to 0.
  void zero_grad();
  /// How many parameters parameters() returns.
  [[nodiscard]] std::size_t num_parameters() const;
  /// micrograd's repr: "MLP of [Layer of [ReLUNeuron(2), ...], ...]".
  [[nodiscard]] virtual std::string repr() const = 0;

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  /// Every parameter's leaf, in parameters() order, as one LeafBlock, or nullptr (the default)
  /// for a module that keeps none. l2_penalty() records its dot through it, so that the leaves'
  /// nodes are found once per tape segment (the forward pass has usually found them already)
  /// instead of a handle being copied to each. Only a module whose parameters() gives the same
  /// objects for its lifetime may keep one: Neuron, Layer and MLP do, in a cache that a copy or
  /// a move of the module leaves empty (parameter_block_in()); a class derived from them keeps
  /// none (it may override parameters() to give others) unless it overrides this too.
  [[nodiscard]] virtual const LeafBlock* parameter_block() const { return nullptr; }
  /// Each parameter's leaf, in parameters() order (what parameter_block() holds, and the
  /// operands of l2_penalty()'s dot for a module that keeps no block).
  [[nodiscard]] std::vector<Value> parameter_leaves() const;
  /// parameter_block() kept in `cache`, made from parameters() when empty, if this module is
  /// exactly of type `kept_by` (not a class derived from it); else nullptr.
  const LeafBlock* parameter_block_in(detail::ResetOnCopyOrMove<LeafBlock>& cache, const std::type_info& kept_by) const;
  friend Value l2_penalty(const Module& model, double alpha);
};

/// Prints module.repr().
std::ostream& operator<<(std::ostream& out, const Module& module);

/// One neuron: activation(w . x + b), with w . x + b one fused affine node of the graph.
class Neuron : public Module {
 public:
  /// nin weights drawn from uniform(-bound, bound) with `rng`, bias 0. Throws Error if nin is
  /// 0 or more than a vector of Parameters can hold, or if bound is negative or not finite.
  Neuron(std::size_t nin, Activation activation, Rng& rng, double bound = 1.0);
  /// As above with a generator seeded by `seed` (micrograd's uniform(-1, 1) by default).
  explicit Neuron(std::size_t nin, Activation activation = Activation::relu(), std::uint64_t seed = 1);

  /// activation(w . x + b). Throws Error if x.size() != nin().
  Value operator()(std::span<const Value> x) const;
  Value operator()(std::span<const double> x) const;

  [[nodiscard]] std::vector<Parameter*> parameters() override;
  using Module::parameters;
  [[nodiscard]] std::string repr() const override;

  [[nodiscard]] std::size_t nin() const { return weights_.size(); }
  [[nodiscard]] const std::vector<Parameter>& weights() const { return weights_; }
  [[nodiscard]] const Parameter& bias() const { return bias_; }
  [[nodiscard]] const Activation& activation() const { return activation_; }
  /// The learnable slope of a PReLU neuron (its initial value otherwise, unused).
  [[nodiscard]] const Parameter& slope() const { return slope_; }

 protected:
  [[nodiscard]] const LeafBlock* parameter_block() const override;

 private:
  // The leaves of the weights then the bias, as one LeafBlock: affine() through it finds their
  // nodes once per tape segment instead of once per call. Made on first use, and again after a
  // copy or a move; the size check is all a forward pass pays.
  const LeafBlock& weights_and_bias() const {
    if (weights_and_bias_.value.size() != weights_.size() + 1) [[unlikely]] make_weights_and_bias();
    return weights_and_bias_.value;
  }
  void make_weights_and_bias() const;
  /// Its activation of z, the weighted sum with the bias added.
  Value activate(const Value& z) const;
  /// Appends parameters() to `out` (Layer and MLP list theirs without a vector per neuron).
  void append_parameters(std::vector<Parameter*>& out);
  friend class Layer;  // computes its neurons' w . x + b together, then activate()s

  std::vector<Parameter> weights_;
  Parameter bias_;
  Parameter slope_;  // PReLU's slope
  Activation activation_;
  mutable detail::ResetOnCopyOrMove<LeafBlock> weights_and_bias_;
  mutable detail::ResetOnCopyOrMove<LeafBlock> parameter_block_;  // parameter_block()
};

/// nout neurons reading the same nin inputs.
class Layer : public Module {
 public:
  /// Weights drawn with `rng` as `init` says for fan_in = nin, fan_out = nout, neuron by
  /// neuron. Throws Error if nin or nout is 0, or more than a vector can hold.
  Layer(std::size_t nin, std::size_t nout, Activation activation, Init init, Rng& rng);
  Layer(std::size_t nin, std::size_t nout, Activation activation = Activation::relu(),
        Init init = Init::Uniform, std::uint64_t seed = 1);

  /// Each neuron's output. Throws Error if x.size() != nin().
  std::vector<Value> operator()(std::span<const Value> x) const;
  std::vector<Value> operator()(std::span<const double> x) const;
  /// operator()(x) for each of `points` inputs x, stored one after the other in xs (point p's
  /// are xs[p * nin()] to xs[p * nin() + nin() - 1]): the nodes operator() records for each,
  /// with the same values, faster (the engine's affine(rows, xs, points)); the outputs one point
  /// after the other, nout() per point. Throws Error if xs.size() != points * nin().
  std::vector<Value> batch(std::span<const Value> xs, std::size_t points) const;

  [[nodiscard]] std::vector<Parameter*> parameters() override;
  using Module::parameters;
  [[nodiscard]] std::string repr() const override;

  [[nodiscard]] std::size_t nin() const { return nin_; }
  [[nodiscard]] std::size_t nout() const { return neurons_.size(); }
  [[nodiscard]] const std::vector<Neuron>& neurons() const { return neurons_; }
  [[nodiscard]] const Activation& activation() const { return activation_; }

 protected:
  [[nodiscard]] const LeafBlock* parameter_block() const override;

 private:
  // Its neurons' weights and biases, one LeafBlock per neuron (copies of theirs: the same
  // leaves, a cache of its own), for affine(rows, x). Made on first use, and again after a copy
  // or a move.
  const std::vector<LeafBlock>& rows() const;
  /// Each neuron's activation of its affine nodes zs, in place: one point's, or several points'
  /// one after the other (nout() per point), recorded one after the other.
  void activate(std::span<Value> zs) const;
  /// Appends parameters() to `out`.
  void append_parameters(std::vector<Parameter*>& out);
  /// How many parameters() lists.
  [[nodiscard]] std::size_t parameter_count() const;
  friend class MLP;

  std::size_t nin_;
  Activation activation_;
  std::vector<Neuron> neurons_;
  mutable detail::ResetOnCopyOrMove<std::vector<LeafBlock>> rows_;
  mutable detail::ResetOnCopyOrMove<LeafBlock> parameter_block_;  // parameter_block()
};

/// A multi-layer perceptron: layers of the given sizes, one activation for the hidden layers
/// and one for the output layer (micrograd: ReLU hidden, linear output).
class MLP : public Module {
 public:
  MLP(std::size_t nin, std::vector<std::size_t> sizes, Activation hidden = Activation::relu(),
      Activation output = Activation::linear(), Init init = Init::Uniform, std::uint64_t seed = 1);
  /// One activation per layer. Both constructors throw Error, before drawing any weight, if nin
  /// is 0, sizes is empty or holds a 0 (naming the layer), or activations.size() != sizes.size().
  /// A size no vector can hold throws Error from the Layer or Neuron that would hold it.
  MLP(std::size_t nin, std::vector<std::size_t> sizes, std::vector<Activation> activations,
      Init init = Init::Uniform, std::uint64_t seed = 1);

  /// The outputs of the last layer. Throws Error if x.size() != nin(), or if this MLP was
  /// moved from (it then has no layers; assign a model to it to use it again).
  std::vector<Value> operator()(std::span<const Value> x) const;
  std::vector<Value> operator()(std::span<const double> x) const;
  /// The single output of a network whose last layer has one neuron (a score); throws Error
  /// for other networks.
  Value score(std::span<const Value> x) const;
  Value score(std::span<const double> x) const;
  /// operator()(x) for each of `points` inputs x, stored one after the other in xs: the outputs
  /// one point after the other, nout() per point, with the values of a loop of operator() and,
  /// after backward(), its gradients: to the bit while the graph fits in one tape segment
  /// (2^20 nodes), else to rounding (each segment sums its part of a weight's gradient, and the
  /// two split the points at other places). Each layer records its nodes for a chunk of points
  /// before the next layer starts (the engine's dense(), or Layer::batch() where a layer is
  /// PReLU), so that the weights are checked once per layer and chunk, not once per point
  /// (docs/performance.md: the demo's training). Throws
  /// Error if xs.size() != points * nin(), or if this MLP was moved from.
  std::vector<Value> batch(std::span<const Value> xs, std::size_t points) const;
  /// batch() of inputs given as doubles, with no leaf made for each: they enter the tape as
  /// "input" nodes (the engine's dense() of doubles), whose grad() is d(root)/d(input). The same
  /// values and parameter gradients as batch() of leaves holding these doubles, to the bit. Where
  /// a layer is PReLU, it makes those leaves and calls batch(). Throws as batch() does.
  std::vector<Value> batch(std::span<const double> xs, std::size_t points) const;
  /// score(x) for each point, in order (micrograd's `list(map(model, inputs))`), as one batch:
  /// the values, and after backward() the gradients, of a loop of score(), recorded faster, as
  /// batch() says (doubles through batch() of doubles: no leaf for each input). Throws Error,
  /// naming the point, if one does not have nin() inputs, and as score() does for networks with
  /// other than one output.
  std::vector<Value> scores(std::span<const std::vector<double>> points) const;
  std::vector<Value> scores(std::span<const std::vector<Value>> points) const;
  /// scores(points) for points written out in the call, `model.scores({{0.5, 1.0}, {-1.0, 0.2}})`,
  /// and for none, `model.scores({})` (which the two span forms would both take).
  std::vector<Value> scores(std::initializer_list<std::vector<double>> points) const;

  [[nodiscard]] std::vector<Parameter*> parameters() override;
  using Module::parameters;
  [[nodiscard]] std::string repr() const override;

  [[nodiscard]] std::size_t nin() const { return nin_; }
  /// The size of the last layer; 0 for a moved-from MLP, which has no layers.
  [[nodiscard]] std::size_t nout() const { return layers_.empty() ? 0 : layers_.back().nout(); }
  [[nodiscard]] const std::vector<Layer>& layers() const { return layers_; }

 protected:
  [[nodiscard]] const LeafBlock* parameter_block() const override;

 private:
  // For score() and scores(): throws Error, naming `who` and the call to use `instead`, unless
  // nout() == 1 (or if this MLP was moved from).
  void check_one_output(std::string_view who, std::string_view instead) const;
  // batch() of Values or of doubles.
  template <typename Input>
  std::vector<Value> batch_of(std::span<const Input> xs, std::size_t points) const;

  std::size_t nin_;
  std::vector<Layer> layers_;
  mutable detail::ResetOnCopyOrMove<LeafBlock> parameter_block_;  // parameter_block()
};

}  // namespace scalargrad::nn
