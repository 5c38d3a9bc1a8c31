// Inline definitions of Value's hot paths: handle bookkeeping and op recording.
// Included by value.hpp; not a public header.
#pragma once

#include <bit>
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

inline std::uint32_t Tape::operand(const Value& v) {
  // As OperandResolver, reading the fields only where needed (one or two operands per op).
  if (v.tape_ == id) [[likely]] {
    if (v.owner_ == current) return v.ref_;
    if (v.owner_ == kLeafOwner && leaf_import_serial[v.ref_] == open->serial) {
      const std::uint32_t k = leaf_import_offset[v.ref_];
      const double* data = leaf_external_data[v.ref_];
      if (data == nullptr || same_bits(*data, open->nodes.value[k])) return k;
    }
  }
  return operand_slow(v);
}

inline OperandResolver::OperandResolver(Tape& t)
    : tape(t),
      tape_id(t.id),
      slot(t.current),
      serial(t.open->serial),
      values(t.open->nodes.value.get()),
      import_serial(t.leaf_import_serial.data()),
      import_offset(t.leaf_import_offset.data()),
      external_data(t.leaf_external_data.data()) {}

inline std::uint32_t OperandResolver::operator()(const Value& v) const {
  if (v.tape_ == tape_id) [[likely]] {
    if (v.owner_ == slot) return v.ref_;
    if (v.owner_ == kLeafOwner) {
      // A leaf already imported into the open segment (weights used by every neuron); an
      // external leaf (nn::Parameter) only if its owner's data is still what was imported.
      if (import_serial[v.ref_] == serial) {
        const std::uint32_t k = import_offset[v.ref_];
        const double* data = external_data[v.ref_];
        if (data == nullptr || same_bits(*data, values[k])) return k;
      }
    }
  }
  return tape.operand_slow(v);
}

inline Value Tape::emit(Op op, std::uint32_t a, std::uint32_t b, double value) {
  const std::uint32_t slot = current;
  const std::uint32_t tape = id;
  if constexpr (!SCALARGRAD_UNCOUNTED_HANDLES) ++open->handles;
  const std::uint32_t n = append(op, a, b, value);
  return Value(Value::Adopt{}, n, slot, tape);
}

/// Records y = f(x) for a unary op of the table.
// The fast path is one test of Tape::plain; NoGradGuard and AnomalyGuard take the slow one.
template <Op op>
Value record_unary(const Value& x) {
  Tape& t = this_thread_tape();
  if (!t.plain) [[unlikely]] {
    const double y = Rule<op>::f(x.data());
    if (t.anomaly) t.check_value(op, y, std::span<const Value>(&x, 1), nullptr);
    if (!t.grad_enabled) return Value(y);
  }
  t.ensure_room(2);
  const std::uint32_t a = t.operand(x);
  return t.emit(op, a, 0, Rule<op>::f(t.value_at(a)));
}

/// Records y = f(x; c) for a unary op with a constant.
template <Op op>
Value record_unary(const Value& x, double c) {
  Tape& t = this_thread_tape();
  if (!t.plain) [[unlikely]] {
    const double y = Rule<op>::f(x.data(), c);
    if (t.anomaly) t.check_value(op, y, std::span<const Value>(&x, 1), &c);
    if (!t.grad_enabled) return Value(y);
  }
  t.ensure_room(2);
  const std::uint32_t a = t.operand(x);
  return t.emit(op, a, t.add_constant(c), Rule<op>::f(t.value_at(a), c));
}

/// Records y = f(x1, x2) for a binary op; `f` computes the forward value.
template <typename F>
Value record_binary(Op op, const Value& x1, const Value& x2, F f) {
  Tape& t = this_thread_tape();
  if (!t.plain) [[unlikely]] {
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

}  // namespace detail

// ---- Handle bookkeeping -------------------------------------------------------------------------
// Note [Lifetime]: every Value counts one reference on its segment (or leaf); a segment is
// recycled when no Value and no younger segment refers to it. See docs/architecture.md.

inline Value::Value(const Value& other) : ref_(other.ref_), owner_(other.owner_), tape_(other.tape_) {
  if (SCALARGRAD_UNCOUNTED_HANDLES || owner_ == detail::kNoOwner) return;
  detail::Tape* t = detail::tls_tape;
  if (t == nullptr || t->id != tape_) [[unlikely]] {
    detail::throw_other_thread();
  }
  if (owner_ == detail::kLeafOwner) {
    ++t->leaf_refs[ref_];
  } else {
    ++t->segments[owner_].handles;
  }
}

inline Value::Value(Value&& other) noexcept : ref_(other.ref_), owner_(other.owner_), tape_(other.tape_) {
  other.owner_ = detail::kNoOwner;
}

inline Value::~Value() {
  if (SCALARGRAD_UNCOUNTED_HANDLES || owner_ == detail::kNoOwner) return;
  detail::Tape* t = detail::tls_tape;
  // On another thread (misuse) or after this thread's tape is gone: touch nothing. The
  // segment is then never recycled, which is safe.
  if (t == nullptr || t->id != tape_) [[unlikely]] return;
  if (owner_ == detail::kLeafOwner) {
    if (--t->leaf_refs[ref_] == 0) t->leaf_unreferenced(ref_);
  } else {
    if (--t->segments[owner_].handles == 0) t->segment_unreferenced(owner_);
  }
}

inline Value& Value::operator=(const Value& other) {
  if (this != &other) {
    Value copy(other);
    *this = std::move(copy);
  }
  return *this;
}

inline Value& Value::operator=(Value&& other) noexcept {
  if (this != &other) {
    Value old(std::move(*this));  // released at the end of this scope
    ref_ = other.ref_;
    owner_ = other.owner_;
    tape_ = other.tape_;
    other.owner_ = detail::kNoOwner;
  }
  return *this;
}

// ---- Ops ---------------------------------------------------------------------------------------
inline Value operator+(const Value& x, const Value& y) {
  return detail::record_binary(detail::Op::Add, x, y, [](double p, double q) { return p + q; });
}
inline Value operator-(const Value& x, const Value& y) {
  return detail::record_binary(detail::Op::Sub, x, y, [](double p, double q) { return p - q; });
}
inline Value operator*(const Value& x, const Value& y) {
  return detail::record_binary(detail::Op::Mul, x, y, [](double p, double q) { return p * q; });
}
inline Value operator/(const Value& x, const Value& y) {
  return detail::record_binary(detail::Op::Div, x, y, [](double p, double q) { return p / q; });
}
inline Value operator+(const Value& x, double y) { return detail::record_unary<detail::Op::AddC>(x, y); }
inline Value operator+(double x, const Value& y) { return detail::record_unary<detail::Op::AddC>(y, x); }
inline Value operator-(const Value& x, double y) { return detail::record_unary<detail::Op::AddC>(x, -y); }
inline Value operator-(double x, const Value& y) { return detail::record_unary<detail::Op::RSubC>(y, x); }
inline Value operator*(const Value& x, double y) { return detail::record_unary<detail::Op::MulC>(x, y); }
inline Value operator*(double x, const Value& y) { return detail::record_unary<detail::Op::MulC>(y, x); }
inline Value operator/(const Value& x, double y) { return detail::record_unary<detail::Op::DivC>(x, y); }
inline Value operator/(double x, const Value& y) { return detail::record_unary<detail::Op::RDivC>(y, x); }
inline Value operator-(const Value& x) { return detail::record_unary<detail::Op::Neg>(x); }

inline Value Value::pow(double exponent) const { return detail::record_unary<detail::Op::PowC>(*this, exponent); }
inline Value Value::pow(const Value& exponent) const {
  return detail::record_binary(detail::Op::Pow, *this, exponent, [](double p, double q) { return std::pow(p, q); });
}
inline Value Value::exp() const { return detail::record_unary<detail::Op::Exp>(*this); }
inline Value Value::log() const { return detail::record_unary<detail::Op::Log>(*this); }
inline Value Value::sqrt() const { return detail::record_unary<detail::Op::Sqrt>(*this); }
inline Value Value::abs() const { return detail::record_unary<detail::Op::Abs>(*this); }
inline Value Value::relu() const { return detail::record_unary<detail::Op::Relu>(*this); }
inline Value Value::leaky_relu(double slope) const {
  return detail::record_unary<detail::Op::LeakyRelu>(*this, slope);
}
inline Value Value::tanh() const { return detail::record_unary<detail::Op::Tanh>(*this); }
inline Value Value::sigmoid() const { return detail::record_unary<detail::Op::Sigmoid>(*this); }
inline Value Value::elu(double alpha) const { return detail::record_unary<detail::Op::Elu>(*this, alpha); }
inline Value Value::gelu() const { return detail::record_unary<detail::Op::Gelu>(*this); }
inline Value Value::silu() const { return detail::record_unary<detail::Op::Silu>(*this); }
inline Value Value::softplus() const { return detail::record_unary<detail::Op::Softplus>(*this); }

inline Value pow(const Value& x, double exponent) { return x.pow(exponent); }
inline Value pow(const Value& x, const Value& exponent) { return x.pow(exponent); }
inline Value pow(double base, const Value& x) { return detail::record_unary<detail::Op::RPowC>(x, base); }
inline Value exp(const Value& x) { return x.exp(); }
inline Value log(const Value& x) { return x.log(); }
inline Value sqrt(const Value& x) { return x.sqrt(); }
inline Value abs(const Value& x) { return x.abs(); }
inline Value relu(const Value& x) { return x.relu(); }
inline Value leaky_relu(const Value& x, double slope) { return x.leaky_relu(slope); }
inline Value tanh(const Value& x) { return x.tanh(); }
inline Value sigmoid(const Value& x) { return x.sigmoid(); }
inline Value elu(const Value& x, double alpha) { return x.elu(alpha); }
inline Value gelu(const Value& x) { return x.gelu(); }
inline Value silu(const Value& x) { return x.silu(); }
inline Value softplus(const Value& x) { return x.softplus(); }

inline Value& Value::operator+=(const Value& rhs) { return *this = *this + rhs; }
inline Value& Value::operator-=(const Value& rhs) { return *this = *this - rhs; }
inline Value& Value::operator*=(const Value& rhs) { return *this = *this * rhs; }
inline Value& Value::operator/=(const Value& rhs) { return *this = *this / rhs; }
inline Value& Value::operator+=(double rhs) { return *this = *this + rhs; }
inline Value& Value::operator-=(double rhs) { return *this = *this - rhs; }
inline Value& Value::operator*=(double rhs) { return *this = *this * rhs; }
inline Value& Value::operator/=(double rhs) { return *this = *this / rhs; }

}  // namespace scalargrad
