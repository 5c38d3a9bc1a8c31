// scalargrad::gradcheck (gradcheck.hpp): backward() against central finite differences.
//
// References: closed-form derivatives of the functions checked; a "test-only op" with a
// deliberately wrong derivative, built from detach() (its value is 2x, its recorded derivative
// 5), which gradcheck must catch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "scalargrad/gradcheck.hpp"
#include "scalargrad/value.hpp"

#include "support/test_support.hpp"

namespace {

using scalargrad::gradcheck;
using scalargrad::GradcheckFunction;
using scalargrad::GradcheckReport;
using scalargrad::NoGradGuard;
using scalargrad::Value;
using scalargrad::testing_support::ErrorMessage;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// micrograd's neuron: tanh(x1 w1 + x2 w2 + b).
Value Neuron(std::span<const Value> v) { return tanh(v[0] * v[1] + v[2] * v[3] + v[4]); }

// The test-only op: value 2x, but a recorded derivative of 5 (x - detach(x) is 0 with
// derivative 1).
Value WrongDerivative(const Value& x) { return 2.0 * x.detach() + 5.0 * (x - x.detach()); }

TEST(Gradcheck, PassesForMicrogradsNeuronWithItsPublishedGradients) {
  const std::vector<double> at = {2.0, -3.0, 0.0, 1.0, 6.8813735870195432};
  const std::vector<std::string> names = {"x1", "w1", "x2", "w2", "b"};
  const GradcheckReport report = gradcheck(Neuron, at, 1e-6, 1e-6, names);
  EXPECT_TRUE(report.passed);
  EXPECT_NEAR(report.value, std::sqrt(0.5), 1e-12);
  ASSERT_EQ(report.entries.size(), 5u);
  // micrograd's trace_graph: dx1 = -1.5, dw1 = 1, dx2 = 0.5, dw2 = 0, db = 0.5.
  const double expected[] = {-1.5, 1.0, 0.5, 0.0, 0.5};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(report.entries[i].name, names[i]);
    EXPECT_EQ(report.entries[i].input, at[i]);
    EXPECT_NEAR(report.entries[i].analytic, expected[i], 1e-12);
    EXPECT_NEAR(report.entries[i].numeric, expected[i], 1e-8);
    EXPECT_TRUE(report.entries[i].passed);
  }
}

TEST(Gradcheck, CatchesADeliberatelyWrongDerivative) {
  const std::vector<double> at = {0.7, 1.3};
  const GradcheckReport report =
      gradcheck([](std::span<const Value> v) { return WrongDerivative(v[0]) * v[1]; }, at);
  EXPECT_FALSE(report.passed);
  ASSERT_EQ(report.entries.size(), 2u);
  EXPECT_EQ(report.entries[0].name, "x0");
  EXPECT_DOUBLE_EQ(report.entries[0].analytic, 5.0 * 1.3);  // what backward() recorded
  EXPECT_NEAR(report.entries[0].numeric, 2.0 * 1.3, 1e-8);  // what f really does
  EXPECT_NEAR(report.entries[0].abs_error, 3.0 * 1.3, 1e-8);
  EXPECT_NEAR(report.entries[0].rel_error, 3.0 / 5.0, 1e-8);
  EXPECT_FALSE(report.entries[0].passed);
  EXPECT_TRUE(report.entries[1].passed);  // d/dx1 = 2 x0, right
}

TEST(Gradcheck, PassesForEveryOpAwayFromItsKinks) {
  const auto f = [](std::span<const Value> v) {
    const Value& x = v[0];
    const Value& y = v[1];
    return exp(x) * log(y) + sqrt(y) / x + pow(x, y) + abs(x - 3.0) + relu(x) + leaky_relu(-x, 0.1) + tanh(x * y) +
           sigmoid(y) + elu(-y) + gelu(x) + silu(y) + softplus(x) + x.pow(3.0) + pow(2.0, y) +
           scalargrad::dot(std::vector<Value>{x, y}, std::vector<Value>{y, x}) + scalargrad::sum({x, y, x});
  };
  const std::vector<double> at = {0.8, 1.7};
  const GradcheckReport report = gradcheck(f, at, 1e-6, 1e-6);
  for (const auto& e : report.entries) EXPECT_TRUE(e.passed) << e.name << ": " << e.analytic << " vs " << e.numeric;
  EXPECT_TRUE(report.passed);
}

TEST(Gradcheck, StepGrowsWithTheInputSoLargeInputsPass) {
  // Regression: with an absolute step of 1e-6, x + 1e-6 == x at x = 1e12 and the numeric
  // derivative of x^2 came out 0.
  const auto square = [](std::span<const Value> v) { return v[0] * v[0]; };
  for (const double x : {1e12, -3e7, 1e5}) {
    const std::vector<double> at = {x};
    const GradcheckReport report = gradcheck(square, at);
    EXPECT_TRUE(report.passed) << "x = " << x;
    EXPECT_NEAR(report.entries[0].numeric / (2.0 * x), 1.0, 1e-6) << "x = " << x;
  }
}

TEST(Gradcheck, ReportKeepsLongNamesAndPrintsNanAsNan) {
  const std::vector<double> at = {0.0};
  const std::vector<std::string> names = {std::string(300, 'n')};
  std::ostringstream text;
  text << gradcheck([](std::span<const Value> v) { return sqrt(v[0]); }, at, 1e-6, 1e-5, names);
  EXPECT_THAT(text.str(), HasSubstr(std::string(300, 'n') + " "));
  EXPECT_THAT(text.str(), HasSubstr(" nan "));
  EXPECT_THAT(text.str(), ::testing::Not(HasSubstr("-nan")));
  EXPECT_THAT(text.str(), HasSubstr("FAILED\ngradcheck: FAILED\n"));
}

TEST(Gradcheck, AFunctionThatCallsBackwardIsToldSo) {
  // Regression: the error said "backward() called under NoGradGuard ... after the guard's scope
  // ends", about a guard the caller never made (gradcheck's, for the finite differences).
  const std::vector<double> at = {3.0};
  const auto f = [](std::span<const Value> v) {
    Value y = v[0] * v[0];
    y.backward();
    return y;
  };
  EXPECT_THAT(ErrorMessage([&] { (void)gradcheck(f, at); }),
              AllOf(HasSubstr("scalargrad: gradcheck: the function called backward(), which gradcheck calls itself"),
                    HasSubstr("let the function only compute and return its output")));
  // The scope ends with gradcheck, also when it throws: the usual message is back.
  const NoGradGuard guard;
  EXPECT_THAT(ErrorMessage([] { Value(1.0).pow(2.0).backward(); }),
              AllOf(HasSubstr("backward() called under NoGradGuard"), Not(HasSubstr("gradcheck"))));
}

TEST(Gradcheck, ANanDerivativeFails) {
  // sqrt at 0: the analytic derivative is +inf, the central difference is NaN (sqrt(-eps)).
  const std::vector<double> at = {0.0};
  const GradcheckReport report = gradcheck([](std::span<const Value> v) { return sqrt(v[0]); }, at);
  EXPECT_FALSE(report.passed);
  EXPECT_TRUE(std::isinf(report.entries[0].analytic));
  EXPECT_TRUE(std::isnan(report.entries[0].numeric));
}

TEST(Gradcheck, AnOverflowingDifferenceQuotientFailsAWrongGradient) {
  // Regression: exp(709.7825) is finite, exp(709.7825 + h) overflows, so the numeric derivative
  // is inf; the recorded derivative is 0 (detached). inf <= tolerance * (1 + inf) used to pass.
  const std::vector<double> at = {709.7825};
  const GradcheckReport report =
      gradcheck([](std::span<const Value> v) { return exp(v[0]).detach() + 0.0 * v[0]; }, at);
  ASSERT_EQ(report.entries.size(), 1u);
  EXPECT_EQ(report.entries[0].analytic, 0.0);
  EXPECT_TRUE(std::isinf(report.entries[0].numeric));
  EXPECT_TRUE(std::isinf(report.entries[0].abs_error));
  EXPECT_TRUE(std::isnan(report.entries[0].rel_error));  // inf / inf
  EXPECT_FALSE(report.entries[0].passed);
  EXPECT_FALSE(report.passed);
}

TEST(Gradcheck, ANanAnalyticGradientHasANanRelativeError) {
  // Regression: d/dx sqrt(x * x) at 0 is inf * 0 = NaN by backward(), 0 numerically;
  // std::max(NaN, 0) is NaN, which made rel_error 0 ("no difference").
  const std::vector<double> at = {0.0};
  const GradcheckReport report = gradcheck([](std::span<const Value> v) { return sqrt(v[0] * v[0]); }, at);
  ASSERT_EQ(report.entries.size(), 1u);
  EXPECT_TRUE(std::isnan(report.entries[0].analytic));
  EXPECT_EQ(report.entries[0].numeric, 0.0);
  EXPECT_TRUE(std::isnan(report.entries[0].abs_error));
  EXPECT_TRUE(std::isnan(report.entries[0].rel_error));
  EXPECT_FALSE(report.passed);
}

TEST(Gradcheck, ReportPrintsOneLinePerInputAndTheVerdict) {
  const std::vector<double> at = {0.7};
  std::ostringstream text;
  text << gradcheck([](std::span<const Value> v) { return WrongDerivative(v[0]); }, at);
  EXPECT_THAT(text.str(), HasSubstr("input"));
  EXPECT_THAT(text.str(), HasSubstr("x0"));
  EXPECT_THAT(text.str(), HasSubstr("FAILED\ngradcheck: FAILED\n"));
  std::ostringstream good;
  good << gradcheck([](std::span<const Value> v) { return v[0] * v[0]; }, at);
  EXPECT_THAT(good.str(), HasSubstr(" ok\ngradcheck: passed\n"));
}

TEST(Gradcheck, RecordsNothingForTheFiniteDifferences) {
  // The numeric pass runs under NoGradGuard: the only recorded nodes are the analytic pass's.
  int graph_calls = 0;
  const std::vector<double> at = {1.0, 2.0};
  (void)gradcheck(
      [&](std::span<const Value> v) {
        if (scalargrad::is_grad_enabled()) ++graph_calls;
        return v[0] * v[1];
      },
      at);
  EXPECT_EQ(graph_calls, 1);
}

TEST(Gradcheck, RejectsBadArgumentsWithAClearError) {
  const std::vector<double> at = {1.0, 2.0};
  const auto f = [](std::span<const Value> v) { return v[0] * v[1]; };
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(f, at, 0.0); }),
            "scalargrad: gradcheck: eps must be positive and finite, got 0");
  // The number as given, not std::to_string's six decimals ("-0.000000").
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(f, at, -1e-7); }),
            "scalargrad: gradcheck: eps must be positive and finite, got -1e-07");
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(f, at, 1e-6, -1e-9); }),
            "scalargrad: gradcheck: tolerance must be positive and finite, got -1e-09");
  EXPECT_THAT(ErrorMessage([&] { (void)gradcheck(f, at, std::numeric_limits<double>::quiet_NaN()); }),
              HasSubstr("eps must be positive and finite"));
  EXPECT_THAT(ErrorMessage([&] { (void)gradcheck(f, at, 1e-6, -1.0); }),
              HasSubstr("scalargrad: gradcheck: tolerance must be positive and finite"));
  const std::vector<std::string> one_name = {"a"};
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(f, at, 1e-6, 1e-5, one_name); }),
            "scalargrad: gradcheck: 1 names for 2 inputs; give one name per input, or none");
}

// Regression: a step lost in rounding gave numeric 0, and one that overflowed numeric NaN; the
// report then said FAILED, blaming the analytic derivative. An empty std::function threw
// std::bad_function_call.
TEST(Gradcheck, RejectsAStepThatCannotMeasureAnythingNamingTheInput) {
  const std::vector<double> at = {1.0, 2.0};
  int calls = 0;
  const auto f = [&calls](std::span<const Value> v) {
    ++calls;
    return v[0] * v[1];
  };
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(f, at, 1e-20); }),
            "scalargrad: gradcheck: eps 1e-20 is too small for input x0 = 1: x + h rounds to x for h = 1e-20; use a "
            "larger eps (the default is 1e-6)");
  const std::vector<std::string> names = {"a", "b"};
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(f, at, 1e308, 1e-5, names); }),
            "scalargrad: gradcheck: eps 1e+308 is too large for input a = 1: the step h = 1e+308 overflows; use a "
            "smaller eps (the default is 1e-6)");
  // Near the largest double no eps works, and the message does not send the caller looking for one.
  const std::vector<double> largest = {std::numeric_limits<double>::max(), 1.0};
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(f, largest); }),
            "scalargrad: gradcheck: input x0 = 1.7976931348623157e+308 is too close to the largest double for a "
            "finite difference: any step that moves it overflows");
  EXPECT_EQ(calls, 0);
  // At 0 the step is absolute, and a tiny one still moves the input.
  const std::vector<double> zeros = {0.0, 0.0};
  EXPECT_TRUE(gradcheck(f, zeros, 1e-300).passed);
  calls = 0;
  const std::vector<double> with_nan = {1.0, std::numeric_limits<double>::quiet_NaN()};
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(f, with_nan); }),
            "scalargrad: gradcheck: input x1 is nan; finite differences need finite inputs");
  const std::vector<double> with_inf = {-std::numeric_limits<double>::infinity(), 1.0};
  EXPECT_THAT(ErrorMessage([&] { (void)gradcheck(f, with_inf); }), HasSubstr("input x0 is -inf"));
  EXPECT_EQ(ErrorMessage([&] { (void)gradcheck(GradcheckFunction(), at); }),
            "scalargrad: gradcheck: f is empty (a std::function holding no function)");
  EXPECT_EQ(calls, 0);  // every check comes before f is called
  // A small step that still moves the inputs is taken.
  EXPECT_TRUE(gradcheck(f, at, 1e-9).passed);
}

}  // namespace
