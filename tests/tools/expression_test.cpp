// The expression language of the scalargrad command (tools/cli/expression.hpp): precedence and
// associativity (through to_string's fully parenthesised form), numbers, variables, every
// function's value and derivative against closed forms written here, the micrograd neuron
// against hand-computed gradients and micrograd's published values, every error with its exact
// message and byte position, the nesting limit, --at assignments, and the caret lines.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <numbers>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <scalargrad/value.hpp>

#include "cli/expression.hpp"

namespace {

using scalargrad::Value;
namespace cli = scalargrad::cli;

// ---- Helpers --------------------------------------------------------------------------------------

/// `text` parsed and printed fully parenthesised.
std::string Parenthesized(std::string_view text) { return cli::to_string(cli::parse(text)); }

/// What an ExpressionError said, or "<no error>".
struct Failure {
  cli::Source source = cli::Source::Expression;
  std::size_t position = 0;
  std::string reason;
  bool operator==(const Failure&) const = default;
  friend std::ostream& operator<<(std::ostream& out, const Failure& f) {
    return out << (f.source == cli::Source::Expression ? "expression" : "assignments") << " byte " << f.position
               << ": \"" << f.reason << '"';
  }
};
Failure Expr(std::size_t position, std::string reason) { return {cli::Source::Expression, position, std::move(reason)}; }
Failure At(std::size_t position, std::string reason) { return {cli::Source::Assignments, position, std::move(reason)}; }

Failure ParseFailure(std::string_view text) {
  try {
    (void)cli::parse(text);
  } catch (const cli::ExpressionError& e) {
    return {e.source(), e.position(), e.what()};
  }
  return {cli::Source::Expression, 0, "<no error>"};
}

Failure BindFailure(std::string_view expression, std::string_view assignments) {
  const cli::Expression e = cli::parse(expression);
  try {
    (void)cli::bind_variables(e, assignments);
  } catch (const cli::ExpressionError& error) {
    return {error.source(), error.position(), error.what()};
  }
  return {cli::Source::Expression, 0, "<no error>"};
}

/// The value of `text` and its gradient, one entry per variable in order of appearance.
struct Result {
  double value = 0.0;
  std::vector<double> grad;
};
Result Evaluate(std::string_view text, const std::vector<double>& at = {}) {
  const cli::Expression e = cli::parse(text);
  std::vector<Value> leaves(at.begin(), at.end());
  const Value y = cli::evaluate(e, leaves);
  y.backward();
  Result result{y.data(), {}};
  for (const Value& leaf : leaves) result.grad.push_back(leaf.grad());
  return result;
}

/// |actual - expected| <= 1e-14 (1 + |expected|): a few ulp of the closed forms below.
void ExpectClose(double actual, double expected, std::string_view what) {
  EXPECT_NEAR(actual, expected, 1e-14 * (1.0 + std::fabs(expected))) << what;
}

// ---- Precedence and associativity --------------------------------------------------------------

TEST(Precedence, ProductBindsTighterThanSum) {
  EXPECT_EQ(Parenthesized("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(Parenthesized("a * b + c"), "((a * b) + c)");
  EXPECT_EQ(Parenthesized("a - b / c"), "(a - (b / c))");
  EXPECT_EQ(Evaluate("1 + 2 * 3").value, 7.0);
}

TEST(Precedence, PowerBindsTighterThanUnaryMinus) {
  EXPECT_EQ(Parenthesized("-x^2"), "(-(x ^ 2))");
  EXPECT_EQ(Evaluate("-2^2").value, -4.0);
  EXPECT_EQ(Evaluate("(-2)^2").value, 4.0);
}

TEST(Precedence, UnaryMinusBindsTighterThanProduct) {
  EXPECT_EQ(Parenthesized("-a * b"), "((-a) * b)");
  EXPECT_EQ(Parenthesized("a * -b"), "(a * (-b))");
  EXPECT_EQ(Parenthesized("a - -b"), "(a - (-b))");
  EXPECT_EQ(Parenthesized("-+-a"), "(-(-a))");  // unary plus makes no node
  EXPECT_EQ(Parenthesized("+a"), "a");
}

TEST(Precedence, ExponentMayCarryASign) {
  EXPECT_EQ(Parenthesized("x^-2"), "(x ^ (-2))");
  EXPECT_EQ(Parenthesized("2^-x^2"), "(2 ^ (-(x ^ 2)))");
  EXPECT_EQ(Evaluate("2^-1").value, 0.5);
}

TEST(Precedence, ParenthesesAndCallsGroup) {
  EXPECT_EQ(Parenthesized("(a + b) * c"), "((a + b) * c)");
  EXPECT_EQ(Parenthesized("tanh(a + b) ^ 2"), "(tanh((a + b)) ^ 2)");
  EXPECT_EQ(Parenthesized("pow(a, b + c) * sum(a, -b, c)"), "(pow(a, (b + c)) * sum(a, (-b), c))");
}

TEST(Associativity, SumAndProductAreLeftAssociative) {
  EXPECT_EQ(Parenthesized("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(Parenthesized("a / b / c"), "((a / b) / c)");
  EXPECT_EQ(Parenthesized("a / b * c"), "((a / b) * c)");
  EXPECT_EQ(Evaluate("8 - 4 - 2").value, 2.0);
  EXPECT_EQ(Evaluate("8 / 4 / 2").value, 1.0);
}

TEST(Associativity, PowerIsRightAssociative) {
  EXPECT_EQ(Parenthesized("a ^ b ^ c"), "(a ^ (b ^ c))");
  EXPECT_EQ(Evaluate("2^3^2").value, 512.0);
}

// ---- Numbers and variables ----------------------------------------------------------------------

TEST(Numbers, DecimalAndExponentFormsReadExactly) {
  EXPECT_EQ(Evaluate("0.1").value, 0.1);
  EXPECT_EQ(Evaluate("1e-3").value, 1e-3);
  EXPECT_EQ(Evaluate(".5").value, 0.5);
  EXPECT_EQ(Evaluate("2.").value, 2.0);
  EXPECT_EQ(Evaluate("6.02E+23").value, 6.02e23);
  EXPECT_EQ(Evaluate("007").value, 7.0);
  EXPECT_EQ(Evaluate("1e-320").value, 1e-320);  // subnormal: representable, so accepted
  EXPECT_EQ(Evaluate("6.8813735870195432").value, 6.8813735870195432);
}

TEST(Numbers, PrintInShortestRoundTripForm) {
  EXPECT_EQ(Parenthesized("0.10"), "0.1");
  EXPECT_EQ(Parenthesized("1e22"), "1e+22");
  EXPECT_EQ(Parenthesized(" \t2\n"), "2");  // blanks anywhere
}

TEST(Variables, ListedInOrderOfFirstAppearance) {
  const cli::Expression e = cli::parse("b*a + a*c_1 + b");
  ASSERT_EQ(e.variables().size(), 3u);
  EXPECT_EQ(e.variables()[0].name, "b");
  EXPECT_EQ(e.variables()[0].position, 0u);
  EXPECT_EQ(e.variables()[1].name, "a");
  EXPECT_EQ(e.variables()[1].position, 2u);
  EXPECT_EQ(e.variables()[2].name, "c_1");
  EXPECT_EQ(e.variables()[2].position, 8u);
}

TEST(Variables, GradientsAccumulateOverEveryUse) {
  const Result r = Evaluate("x*x + x + 2*x", {3.0});
  EXPECT_EQ(r.value, 18.0);
  EXPECT_EQ(r.grad, std::vector<double>{9.0});  // 2x + 1 + 2
}

TEST(Variables, InfAndNanAreNames) {
  // inf and nan are names, not numbers: the language has no such literals.
  EXPECT_EQ(Evaluate("inf + nan", {1.0, 2.0}).value, 3.0);
}

// ---- Functions ----------------------------------------------------------------------------------

TEST(Functions, TableHasEveryScalarOpOfTheEngineInItsOrder) {
  std::vector<std::string_view> names;
  for (const cli::Function& f : cli::functions()) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string_view>{"exp", "log", "sqrt", "abs", "relu", "leaky_relu", "tanh",
                                                  "sigmoid", "elu", "gelu", "silu", "softplus", "pow", "sum"}));
  EXPECT_EQ(cli::find_function("tanh"), &cli::functions()[6]);
  EXPECT_EQ(cli::find_function("Tanh"), nullptr);
}

TEST(Functions, DocsListEverySignature) {
  // docs/cli.md's function table is written by hand: it must name every function as the table does.
  std::ifstream in(SCALARGRAD_DOCS_CLI_MD);
  ASSERT_TRUE(in) << "cannot read " << SCALARGRAD_DOCS_CLI_MD;
  const std::string docs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const cli::Function& f : cli::functions()) {
    EXPECT_NE(docs.find("| `" + std::string(f.signature) + "` |"), std::string::npos) << f.signature;
  }
}

/// One function call in one variable x: its value and dy/dx, from closed forms.
struct FunctionCase {
  std::string_view text;
  double x;
  double value;
  double derivative;
};

TEST(Functions, ValueAndDerivativeMatchClosedForms) {
  const double e = std::numbers::e;
  const auto phi = [](double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi); };
  const auto Phi = [](double x) { return 0.5 * (1.0 + std::erf(x / std::numbers::sqrt2)); };
  const auto sigma = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  const double t = std::tanh(0.5);
  const std::vector<FunctionCase> cases = {
      {"exp(x)", 0.5, std::exp(0.5), std::exp(0.5)},
      {"log(x)", 2.0, std::numbers::ln2, 0.5},
      {"sqrt(x)", 4.0, 2.0, 0.25},
      {"abs(x)", -3.0, 3.0, -1.0},
      {"relu(x)", -1.0, 0.0, 0.0},
      {"relu(x)", 2.0, 2.0, 1.0},
      {"leaky_relu(x)", -2.0, -0.02, 0.01},
      {"leaky_relu(x, 0.2)", -2.0, -0.4, 0.2},
      {"leaky_relu(x, 0.1 * 2)", -2.0, -0.4, 0.2},  // a constant expression
      {"tanh(x)", 0.5, t, 1.0 - t * t},
      {"sigmoid(x)", 0.0, 0.5, 0.25},
      {"elu(x)", -1.0, 1.0 / e - 1.0, 1.0 / e},
      {"elu(x, 2)", -1.0, 2.0 * (1.0 / e - 1.0), 2.0 / e},
      {"gelu(x)", 1.0, Phi(1.0), Phi(1.0) + phi(1.0)},
      {"silu(x)", 1.0, sigma(1.0), sigma(1.0) * (1.0 + (1.0 - sigma(1.0)))},
      {"softplus(x)", 0.0, std::numbers::ln2, 0.5},
      {"pow(x, 3)", 2.0, 8.0, 12.0},
      {"pow(3, x)", 2.0, 9.0, 9.0 * std::log(3.0)},
      {"sum(x, 2, x)", 1.5, 5.0, 2.0},
      {"sum(x)", 1.5, 1.5, 1.0},
  };
  std::set<std::string_view> covered;
  for (const FunctionCase& c : cases) {
    const Result r = Evaluate(c.text, {c.x});
    ExpectClose(r.value, c.value, c.text);
    ASSERT_EQ(r.grad.size(), 1u) << c.text;
    ExpectClose(r.grad[0], c.derivative, c.text);
    covered.insert(c.text.substr(0, c.text.find('(')));
  }
  for (const cli::Function& f : cli::functions()) EXPECT_TRUE(covered.contains(f.name)) << f.name << " is not tested";
}

TEST(Functions, PowOfTwoVariablesHasBothPartials) {
  const Result r = Evaluate("pow(x, y)", {2.0, 3.0});
  EXPECT_EQ(r.value, 8.0);
  ExpectClose(r.grad[0], 12.0, "d/dx = y x^(y-1)");
  ExpectClose(r.grad[1], 8.0 * std::numbers::ln2, "d/dy = x^y ln x");
  EXPECT_EQ(Parenthesized("pow(x, y)"), "pow(x, y)");
  EXPECT_EQ(Evaluate("x ^ y", {2.0, 3.0}).grad, r.grad);  // the operator is the same op
}

// ---- Constants ----------------------------------------------------------------------------------

TEST(Constants, UseTheEnginesDoubleOverloads) {
  const cli::Expression e = cli::parse("x * (2 + 3)");
  const Value x = 4.0;
  const Value y = cli::evaluate(e, std::vector<Value>{x});
  EXPECT_EQ(y.op(), "*");
  EXPECT_EQ(y.operands().size(), 1u);  // x times the constant 5: one node
  EXPECT_EQ(y.constant(), 5.0);
  EXPECT_EQ(y.data(), 20.0);
  EXPECT_TRUE(scalargrad::is_grad_enabled());  // the NoGradGuard of the constants is gone
}

TEST(Constants, PowerWithConstantExponentIsRightAtZeroAndBelow) {
  // pow(x, 2.0): d/dx = 2x, also at x = 0 and x < 0 (x^y with a Value y would give NaN there).
  EXPECT_EQ(Evaluate("x^2", {0.0}).grad, std::vector<double>{0.0});
  EXPECT_EQ(Evaluate("x^2", {-3.0}).grad, std::vector<double>{-6.0});
  EXPECT_EQ(Evaluate("x^0", {0.0}).grad, std::vector<double>{0.0});
  EXPECT_EQ(Evaluate("x^0", {0.0}).value, 1.0);
}

TEST(Constants, ExpressionWithoutVariablesHasAValue) {
  const Result r = Evaluate("2 + 3 * tanh(0)");
  EXPECT_EQ(r.value, 2.0);
  EXPECT_TRUE(r.grad.empty());
}

// ---- The micrograd neuron -------------------------------------------------------------------------

TEST(Neuron, MatchesHandComputedGradientsAndMicrogradsValues) {
  const double x1 = 2.0, x2 = 0.0, w1 = -3.0, w2 = 1.0, b = 6.8813735870195432;
  const Result r = Evaluate("tanh(x1*w1 + x2*w2 + b)", {x1, w1, x2, w2, b});  // order of appearance
  // o = tanh(n), within 2 ulp: the compiler may fold std::tanh of these constants correctly
  // rounded, where the engine calls glibc's tanh at run time.
  const double o = r.value;
  EXPECT_NEAR(o, std::tanh(x1 * w1 + x2 * w2 + b), 2.3e-16);
  // The chain rule by hand, in the order backward() multiplies: do/dn = 1 - o^2, and each
  // product's partial is the other factor times do/dn. Exactly the same doubles.
  const double dn = 1.0 - o * o;
  const cli::Expression e = cli::parse("tanh(x1*w1 + x2*w2 + b)");
  ASSERT_EQ(e.variables().size(), 5u);
  EXPECT_EQ(e.variables()[1].name, "w1");  // first appearance: x1, w1, x2, w2, b
  EXPECT_EQ(r.grad, (std::vector<double>{w1 * dn, x1 * dn, w2 * dn, x2 * dn, dn}));
  // micrograd's README: o = 0.7071, x1.grad = -1.5, w1.grad = 1.0, x2.grad = 0.5, w2.grad = 0.0.
  EXPECT_NEAR(r.value, 0.7071, 5e-5);
  EXPECT_NEAR(r.grad[0], -1.5, 1e-12);
  EXPECT_NEAR(r.grad[1], 1.0, 1e-12);
  EXPECT_NEAR(r.grad[2], 0.5, 1e-12);
  EXPECT_EQ(r.grad[3], 0.0);
  EXPECT_NEAR(r.grad[4], 0.5, 1e-12);
}

TEST(Evaluate, ThrowsForTheWrongNumberOfValues) {
  const cli::Expression e = cli::parse("x + y");
  EXPECT_THROW((void)cli::evaluate(e, std::vector<Value>{Value(1.0)}), std::invalid_argument);
}

// ---- Errors -------------------------------------------------------------------------------------

TEST(ParseErrors, CharactersOutsideTheLanguage) {
  EXPECT_EQ(ParseFailure("x @ 2"), Expr(2, "unexpected character '@'"));
  EXPECT_EQ(ParseFailure("x + \xc3\xa9"), Expr(4, "unexpected character '\xc3\xa9'"));  // é, as typed
  EXPECT_EQ(ParseFailure("x\x01"), Expr(1, "unexpected byte 0x01"));
  EXPECT_EQ(ParseFailure("x \xff"), Expr(2, "unexpected byte 0xff"));  // not UTF-8
  EXPECT_EQ(ParseFailure("x.y"), Expr(1, "unexpected character '.'"));
}

TEST(ParseErrors, MalformedNumbers) {
  EXPECT_EQ(ParseFailure("1.2.3 + x"), Expr(0, "malformed number '1.2.3'"));
  EXPECT_EQ(ParseFailure("x + 1e"), Expr(4, "malformed number '1e'"));
  EXPECT_EQ(ParseFailure("1e+"), Expr(0, "malformed number '1e+'"));
  EXPECT_EQ(ParseFailure("2x"), Expr(0, "malformed number '2x'"));
  EXPECT_EQ(ParseFailure("1..5"), Expr(0, "malformed number '1..5'"));
  EXPECT_EQ(ParseFailure("x * 1e999"), Expr(4, "number '1e999' is out of the range of a double"));
  EXPECT_EQ(ParseFailure("1e-999"), Expr(0, "number '1e-999' is out of the range of a double"));
}

TEST(ParseErrors, MissingOperandsAndParentheses) {
  EXPECT_EQ(ParseFailure(""), Expr(0, "the expression is empty"));
  EXPECT_EQ(ParseFailure("  "), Expr(2, "the expression is empty"));
  EXPECT_EQ(ParseFailure("x +"), Expr(3, "expected an operand, found end of input"));
  EXPECT_EQ(ParseFailure("x * * y"), Expr(4, "expected an operand, found '*'"));
  EXPECT_EQ(ParseFailure("()"), Expr(1, "expected an operand, found ')'"));
  EXPECT_EQ(ParseFailure("(x + y"), Expr(0, "unclosed '('"));
  EXPECT_EQ(ParseFailure("(x y)"), Expr(3, "expected ')' or an operator, found 'y'"));
  EXPECT_EQ(ParseFailure("x)"), Expr(1, "unmatched ')'"));
  EXPECT_EQ(ParseFailure("x y"), Expr(2, "expected an operator, found 'y'"));
  EXPECT_EQ(ParseFailure("x, y"), Expr(1, "expected an operator, found ','"));
  EXPECT_EQ(ParseFailure("2 (x)"), Expr(2, "expected an operator, found '('"));
}

TEST(ParseErrors, Calls) {
  EXPECT_EQ(ParseFailure("2 * tanhh(x)"),
            Expr(4, "unknown function 'tanhh' (the functions are: exp, log, sqrt, abs, relu, leaky_relu, tanh, "
                    "sigmoid, elu, gelu, silu, softplus, pow, sum)"));
  EXPECT_EQ(ParseFailure("tanh(x, y)"), Expr(0, "tanh takes 1 argument, got 2"));
  EXPECT_EQ(ParseFailure("2 * tanh()"), Expr(4, "tanh takes 1 argument, got 0"));
  EXPECT_EQ(ParseFailure("pow(x)"), Expr(0, "pow takes 2 arguments, got 1"));
  EXPECT_EQ(ParseFailure("leaky_relu(x, 1, 2)"), Expr(0, "leaky_relu takes 1 or 2 arguments, got 3"));
  EXPECT_EQ(ParseFailure("elu()"), Expr(0, "elu takes 1 or 2 arguments, got 0"));
  EXPECT_EQ(ParseFailure("sum()"), Expr(0, "sum takes at least 1 argument, got 0"));
  EXPECT_EQ(ParseFailure("tanh(x"), Expr(4, "unclosed '('"));
  EXPECT_EQ(ParseFailure("tanh(x y)"), Expr(7, "expected ',', ')' or an operator, found 'y'"));
  EXPECT_EQ(ParseFailure("tanh(x,)"), Expr(7, "expected an operand, found ')'"));
  EXPECT_EQ(ParseFailure("tanh + 1"), Expr(0, "'tanh' is a function: call it as tanh(...)"));
  EXPECT_EQ(ParseFailure("leaky_relu(x, 0.1 * y)"), Expr(20, "leaky_relu takes a constant slope, but it depends on 'y'"));
  EXPECT_EQ(ParseFailure("elu(x, -a)"), Expr(8, "elu takes a constant alpha, but it depends on 'a'"));
}

TEST(ParseErrors, AreReportedFromLeftToRight) {
  EXPECT_EQ(ParseFailure("tanh(x, y) @"), Expr(0, "tanh takes 1 argument, got 2"));
  EXPECT_EQ(ParseFailure("x @ (("), Expr(2, "unexpected character '@'"));
}

TEST(Depth, ThousandNestingLevelsParse) {
  const std::string parens = std::string(999, '(') + "x" + std::string(999, ')');
  EXPECT_EQ(Evaluate(parens, {2.0}).grad, std::vector<double>{1.0});
  const std::string minus = std::string(999, '-') + "x";  // 999 signs, then x: 1000 levels
  EXPECT_EQ(Evaluate(minus, {2.0}).value, -2.0);
}

TEST(Depth, DeeperNestingIsAnErrorNotAStackOverflow) {
  const std::string reason = "the expression is nested more than 1000 levels deep";
  EXPECT_EQ(ParseFailure(std::string(1000, '(') + "x" + std::string(1000, ')')), Expr(1000, reason));
  EXPECT_EQ(ParseFailure(std::string(1000, '-') + "x"), Expr(1000, reason));
  std::string powers;
  for (int i = 0; i < 1000; ++i) powers += "x^";
  EXPECT_EQ(ParseFailure(powers + "x"), Expr(2000, reason));  // right-associative: nests
  EXPECT_EQ(ParseFailure(std::string(1'000'000, '(')), Expr(1000, reason));
}

TEST(Depth, LongFlatChainsAreNotNested) {
  // Left-associative chains are loops in the parser, and evaluate() is one loop over the nodes.
  std::string chain = "x";
  for (int i = 1; i < 100'000; ++i) chain += "+x";
  const Result r = Evaluate(chain, {0.5});
  EXPECT_EQ(r.value, 50'000.0);
  EXPECT_EQ(r.grad, std::vector<double>{100'000.0});
}

// ---- --at assignments -----------------------------------------------------------------------------

TEST(Assignments, GiveOneValuePerVariableInExpressionOrder) {
  const cli::Expression e = cli::parse("x * y");
  EXPECT_EQ(cli::bind_variables(e, "y=1,x=2"), (std::vector<double>{2.0, 1.0}));
  EXPECT_EQ(cli::bind_variables(e, " x = -2.5 ,\ty=+1e2 "), (std::vector<double>{-2.5, 100.0}));
  EXPECT_EQ(cli::bind_variables(e, "x=.5,y=-0"), (std::vector<double>{0.5, -0.0}));
  EXPECT_TRUE(cli::bind_variables(cli::parse("2"), "").empty());
  EXPECT_TRUE(cli::bind_variables(cli::parse("2"), "  ").empty());
}

TEST(Assignments, Errors) {
  EXPECT_EQ(BindFailure("x*y", "x=1, z=2"), At(5, "--at: 'z' is not a variable of the expression (its variables: x, y)"));
  EXPECT_EQ(BindFailure("2", "z=1"), At(0, "--at: 'z' is not a variable of the expression (it has no variables)"));
  EXPECT_EQ(BindFailure("x*y", "x=1"), Expr(2, "--at: 'y' has no value"));
  EXPECT_EQ(BindFailure("x*y", ""), Expr(0, "--at: 'x' has no value"));
  EXPECT_EQ(BindFailure("x*y", "x=abc,y=1"), At(2, "--at: 'abc' is not a number"));
  EXPECT_EQ(BindFailure("x*y", "x=,y=1"), At(2, "--at: '' is not a number"));
  EXPECT_EQ(BindFailure("x", "x=1.2.3"), At(2, "--at: '1.2.3' is not a number"));
  EXPECT_EQ(BindFailure("x", "x=--1"), At(2, "--at: '--1' is not a number"));
  EXPECT_EQ(BindFailure("x", "x=inf"), At(2, "--at: 'inf' is not a number"));
  EXPECT_EQ(BindFailure("x", "x=1 2"), At(2, "--at: '1 2' is not a number"));
  // Control characters are escaped, so that the reason stays one line (found by the fuzzer).
  EXPECT_EQ(BindFailure("x", "x=1\n\t\x01 2"), At(2, "--at: '1\\n\\t\\x01 2' is not a number"));
  EXPECT_EQ(BindFailure("x", "x=-1e999"), At(2, "--at: '-1e999' is out of the range of a double"));
  EXPECT_EQ(BindFailure("x*y", "x=1,y"), At(4, "--at: expected NAME=VALUE, found 'y'"));
  EXPECT_EQ(BindFailure("x", "=1"), At(0, "--at: expected NAME=VALUE, found '=1'"));
  EXPECT_EQ(BindFailure("x*y", "x=1,,y=2"), At(4, "--at: expected NAME=VALUE, found nothing"));
  EXPECT_EQ(BindFailure("x*y", "x=1,y=2,"), At(8, "--at: expected NAME=VALUE, found nothing"));
  EXPECT_EQ(BindFailure("x*y", "x=1,y=2,x=3"), At(8, "--at: 'x' is given twice"));
}

// ---- Caret lines ----------------------------------------------------------------------------------

TEST(CaretLines, PutTheCaretUnderTheByte) {
  EXPECT_EQ(cli::caret_lines("x + y", 4), "  x + y\n      ^\n");
  EXPECT_EQ(cli::caret_lines("x +", 3), "  x +\n     ^\n");  // at the end
  EXPECT_EQ(cli::caret_lines("x +", 99), "  x +\n     ^\n");
  EXPECT_EQ(cli::caret_lines("x=1", 2, "  --at "), "  --at x=1\n         ^\n");
}

TEST(CaretLines, KeepTheColumnWithTabsUtf8AndControlCharacters) {
  EXPECT_EQ(cli::caret_lines("\tx", 1), "  \tx\n  \t^\n");
  EXPECT_EQ(cli::caret_lines("\xc3\xa9 + x", 5), "  \xc3\xa9 + x\n      ^\n");  // é is one column
  EXPECT_EQ(cli::caret_lines("a\nb", 2), "  a b\n    ^\n");               // a newline shows as a blank
}

TEST(CaretLines, FollowTheParsersPositions) {
  try {
    (void)cli::parse("tanh(x1*w1 + x2*w2 + b, c)");
    FAIL() << "no error";
  } catch (const cli::ExpressionError& e) {
    EXPECT_EQ(cli::caret_lines("tanh(x1*w1 + x2*w2 + b, c)", e.position()),
              "  tanh(x1*w1 + x2*w2 + b, c)\n  ^\n");
  }
}

}  // namespace
