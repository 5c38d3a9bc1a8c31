// The expression language of the scalargrad command (docs/cli.md): parse text such as
// "tanh(x1*w1 + x2*w2 + b)" into a flat syntax tree with byte positions, evaluate it into
// scalargrad::Values, read the variables' values from "x1=2,w1=-3", and show bad input as the
// text with a caret under the byte where it goes wrong.
//
// Grammar (lowest precedence first; ^ binds tighter than unary minus, so -x^2 = -(x^2)):
//   sum      := product (('+' | '-') product)*               left-associative
//   product  := unary (('*' | '/') unary)*                   left-associative
//   unary    := ('-' | '+') unary | power
//   power    := primary ('^' unary)?                         right-associative: 2^3^2 = 2^9
//   primary  := NUMBER | NAME | NAME '(' (sum (',' sum)*)? ')' | '(' sum ')'
//   NUMBER   := (DIGITS ('.' DIGITS?)? | '.' DIGITS) ([eE] [+-]? DIGITS)?
//   NAME     := [A-Za-z_][A-Za-z0-9_]*   (a variable, unless it is a function's name)
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <scalargrad/value.hpp>

namespace scalargrad::cli {

// ---- 1. Errors ----------------------------------------------------------------------------------

/// Which text an ExpressionError points into.
enum class Source : std::uint8_t {
  Expression,   ///< the expression given to parse()
  Assignments,  ///< the "NAME=VALUE,..." text given to bind_variables()
};

/// Bad input: a one-line reason (what()) and the byte of the text where it goes wrong, for
/// caret_lines(). Thrown by parse() and bind_variables().
class ExpressionError : public std::runtime_error {
 public:
  ExpressionError(Source source, std::size_t position, const std::string& reason)
      : std::runtime_error(reason), source_(source), position_(position) {}

  /// The text the position is in.
  [[nodiscard]] Source source() const noexcept { return source_; }
  /// Byte offset in that text, from 0 to its size (the size: at the end of the text).
  [[nodiscard]] std::size_t position() const noexcept { return position_; }

 private:
  Source source_;
  std::size_t position_;
};

/// Two lines: `prefix` + `text`, then a caret under byte `position` of `text` (at its end if
/// position >= size), each ending in '\n'. Control characters of `text` are shown as spaces;
/// tabs are kept (and copied into the caret line) and a UTF-8 character counts as one column,
/// so the caret stays under its byte in a terminal.
std::string caret_lines(std::string_view text, std::size_t position, std::string_view prefix = "  ");

// ---- 2. The functions ---------------------------------------------------------------------------

/// An evaluated argument of a function: its Value, and whether it is a constant (depends on no
/// variable). Constants are plain leaves; an op given one uses the engine's double overload
/// (x * 2.0, pow(x, 2.0)), as C++ code would.
struct Operand {
  Value value;
  bool constant = false;
};

/// max_args of a function that takes any number of arguments (sum).
inline constexpr std::size_t kAnyNumber = std::numeric_limits<std::size_t>::max();

/// One function of the language. functions() is the only list of them: the parser, evaluate(),
/// the error messages and the command's help text are all made from it.
struct Function {
  std::string_view name;       ///< as written in an expression: "leaky_relu"
  std::size_t min_args;        ///< fewest arguments
  std::size_t max_args;        ///< most arguments, or kAnyNumber
  std::string_view signature;  ///< "leaky_relu(x, slope = 0.01)", for the help text
  std::string_view meaning;    ///< one line for the help text: "x if x > 0, else slope x"
  /// The name of the second argument when it must be a constant (a number expression with no
  /// variable): "slope" for leaky_relu, "alpha" for elu; "" for the others.
  std::string_view constant_arg;
  /// The op: its arguments (already checked: min_args..max_args of them, constant_arg constant).
  Value (*apply)(std::span<const Operand> args);
};

/// Every function of the language, one per op of the engine that takes scalars, in the order of
/// the engine's op table (README.md): exp log sqrt abs relu leaky_relu tanh sigmoid elu gelu
/// silu softplus pow sum.
std::span<const Function> functions();

/// The function called `name`, or nullptr.
const Function* find_function(std::string_view name);

// ---- 3. Parsed expressions ------------------------------------------------------------------------

/// Operands nested deeper than this (parentheses, signs, exponents, arguments) are an error, so
/// that the recursive-descent parser cannot overflow the stack.
inline constexpr std::size_t kMaxDepth = 1000;

/// What a Node computes.
enum class NodeKind : std::uint8_t {
  Number,    ///< a number literal
  Variable,  ///< a variable, an input of the expression
  Negate,    ///< -a
  Add,       ///< a + b
  Subtract,  ///< a - b
  Multiply,  ///< a * b
  Divide,    ///< a / b
  Power,     ///< a ^ b
  Call,      ///< f(a, ...)
};

/// A node index meaning "none" (Node::depends_on of a constant).
inline constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

/// One node of a parsed expression.
struct Node {
  NodeKind kind = NodeKind::Number;
  std::size_t position = 0;  ///< byte offset of its token: the number, the name, the operator
  double number = 0.0;       ///< Number: its value
  std::size_t index = 0;     ///< Variable: index in variables(); Call: index in functions()
  /// Indices into Expression::nodes(), each smaller than this node's: Negate one, the binary
  /// ops two (left, right), Call its arguments in order.
  std::vector<std::size_t> operands;
  /// The index of the leftmost Variable node under this node (itself for a Variable), or
  /// kNone for a constant.
  std::size_t depends_on = kNone;

  /// True if the node depends on no variable.
  [[nodiscard]] bool constant() const noexcept { return depends_on == kNone; }
};

/// An input of an expression.
struct Variable {
  std::string name;
  std::size_t position = 0;  ///< byte offset of its first appearance
};

/// A parsed expression: a flat list of nodes, each after its operands, the root last. As on
/// the engine's tape, creation order is a topological order, so evaluate() is one loop and
/// nothing about an expression recurses but the parser (whose depth kMaxDepth bounds).
class Expression {
 public:
  /// The text it was parsed from.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  /// Its nodes, operands first; the root is nodes().back().
  [[nodiscard]] const std::vector<Node>& nodes() const noexcept { return nodes_; }
  /// Its variables, in the order they first appear in the text.
  [[nodiscard]] const std::vector<Variable>& variables() const noexcept { return variables_; }

 private:
  friend Expression parse(std::string_view text);
  Expression(std::string text, std::vector<Node> nodes, std::vector<Variable> variables)
      : text_(std::move(text)), nodes_(std::move(nodes)), variables_(std::move(variables)) {}

  std::string text_;
  std::vector<Node> nodes_;
  std::vector<Variable> variables_;
};

/// Parses `text` (grammar at the top of this file). Throws ExpressionError (Source::Expression)
/// for: a character outside the language, a malformed or out-of-range number, a missing
/// operand or ')', an unmatched ')', an unknown function, a function's name used as a variable,
/// a wrong number of arguments, a variable in a constant argument, nesting deeper than
/// kMaxDepth. The messages are listed in docs/cli.md.
Expression parse(std::string_view text);

/// The expression fully parenthesised, with numbers in shortest round-trip form:
/// "-x^2*3" -> "((-(x ^ 2)) * 3)". For tests and debugging.
std::string to_string(const Expression& expression);

/// The value of `expression` as a Value, recorded on this thread's tape, with `variables[i]`
/// for variables()[i] (so backward() on the result fills their grad()). Constant subexpressions
/// are computed under NoGradGuard: they are leaves, not recorded ops. Throws
/// std::invalid_argument if there is not one Value per variable.
Value evaluate(const Expression& expression, std::span<const Value> variables);

// ---- 4. Values of the variables ---------------------------------------------------------------

/// One value per variable of `expression`, in variables() order, read from `assignments`:
/// "NAME=VALUE" items separated by commas ("x1=2, w1=-3"; blanks around items, names and values
/// are allowed; VALUE is a NUMBER with an optional sign). Throws ExpressionError for an item
/// without '=', a name that is not a variable of the expression, a name given twice, a value
/// that is not a number (all Source::Assignments), and for a variable without a value (pointing
/// at its first appearance, Source::Expression).
std::vector<double> bind_variables(const Expression& expression, std::string_view assignments);
/// True when `text` holds nothing but the language's blanks: as `assignments`, it has no item.
bool is_blank(std::string_view text);

// ---- 5. Messages --------------------------------------------------------------------------------

/// The parts joined: messages are built with this rather than "literal" + std::string, which
/// GCC 12 warns about wrongly (-Wrestrict).
std::string cat(std::initializer_list<std::string_view> parts);

}  // namespace scalargrad::cli
