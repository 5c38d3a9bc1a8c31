// Inline definitions of Value's hot paths: handle bookkeeping and op recording.
// Included by value.hpp; not a public header.
#pragma once

#include <bit>
#include <cstddef>
#include <cstring>
#include <span>
#include <utility>

#include "scalargrad/detail/tape.hpp"
#include "scalargrad/value.hpp"

// SCALARGRAD_UNCOUNTED_HANDLES=1 compiles handle counting out, so that bench/ can measure what
// counting costs (Tape::reset_for_benchmark() then frees the tape). Never set it elsewhere:
// without counting, nothing is recycled.
#ifndef SCALARGRAD_UNCOUNTED_HANDLES
#define SCALARGRAD_UNCOUNTED_HANDLES 0
#endif

namespace scalargrad {

namespace detail {

// Note [Fast path]: an op whose operands are all nodes of the open segment, or leaves already
// imported into it, costs a few compares and the stores of one node, inline: one 8-byte compare
// per operand against the thread's open_key (same thread and same segment) or leaf_key (Note
// [Handle state] in tape.hpp), and one compare of the segment's size against Tape::limit, which
// is 0 when no segment is open or when NoGradGuard or AnomalyGuard is active. A matching key
// proves that this thread has a tape, so the fast path never tests `tls_tape` for null.
// Everything else (opening or growing a segment, importing a leaf or an older node, the guards,
// misuse) goes through the out-of-line slow path, which does the same work with every check.

SCALARGRAD_ALWAYS_INLINE bool Tape::fast_operand(const Value& v, std::uint32_t& k, double& x) {
  const std::uint64_t key = v.key();
  const HandleState& h = tls_handles;
  if (key == h.open_key) [[likely]] {
    k = v.ref_;
    x = v.value_;
    return true;
  }
  if (key == h.leaf_key) {
    // A leaf already imported into the open segment (weights used by every neuron); an external
    // leaf (nn::Parameter) only if its owner's data is still what was imported.
    const Tape& t = *tls_tape;
    const LeafImport& e = t.leaf_import[v.ref_];
    if (e.valid_in(t.open->serial)) {
      k = e.offset;
      x = e.imported;
      return true;
    }
  }
  return false;
}

inline std::uint32_t Tape::operand(const Value& v) {
  std::uint32_t k;
  double x;
  if (fast_operand(v, k, x)) [[likely]] return k;
  return operand_slow(v);
}

inline OperandResolver::OperandResolver(Tape& t)
    : tape(t),
      open_key(Tape::open_key()),
      leaf_key(Tape::leaf_key()),
      leaf_import(t.leaf_import.data()),
      serial(t.open->serial),
      values(t.open->nodes.value) {}

inline std::uint32_t OperandResolver::operator()(const Value& v) const {
  const std::uint64_t key = v.key();
  if (key == open_key) [[likely]] return v.ref_;
  if (key == leaf_key) {
    const LeafImport& e = leaf_import[v.ref_];
    if (e.valid_in(serial)) return e.offset;
  }
  return tape.operand_slow(v);
}

inline std::uint32_t OperandResolver::leaf_first(const Value& v) const {
  if (v.key() == leaf_key) [[likely]] {
    const LeafImport& e = leaf_import[v.ref_];
    if (e.valid_in(serial)) [[likely]] return e.offset;
  }
  return (*this)(v);  // a node, a leaf to import, or an error
}

SCALARGRAD_ALWAYS_INLINE std::uint32_t Tape::import_leaf(Segment& s, std::uint32_t leaf) {
  // A leaf enters each segment once, through an Import node that holds a reference on it. An
  // external leaf enters again whenever its owner's data changed since it last did (a gradient
  // check perturbs Parameter::data between forward passes in one segment).
  LeafImport& cached = leaf_import[leaf];
  if (cached.valid_in(s.serial)) return cached.offset;
  const double data = cached.data != nullptr ? *cached.data : leaf_value[leaf];
  const std::uint32_t external = leaf_external[leaf];
  const std::uint32_t n = external == kNoExternal ? append(Op::Import, leaf, 0, data)
                                                  : append(Op::ImportExternal, external, 0, data);
  ++leaf_refs[leaf];
  s.imported_leaves.push_back(leaf);
  cached.serial = s.serial;
  cached.imported = data;
  cached.offset = n;
  return n;
}

SCALARGRAD_ALWAYS_INLINE Value Tape::adopt(std::uint32_t n, double value) {
  if constexpr (!SCALARGRAD_UNCOUNTED_HANDLES) ++tls_handles.open_count;
  return Value(Value::Adopt{}, n, open_key(), value);
}

SCALARGRAD_ALWAYS_INLINE Value Tape::emit(Op op, std::uint32_t a, std::uint32_t b, double value) {
  return adopt(append(op, a, b, value), value);
}

// The fast paths: each appends y's node to the open segment without counting a handle for it,
// sets n to its offset and y to its value and returns the tape; or returns nullptr, and the
// slow path records y.
//
// Note [Carried value]: the operands' values come from their handles (Value::value_) or the
// leaf cache, not from the tape's value array. Read back from there, each value had just been
// stored by the op before, and the compiler could not reuse its register: the op's result
// reaches the next op through a Value that the fast and the slow path both make, so all the
// next op knows is an offset. The store-to-load round trip (~7 cycles) then sat on the
// dependency chain of every expression: W2's forward ran at 1.37x the plain one, 1.16x since.
// The price is a larger handle (24 bytes instead of 12; docs/performance.md section 8).

/// y = f(x), a unary op of the table.
template <Op op>
SCALARGRAD_ALWAYS_INLINE Tape* fast_unary(const Value& x, std::uint32_t& n, double& y) {
  std::uint32_t a;
  double xv;
  if (!Tape::fast_operand(x, a, xv)) [[unlikely]] return nullptr;
  Tape* t = tls_tape;  // set: x's key matched
  if (!t->fast_room()) [[unlikely]] return nullptr;
  y = Rule<op>::f(xv);
  n = t->append(op, a, 0, y);
  return t;
}

/// y = f(x; c), a unary op with a constant.
template <Op op>
SCALARGRAD_ALWAYS_INLINE Tape* fast_unary(const Value& x, double c, std::uint32_t& n, double& y) {
  std::uint32_t a;
  double xv;
  if (!Tape::fast_operand(x, a, xv)) [[unlikely]] return nullptr;
  Tape* t = tls_tape;
  if (!t->fast_room()) [[unlikely]] return nullptr;
  y = Rule<op>::f(xv, c);
  n = t->append(op, a, t->add_constant(c), y);
  return t;
}

/// y = f(x1, x2), a binary op.
template <typename F>
SCALARGRAD_ALWAYS_INLINE Tape* fast_binary(Op op, const Value& x1, const Value& x2, F f, std::uint32_t& n, double& y) {
  std::uint32_t a;
  std::uint32_t b;
  double v1;
  double v2;
  if (!Tape::fast_operand(x1, a, v1) || !Tape::fast_operand(x2, b, v2)) [[unlikely]] return nullptr;
  Tape* t = tls_tape;
  if (!t->fast_room()) [[unlikely]] return nullptr;
  y = f(v1, v2);
  n = t->append(op, a, b, y);
  return t;
}

/// Records y = f(x) for a unary op of the table, with every check (the slow path).
template <Op op>
SCALARGRAD_NOINLINE Value record_unary_slow(const Value& x) {
  Tape& t = tape_for_op(x);
  if (!t.plain) {
    const double y = Rule<op>::f(x.data());
    if (t.anomaly) t.check_value(op, y, std::span<const Value>(&x, 1), nullptr);
    if (!t.grad_enabled) return Value(y);
  }
  t.ensure_room(2);
  const std::uint32_t a = t.operand(x);
  return t.emit(op, a, 0, Rule<op>::f(t.value_at(a)));
}

/// Records y = f(x) for a unary op of the table.
template <Op op>
SCALARGRAD_ALWAYS_INLINE Value record_unary(const Value& x) {
  std::uint32_t n;
  double y;
  if (Tape* t = fast_unary<op>(x, n, y)) [[likely]] return t->adopt(n, y);
  return record_unary_slow<op>(x);
}

/// Records y = f(x; c) for a unary op with a constant, with every check (the slow path).
template <Op op>
SCALARGRAD_NOINLINE Value record_unary_slow(const Value& x, double c) {
  Tape& t = tape_for_op(x);
  if (!t.plain) {
    const double y = Rule<op>::f(x.data(), c);
    if (t.anomaly) t.check_value(op, y, std::span<const Value>(&x, 1), &c);
    if (!t.grad_enabled) return Value(y);
  }
  t.ensure_room(2);
  const std::uint32_t a = t.operand(x);
  return t.emit(op, a, t.add_constant(c), Rule<op>::f(t.value_at(a), c));
}

/// Records y = f(x; c) for a unary op with a constant.
template <Op op>
SCALARGRAD_ALWAYS_INLINE Value record_unary(const Value& x, double c) {
  std::uint32_t n;
  double y;
  if (Tape* t = fast_unary<op>(x, c, n, y)) [[likely]] return t->adopt(n, y);
  return record_unary_slow<op>(x, c);
}

/// Records y = f(x1, x2) for a binary op, with every check (the slow path).
template <typename F>
SCALARGRAD_NOINLINE Value record_binary_slow(Op op, const Value& x1, const Value& x2, F f) {
  Tape& t = tape_for_op(x1);
  if (!t.plain) {
    const double y = f(x1.data(), x2.data());
    if (t.anomaly) {
      const Value operands[] = {x1, x2};
      t.check_value(op, y, operands, nullptr);
    }
    if (!t.grad_enabled) return Value(y);
  }
  t.ensure_room(3);
  const std::uint32_t a = t.operand(x1);
  const std::uint32_t b = t.operand(x2);
  return t.emit(op, a, b, f(t.value_at(a), t.value_at(b)));
}

/// Records y = f(x1, x2) for a binary op; `f` computes the forward value.
template <typename F>
SCALARGRAD_ALWAYS_INLINE Value record_binary(Op op, const Value& x1, const Value& x2, F f) {
  std::uint32_t n;
  double y;
  if (Tape* t = fast_binary(op, x1, x2, f, n, y)) [[likely]] return t->adopt(n, y);
  return record_binary_slow(op, x1, x2, f);
}

}  // namespace detail

// ---- Handle bookkeeping -------------------------------------------------------------------------
// Note [Lifetime]: every Value counts one reference on its segment (or leaf); a segment is
// recycled when no Value and no younger segment refers to it. See docs/architecture.md.

SCALARGRAD_ALWAYS_INLINE Value::Value(Adopt, std::uint32_t ref, std::uint64_t key, double value) noexcept
    : key_(key), value_(value), ref_(ref) {}

SCALARGRAD_ALWAYS_INLINE Value::Value(const Value& other) : key_(other.key_), value_(other.value_), ref_(other.ref_) {
  if (SCALARGRAD_UNCOUNTED_HANDLES) return;
  // Note [Handle state] in tape.hpp: a handle of the open segment is counted inline.
  detail::HandleState& h = detail::tls_handles;
  if (key() == h.open_key) [[likely]] {
    ++h.open_count;
    return;
  }
  if (owner() != detail::kNoOwner) detail::Tape::retain_slow(*this);
}

SCALARGRAD_ALWAYS_INLINE Value::Value(Value&& other) noexcept : key_(other.key_), value_(other.value_), ref_(other.ref_) {
  other.set_key(detail::kMovedFromKey);
}

SCALARGRAD_ALWAYS_INLINE Value::~Value() {
  if (SCALARGRAD_UNCOUNTED_HANDLES) return;
  detail::HandleState& h = detail::tls_handles;
  if (key() == h.open_key) [[likely]] {
    if (--h.open_count == 0) detail::tls_tape->segment_unreferenced(owner());
    return;
  }
  if (owner() != detail::kNoOwner) detail::Tape::release_slow(*this);
}

SCALARGRAD_ALWAYS_INLINE Value& Value::operator=(const Value& other) {
  if (this != &other) {
    Value copy(other);
    *this = std::move(copy);
  }
  return *this;
}

SCALARGRAD_ALWAYS_INLINE Value& Value::operator=(Value&& other) noexcept {
  if (this != &other) {
    Value old(std::move(*this));  // released at the end of this scope
    ref_ = other.ref_;
    value_ = other.value_;
    set_key(other.key());
    other.set_key(detail::kMovedFromKey);
  }
  return *this;
}

// ---- Ops ---------------------------------------------------------------------------------------
SCALARGRAD_ALWAYS_INLINE Value operator+(const Value& x, const Value& y) {
  return detail::record_binary(detail::Op::Add, x, y, [](double p, double q) { return p + q; });
}
SCALARGRAD_ALWAYS_INLINE Value operator-(const Value& x, const Value& y) {
  return detail::record_binary(detail::Op::Sub, x, y, [](double p, double q) { return p - q; });
}
SCALARGRAD_ALWAYS_INLINE Value operator*(const Value& x, const Value& y) {
  return detail::record_binary(detail::Op::Mul, x, y, [](double p, double q) { return p * q; });
}
SCALARGRAD_ALWAYS_INLINE Value operator/(const Value& x, const Value& y) {
  return detail::record_binary(detail::Op::Div, x, y, [](double p, double q) { return p / q; });
}
SCALARGRAD_ALWAYS_INLINE Value operator+(const Value& x, double y) { return detail::record_unary<detail::Op::AddC>(x, y); }
SCALARGRAD_ALWAYS_INLINE Value operator+(double x, const Value& y) { return detail::record_unary<detail::Op::AddC>(y, x); }
SCALARGRAD_ALWAYS_INLINE Value operator-(const Value& x, double y) { return detail::record_unary<detail::Op::AddC>(x, -y); }
SCALARGRAD_ALWAYS_INLINE Value operator-(double x, const Value& y) { return detail::record_unary<detail::Op::RSubC>(y, x); }
SCALARGRAD_ALWAYS_INLINE Value operator*(const Value& x, double y) { return detail::record_unary<detail::Op::MulC>(x, y); }
SCALARGRAD_ALWAYS_INLINE Value operator*(double x, const Value& y) { return detail::record_unary<detail::Op::MulC>(y, x); }
SCALARGRAD_ALWAYS_INLINE Value operator/(const Value& x, double y) { return detail::record_unary<detail::Op::DivC>(x, y); }
SCALARGRAD_ALWAYS_INLINE Value operator/(double x, const Value& y) { return detail::record_unary<detail::Op::RDivC>(y, x); }
SCALARGRAD_ALWAYS_INLINE Value operator-(const Value& x) { return detail::record_unary<detail::Op::Neg>(x); }

SCALARGRAD_ALWAYS_INLINE Value Value::pow(double exponent) const { return detail::record_unary<detail::Op::PowC>(*this, exponent); }
SCALARGRAD_ALWAYS_INLINE Value Value::pow(const Value& exponent) const {
  return detail::record_binary(detail::Op::Pow, *this, exponent, [](double p, double q) { return std::pow(p, q); });
}
SCALARGRAD_ALWAYS_INLINE Value Value::exp() const { return detail::record_unary<detail::Op::Exp>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::log() const { return detail::record_unary<detail::Op::Log>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::sqrt() const { return detail::record_unary<detail::Op::Sqrt>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::abs() const { return detail::record_unary<detail::Op::Abs>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::relu() const { return detail::record_unary<detail::Op::Relu>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::leaky_relu(double slope) const {
  return detail::record_unary<detail::Op::LeakyRelu>(*this, slope);
}
SCALARGRAD_ALWAYS_INLINE Value Value::tanh() const { return detail::record_unary<detail::Op::Tanh>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::sigmoid() const { return detail::record_unary<detail::Op::Sigmoid>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::elu(double alpha) const { return detail::record_unary<detail::Op::Elu>(*this, alpha); }
SCALARGRAD_ALWAYS_INLINE Value Value::gelu() const { return detail::record_unary<detail::Op::Gelu>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::silu() const { return detail::record_unary<detail::Op::Silu>(*this); }
SCALARGRAD_ALWAYS_INLINE Value Value::softplus() const { return detail::record_unary<detail::Op::Softplus>(*this); }

SCALARGRAD_ALWAYS_INLINE Value pow(const Value& x, double exponent) { return x.pow(exponent); }
SCALARGRAD_ALWAYS_INLINE Value pow(const Value& x, const Value& exponent) { return x.pow(exponent); }
SCALARGRAD_ALWAYS_INLINE Value pow(double base, const Value& x) { return detail::record_unary<detail::Op::RPowC>(x, base); }
SCALARGRAD_ALWAYS_INLINE Value exp(const Value& x) { return x.exp(); }
SCALARGRAD_ALWAYS_INLINE Value log(const Value& x) { return x.log(); }
SCALARGRAD_ALWAYS_INLINE Value sqrt(const Value& x) { return x.sqrt(); }
SCALARGRAD_ALWAYS_INLINE Value abs(const Value& x) { return x.abs(); }
SCALARGRAD_ALWAYS_INLINE Value relu(const Value& x) { return x.relu(); }
SCALARGRAD_ALWAYS_INLINE Value leaky_relu(const Value& x, double slope) { return x.leaky_relu(slope); }
SCALARGRAD_ALWAYS_INLINE Value tanh(const Value& x) { return x.tanh(); }
SCALARGRAD_ALWAYS_INLINE Value sigmoid(const Value& x) { return x.sigmoid(); }
SCALARGRAD_ALWAYS_INLINE Value elu(const Value& x, double alpha) { return x.elu(alpha); }
SCALARGRAD_ALWAYS_INLINE Value gelu(const Value& x) { return x.gelu(); }
SCALARGRAD_ALWAYS_INLINE Value silu(const Value& x) { return x.silu(); }
SCALARGRAD_ALWAYS_INLINE Value softplus(const Value& x) { return x.softplus(); }

// The n-ary nodes: inline, so that a neuron's dot() call goes straight to the tape.
SCALARGRAD_ALWAYS_INLINE Value sum(std::span<const Value> xs) { return detail::tape_for_nary(xs).record_sum(xs); }
SCALARGRAD_ALWAYS_INLINE Value dot(std::span<const Value> a, std::span<const Value> b) {
  return detail::tape_for_nary(a.empty() ? b : a).record_dot(a, b);
}
SCALARGRAD_ALWAYS_INLINE Value dot(const LeafBlock& w, std::span<const Value> x) {
  return detail::tape_for_nary(w.empty() ? x : w.values()).record_dot(w, x, false);
}
inline std::vector<Value> dot(std::span<const LeafBlock> rows, std::span<const Value> x) {
  if (rows.empty()) return {};
  return detail::tape_for_nary(rows.front().empty() ? x : rows.front().values()).record_dots(rows, x, false);
}
SCALARGRAD_ALWAYS_INLINE Value affine(std::span<const Value> w, std::span<const Value> x, const Value& b) {
  return detail::tape_for_op(b).record_dot(w, x, &b);
}
SCALARGRAD_ALWAYS_INLINE Value affine(const LeafBlock& wb, std::span<const Value> x) {
  return detail::tape_for_nary(wb.empty() ? x : wb.values()).record_dot(wb, x, true);
}
inline std::vector<Value> affine(std::span<const LeafBlock> rows, std::span<const Value> x) {
  if (rows.empty()) return {};
  return detail::tape_for_nary(rows.front().empty() ? x : rows.front().values()).record_dots(rows, x, true);
}
inline std::vector<Value> dot(std::span<const LeafBlock> rows, std::span<const Value> xs, std::size_t points) {
  if (rows.empty()) {
    (void)detail::batch_inputs(xs.size(), points, false);  // the same errors as with rows
    return {};
  }
  return detail::tape_for_nary(rows.front().empty() ? xs : rows.front().values()).record_dots(rows, xs, points, false);
}
inline std::vector<Value> affine(std::span<const LeafBlock> rows, std::span<const Value> xs, std::size_t points) {
  if (rows.empty()) {
    (void)detail::batch_inputs(xs.size(), points, true);  // the same errors as with rows
    return {};
  }
  return detail::tape_for_nary(rows.front().empty() ? xs : rows.front().values()).record_dots(rows, xs, points, true);
}

// A running sum `z += w * h` records one node per step: the handle z moves from one node of
// the open segment to the next, so the segment's count does not change (no increment for the
// new node, no decrement for the old one).
template <typename F>
SCALARGRAD_ALWAYS_INLINE Value& Value::assign_binary(detail::Op op, const Value& rhs, F f) {
  std::uint32_t n;
  double y;
  if (key() == detail::Tape::open_key() && detail::fast_binary(op, *this, rhs, f, n, y)) [[likely]] {
    ref_ = n;
    value_ = y;
    return *this;
  }
  return *this = detail::record_binary_slow(op, *this, rhs, f);
}

template <detail::Op op>
SCALARGRAD_ALWAYS_INLINE Value& Value::assign_unary(double c) {
  std::uint32_t n;
  double y;
  if (key() == detail::Tape::open_key() && detail::fast_unary<op>(*this, c, n, y)) [[likely]] {
    ref_ = n;
    value_ = y;
    return *this;
  }
  return *this = detail::record_unary_slow<op>(*this, c);
}

SCALARGRAD_ALWAYS_INLINE Value& Value::operator+=(const Value& rhs) {
  return assign_binary(detail::Op::Add, rhs, [](double p, double q) { return p + q; });
}
SCALARGRAD_ALWAYS_INLINE Value& Value::operator-=(const Value& rhs) {
  return assign_binary(detail::Op::Sub, rhs, [](double p, double q) { return p - q; });
}
SCALARGRAD_ALWAYS_INLINE Value& Value::operator*=(const Value& rhs) {
  return assign_binary(detail::Op::Mul, rhs, [](double p, double q) { return p * q; });
}
SCALARGRAD_ALWAYS_INLINE Value& Value::operator/=(const Value& rhs) {
  return assign_binary(detail::Op::Div, rhs, [](double p, double q) { return p / q; });
}
SCALARGRAD_ALWAYS_INLINE Value& Value::operator+=(double rhs) { return assign_unary<detail::Op::AddC>(rhs); }
SCALARGRAD_ALWAYS_INLINE Value& Value::operator-=(double rhs) { return assign_unary<detail::Op::AddC>(-rhs); }
SCALARGRAD_ALWAYS_INLINE Value& Value::operator*=(double rhs) { return assign_unary<detail::Op::MulC>(rhs); }
SCALARGRAD_ALWAYS_INLINE Value& Value::operator/=(double rhs) { return assign_unary<detail::Op::DivC>(rhs); }

}  // namespace scalargrad
