// The small members of Value that the op and graph tests take for granted: the default
// constructor, unary +, the comparisons and operator<<.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <compare>
#include <cstddef>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>

#include <scalargrad/value.hpp>

#include "support/test_support.hpp"

using scalargrad::Value;

namespace {

using scalargrad::testing_support::OnFreshTape;

std::string Printed(const Value& v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

TEST(ValueDefault, IsALeafHoldingZeroWithGradientZero) {
  const Value v;
  EXPECT_TRUE(v.is_leaf());
  EXPECT_EQ(v.data(), 0.0);
  EXPECT_FALSE(std::signbit(v.data()));
  EXPECT_EQ(v.grad(), 0.0);
  EXPECT_EQ(v.op(), "");
}

TEST(ValueDefault, IsAnOrdinaryLeafThatTakesDataAndGradients) {
  Value v;
  v.set_data(3.0);
  const Value y = v * v;
  y.backward();
  EXPECT_EQ(y.data(), 9.0);
  EXPECT_EQ(v.grad(), 6.0);
}

TEST(UnaryPlus, IsTheSameValueAndRecordsNothing) {
  OnFreshTape([] {
    Value x = 2.0;
    const Value y = (x * 3.0).label("y");
    const std::size_t nodes = scalargrad::tape_stats().nodes;
    const Value px = +x;
    const Value py = +y;
    EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);
    EXPECT_TRUE(px.is_leaf());
    EXPECT_EQ(py.op(), "*");
    EXPECT_EQ(py.label(), "y");
    (py * px).backward();  // = 3x * x: d/dx = 6x = 12, through both handles
    EXPECT_EQ(x.grad(), 12.0);
    EXPECT_EQ(px.grad(), 12.0);
    EXPECT_EQ(y.grad(), 2.0);
  });
}

TEST(ValueComparison, ComparesDataWithValuesAndDoublesOnEitherSide) {
  const Value one = 1.0;
  const Value two = 2.0;
  const Value other_two = 2.0;
  EXPECT_TRUE(two == other_two);
  EXPECT_FALSE(one == two);
  EXPECT_TRUE(one != two);
  EXPECT_TRUE(one < two);
  EXPECT_TRUE(two > one);
  EXPECT_TRUE(two <= other_two);
  EXPECT_TRUE(two >= other_two);
  EXPECT_EQ(one <=> two, std::partial_ordering::less);
  EXPECT_EQ(two <=> two, std::partial_ordering::equivalent);

  EXPECT_TRUE(two == 2.0);
  EXPECT_TRUE(2.0 == two);  // C++20 rewrites it as two == 2.0
  EXPECT_TRUE(two != 3.0);
  EXPECT_TRUE(3.0 != two);
  EXPECT_TRUE(two < 2.5);
  EXPECT_TRUE(2.5 > two);
  EXPECT_TRUE(1.5 < two);
  EXPECT_EQ(two <=> 3.0, std::partial_ordering::less);
  EXPECT_EQ(3.0 <=> two, std::partial_ordering::greater);
  EXPECT_TRUE(Value(-0.0) == 0.0);  // compares as doubles do
}

TEST(ValueComparison, NanIsUnorderedAndUnequalToItself) {
  const Value nan = std::numeric_limits<double>::quiet_NaN();
  const Value one = 1.0;
  EXPECT_EQ(nan <=> one, std::partial_ordering::unordered);
  EXPECT_EQ(nan <=> 1.0, std::partial_ordering::unordered);
  EXPECT_FALSE(nan == nan);
  EXPECT_TRUE(nan != nan);
  EXPECT_FALSE(nan < one);
  EXPECT_FALSE(nan >= one);
  EXPECT_FALSE(nan == std::numeric_limits<double>::quiet_NaN());
}

TEST(ValueComparison, ComparesTheResultsOfOpsAndRecordsNothing) {
  OnFreshTape([] {
    Value x = 3.0;
    const Value y = x * x;
    const std::size_t nodes = scalargrad::tape_stats().nodes;
    EXPECT_TRUE(y > x);
    EXPECT_TRUE(y == 9.0);
    EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);
    y.backward();
    EXPECT_EQ(x.grad(), 6.0);  // the comparisons added no path
  });
}

TEST(ValuePrinting, WritesDataAndGradientLikeMicrogradsRepr) {
  Value x = 2.0;
  const Value y = x * x;
  EXPECT_EQ(Printed(x), "Value(data=2, grad=0)");
  y.backward();
  EXPECT_EQ(Printed(x), "Value(data=2, grad=4)");
  EXPECT_EQ(Printed(y), "Value(data=4, grad=1)");
  EXPECT_EQ(Printed(Value(-0.5)), "Value(data=-0.5, grad=0)");
}

TEST(ValuePrinting, FollowsTheStreamsNumberFormat) {
  const Value third = 1.0 / 3.0;
  std::ostringstream out;
  out << std::setprecision(3) << third << ' ' << std::fixed << std::setprecision(2) << third;
  EXPECT_EQ(out.str(), "Value(data=0.333, grad=0) Value(data=0.33, grad=0.00)");
  EXPECT_EQ(Printed(third), "Value(data=0.333333, grad=0)");  // the stream's default: 6 digits
}

// Regression: a moved-from Value wrote "Value(data=" before its data() threw.
TEST(ValuePrinting, AValueThatThrowsWritesNothing) {
  Value a = 1.0;
  const Value b = std::move(a);
  std::ostringstream out;
  EXPECT_THROW(out << a, scalargrad::Error);  // NOLINT(bugprone-use-after-move): the point
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(Printed(b), "Value(data=1, grad=0)");
}

TEST(ValuePrinting, WritesNanAndInfinityAsTheStreamDoes) {
  EXPECT_EQ(Printed(Value(std::numeric_limits<double>::infinity())), "Value(data=inf, grad=0)");
  EXPECT_EQ(Printed(Value(-std::numeric_limits<double>::infinity())), "Value(data=-inf, grad=0)");
  EXPECT_EQ(Printed(Value(std::numeric_limits<double>::quiet_NaN())), "Value(data=nan, grad=0)");
}

TEST(ValueSetGrad, SetsALeafsGradientBitForBitAndBackwardAddsToIt) {
  using scalargrad::testing_support::Bits;
  for (const double g : {1.5, -1.0 / 3.0, 5e-324, -0.0, std::numeric_limits<double>::infinity(),
                         std::numeric_limits<double>::quiet_NaN()}) {
    Value x = 2.0;
    x.set_grad(g);
    EXPECT_EQ(Bits(x.grad()), Bits(g)) << g;
  }
  Value x = 2.0;
  x.set_grad(1.0);
  (x * 3.0).backward();  // accumulates onto the set gradient
  EXPECT_EQ(x.grad(), 4.0);
}

TEST(ValueSetGrad, WorksInsideNoGradAndAnomalyBlocksAndRecordsNothing) {
  Value x = 2.0;
  {
    const scalargrad::NoGradGuard no_grad;
    const scalargrad::AnomalyGuard anomaly;
    x.set_grad(std::numeric_limits<double>::infinity());  // the user's number, not an op's anomaly
    EXPECT_TRUE((x * 2.0).is_leaf());  // the block still records nothing
  }
  EXPECT_EQ(x.grad(), std::numeric_limits<double>::infinity());
  EXPECT_FALSE((x * 2.0).is_leaf());
}

TEST(ValueSetGrad, AnExternalLeafsGradientIsItsOwners) {
  double data = 3.0;
  double grad = 0.0;
  Value w = Value::external(data, grad);
  w.set_grad(0.25);
  EXPECT_EQ(grad, 0.25);
  w.unbind();
}

TEST(ValueSetGrad, AnOpResultTakesOnlyZero) {
  Value x = 2.0;
  Value y = x * x;
  y.backward();
  EXPECT_EQ(y.grad(), 1.0);
  y.set_grad(0.0);
  EXPECT_EQ(y.grad(), 0.0);
  EXPECT_EQ(scalargrad::testing_support::ErrorMessage([&] { y.set_grad(1.0); }),
            "scalargrad: the grad of an op result (or of an input that dense() took as a double) is set by "
            "backward(); it can only be set to 0 (a leaf's grad can be set to any number)");
  EXPECT_EQ(x.grad(), 4.0);  // nothing else changed
}

TEST(ValueBackward, AnExternalLeafAsTheRootGetsGradientOneInItsOwner) {
  // Regression: backward() on an external leaf added 1 to the tape's own slot, which grad()
  // and the owner never read: the gradient was lost.
  double data = 3.0;
  double grad = 0.0;
  Value w = Value::external(data, grad);
  w.backward();
  EXPECT_EQ(grad, 1.0);
  EXPECT_EQ(w.grad(), 1.0);
  w.unbind();
  EXPECT_EQ(w.grad(), 1.0);
}

}  // namespace
