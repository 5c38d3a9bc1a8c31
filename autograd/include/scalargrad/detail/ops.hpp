// The op table: every operation the tape can record, with its forward rule and its local
// derivative side by side. Adding an activation means adding one Rule below, its name to one
// of the lists, a member/free function in value.hpp, and a test.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

namespace scalargrad::detail {

// Unary ops y = f(x): Rule<Op>::f(x) and dy/dx = Rule<Op>::df(x, y).
#define SCALARGRAD_UNARY_OPS(X) \
  X(Neg) X(Exp) X(Log) X(Sqrt) X(Abs) X(Relu) X(Tanh) X(Sigmoid) X(Gelu) X(Silu) X(Softplus)

// Unary ops with one constant c, y = f(x; c): Rule<Op>::f(x, c), dy/dx = Rule<Op>::df(x, y, c).
#define SCALARGRAD_UNARY_CONST_OPS(X) \
  X(AddC) X(RSubC) X(MulC) X(DivC) X(RDivC) X(PowC) X(RPowC) X(LeakyRelu) X(Elu)

// Binary ops y = f(x1, x2): dy/dx1 and dy/dx2 are written in the backward sweep (tape.cpp).
#define SCALARGRAD_BINARY_OPS(X) X(Add) X(Sub) X(Mul) X(Div) X(Pow)

// Structural ops: a leaf imported into a segment, an external leaf (Value::external) imported,
// a node imported from an older segment, a former import whose source was released because
// nothing live reached it (a value with no operands), an input of a batch given as a double
// (dense() of doubles: a value with no operands, whose adjoint is d(root)/d(input) and goes no
// further), and the fused n-ary nodes: sum, dot,
// affine (dot plus a bias: a neuron's w . x + b), and dot and affine of two runs of consecutive
// nodes (DotRange, AffineRange: the same node as a Dot or an Affine whose operand lists would
// count up by one, stored as the two first offsets; Note [Range dot] in tape.hpp).
#define SCALARGRAD_STRUCTURAL_OPS(X) \
  X(Import) X(ImportExternal) X(ImportSegment) X(Released) X(Input) X(Sum) X(Dot) X(DotRange) X(Affine) X(AffineRange)

/// Op code of a tape node.
enum class Op : std::uint8_t {
#define SCALARGRAD_ENUM_ENTRY(name) name,
  SCALARGRAD_UNARY_OPS(SCALARGRAD_ENUM_ENTRY) SCALARGRAD_UNARY_CONST_OPS(SCALARGRAD_ENUM_ENTRY)
      SCALARGRAD_BINARY_OPS(SCALARGRAD_ENUM_ENTRY) SCALARGRAD_STRUCTURAL_OPS(SCALARGRAD_ENUM_ENTRY)
#undef SCALARGRAD_ENUM_ENTRY
};

inline constexpr double kInvSqrt2 = 0.70710678118654752440;    // 1/sqrt(2)
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2*pi)

/// Logistic function, stable for every x: no overflow of exp for large |x|.
inline double stable_sigmoid(double x) noexcept {
  if (x >= 0.0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

/// x > 0.0 ? a : b, bit for bit (a NaN x gives b), without a branch.
///
/// Note [Branchless kinks]: whether a ReLU's input is positive is data, nearly random across a
/// layer, and GCC compiled `x > 0.0 ? x : 0.0` as a compare and a jump in relu_() and the
/// sweep. A mask of all ones or all zeros made from the comparison selects the same bits with
/// no jump to mispredict (docs/performance.md section 8, "Fourteenth session", for what it
/// gained).
inline double if_positive(double x, double a, double b) noexcept {
  const std::uint64_t mask = std::uint64_t{0} - static_cast<std::uint64_t>(x > 0.0);
  return std::bit_cast<double>((std::bit_cast<std::uint64_t>(a) & mask) | (std::bit_cast<std::uint64_t>(b) & ~mask));
}

template <Op>
struct Rule;

// ---- 1. Unary ops ---------------------------------------------------------------------------
template <> struct Rule<Op::Neg> {
  static constexpr std::string_view name = "neg";
  static double f(double x) noexcept { return -x; }
  static double df(double, double) noexcept { return -1.0; }  // (-x)' = -1
};
template <> struct Rule<Op::Exp> {
  static constexpr std::string_view name = "exp";
  static double f(double x) noexcept { return std::exp(x); }
  static double df(double, double y) noexcept { return y; }  // (e^x)' = e^x
};
template <> struct Rule<Op::Log> {
  static constexpr std::string_view name = "log";
  static double f(double x) noexcept { return std::log(x); }  // IEEE: log(0) = -inf, log(-1) = NaN
  static double df(double x, double) noexcept { return 1.0 / x; }  // (ln x)' = 1/x
};
template <> struct Rule<Op::Sqrt> {
  static constexpr std::string_view name = "sqrt";
  static double f(double x) noexcept { return std::sqrt(x); }
  // (sqrt x)' = 1/(2 sqrt x); |y| makes it +inf at x = -0.0 too, where sqrt gives -0.0.
  static double df(double, double y) noexcept { return 0.5 / std::fabs(y); }
};
template <> struct Rule<Op::Abs> {
  static constexpr std::string_view name = "abs";
  static double f(double x) noexcept { return std::fabs(x); }
  // |x|' = sign(x), and 0 at x = 0 (PyTorch's convention).
  static double df(double x, double) noexcept { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0); }
};
template <> struct Rule<Op::Relu> {
  static constexpr std::string_view name = "relu";
  static double f(double x) noexcept { return if_positive(x, x, 0.0); }
  static double df(double x, double) noexcept { return if_positive(x, 1.0, 0.0); }  // relu'(0) = 0
};
template <> struct Rule<Op::Tanh> {
  static constexpr std::string_view name = "tanh";
  static double f(double x) noexcept { return std::tanh(x); }
  static double df(double, double y) noexcept { return 1.0 - y * y; }  // tanh' = 1 - tanh^2
};
template <> struct Rule<Op::Sigmoid> {
  static constexpr std::string_view name = "sigmoid";
  static double f(double x) noexcept { return stable_sigmoid(x); }
  static double df(double, double y) noexcept { return y * (1.0 - y); }  // s' = s (1 - s)
};
template <> struct Rule<Op::Gelu> {
  static constexpr std::string_view name = "gelu";
  // gelu(x) = x Phi(x), Phi(x) = erfc(-x/sqrt 2)/2 (accurate in the left tail too). A NaN x
  // gives x itself: erfc(-x) is a NaN of the other sign, and x86 keeps the first of two NaN
  // operands, whose order the compiler may choose: gelu() and gelu_() gave NaNs of opposite
  // signs, and so did dense() and the calls it stands for (a reviewer's probe).
  // At +-inf, the limits (inf and -0, as for large finite x): the formula would give -inf * 0.
  static double f(double x) noexcept {
    if (std::isnan(x)) return x;
    if (std::isinf(x)) [[unlikely]] return x > 0.0 ? x : -0.0;
    return x * 0.5 * std::erfc(-x * kInvSqrt2);
  }
  // gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2/2)/sqrt(2 pi); x itself for a NaN x (above);
  // the limits 1 and 0 at +-inf (the formula: +-inf * 0).
  static double df(double x, double) noexcept {
    if (std::isnan(x)) return x;
    if (std::isinf(x)) [[unlikely]] return x > 0.0 ? 1.0 : 0.0;
    return 0.5 * std::erfc(-x * kInvSqrt2) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
  }
};
template <> struct Rule<Op::Silu> {
  static constexpr std::string_view name = "silu";
  // At -inf, the limit -0 (as for large finite x): the formula would give -inf * 0.
  static double f(double x) noexcept {
    if (x == -std::numeric_limits<double>::infinity()) [[unlikely]] return -0.0;
    return x * stable_sigmoid(x);
  }
  // silu'(x) = s(x) (1 + x (1 - s(x))); the limits 1 and -0 at +-inf (the formula: +-inf * 0).
  static double df(double x, double) noexcept {
    if (std::isinf(x)) [[unlikely]] return x > 0.0 ? 1.0 : -0.0;
    const double s = stable_sigmoid(x);
    return s * (1.0 + x * (1.0 - s));
  }
};
template <> struct Rule<Op::Softplus> {
  static constexpr std::string_view name = "softplus";
  // softplus(x) = ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|): no overflow for large |x|.
  static double f(double x) noexcept { return (x > 0.0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x))); }
  static double df(double x, double) noexcept { return stable_sigmoid(x); }  // softplus' = sigmoid
};

// ---- 2. Unary ops with a constant c -----------------------------------------------------------
template <> struct Rule<Op::AddC> {
  static constexpr std::string_view name = "+";
  static double f(double x, double c) noexcept { return x + c; }
  static double df(double, double, double) noexcept { return 1.0; }  // d(x+c)/dx = 1
};
template <> struct Rule<Op::RSubC> {
  static constexpr std::string_view name = "-";
  static double f(double x, double c) noexcept { return c - x; }
  static double df(double, double, double) noexcept { return -1.0; }  // d(c-x)/dx = -1
};
template <> struct Rule<Op::MulC> {
  static constexpr std::string_view name = "*";
  static double f(double x, double c) noexcept { return x * c; }
  static double df(double, double, double c) noexcept { return c; }  // d(xc)/dx = c
};
template <> struct Rule<Op::DivC> {
  static constexpr std::string_view name = "/";
  static double f(double x, double c) noexcept { return x / c; }
  static double df(double, double, double c) noexcept { return 1.0 / c; }  // d(x/c)/dx = 1/c
};
template <> struct Rule<Op::RDivC> {
  static constexpr std::string_view name = "/";
  static double f(double x, double c) noexcept { return c / x; }
  static double df(double x, double y, double) noexcept { return -y / x; }  // d(c/x)/dx = -c/x^2
};
/// d(x^c)/dx = c x^(c-1), given y = x^c: exactly 0 for c = 0, also at x = 0 (PyTorch's
/// convention). Two kinds of exponent make c - 1 round to another number that changes the
/// result: |c| >= 2^53, where c - 1 rounds back to c (an even integer), so an odd power of a
/// negative x turned even (pow(-1, 2^54) had d/dx = +2^54); and |c| so small that c - 1 rounds
/// to -1, an integer, so x^(c-1) was finite where x^c is NaN (pow(-2, 1e-300)). For those, c y / x
/// (finite x != 0), or x^(c-1) with the odd power's sign (x = -inf). Every other exponent keeps
/// c x^(c-1), bit for bit.
inline double pow_dx(double x, double y, double c) noexcept {
  if (c == 0.0) return 0.0;
  const double c_minus_1 = c - 1.0;
  const bool huge = std::fabs(c) >= 0x1p53;
  if ((huge || c_minus_1 == -1.0) && x != 0.0) {
    if (std::isfinite(x)) return c * (y / x);
    // x = +-inf: c - 1 is odd for a huge c (c is even), so (-inf)^(c-1) has a minus sign.
    if (huge && x < 0.0) return c * -std::pow(x, c_minus_1);
  }
  return c * std::pow(x, c_minus_1);
}

template <> struct Rule<Op::PowC> {
  static constexpr std::string_view name = "pow";
  static double f(double x, double c) noexcept { return std::pow(x, c); }
  static double df(double x, double y, double c) noexcept { return pow_dx(x, y, c); }
};
template <> struct Rule<Op::RPowC> {
  static constexpr std::string_view name = "pow";
  static double f(double x, double c) noexcept { return std::pow(c, x); }
  // d(c^x)/dx = c^x ln c; 0 for c = 0 and x >= 0, where c^x is flat (PyTorch's convention)
  static double df(double x, double y, double c) noexcept {
    return (c == 0.0 && x >= 0.0) ? 0.0 : y * std::log(c);
  }
};
template <> struct Rule<Op::LeakyRelu> {
  static constexpr std::string_view name = "leaky_relu";
  static double f(double x, double slope) noexcept { return if_positive(x, x, slope * x); }
  // 1 for x > 0, slope for x <= 0 (at the kink: slope, as PyTorch)
  static double df(double x, double, double slope) noexcept { return if_positive(x, 1.0, slope); }
};
template <> struct Rule<Op::Elu> {
  static constexpr std::string_view name = "elu";
  static double f(double x, double alpha) noexcept { return x > 0.0 ? x : alpha * std::expm1(x); }
  // 1 for x > 0, alpha e^x for x <= 0 (at the kink: alpha, as PyTorch)
  static double df(double x, double, double alpha) noexcept { return x > 0.0 ? 1.0 : alpha * std::exp(x); }
};

/// Name of an op, as shown in graphs ("+", "*", "tanh", ...).
constexpr std::string_view op_name(Op op) noexcept {
  switch (op) {
#define SCALARGRAD_NAME_CASE(op_) \
  case Op::op_:                   \
    return Rule<Op::op_>::name;
    SCALARGRAD_UNARY_OPS(SCALARGRAD_NAME_CASE)
    SCALARGRAD_UNARY_CONST_OPS(SCALARGRAD_NAME_CASE)
#undef SCALARGRAD_NAME_CASE
    case Op::Add: return "+";
    case Op::Sub: return "-";
    case Op::Mul: return "*";
    case Op::Div: return "/";
    case Op::Pow: return "pow";
    case Op::Import:
    case Op::ImportExternal: return "leaf";
    case Op::ImportSegment: return "import";
    case Op::Released: return "released";
    case Op::Input: return "input";
    case Op::Sum: return "sum";
    case Op::Dot:
    case Op::DotRange: return "dot";
    case Op::Affine:
    case Op::AffineRange: return "affine";
  }
  return "?";
}

}  // namespace scalargrad::detail
