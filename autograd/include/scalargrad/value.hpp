// scalargrad::Value: a scalar that records the computation that made it, so that backward()
// can give every input its gradient. See docs/architecture.md for the tape behind it.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scalargrad/error.hpp"

namespace scalargrad {

namespace detail {
struct Tape;
struct OperandResolver;
enum class Op : std::uint8_t;
}

/// A scalar in a dynamic computation graph.
///
/// A Value made from a double is a *leaf*; every op on Values records a node on this thread's
/// tape and returns a Value for its result. `backward()` then fills `grad()` of every Value the
/// root depends on. A Value is a small handle (24 bytes): copying it never allocates, and the
/// memory of a graph is recycled by itself once no Value into it is left
/// (see Note [Lifetime] in docs/architecture.md).
///
/// Gradient semantics are PyTorch's: leaf gradients accumulate over backward() calls until
/// zero_grad(); the gradients of op results are recomputed by each backward() through them.
/// Values belong to the thread that made them: using one on another thread throws Error.
class Value {
 public:
  /// A leaf holding 0.0.
  Value() : Value(0.0) {}
  /// A leaf holding `data` (implicit, so that `Value x = 2.0;` and `f(2.0)` work).
  Value(double data);  // NOLINT(google-explicit-constructor)

  Value(const Value& other);
  Value(Value&& other) noexcept;
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;
  ~Value();

  // ---- 1. Data and gradient ---------------------------------------------------------------
  /// The value computed in the forward pass.
  [[nodiscard]] double data() const;
  /// d(root)/d(this) from the latest backward() that reached this Value (accumulated over
  /// backward() calls for leaves); 0 before any.
  [[nodiscard]] double grad() const;
  /// Changes the data of a leaf; ops recorded later see the new value, ops recorded before keep
  /// the old one. Throws Error for the result of an op (its data is fixed by its inputs).
  void set_data(double data);
  /// Sets this Value's gradient to 0.
  void zero_grad();
  /// Sets a leaf's gradient to `grad`, bit for bit (-0.0 and NaN too), as if backward() had
  /// accumulated exactly that: later backward() calls add to it. Works inside NoGradGuard and
  /// AnomalyGuard blocks (it records nothing). The result of an op takes only 0 (as
  /// zero_grad()): its gradient is recomputed by each backward() through it, so any other
  /// number throws Error. The Python binding's `x.grad = g` is this.
  void set_grad(double grad);
  /// True for a Value made from a double (or by detach(), or under NoGradGuard); false for the
  /// "input" nodes of dense() of doubles, which the tape holds as it holds op results.
  [[nodiscard]] bool is_leaf() const;

  // ---- 2. External leaves (for nn::Parameter) ---------------------------------------------
  /// A leaf that mirrors two doubles owned by the caller: each time it enters a graph it takes
  /// the current value of `data`, and backward() adds its gradient into `grad`; data() and
  /// grad() read them (set_data() throws: change the owner's data instead). The owner must
  /// call unbind() or rebind() before either double goes away; nn::Parameter does.
  static Value external(const double& data, double& grad);
  /// Points an external leaf at new storage (its owner moved). Throws Error on other Values.
  void rebind(const double& data, double& grad);
  /// Detaches an external leaf from its owner's storage: it becomes a plain leaf holding the
  /// last data and grad, and graphs that still use it stay valid. Does nothing on other Values,
  /// on a moved-from Value, or on another thread.
  void unbind() noexcept;

  // ---- 3. Backpropagation ----------------------------------------------------------------
  /// Computes d(this)/dv for every v this Value depends on, in one reverse sweep of the tape:
  /// leaves accumulate (+=), op results (and dense()'s "input" nodes) are overwritten. Throws
  /// Error under NoGradGuard.
  void backward() const;
  /// A new leaf with the same data: a constant for the graphs built from it.
  [[nodiscard]] Value detach() const;

  // ---- 4. Teaching and debugging ---------------------------------------------------------
  /// Names this Value (shown in graphs); returns *this so it chains.
  Value& label(std::string_view name);
  /// The name given by label(name), or "" if none.
  [[nodiscard]] std::string label() const;
  /// Name of the op that made this Value: "+", "*", "tanh", ...; "" for a leaf; "input" for an
  /// input that dense() (nn::MLP::scores()) took as a double.
  [[nodiscard]] std::string_view op() const;
  /// The Values this one was computed from, in operand order (empty for a leaf or an "input").
  [[nodiscard]] std::vector<Value> operands() const;
  /// The constant operand of an op such as `x * 2.0` or `pow(x, 3.0)`, or leaky_relu's slope.
  [[nodiscard]] std::optional<double> constant() const;
  /// True when that constant stands left of the operand: `1.0 - x`, `2.0 / x`, `pow(2.0, x)`.
  /// (`x - 1.0` is recorded as `x + -1.0`.)
  [[nodiscard]] bool constant_on_left() const;

  // ---- 5. Ops as members (each also a free function below) --------------------------------
  /// x^p; d/dx = p x^(p-1) (0 when p = 0).
  [[nodiscard]] Value pow(double exponent) const;
  /// x^y; d/dx = y x^(y-1), d/dy = x^y ln x (0 at x = 0 for y >= 0, as PyTorch).
  [[nodiscard]] Value pow(const Value& exponent) const;
  /// e^x; d/dx = e^x.
  [[nodiscard]] Value exp() const;
  /// ln x; d/dx = 1/x. IEEE semantics: log(0) = -inf, log(-1) = NaN.
  [[nodiscard]] Value log() const;
  /// sqrt x; d/dx = 1/(2 sqrt x) (+inf at 0). sqrt(-1) = NaN.
  [[nodiscard]] Value sqrt() const;
  /// |x|; d/dx = sign(x), 0 at x = 0.
  [[nodiscard]] Value abs() const;
  /// max(x, 0); d/dx = 1 for x > 0, 0 for x <= 0 (ReLU'(0) = 0, as PyTorch).
  [[nodiscard]] Value relu() const;
  /// x for x > 0, slope x otherwise; d/dx = 1 for x > 0, slope for x <= 0.
  [[nodiscard]] Value leaky_relu(double slope = 0.01) const;
  /// tanh x, in (-1, 1); d/dx = 1 - tanh^2 x, at most 1 (at 0).
  [[nodiscard]] Value tanh() const;
  /// 1/(1 + e^-x), in (0, 1); d/dx = s(1 - s), at most 0.25 (at 0). Stable for large |x|.
  [[nodiscard]] Value sigmoid() const;
  /// x for x > 0, alpha (e^x - 1) otherwise; d/dx = 1 for x > 0, alpha e^x for x <= 0.
  [[nodiscard]] Value elu(double alpha = 1.0) const;
  /// x Phi(x) with Phi the normal CDF (erf form); d/dx = Phi(x) + x phi(x).
  [[nodiscard]] Value gelu() const;
  /// x sigmoid(x); d/dx = s(x) (1 + x (1 - s(x))).
  [[nodiscard]] Value silu() const;
  /// ln(1 + e^x), stable for large |x|; d/dx = sigmoid(x).
  [[nodiscard]] Value softplus() const;

  Value& operator+=(const Value& rhs);
  Value& operator-=(const Value& rhs);
  Value& operator*=(const Value& rhs);
  Value& operator/=(const Value& rhs);
  Value& operator+=(double rhs);
  Value& operator-=(double rhs);
  Value& operator*=(double rhs);
  Value& operator/=(double rhs);

  /// Pass key of the tape's own constructor below: only the tape can make one. (The constructor
  /// is public so that the tape can emplace handles straight into a std::vector.)
  class Adopt {
    friend struct detail::Tape;
    Adopt() = default;
  };
  /// A handle whose reference the tape has already counted; key = detail::handle_key(owner,
  /// tape), `value` the node's value (anything for a leaf). For the tape only.
  Value(Adopt, std::uint32_t ref, std::uint64_t key, double value) noexcept;

 private:
  friend struct detail::Tape;
  friend struct detail::OperandResolver;
  // The handle's key, detail::handle_key(owner, tape): the hot path's one compare.
  [[nodiscard]] std::uint64_t key() const noexcept { return key_; }
  void set_key(std::uint64_t key) noexcept { key_ = key; }
  // Segment slot, detail::kLeafOwner, or detail::kNoOwner (moved-from): key's low half.
  [[nodiscard]] std::uint32_t owner() const noexcept { return static_cast<std::uint32_t>(key_); }
  // Id of the tape (thread) that recorded it: key's high half.
  [[nodiscard]] std::uint32_t tape() const noexcept { return static_cast<std::uint32_t>(key_ >> 32); }
  // *this = f(*this, rhs) and *this = op(*this; c) for the compound assignments: when *this is
  // a node of the open segment, the new node takes its place without touching the count.
  template <typename F>
  Value& assign_binary(detail::Op op, const Value& rhs, F f);
  template <detail::Op op>
  Value& assign_unary(double c);

  // Note [Typed key]: owner and tape are one 64-bit member, read and written as such. Kept as
  // two 32-bit fields read as one through memcpy, every write of a handle was a char-typed
  // store, which for the compiler may change any object: the code after it reloaded what it had
  // already loaded (the demo's forward ran 3.4 M more instructions, of ~140 M). Two 32-bit
  // stores read by one 8-byte load would not do either: that load cannot be forwarded from
  // them (~12 cycles per temporary).
  std::uint64_t key_ = 0;  // detail::handle_key(owner, tape)
  // A node's value, which never changes, carried by its handles (Note [Carried value] in
  // value_impl.hpp); not read for a leaf, whose data lives in the tape and may change.
  double value_ = 0.0;
  std::uint32_t ref_ = 0;  // node offset in its segment, or leaf slot
};

// ---- Arithmetic: Value or double on either side ----------------------------------------------
/// x + y; d/dx = 1, d/dy = 1.
Value operator+(const Value& x, const Value& y);
Value operator+(const Value& x, double y);
Value operator+(double x, const Value& y);
/// x - y; d/dx = 1, d/dy = -1.
Value operator-(const Value& x, const Value& y);
Value operator-(const Value& x, double y);
Value operator-(double x, const Value& y);
/// x y; d/dx = y, d/dy = x.
Value operator*(const Value& x, const Value& y);
Value operator*(const Value& x, double y);
Value operator*(double x, const Value& y);
/// x / y; d/dx = 1/y, d/dy = -x/y^2.
Value operator/(const Value& x, const Value& y);
Value operator/(const Value& x, double y);
Value operator/(double x, const Value& y);
/// -x; d/dx = -1.
Value operator-(const Value& x);
/// +x: the same Value.
inline Value operator+(const Value& x) { return x; }

/// Comparisons compare data() (no gradient flows through a comparison).
std::partial_ordering operator<=>(const Value& x, const Value& y);
std::partial_ordering operator<=>(const Value& x, double y);
bool operator==(const Value& x, const Value& y);
bool operator==(const Value& x, double y);

/// Prints `Value(data=2, grad=4)`: micrograd's repr, with the numbers written as the stream
/// writes doubles, so std::setprecision and std::fixed apply (the Python binding's repr writes
/// Python floats: `Value(data=2.0, grad=4.0)`).
std::ostream& operator<<(std::ostream& out, const Value& x);

// ---- Ops as free functions (found by argument-dependent lookup) -----------------------------
Value pow(const Value& x, double exponent);
Value pow(const Value& x, const Value& exponent);
/// c^x; d/dx = c^x ln c.
Value pow(double base, const Value& x);
Value exp(const Value& x);
Value log(const Value& x);
Value sqrt(const Value& x);
Value abs(const Value& x);
Value relu(const Value& x);
Value leaky_relu(const Value& x, double slope = 0.01);
Value tanh(const Value& x);
Value sigmoid(const Value& x);
Value elu(const Value& x, double alpha = 1.0);
Value gelu(const Value& x);
Value silu(const Value& x);
Value softplus(const Value& x);

// ---- Activations in place over a span (PyTorch's relu_() and the like) ------------------------
/// x = relu(x) for each x of xs, in order, in place: the nodes that loop records, with the same
/// values and gradients, made faster (room for them made once, and each handle moved to its new
/// node without a temporary). For a layer's activations (nn::Activation::apply). Values that are
/// not nodes of the open segment (leaves, older nodes), and every Value under NoGradGuard or
/// AnomalyGuard, take the ordinary path. If a Value throws (a moved-from Value, another
/// thread's), the ones before it have been replaced and the rest are as they were.
void relu_(std::span<Value> xs);
/// x = leaky_relu(x, slope) for each x of xs, as relu_().
void leaky_relu_(std::span<Value> xs, double slope = 0.01);
/// x = tanh(x) for each x of xs, as relu_().
void tanh_(std::span<Value> xs);
/// x = sigmoid(x) for each x of xs, as relu_().
void sigmoid_(std::span<Value> xs);
/// x = elu(x, alpha) for each x of xs, as relu_().
void elu_(std::span<Value> xs, double alpha = 1.0);
/// x = gelu(x) for each x of xs, as relu_().
void gelu_(std::span<Value> xs);
/// x = silu(x) for each x of xs, as relu_().
void silu_(std::span<Value> xs);
/// x = softplus(x) for each x of xs, as relu_().
void softplus_(std::span<Value> xs);

/// x_1 + ... + x_n as one node (n operands); d/dx_i = 1. The empty sum is 0.
///
/// sum(), dot() and affine() record one node of up to 65,536 operands (pairs for dot() and
/// affine()). Beyond that they record partial nodes of that many, then their sum (affine(): then
/// `+ b`): the same derivatives, the value rounded as that sum of partial sums is, and the
/// root's op() is then "sum" or "+".
Value sum(std::span<const Value> xs);
Value sum(std::initializer_list<Value> xs);
/// a_1 b_1 + ... + a_n b_n as one node; d/da_i = b_i, d/db_i = a_i. Throws Error if the
/// lengths differ.
Value dot(std::span<const Value> a, std::span<const Value> b);
/// w_1 x_1 + ... + w_n x_n + b as one node: a neuron's weighted sum and bias (micrograd's
/// `sum((wi*xi for wi, xi in zip(self.w, x)), self.b)`), drawn as one "affine" op;
/// d/dw_i = x_i, d/dx_i = w_i, d/db = 1. Its value is that of dot(w, x) + b, to the bit. Throws
/// Error if the lengths of w and x differ.
Value affine(std::span<const Value> w, std::span<const Value> x, const Value& b);

/// A fixed list of leaves used together, in this order, as the first operand of many dot() or
/// affine() calls: a neuron's weights, then its bias for affine() (nn::Neuron keeps its weights
/// and bias in one). What this comment says of dot() holds for affine() too.
///
/// dot(w, x) records a node equivalent to the one dot(w.values(), x) records: the same operands
/// (up to which of a leaf's Import nodes carries it into the segment) and the same value to the
/// bit. It is faster because it finds the leaves' nodes once per tape segment. Later calls in the
/// same segment check, with one load and one compare per leaf, that each external leaf's owner
/// still holds the data its node was imported with, and that no leaf of this thread was given
/// new data (set_data(), rebind(), unbind()) since; then they reuse those nodes. Any change
/// makes the next call find the nodes again, so the result is always that of dot(w.values(), x).
///
/// The leaves belong to one thread, as Values do; so does the block. Copying a LeafBlock copies
/// the handles: the copy holds the same leaves.
class LeafBlock {
 public:
  LeafBlock() = default;
  /// Throws Error naming the first element that is not a leaf (the result of an op); a
  /// moved-from Value or another thread's throws as Value's members do.
  explicit LeafBlock(std::vector<Value> leaves);
  LeafBlock(const LeafBlock& other) : leaves_(other.leaves_) {}
  LeafBlock& operator=(const LeafBlock& other);
  LeafBlock(LeafBlock&& other) noexcept = default;  // the cache moves too: sources_ into seen_ stay valid
  LeafBlock& operator=(LeafBlock&& other) noexcept = default;
  ~LeafBlock() = default;

  /// The leaves, in order.
  [[nodiscard]] std::span<const Value> values() const noexcept { return leaves_; }
  [[nodiscard]] std::size_t size() const noexcept { return leaves_.size(); }
  [[nodiscard]] bool empty() const noexcept { return leaves_.empty(); }

 private:
  friend struct detail::Tape;
  std::vector<Value> leaves_;
  // The cache of Tape::record_dot(), one entry per leaf k, struct of arrays for its loops: valid
  // in the segment with serial `serial_` while the tape's leaf_epoch is `epoch_` and every
  // *sources_[k] equals seen_[k]. Mutable: dot() takes the block by const reference, as a
  // neuron's weights are used by a const forward pass.
  mutable std::vector<std::uint32_t> offsets_;  // offset of leaf k's node in that segment
  mutable std::vector<double> seen_;            // the data that node holds
  // Where leaf k's current data is read: an external leaf's owner, else &seen_[k] (a plain
  // leaf changes only by set_data(), which the epoch guards).
  mutable std::vector<const double*> sources_;
  mutable bool external_ = false;     // some leaf is external: sources_ must be checked
  mutable std::uint32_t first_ = 0;   // offsets_[0] if offsets_ count up by one, else kNoRun
  mutable std::uint64_t serial_ = 0;  // 0: never valid (segment serials start at 1)
  mutable std::uint64_t epoch_ = 0;
};

/// w_1 x_1 + ... + w_n x_n as one node, equivalent to dot(w.values(), x) (see LeafBlock).
/// Throws Error if the lengths differ.
Value dot(const LeafBlock& w, std::span<const Value> x);
/// dot(rows[j], x) for every j, in order: one dot node per row, equivalent to the nodes a loop of
/// dot(rows[j], x) records (same values to the bit), but x's operands are found once for all rows (a
/// layer of neurons reading the same inputs: nn::Layer). Throws Error naming the first row
/// whose length is not x's.
std::vector<Value> dot(std::span<const LeafBlock> rows, std::span<const Value> x);
/// affine(w, x, b) for a LeafBlock `wb` holding a neuron's n weights then its bias (n + 1
/// leaves, in the order of nn::Neuron::parameters()): one node, equivalent to the one
/// affine(first n leaves, x, last leaf) records, as dot(w, x) is to dot(w.values(), x). Throws
/// Error unless wb has one leaf more than x.
Value affine(const LeafBlock& wb, std::span<const Value> x);
/// affine(rows[j], x) for every j, in order, with x's operands found once for all rows, as
/// dot(rows, x): a layer of neurons (nn::Layer). Throws Error naming the first row that is not
/// one leaf longer than x.
std::vector<Value> affine(std::span<const LeafBlock> rows, std::span<const Value> x);
/// dot(rows, x) for each of `points` inputs x, stored one after the other in xs (point p's
/// inputs are xs[p * n] to xs[p * n + n - 1], n = xs.size() / points): the same nodes, point
/// by point, in that order, their handles returned in that order (rows.size() per point). A
/// batch is faster: the rows' leaves are checked (LeafBlock) once for all points, not once per
/// point, since nothing can change them in between. Throws Error if xs.size() is not a multiple
/// of `points`, or naming the first row whose length is not n.
std::vector<Value> dot(std::span<const LeafBlock> rows, std::span<const Value> xs, std::size_t points);
/// affine(rows, x) for each of `points` inputs x, as dot(rows, xs, points) (each row n + 1
/// leaves long).
std::vector<Value> affine(std::span<const LeafBlock> rows, std::span<const Value> xs, std::size_t points);

// ---- Layers of neurons over a batch -----------------------------------------------------------
/// The activation dense() applies to a layer's outputs, in place: the op of relu_() and the like,
/// or none.
enum class LayerActivation : std::uint8_t { Linear, Relu, LeakyRelu, Tanh, Sigmoid, Elu, Gelu, Silu, Softplus };

/// One layer for dense(): a neuron per row (a LeafBlock of its n weights then its bias, as for
/// affine(rows, x)), then its activation over the layer's outputs, with its constant
/// (LeakyRelu's slope, Elu's alpha; unused by the others).
struct DenseLayer {
  std::span<const LeafBlock> rows;
  LayerActivation activation = LayerActivation::Linear;
  double constant = 0.0;
};

/// A stack of layers over a batch of `points` inputs, stored one after the other in xs as for
/// affine(rows, xs, points): for each layer in order, `out = affine(layer.rows, in, points)`,
/// then the activation in place over out (`relu_(out)`, `leaky_relu_(out, constant)`, ...), and
/// out is the next layer's input. Returns the last layer's outputs, its rows.size() for each
/// point, point by point: nn::MLP::batch() for activations without a learnable parameter.
///
/// Records the nodes those calls record, in the same order, with the same values and gradients
/// to the bit (but for which NaN, where two NaN operands meet: x86 keeps the first, and the
/// compiler may order a sum's or product's operands either way), and is faster: the outputs of every layer but the last get no Value each (no
/// handle made, re-pointed by the activation, looked up by the next layer and destroyed). That
/// holds where both keep to the open segment. dense() makes room for the whole stack at once,
/// the calls for one layer and point at a time, each by its own estimate of the worst case: so
/// near the end of a segment one of them may go on in a new segment where the other does not.
/// The values are still the same; the gradients of leaves and inputs can then differ in the last
/// bit (the adjoints of a leaf's imports into two segments are added in another order). Under
/// NoGradGuard or AnomalyGuard, and for a stack that could need more than 65,536 nodes besides
/// its rows' leaves, it makes the calls themselves. No layers give xs back; 0 points (xs empty)
/// give no Values. Throws Error, before anything is recorded, if xs.size() is not a multiple of
/// `points`, naming the first row of a layer that is not one leaf longer than the layer's inputs
/// (xs.size() / points for the first layer, the previous layer's rows.size() for the others) or
/// a row of another thread, or for an activation that is none of LayerActivation's; a Value of
/// xs that cannot be used here throws as in affine().
std::vector<Value> dense(std::span<const DenseLayer> layers, std::span<const Value> xs, std::size_t points);
/// dense(layers, xs, points) of inputs given as doubles (nn::MLP::scores() of doubles): the same
/// values and the same gradients of the rows' leaves, to the bit, with no leaf made for an input.
/// Each input enters the tape as an "input" node: a Value with no operands, not a leaf (its data
/// cannot be set), whose grad() after backward() is d(root)/d(input). Unlike a leaf's, that
/// gradient is recomputed by each backward() that reaches it, as an op result's is. All
/// the inputs' nodes come first, then the layers' (through leaves, each point's imports come
/// before its row nodes): the same number of nodes. Where dense() of Values makes the calls
/// themselves (see above), and for no layers, this makes a leaf of each input and does the same.
/// Throws Error as dense() of Values does.
std::vector<Value> dense(std::span<const DenseLayer> layers, std::span<const double> xs, std::size_t points);

// ---- Graph ------------------------------------------------------------------------------------
/// Every Value `root` depends on, root last, each after all of its operands (iterative: safe
/// on graphs of any depth). Leaves appear as the user's leaf Values.
std::vector<Value> topological_order(const Value& root);

/// What `root` depends on, with its edges: for drawing a graph (to_dot) or walking it.
struct Graph {
  std::vector<Value> nodes;  ///< topological_order(root): root last
  /// operands[i]: the positions in `nodes` of nodes[i]'s operands, in operand order (a Value
  /// used twice, as in x * x, appears twice).
  std::vector<std::vector<std::size_t>> operands;
};
/// The graph of `root` (iterative, as topological_order).
Graph graph_of(const Value& root);

/// While alive, ops on this thread record nothing: their results are leaves (constants).
/// As torch.no_grad(); for evaluation loops that need no gradient.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;  // grad mode to restore
};

/// False on this thread while a NoGradGuard is alive.
bool is_grad_enabled();

/// While alive, every op on this thread checks its result, and backward() the gradient each op
/// passes to its operands and the sums of them: the first that is NaN or infinite throws
/// AnomalyError naming the op, its operands' values and their labels, or the value whose
/// summed gradient overflowed (PyTorch's detect_anomaly). Slower: for finding
/// where a NaN came from, not for training. Guards nest.
class AnomalyGuard {
 public:
  AnomalyGuard();
  ~AnomalyGuard();
  AnomalyGuard(const AnomalyGuard&) = delete;
  AnomalyGuard& operator=(const AnomalyGuard&) = delete;

 private:
  bool previous_;  // anomaly mode to restore
};

/// True on this thread while an AnomalyGuard is alive.
bool is_anomaly_enabled();

/// What this thread's tape holds: for tests, benchmarks and the curious.
struct TapeStats {
  std::size_t nodes = 0;             ///< nodes in live segments
  std::size_t segments = 0;          ///< live segments
  std::size_t leaves = 0;            ///< live leaves
  std::size_t bytes = 0;             ///< bytes the tape holds (live and pooled storage, leaves)
  std::size_t high_water_nodes = 0;  ///< most nodes live at once so far
  std::size_t high_water_bytes = 0;  ///< most bytes held at once so far
};
/// Statistics of this thread's tape.
TapeStats tape_stats();

}  // namespace scalargrad

#include "scalargrad/detail/value_impl.hpp"
