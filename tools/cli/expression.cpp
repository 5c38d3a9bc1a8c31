// The expression language of the scalargrad command: the function table, numbers, the parser,
// evaluation and the --at assignments. The grammar is in expression.hpp; every message is
// listed in docs/cli.md and checked in tests/tools/expression_test.cpp.
#include "cli/expression.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace scalargrad::cli {

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const std::string_view part : parts) out += part;
  return out;
}

namespace {

// ---- 1. Ops ---------------------------------------------------------------------------------------

/// a (op) b for the binary operators and pow(), A and B each Value or double.
template <class A, class B>
Value apply_binary(NodeKind kind, const A& a, const B& b) {
  switch (kind) {
    case NodeKind::Add: return a + b;
    case NodeKind::Subtract: return a - b;
    case NodeKind::Multiply: return a * b;
    case NodeKind::Divide: return a / b;
    default: return pow(a, b);  // NodeKind::Power
  }
}

/// A binary op, through the engine's double overload when exactly one side is a constant:
/// x * 2 records one node (x times the constant 2), as `x * 2.0` in C++ does, and x ^ 2 is
/// pow(x, 2.0), whose derivative is right at x = 0 and for negative x.
Value binary(NodeKind kind, const Operand& a, const Operand& b) {
  if (a.constant && !b.constant) return apply_binary(kind, a.value.data(), b.value);
  if (!a.constant && b.constant) return apply_binary(kind, a.value, b.value.data());
  return apply_binary(kind, a.value, b.value);
}

using Args = std::span<const Operand>;

// The language's functions: one entry per op of the engine (value.hpp), in its order. dot(a, b)
// and affine(w, x, b) take lists, which the language has not got; unary minus is the engine's
// neg.
constexpr std::array kFunctions{
    Function{"exp", 1, 1, "exp(x)", "e^x", "", [](Args a) { return exp(a[0].value); }},
    Function{"log", 1, 1, "log(x)", "natural logarithm (log(0) = -inf, log(-1) = nan)", "",
             [](Args a) { return log(a[0].value); }},
    Function{"sqrt", 1, 1, "sqrt(x)", "square root", "", [](Args a) { return sqrt(a[0].value); }},
    Function{"abs", 1, 1, "abs(x)", "|x| (derivative 0 at 0)", "", [](Args a) { return abs(a[0].value); }},
    Function{"relu", 1, 1, "relu(x)", "max(x, 0) (derivative 0 at 0)", "",
             [](Args a) { return relu(a[0].value); }},
    Function{"leaky_relu", 1, 2, "leaky_relu(x, slope = 0.01)", "x if x > 0, else slope*x", "slope",
             [](Args a) { return a.size() > 1 ? leaky_relu(a[0].value, a[1].value.data()) : leaky_relu(a[0].value); }},
    Function{"tanh", 1, 1, "tanh(x)", "hyperbolic tangent", "", [](Args a) { return tanh(a[0].value); }},
    Function{"sigmoid", 1, 1, "sigmoid(x)", "1/(1 + e^-x)", "", [](Args a) { return sigmoid(a[0].value); }},
    Function{"elu", 1, 2, "elu(x, alpha = 1)", "x if x > 0, else alpha*(e^x - 1)", "alpha",
             [](Args a) { return a.size() > 1 ? elu(a[0].value, a[1].value.data()) : elu(a[0].value); }},
    Function{"gelu", 1, 1, "gelu(x)", "x*Phi(x), Phi the normal distribution function", "",
             [](Args a) { return gelu(a[0].value); }},
    Function{"silu", 1, 1, "silu(x)", "x*sigmoid(x)", "", [](Args a) { return silu(a[0].value); }},
    Function{"softplus", 1, 1, "softplus(x)", "ln(1 + e^x)", "", [](Args a) { return softplus(a[0].value); }},
    Function{"pow", 2, 2, "pow(x, y)", "x^y, the same as x ^ y", "",
             [](Args a) { return binary(NodeKind::Power, a[0], a[1]); }},
    Function{"sum", 1, kAnyNumber, "sum(x, ...)", "x1 + x2 + ... as one node", "",
             [](Args a) {
               std::vector<Value> xs;
               xs.reserve(a.size());
               for (const Operand& x : a) xs.push_back(x.value);
               return sum(std::span<const Value>(xs));
             }},
};

/// "exp, log, ..., sum": for the unknown-function message.
std::string function_names() {
  std::string names;
  for (const Function& f : kFunctions) {
    if (!names.empty()) names += ", ";
    names += f.name;
  }
  return names;
}

/// "tanh takes 1 argument, got 2", "leaky_relu takes 1 or 2 arguments, got 3", ...
std::string arity_message(const Function& f, std::size_t got) {
  std::string text(f.name);
  text += " takes ";
  if (f.max_args == kAnyNumber) {
    text += "at least ";
  } else if (f.max_args == f.min_args + 1) {
    text += std::to_string(f.min_args);
    text += " or ";
  } else if (f.max_args != f.min_args) {
    text += std::to_string(f.min_args);
    text += " to ";
  }
  const std::size_t shown = f.max_args == kAnyNumber ? f.min_args : f.max_args;
  text += std::to_string(shown);
  text += shown == 1 ? " argument, got " : " arguments, got ";
  text += std::to_string(got);
  return text;
}

// ---- 2. Characters and numbers ----------------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

/// True if a NUMBER starts at text[at]: a digit, or '.' and a digit.
bool starts_number(std::string_view text, std::size_t at) {
  return at < text.size() &&
         (is_digit(text[at]) || (text[at] == '.' && at + 1 < text.size() && is_digit(text[at + 1])));
}

/// A NUMBER read at text[begin] (where starts_number() is true).
struct NumberScan {
  enum class Status : std::uint8_t { Ok, Malformed, OutOfRange };
  Status status = Status::Ok;
  std::size_t end = 0;  // one past its last byte (for a malformed one: of the whole run)
  double value = 0.0;
};

NumberScan scan_number(std::string_view text, std::size_t begin) {
  std::size_t i = begin;
  const auto digits = [&] {
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    return i > start;
  };
  bool ok = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    ok = digits() || ok;
  }
  if (ok && i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    ok = digits();
  }
  // A number does not run into a name, a digit or a dot: "1.2.3", "1e", "2x" are malformed, and
  // the message quotes the whole run.
  if (!ok || (i < text.size() && (is_name_char(text[i]) || text[i] == '.'))) {
    while (i < text.size() && (is_name_char(text[i]) || text[i] == '.')) ++i;
    return {NumberScan::Status::Malformed, i, 0.0};
  }
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data() + begin, text.data() + i, value);
  if (error == std::errc::result_out_of_range) return {NumberScan::Status::OutOfRange, i, 0.0};
  // The grammar above is a subset of from_chars' general format, so this does not happen.
  if (error != std::errc() || end != text.data() + i) return {NumberScan::Status::Malformed, i, 0.0};
  return {NumberScan::Status::Ok, i, value};
}

/// "unexpected character '$'" for the byte at text[at], which is not part of the language.
std::string unexpected_character(std::string_view text, std::size_t at) {
  const auto c = static_cast<unsigned char>(text[at]);
  // A whole UTF-8 character, when the bytes there are one: the message quotes it as typed.
  std::size_t length = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
  if (length > 1) {
    for (std::size_t k = 1; k < length; ++k) {
      if (at + k >= text.size() || !is_utf8_continuation(text[at + k])) length = 1;
    }
  }
  if ((c > 0x20 && c < 0x7F) || length > 1) {
    std::string message = "unexpected character '";
    message += text.substr(at, length);
    message += '\'';
    return message;
  }
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(c));
  std::string message = "unexpected byte ";
  message += hex;
  return message;
}

/// `text` in single quotes, control characters written as \n, \t, \r, \xNN: a message that
/// quotes what the user typed stays one line.
std::string quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(u));
      out += hex;
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

/// Shortest text that reads back as the same double.
std::string format_number(double x) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  return std::string(buffer, result.ptr);
}

// ---- 3. The parser ------------------------------------------------------------------------------

/// Recursive descent over the grammar in expression.hpp, with one token of lookahead. Each
/// node is appended after its operands (see Expression).
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { next(); }

  /// The whole text as one expression: its nodes and variables.
  std::pair<std::vector<Node>, std::vector<Variable>> run() && {
    if (token_.kind == TokenKind::End) fail(token_.begin, "the expression is empty");
    sum();
    if (token_.kind != TokenKind::End) {
      if (is(')')) fail(token_.begin, "unmatched ')'");
      fail_expected("an operator", token_);
    }
    return {std::move(nodes_), std::move(variables_)};
  }

 private:
  enum class TokenKind : std::uint8_t { End, Number, Name, Symbol };
  struct Token {
    TokenKind kind = TokenKind::End;
    std::size_t begin = 0;  // its first byte
    std::size_t end = 0;    // one past its last byte
    double number = 0.0;    // Number: its value
  };

  // -- Tokens --
  /// Reads the token after the current one (or the first) into token_.
  void next() {
    std::size_t i = token_.end;
    while (i < text_.size() && is_blank(text_[i])) ++i;
    if (i == text_.size()) {
      token_ = {TokenKind::End, i, i, 0.0};
    } else if (starts_number(text_, i)) {
      const NumberScan number = scan_number(text_, i);
      const std::string_view spelled = text_.substr(i, number.end - i);
      if (number.status == NumberScan::Status::Malformed) fail(i, cat({"malformed number '", spelled, "'"}));
      if (number.status == NumberScan::Status::OutOfRange) {
        fail(i, cat({"number '", spelled, "' is out of the range of a double"}));
      }
      token_ = {TokenKind::Number, i, number.end, number.value};
    } else if (is_name_start(text_[i])) {
      std::size_t end = i + 1;
      while (end < text_.size() && is_name_char(text_[end])) ++end;
      token_ = {TokenKind::Name, i, end, 0.0};
    } else if (std::string_view("+-*/^(),").find(text_[i]) != std::string_view::npos) {
      token_ = {TokenKind::Symbol, i, i + 1, 0.0};
    } else {
      fail(i, unexpected_character(text_, i));
    }
  }
  /// True if the current token is the symbol c.
  [[nodiscard]] bool is(char c) const { return token_.kind == TokenKind::Symbol && text_[token_.begin] == c; }
  [[nodiscard]] std::string_view spelling(const Token& t) const { return text_.substr(t.begin, t.end - t.begin); }
  /// "end of input", or the token quoted: for "expected ..., found ..." messages.
  [[nodiscard]] std::string describe(const Token& t) const {
    return t.kind == TokenKind::End ? std::string("end of input") : cat({"'", spelling(t), "'"});
  }

  // -- Nodes --
  /// Appends a node whose operands are already in nodes_, and returns its index.
  std::size_t add(NodeKind kind, std::size_t position, std::vector<std::size_t> operands = {}) {
    Node node;
    node.kind = kind;
    node.position = position;
    node.operands = std::move(operands);
    const std::size_t index = nodes_.size();
    if (kind == NodeKind::Variable) node.depends_on = index;
    for (const std::size_t operand : node.operands) {
      if (node.depends_on == kNone) node.depends_on = nodes_[operand].depends_on;
    }
    nodes_.push_back(std::move(node));
    return index;
  }
  std::size_t add(NodeKind kind, std::size_t position, std::size_t a) {
    return add(kind, position, std::vector<std::size_t>{a});
  }
  std::size_t add(NodeKind kind, std::size_t position, std::size_t a, std::size_t b) {
    return add(kind, position, std::vector<std::size_t>{a, b});
  }

  // -- Grammar --
  // Note [Stack per level]: sum, product, unary, power and primary recurse, once each per
  // nesting level, so they hold no strings, Nodes or vectors: messages are made in the fail_*
  // functions, nodes in add(), the arguments of a call in call(): well under 1 KB per level
  // (GCC 12: 0.34 KB at -O0, 0.43 KB at -O2; a call adds ~0.3 KB), so 1000 levels fit in 1 MB.

  /// sum := product (('+' | '-') product)*
  std::size_t sum() {
    std::size_t left = product();
    while (is('+') || is('-')) {
      const std::size_t position = token_.begin;
      next();
      const std::size_t right = product();
      left = add(text_[position] == '+' ? NodeKind::Add : NodeKind::Subtract, position, left, right);
    }
    return left;
  }

  /// product := unary (('*' | '/') unary)*
  std::size_t product() {
    std::size_t left = unary();
    while (is('*') || is('/')) {
      const std::size_t position = token_.begin;
      next();
      const std::size_t right = unary();
      left = add(text_[position] == '*' ? NodeKind::Multiply : NodeKind::Divide, position, left, right);
    }
    return left;
  }

  /// unary := ('-' | '+') unary | power. Every operand passes here, so this is where the
  /// nesting depth is counted.
  std::size_t unary() {
    if (depth_ == kMaxDepth) fail_too_deep();
    ++depth_;
    std::size_t result = 0;
    if (is('-')) {
      const std::size_t position = token_.begin;
      next();
      result = add(NodeKind::Negate, position, unary());
    } else if (is('+')) {
      next();
      result = unary();  // +x is x
    } else {
      result = power();
    }
    --depth_;
    return result;
  }

  /// power := primary ('^' unary)?   (the exponent is a unary: x^-2, and 2^3^2 = 2^(3^2))
  std::size_t power() {
    const std::size_t base = primary();
    if (!is('^')) return base;
    const std::size_t position = token_.begin;
    next();
    return add(NodeKind::Power, position, base, unary());
  }

  /// primary := NUMBER | NAME | NAME '(' arguments ')' | '(' sum ')'
  std::size_t primary() {
    if (token_.kind == TokenKind::Number) return number();
    if (token_.kind == TokenKind::Name) {
      const std::size_t name = token_.begin;
      const std::size_t name_end = token_.end;
      next();
      return is('(') ? call(name, name_end) : variable(name, name_end);
    }
    if (!is('(')) fail_expected("an operand", token_);
    const std::size_t open = token_.begin;
    next();
    const std::size_t inner = sum();
    if (!is(')')) fail_expected("')' or an operator", token_, open);
    next();
    return inner;
  }

  std::size_t number() {
    const std::size_t index = add(NodeKind::Number, token_.begin);
    nodes_[index].number = token_.number;
    next();
    return index;
  }

  /// The variable text_[begin, end) (a NAME, the current token is the one after it).
  std::size_t variable(std::size_t begin, std::size_t end) {
    const std::string_view id = text_.substr(begin, end - begin);
    if (find_function(id) != nullptr) fail(begin, cat({"'", id, "' is a function: call it as ", id, "(...)"}));
    const auto [it, is_new] = variable_index_.try_emplace(id, variables_.size());
    if (is_new) variables_.push_back(Variable{std::string(id), begin});
    const std::size_t index = add(NodeKind::Variable, begin);
    nodes_[index].index = it->second;
    return index;
  }

  /// NAME '(' (sum (',' sum)*)? ')', the name text_[begin, end), the current token the '('.
  std::size_t call(std::size_t begin, std::size_t end) {
    const std::string_view id = text_.substr(begin, end - begin);
    const Function* f = find_function(id);
    if (f == nullptr) {
      fail(begin, cat({"unknown function '", id, "' (the functions are: ", function_names(), ")"}));
    }
    const std::size_t open = token_.begin;
    next();
    std::vector<std::size_t> args;
    if (!is(')')) {
      while (true) {  // after a ',' comes an argument: f(x,) is an error
        args.push_back(sum());
        if (is(')')) break;
        if (!is(',')) fail_expected("',', ')' or an operator", token_, open);
        next();
      }
    }
    // Checked before reading past ')', so that errors are reported from left to right.
    check_arguments(*f, begin, args);
    next();
    const std::size_t index = add(NodeKind::Call, begin, std::move(args));
    nodes_[index].index = static_cast<std::size_t>(f - kFunctions.data());
    return index;
  }

  // -- Errors --
  [[noreturn]] void fail(std::size_t position, const std::string& reason) const {
    throw ExpressionError(Source::Expression, position, reason);
  }
  /// "expected <what>, found <token>" at the token; at the end of the text inside the '(' at
  /// `open`: "unclosed '('" there.
  [[noreturn]] void fail_expected(std::string_view what, const Token& found, std::size_t open = kNone) const {
    if (found.kind == TokenKind::End && open != kNone) fail(open, "unclosed '('");
    fail(found.begin, cat({"expected ", what, ", found ", describe(found)}));
  }
  [[noreturn]] void fail_too_deep() const {
    fail(token_.begin, cat({"the expression is nested more than ", std::to_string(kMaxDepth), " levels deep"}));
  }
  /// The number of arguments, and that a constant argument is one.
  void check_arguments(const Function& f, std::size_t name, const std::vector<std::size_t>& args) const {
    if (args.size() < f.min_args || args.size() > f.max_args) fail(name, arity_message(f, args.size()));
    if (!f.constant_arg.empty() && args.size() > 1 && !nodes_[args[1]].constant()) {
      const Node& var = nodes_[nodes_[args[1]].depends_on];
      fail(var.position, cat({f.name, " takes a constant ", f.constant_arg, ", but it depends on '",
                              variables_[var.index].name, "'"}));
    }
  }

  std::string_view text_;
  Token token_;                  // the current token: the parser's one token of lookahead
  std::size_t depth_ = 0;        // unary() calls active
  std::vector<Node> nodes_;      // the expression so far, operands first
  std::vector<Variable> variables_;
  std::unordered_map<std::string_view, std::size_t> variable_index_;  // name (in text_) -> index
};

}  // namespace

// ---- 4. Public functions ------------------------------------------------------------------------

std::span<const Function> functions() { return kFunctions; }

const Function* find_function(std::string_view name) {
  for (const Function& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Expression parse(std::string_view text) {
  auto [nodes, variables] = Parser(text).run();
  return Expression(std::string(text), std::move(nodes), std::move(variables));
}

std::string to_string(const Expression& expression) {
  // One string per node, operands first; each node is the operand of at most one other (the
  // expression is a tree), so its string is freed once its parent's is made.
  const std::vector<Node>& nodes = expression.nodes();
  std::vector<std::string> text(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    std::string& out = text[i];
    switch (node.kind) {
      case NodeKind::Number: out = format_number(node.number); break;
      case NodeKind::Variable: out = expression.variables()[node.index].name; break;
      case NodeKind::Negate:
        out = "(-";
        out += text[node.operands[0]];
        out += ')';
        break;
      case NodeKind::Call:
        out = functions()[node.index].name;
        out += '(';
        for (std::size_t k = 0; k < node.operands.size(); ++k) {
          if (k > 0) out += ", ";
          out += text[node.operands[k]];
        }
        out += ')';
        break;
      default: {  // the binary operators
        constexpr std::string_view kSymbols = "+-*/^";
        out = '(';
        out += text[node.operands[0]];
        out += ' ';
        out += kSymbols[static_cast<std::size_t>(node.kind) - static_cast<std::size_t>(NodeKind::Add)];
        out += ' ';
        out += text[node.operands[1]];
        out += ')';
        break;
      }
    }
    for (const std::size_t operand : node.operands) std::string().swap(text[operand]);  // used once
  }
  return text.empty() ? std::string() : std::move(text.back());
}

Value evaluate(const Expression& expression, std::span<const Value> variables) {
  if (variables.size() != expression.variables().size()) {
    throw std::invalid_argument(cat({"evaluate: the expression has ", std::to_string(expression.variables().size()),
                                     " variables, got ", std::to_string(variables.size()), " values"}));
  }
  // One loop over the nodes, operands first: results[i] is the Value of nodes()[i].
  std::vector<Operand> results;
  results.reserve(expression.nodes().size());
  std::vector<Operand> args;
  for (const Node& node : expression.nodes()) {
    std::optional<NoGradGuard> constant;  // a constant is a leaf: no gradient flows into it
    if (node.constant()) constant.emplace();
    Value value;
    switch (node.kind) {
      case NodeKind::Number: value = Value(node.number); break;
      case NodeKind::Variable: value = variables[node.index]; break;
      case NodeKind::Negate: value = -results[node.operands[0]].value; break;
      case NodeKind::Call:
        args.clear();
        for (const std::size_t operand : node.operands) args.push_back(results[operand]);
        value = functions()[node.index].apply(args);
        break;
      default:  // the binary operators
        value = binary(node.kind, results[node.operands[0]], results[node.operands[1]]);
        break;
    }
    results.push_back(Operand{std::move(value), node.constant()});
  }
  return results.back().value;
}

std::vector<double> bind_variables(const Expression& expression, std::string_view assignments) {
  const std::vector<Variable>& variables = expression.variables();
  const auto fail = [](std::size_t position, const std::string& reason) {
    throw ExpressionError(Source::Assignments, position, reason);
  };
  const auto quoted = [&](std::size_t begin, std::size_t end) { return quote(assignments.substr(begin, end - begin)); };
  std::vector<std::optional<double>> values(variables.size());

  // Items separated by commas; a text of blanks has none.
  const bool blank = is_blank(assignments);
  for (std::size_t begin = 0; !blank && begin <= assignments.size();) {
    std::size_t end = assignments.find(',', begin);
    if (end == std::string_view::npos) end = assignments.size();
    const std::size_t next = end + 1;
    // Trims blanks from [b, e).
    const auto trim = [&](std::size_t& b, std::size_t& e) {
      while (b < e && is_blank(assignments[b])) ++b;
      while (e > b && is_blank(assignments[e - 1])) --e;
    };
    trim(begin, end);
    if (begin == end) fail(begin, "--at: expected NAME=VALUE, found nothing");
    const std::size_t eq = assignments.substr(0, end).find('=', begin);
    std::size_t name_end = eq == std::string_view::npos ? begin : eq;
    trim(begin, name_end);
    if (eq == std::string_view::npos || begin == name_end) {
      fail(begin, cat({"--at: expected NAME=VALUE, found ", quoted(begin, end)}));
    }

    // NAME: a variable of the expression, not given before.
    const std::string_view name = assignments.substr(begin, name_end - begin);
    std::size_t index = 0;
    while (index < variables.size() && variables[index].name != name) ++index;
    if (index == variables.size()) {
      std::string list;
      for (const Variable& v : variables) {
        if (!list.empty()) list += ", ";
        list += v.name;
      }
      fail(begin, cat({"--at: ", quoted(begin, name_end), " is not a variable of the expression ",
                       list.empty() ? std::string("(it has no variables)") : cat({"(its variables: ", list, ")"})}));
    }
    if (values[index]) fail(begin, cat({"--at: ", quoted(begin, name_end), " is given twice"}));

    // VALUE: a NUMBER with an optional sign.
    std::size_t value_begin = eq + 1;
    trim(value_begin, end);
    const bool sign = value_begin < end && (assignments[value_begin] == '-' || assignments[value_begin] == '+');
    const std::string_view value_text = assignments.substr(0, end);
    const std::size_t digits = value_begin + (sign ? 1 : 0);
    const std::string not_a_number = cat({"--at: ", quoted(value_begin, end), " is not a number"});
    if (!starts_number(value_text, digits)) fail(value_begin, not_a_number);
    const NumberScan number = scan_number(value_text, digits);
    if (number.status == NumberScan::Status::OutOfRange) {
      fail(value_begin, cat({"--at: ", quoted(value_begin, end), " is out of the range of a double"}));
    }
    if (number.status != NumberScan::Status::Ok || number.end != end) fail(value_begin, not_a_number);
    values[index] = sign && assignments[value_begin] == '-' ? -number.value : number.value;
    begin = next;
  }

  std::vector<double> result;
  result.reserve(variables.size());
  for (std::size_t i = 0; i < variables.size(); ++i) {
    if (!values[i]) {
      throw ExpressionError(Source::Expression, variables[i].position,
                            cat({"--at: '", variables[i].name, "' has no value"}));
    }
    result.push_back(*values[i]);
  }
  return result;
}

std::string caret_lines(std::string_view text, std::size_t position, std::string_view prefix) {
  // The caret line repeats what comes before the caret as blanks of the same width.
  const auto pad = [](std::string& out, std::string_view shown) {
    for (const char c : shown) {
      if (c == '\t') {
        out += '\t';
      } else if (!is_utf8_continuation(c)) {
        out += ' ';
      }
    }
  };
  std::string out(prefix);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 && c != '\t') || u == 0x7F ? ' ' : c;
  }
  out += '\n';
  pad(out, prefix);
  pad(out, text.substr(0, std::min(position, text.size())));
  out += "^\n";
  return out;
}

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return is_blank(c); });
}

}  // namespace scalargrad::cli
