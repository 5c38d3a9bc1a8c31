#include <scalargrad/nn/module.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <typeinfo>

#include <scalargrad/error.hpp>

#include "format.hpp"
#include "checks.hpp"

namespace scalargrad::nn {

namespace {

void check_inputs(std::string_view who, std::size_t expected, std::size_t got) {
  if (expected != got) {
    throw Error("scalargrad::nn: " + std::string(who) + " expects " + std::to_string(expected) +
                " inputs, got " + std::to_string(got));
  }
}

// xs.size() == points * nin, without overflow (nin > 0).
void check_batch(std::string_view who, std::size_t nin, std::size_t inputs, std::size_t points) {
  if (points == 0 && inputs != 0) {
    throw Error("scalargrad::nn: " + std::string(who) + "::batch() of 0 points takes no inputs, got " +
                std::to_string(inputs));
  }
  if (points > inputs / nin || inputs != points * nin) {
    throw Error("scalargrad::nn: " + std::string(who) + "::batch() of " + std::to_string(points) + " points expects " +
                std::to_string(nin) + " inputs for each, got " + std::to_string(inputs) + " in all");
  }
}

// Note [Batch chunks]: a batch records one layer for all its points before the next layer, so
// where the tape's open segment fills up (2^20 nodes) every earlier point's outputs are left
// in the closed segment, and the next op imports each of them: a node and a hash-map entry each,
// where a loop of calls imports one point's. So a batch goes through in chunks of points worth
// at most kBatchNodes nodes (a 64th of a segment): the demo's 100 points are one chunk. 60,000
// points through 2-16-16-1 took 7.9 M nodes as one batch (a reviewer's probe, 3.5-7x the loop's
// time); in chunks 4.03 M against the loop's 4.02 M, and 137-156 ms against 198-215 ms. A
// segment filling up inside a chunk still imports that chunk's outputs: at most a chunk's worth
// (a few thousand nodes), where a loop imports one point's. (Those figures are of the layers'
// calls; since MLP::batch() records its chunks with dense(), a chunk goes to a new segment
// whole, and a reviewer's probe counted 4.021 M nodes for the 60,000 points.)
constexpr std::size_t kBatchNodes = std::size_t{1} << 14;

/// f(xs of m points, m) for chunks of at most kBatchNodes / nodes_per_point points (at least
/// one), their outputs (nout per point) one after the other.
template <typename Input, typename F>
std::vector<Value> in_chunks(std::span<const Input> xs, std::size_t points, std::size_t nin, std::size_t nout,
                             std::size_t nodes_per_point, F f) {
  const std::size_t chunk = std::max<std::size_t>(1, kBatchNodes / std::max<std::size_t>(1, nodes_per_point));
  if (points <= chunk) return f(xs, points);
  std::vector<Value> out;
  out.reserve(points * nout);
  for (std::size_t first = 0; first < points; first += chunk) {
    const std::size_t m = std::min(chunk, points - first);
    std::vector<Value> part = f(xs.subspan(first * nin, m * nin), m);
    out.insert(out.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return out;
}

// A temporary generator lives until the end of the delegating constructor's initialiser.
Rng& as_lvalue(Rng&& rng) { return rng; }

std::vector<Value> to_values(std::span<const double> x) { return std::vector<Value>(x.begin(), x.end()); }

/// The engine's LayerActivation for `a`, or none for PReLU (each neuron's own learnable slope).
std::optional<LayerActivation> layer_activation(const Activation& a) {
  switch (a.kind()) {
    case Activation::Kind::Linear: return LayerActivation::Linear;
    case Activation::Kind::ReLU: return LayerActivation::Relu;
    case Activation::Kind::LeakyReLU: return LayerActivation::LeakyRelu;
    case Activation::Kind::Tanh: return LayerActivation::Tanh;
    case Activation::Kind::Sigmoid: return LayerActivation::Sigmoid;
    case Activation::Kind::ELU: return LayerActivation::Elu;
    case Activation::Kind::GELU: return LayerActivation::Gelu;
    case Activation::Kind::SiLU: return LayerActivation::Silu;
    case Activation::Kind::Softplus: return LayerActivation::Softplus;
    case Activation::Kind::PReLU: break;
  }
  return std::nullopt;
}

template <typename Items>
std::string join_reprs(const Items& items) {
  std::string text;
  for (const auto& item : items) {
    if (!text.empty()) text += ", ";
    text += item.repr();
  }
  return text;
}

}  // namespace

// ---- Init -----------------------------------------------------------------------------------------
std::string_view init_name(Init init) {
  switch (init) {
    case Init::Uniform: return "uniform";
    case Init::Xavier: return "xavier";
    case Init::He: return "he";
  }
  return "uniform";
}

Init parse_init(std::string_view text) {
  for (const Init init : {Init::Uniform, Init::Xavier, Init::He}) {
    if (text == init_name(init)) return init;
  }
  throw Error("scalargrad::nn: unknown initialisation '" + std::string(text) + "'; valid: uniform, xavier, he");
}

double init_bound(Init init, std::size_t fan_in, std::size_t fan_out) {
  if (fan_in == 0 || fan_out == 0) {
    throw Error("scalargrad::nn: init_bound needs fan_in > 0 and fan_out > 0, got fan_in = " + std::to_string(fan_in) +
                ", fan_out = " + std::to_string(fan_out));
  }
  switch (init) {
    case Init::Uniform: return 1.0;
    // The fans added as doubles: as size_t, SIZE_MAX + 1 wraps to 0 and the bound to inf.
    case Init::Xavier: return std::sqrt(6.0 / (static_cast<double>(fan_in) + static_cast<double>(fan_out)));
    case Init::He: return std::sqrt(6.0 / static_cast<double>(fan_in));
  }
  return 1.0;
}

// ---- Module ---------------------------------------------------------------------------------------
std::vector<const Parameter*> Module::parameters() const {
  const std::vector<Parameter*> mutable_params = const_cast<Module*>(this)->parameters();
  return std::vector<const Parameter*>(mutable_params.begin(), mutable_params.end());
}

void Module::zero_grad() {
  for (Parameter* p : parameters()) p->grad = 0.0;
}

std::size_t Module::num_parameters() const { return parameters().size(); }

std::vector<Value> Module::parameter_leaves() const {
  const std::vector<const Parameter*> params = parameters();
  std::vector<Value> leaves;
  leaves.reserve(params.size());
  for (const Parameter* p : params) leaves.push_back(p->value());
  return leaves;
}

const LeafBlock* Module::parameter_block_in(detail::ResetOnCopyOrMove<LeafBlock>& cache,
                                           const std::type_info& kept_by) const {
  // A derived class may override parameters() to give other objects over time (a frozen
  // layer left out): the block made on first use would then go stale.
  if (typeid(*this) != kept_by) return nullptr;
  if (cache.value.empty()) {  // first use, or after a copy or a move (or no parameters at all)
    cache.value = LeafBlock(parameter_leaves());
  }
  return &cache.value;
}

std::ostream& operator<<(std::ostream& out, const Module& module) { return out << module.repr(); }

const LeafBlock* Neuron::parameter_block() const { return parameter_block_in(parameter_block_, typeid(Neuron)); }
const LeafBlock* Layer::parameter_block() const { return parameter_block_in(parameter_block_, typeid(Layer)); }
const LeafBlock* MLP::parameter_block() const { return parameter_block_in(parameter_block_, typeid(MLP)); }

// ---- Neuron ---------------------------------------------------------------------------------------
Neuron::Neuron(std::size_t nin, Activation activation, Rng& rng, double bound)
    : bias_(0.0), slope_(activation.parameter()), activation_(activation) {
  if (nin == 0) throw Error("scalargrad::nn: a Neuron needs at least one input");
  if (!(bound >= 0.0 && std::isfinite(bound))) {
    throw Error("scalargrad::nn: a Neuron draws its weights from uniform(-bound, bound), which needs a finite "
                "bound >= 0, got " + detail::format_number(bound));
  }
  detail::check_vector_size(weights_, nin, "a Neuron cannot have", "inputs");
  weights_.reserve(nin);
  for (std::size_t i = 0; i < nin; ++i) weights_.emplace_back(rng.uniform(-bound, bound));
}

Neuron::Neuron(std::size_t nin, Activation activation, std::uint64_t seed)
    : Neuron(nin, activation, as_lvalue(Rng(seed))) {}

void Neuron::make_weights_and_bias() const {
  std::vector<Value> values;
  values.reserve(weights_.size() + 1);
  for (const Parameter& w : weights_) values.push_back(w.value());
  values.push_back(bias_.value());
  weights_and_bias_.value = LeafBlock(std::move(values));
}

Value Neuron::operator()(std::span<const Value> x) const {
  check_inputs("Neuron", nin(), x.size());
  return activate(affine(weights_and_bias(), x));  // one fused node for w . x + b
}

Value Neuron::activate(const Value& z) const {
  return activation_(z, activation_.has_parameter() ? &slope_.value() : nullptr);
}

Value Neuron::operator()(std::span<const double> x) const {
  check_inputs("Neuron", nin(), x.size());
  return (*this)(to_values(x));
}

std::vector<Parameter*> Neuron::parameters() {
  std::vector<Parameter*> params;
  params.reserve(weights_.size() + 2);
  append_parameters(params);
  return params;
}

void Neuron::append_parameters(std::vector<Parameter*>& out) {
  for (Parameter& w : weights_) out.push_back(&w);
  out.push_back(&bias_);
  if (activation_.has_parameter()) out.push_back(&slope_);
}

std::string Neuron::repr() const {
  return std::string(activation_.display_name()) + "Neuron(" + std::to_string(nin()) + ")";
}

// ---- Layer ----------------------------------------------------------------------------------------
Layer::Layer(std::size_t nin, std::size_t nout, Activation activation, Init init, Rng& rng)
    : nin_(nin), activation_(activation) {
  if (nin == 0) throw Error("scalargrad::nn: a Layer needs at least one input");
  if (nout == 0) throw Error("scalargrad::nn: a Layer needs at least one neuron");
  const double bound = init_bound(init, nin, nout);
  detail::check_vector_size(neurons_, nout, "a Layer cannot have", "neurons");
  neurons_.reserve(nout);
  for (std::size_t i = 0; i < nout; ++i) neurons_.emplace_back(nin, activation, rng, bound);
}

Layer::Layer(std::size_t nin, std::size_t nout, Activation activation, Init init, std::uint64_t seed)
    : Layer(nin, nout, activation, init, as_lvalue(Rng(seed))) {}

const std::vector<LeafBlock>& Layer::rows() const {
  std::vector<LeafBlock>& rows = rows_.value;
  if (rows.size() != neurons_.size()) [[unlikely]] {
    rows.clear();
    for (const Neuron& n : neurons_) rows.push_back(n.weights_and_bias());
  }
  return rows;
}

std::vector<Value> Layer::operator()(std::span<const Value> x) const {
  check_inputs("Layer", nin_, x.size());
  // Each neuron's w . x + b, one affine node per neuron as Neuron::operator() records it, with
  // x's operands found once for the layer; then their activations, one after the other, so that
  // the next layer's affine nodes read them as one run of nodes (Note [Range dot] in the
  // engine's tape.hpp).
  std::vector<Value> out = affine(rows(), x);
  activate(out);
  return out;
}

void Layer::activate(std::span<Value> zs) const {
  if (activation_.has_parameter()) {  // each neuron its own slope
    for (std::size_t k = 0; k < zs.size(); ++k) zs[k] = neurons_[k % neurons_.size()].activate(zs[k]);
  } else {
    activation_.apply(zs);
  }
}

std::vector<Value> Layer::operator()(std::span<const double> x) const {
  check_inputs("Layer", nin_, x.size());
  return (*this)(to_values(x));
}

std::vector<Value> Layer::batch(std::span<const Value> xs, std::size_t points) const {
  check_batch("Layer", nin_, xs.size(), points);
  // As operator(): the affine nodes, point by point, then every activation, so that each
  // point's outputs are one run of nodes for the next layer; in chunks (Note [Batch chunks]).
  return in_chunks(xs, points, nin_, nout(), nin_ + 2 * nout(), [this](std::span<const Value> part, std::size_t m) {
    std::vector<Value> out = affine(rows(), part, m);
    activate(out);
    return out;
  });
}

std::vector<Parameter*> Layer::parameters() {
  std::vector<Parameter*> params;
  params.reserve(parameter_count());
  append_parameters(params);
  return params;
}

void Layer::append_parameters(std::vector<Parameter*>& out) {
  for (Neuron& n : neurons_) n.append_parameters(out);
}

std::size_t Layer::parameter_count() const {
  return neurons_.size() * (nin_ + (activation_.has_parameter() ? 2 : 1));
}

std::string Layer::repr() const { return "Layer of [" + join_reprs(neurons_) + "]"; }

// ---- MLP ------------------------------------------------------------------------------------------
namespace {

std::vector<Activation> micrograd_activations(std::size_t layers, Activation hidden, Activation output) {
  std::vector<Activation> activations(layers, hidden);
  if (!activations.empty()) activations.back() = output;
  return activations;
}

}  // namespace

MLP::MLP(std::size_t nin, std::vector<std::size_t> sizes, Activation hidden, Activation output, Init init,
         std::uint64_t seed)
    : MLP(nin, sizes, micrograd_activations(sizes.size(), hidden, output), init, seed) {}

MLP::MLP(std::size_t nin, std::vector<std::size_t> sizes, std::vector<Activation> activations, Init init,
         std::uint64_t seed)
    : nin_(nin) {
  if (nin == 0) throw Error("scalargrad::nn: an MLP needs at least one input");
  if (sizes.empty()) throw Error("scalargrad::nn: an MLP needs at least one layer size");
  if (activations.size() != sizes.size()) {
    throw Error("scalargrad::nn: an MLP of " + std::to_string(sizes.size()) + " layers needs as many activations, got " +
                std::to_string(activations.size()));
  }
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) {
      throw Error("scalargrad::nn: an MLP needs at least one neuron in each layer, but layer " + std::to_string(i + 1) +
                  " of " + std::to_string(sizes.size()) + " has size 0");
    }
  }
  Rng rng(seed);
  layers_.reserve(sizes.size());
  std::size_t fan_in = nin;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    layers_.emplace_back(fan_in, sizes[i], activations[i], init, rng);
    fan_in = sizes[i];
  }
  // Names for pictures of the graph: "layer1/n0.w0", "layer1/n0.b", "layer1/n0.a" (layers count
  // from 1, neurons and weights from 0).
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const std::vector<Parameter*> params = layers_[l].parameters();
    std::size_t k = 0;
    for (std::size_t j = 0; j < layers_[l].nout(); ++j) {
      const Neuron& neuron = layers_[l].neurons()[j];
      std::string prefix = "layer";
      prefix += std::to_string(l + 1);
      prefix += "/n";
      prefix += std::to_string(j);
      for (std::size_t w = 0; w < neuron.nin(); ++w) params[k++]->name = prefix + ".w" + std::to_string(w);
      params[k++]->name = prefix + ".b";
      if (neuron.activation().has_parameter()) params[k++]->name = prefix + ".a";
    }
  }
}

std::vector<Value> MLP::operator()(std::span<const Value> x) const {
  detail::check_has_layers(layers_.size());
  check_inputs("MLP", nin_, x.size());
  std::vector<Value> out = layers_.front()(x);
  for (std::size_t i = 1; i < layers_.size(); ++i) out = layers_[i](out);
  return out;
}

std::vector<Value> MLP::operator()(std::span<const double> x) const {
  detail::check_has_layers(layers_.size());
  check_inputs("MLP", nin_, x.size());
  return (*this)(to_values(x));
}

Value MLP::score(std::span<const Value> x) const {
  check_one_output("score", "operator()");
  return (*this)(x).front();
}

Value MLP::score(std::span<const double> x) const {
  detail::check_has_layers(layers_.size());
  check_inputs("MLP", nin_, x.size());
  return score(to_values(x));
}

template <typename Input>
std::vector<Value> MLP::batch_of(std::span<const Input> xs, std::size_t points) const {
  detail::check_has_layers(layers_.size());
  check_batch("MLP", nin_, xs.size(), points);
  // Every layer for a chunk of points, then the next chunk (Note [Batch chunks]); a layer's own
  // chunks are never smaller, so it takes each of these whole.
  std::size_t nodes_per_point = nin_;
  for (const Layer& layer : layers_) nodes_per_point += 2 * layer.nout();
  // Without a learnable slope (PReLU: each neuron's own), the engine's dense() records the nodes
  // of the layers' batch() calls for the whole stack at once, with no Value for the hidden
  // layers' outputs (Note [Dense layers] in the engine's value.cpp).
  std::vector<DenseLayer> stack;
  stack.reserve(layers_.size());
  for (const Layer& layer : layers_) {
    const std::optional<LayerActivation> activation = layer_activation(layer.activation());
    if (!activation) {
      stack.clear();
      break;
    }
    stack.push_back({layer.rows(), *activation, layer.activation().parameter()});
  }
  return in_chunks(xs, points, nin_, nout(), nodes_per_point, [&](std::span<const Input> part, std::size_t m) {
    if (!stack.empty()) return dense(stack, part, m);
    std::vector<Value> out;
    if constexpr (std::is_same_v<Input, double>) {
      out = layers_.front().batch(to_values(part), m);  // (PReLU: doubles as leaves)
    } else {
      out = layers_.front().batch(part, m);
    }
    for (std::size_t i = 1; i < layers_.size(); ++i) out = layers_[i].batch(out, m);
    return out;
  });
}

std::vector<Value> MLP::batch(std::span<const Value> xs, std::size_t points) const {
  return batch_of(xs, points);
}

std::vector<Value> MLP::batch(std::span<const double> xs, std::size_t points) const {
  return batch_of(xs, points);
}

namespace {

/// The points one after the other, as one span of inputs (Values or doubles) for MLP::batch();
/// throws Error naming the first point that does not have `nin` inputs.
template <typename Number>
std::vector<Number> one_after_the_other(std::span<const std::vector<Number>> points, std::size_t nin) {
  std::vector<Number> xs;
  xs.reserve(points.size() * nin);
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (points[p].size() != nin) {
      throw Error("scalargrad::nn: MLP expects " + std::to_string(nin) + " inputs, got " +
                  std::to_string(points[p].size()) + " in point " + std::to_string(p));
    }
    xs.insert(xs.end(), points[p].begin(), points[p].end());
  }
  return xs;
}

}  // namespace

void MLP::check_one_output(std::string_view who, std::string_view instead) const {
  detail::check_has_layers(layers_.size());
  if (nout() != 1) {
    throw Error("scalargrad::nn: " + std::string(who) + "() needs an MLP with one output, this one has " +
                std::to_string(nout()) + "; use " + std::string(instead) + " for all outputs");
  }
}

std::vector<Value> MLP::scores(std::span<const std::vector<double>> points) const {
  check_one_output("scores", "batch()");
  const std::vector<double> xs = one_after_the_other(points, nin_);
  return batch(std::span<const double>(xs), points.size());
}

std::vector<Value> MLP::scores(std::span<const std::vector<Value>> points) const {
  check_one_output("scores", "batch()");
  return batch(one_after_the_other(points, nin_), points.size());
}

std::vector<Value> MLP::scores(std::initializer_list<std::vector<double>> points) const {
  return scores(std::span<const std::vector<double>>(points.begin(), points.size()));
}

std::vector<Parameter*> MLP::parameters() {
  // One vector, not one per layer and neuron: l2_penalty() and zero_grad() call this each step.
  std::size_t count = 0;
  for (const Layer& layer : layers_) count += layer.parameter_count();
  std::vector<Parameter*> params;
  params.reserve(count);
  for (Layer& layer : layers_) layer.append_parameters(params);
  return params;
}

std::string MLP::repr() const { return "MLP of [" + join_reprs(layers_) + "]"; }

}  // namespace scalargrad::nn
