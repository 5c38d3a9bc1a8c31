// Anomaly mode (AnomalyGuard, AnomalyError in value.hpp / error.hpp): the first op whose value,
// or whose gradient passed back to an operand, is NaN or infinite is named.
//
// References: IEEE results of the ops involved (log(0) = -inf, 1/0 = inf, sqrt'(0) = inf).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "scalargrad/error.hpp"
#include "scalargrad/value.hpp"

namespace {

using scalargrad::AnomalyError;
using scalargrad::AnomalyGuard;
using scalargrad::Value;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The AnomalyError that f throws (fails the test if it throws none).
template <typename F>
AnomalyError AnomalyOf(F&& f) {
  try {
    f();
  } catch (const AnomalyError& e) {
    return e;
  }
  ADD_FAILURE() << "no AnomalyError";
  return AnomalyError("<none>", "");
}

TEST(AnomalyMode, NamesTheFirstOpWhoseValueIsNotFinite) {
  const AnomalyGuard anomaly;
  Value x = 2.0;
  x.label("x");
  const AnomalyError e = AnomalyOf([&] {
    const Value y = x * 2.0 - 4.0;  // 0: finite
    const Value z = log(y);         // -inf: named here ...
    (void)(z * 3.0);                // ... not here
  });
  EXPECT_EQ(e.op(), "log");
  EXPECT_STREQ(e.what(), "scalargrad: anomaly: log returned -inf; operands: 0");
}

TEST(AnomalyMode, NamesTheOperandsValuesAndLabels) {
  const AnomalyGuard anomaly;
  Value a = 1.0;
  Value b = 0.0;
  a.label("a");
  b.label("b");
  const AnomalyError e = AnomalyOf([&] { (void)(a / b); });
  EXPECT_EQ(e.op(), "/");
  EXPECT_STREQ(e.what(), "scalargrad: anomaly: / returned inf; operands: 1 (label 'a'), 0 (label 'b')");
}

TEST(AnomalyMode, ShowsTheConstantOfAnOpWithOne) {
  const AnomalyGuard anomaly;
  Value x = -8.0;
  x.label("x");
  const AnomalyError e = AnomalyOf([&] { (void)x.pow(0.5); });
  EXPECT_EQ(e.op(), "pow");
  EXPECT_STREQ(e.what(), "scalargrad: anomaly: pow returned nan; operands: -8 (label 'x'); constant 0.5");
}

TEST(AnomalyMode, ChecksFusedSumAndDot) {
  const AnomalyGuard anomaly;
  const std::vector<Value> big = {1e308, 1e308};
  EXPECT_EQ(AnomalyOf([&] { (void)scalargrad::sum(big); }).op(), "sum");
  EXPECT_EQ(AnomalyOf([&] { (void)scalargrad::dot(big, big); }).op(), "dot");
  EXPECT_EQ(AnomalyOf([&] { (void)scalargrad::affine(big, big, Value(0.0)); }).op(), "affine");
  // The LeafBlock forms too: weights then bias, one block per neuron.
  const std::vector<scalargrad::LeafBlock> rows = {scalargrad::LeafBlock({1.0, 1.0, 0.0}),
                                                    scalargrad::LeafBlock({1e308, 1e308, 0.0})};
  EXPECT_EQ(AnomalyOf([&] { (void)scalargrad::affine(rows[1], big); }).op(), "affine");
  EXPECT_EQ(AnomalyOf([&] { (void)scalargrad::affine(rows, big); }).op(), "affine");
}

TEST(AnomalyMode, ChecksUnderNoGradGuardToo) {
  const AnomalyGuard anomaly;
  const scalargrad::NoGradGuard no_grad;
  const Value x = 0.0;
  EXPECT_EQ(AnomalyOf([&] { (void)log(x); }).op(), "log");
  EXPECT_FALSE(scalargrad::is_grad_enabled());
  EXPECT_TRUE(scalargrad::is_anomaly_enabled());
}

TEST(AnomalyMode, NamesTheOpWhoseGradientIsNotFinite) {
  // sqrt(0) = 0 is finite, but its derivative 1/(2 sqrt 0) is not: backward() names sqrt.
  const AnomalyGuard anomaly;
  Value x = 0.0;
  x.label("x");
  const Value y = sqrt(x) * 3.0;
  const AnomalyError e = AnomalyOf([&] { y.backward(); });
  EXPECT_EQ(e.op(), "sqrt");
  EXPECT_THAT(e.what(), StartsWith("scalargrad: anomaly: backward through sqrt (value 0, gradient 3) made the "
                                   "gradient of its operand 0 (label 'x') inf"));
}

// Regression tests: a leaf, or a node used by a later tape segment, gets its gradient through
// import nodes, one per segment that uses it. Their sum went unchecked, so an overflow there
// passed anomaly mode silently.

constexpr int kPastOneSegment = (1 << 20) + 1000;  // a segment holds at most 2^20 nodes

// y + 0 + 0 + ... (n additions): the next op lands in a later segment when n is large.
Value Chain(Value y, int n) {
  for (int k = 0; k < n; ++k) y = y + 0.0;
  return y;
}

TEST(AnomalyMode, NamesALeafWhoseGradientOverflowsAcrossBackwardCalls) {
  Value x = 1.0;
  x.label("x");
  const AnomalyGuard anomaly;
  const Value y = x * 1e308;
  y.backward();
  EXPECT_EQ(x.grad(), 1e308);
  const AnomalyError e = AnomalyOf([&] { y.backward(); });  // 1e308 + 1e308 overflows
  EXPECT_EQ(e.op(), "");
  EXPECT_STREQ(e.what(),
               "scalargrad: anomaly: backward made the gradient of 1 (label 'x') inf: adding 1e+308 to the "
               "1e+308 it had from its other uses, or from an earlier backward() or set_grad() (a leaf's "
               "gradient adds up until zero_grad())");
  EXPECT_EQ(x.grad(), 1e308);  // as it was before the addition
}

TEST(AnomalyMode, NamesAnExternalLeafWhoseGradientOverflows) {
  // An external leaf (nn::Parameter's) adds into its owner's grad: checked the same way.
  const double data = 1.0;
  double grad = 1e308;
  const Value w = Value::external(data, grad);
  const AnomalyGuard anomaly;
  const Value y = w * 1e308;
  const AnomalyError e = AnomalyOf([&] { y.backward(); });
  EXPECT_EQ(e.op(), "");
  EXPECT_THAT(e.what(), StartsWith("scalargrad: anomaly: backward made the gradient of 1 inf: adding 1e+308 to "
                                   "the 1e+308 it had"));
  EXPECT_EQ(grad, 1e308);
}

TEST(AnomalyMode, NamesAnOpResultUsedAgainAfterABackward) {
  // Each backward() closes the tape's segment: a value used again afterwards is imported into
  // the next one, and its uses there add into its gradient through import nodes.
  Value x = 1.0;
  Value z = x * 1.0;
  z.label("z");
  z.backward();
  const Value a = z * 1e308;
  a.backward();
  const Value y = a + z * 1e308;
  const AnomalyGuard anomaly;
  const AnomalyError e = AnomalyOf([&] { y.backward(); });
  EXPECT_EQ(e.op(), "*");
  EXPECT_STREQ(e.what(), "scalargrad: anomaly: backward made the gradient of 1 (label 'z') inf: adding 1e+308 to "
                         "the 1e+308 it had from its other uses");
}

TEST(AnomalyMode, NamesALeafWhoseUsesInTwoSegmentsOverflow) {
  Value x = 1.0;
  x.label("x");
  Value y = Chain(x * 1e308, kPastOneSegment);
  y = y + x * 1e308;
  const AnomalyGuard anomaly;
  const AnomalyError e = AnomalyOf([&] { y.backward(); });
  EXPECT_EQ(e.op(), "");  // a leaf's op, as Value::op() gives it
  EXPECT_THAT(e.what(), StartsWith("scalargrad: anomaly: backward made the gradient of 1 (label 'x') inf: adding "
                                   "1e+308 to the 1e+308 it had"));
}

TEST(AnomalyMode, NamesAnOpResultWhoseUsesInTwoLaterSegmentsOverflow) {
  Value x = 1.0;
  Value z = x * 1.0;
  z.label("z");
  // (One statement per step: the operands of + are evaluated in an unspecified order.)
  Value y = Chain(x, kPastOneSegment);
  y = y + z * 1e308;  // a second segment uses z ...
  y = Chain(y, kPastOneSegment);
  y = y + z * 1e308;  // ... and so does a third
  const AnomalyGuard anomaly;
  const AnomalyError e = AnomalyOf([&] { y.backward(); });
  EXPECT_EQ(e.op(), "*");
  EXPECT_STREQ(e.what(), "scalargrad: anomaly: backward made the gradient of 1 (label 'z') inf: adding 1e+308 to "
                         "the 1e+308 it had from its other uses");
}

TEST(AnomalyMode, AFiniteSumOfUsesInSeveralSegmentsPasses) {
  Value x = 1.0;
  Value y = Chain(x * 1e307, kPastOneSegment);
  y = y + x * 1e307;
  y = Chain(y, kPastOneSegment);
  y = y + x * 1e307;
  const AnomalyGuard anomaly;
  y.backward();
  EXPECT_EQ(x.grad(), 1e307 + 1e307 + 1e307);
}

TEST(AnomalyMode, OffByDefaultAndNonFiniteValuesFlowAsInIeee) {
  EXPECT_FALSE(scalargrad::is_anomaly_enabled());
  Value x = 0.0;
  const Value y = sqrt(x) * 3.0;
  const Value z = log(x);
  EXPECT_EQ(z.data(), -std::numeric_limits<double>::infinity());
  y.backward();
  EXPECT_TRUE(std::isinf(x.grad()));
}

TEST(AnomalyMode, GuardsNestAndRestoreTheMode) {
  {
    const AnomalyGuard outer;
    {
      const AnomalyGuard inner;
      EXPECT_TRUE(scalargrad::is_anomaly_enabled());
    }
    EXPECT_TRUE(scalargrad::is_anomaly_enabled());
    {
      const scalargrad::NoGradGuard no_grad;  // leaves anomaly mode as it is
      EXPECT_TRUE(scalargrad::is_anomaly_enabled());
    }
    EXPECT_TRUE(scalargrad::is_grad_enabled());
  }
  EXPECT_FALSE(scalargrad::is_anomaly_enabled());
}

TEST(AnomalyMode, FiniteGraphsRecordAndDifferentiateAsUsual) {
  Value x = 1.5;
  Value y = 0.0;
  {
    const AnomalyGuard anomaly;
    y = tanh(x * x + 1.0) / x;
    (void)AnomalyOf([&] { (void)log(x - 1.5); });  // a throw leaves the tape usable
    y.backward();
  }
  const double t = std::tanh(1.5 * 1.5 + 1.0);
  EXPECT_DOUBLE_EQ(y.data(), t / 1.5);
  EXPECT_NEAR(x.grad(), (1.0 - t * t) * 2.0 * 1.5 / 1.5 - t / (1.5 * 1.5), 1e-12);
}

TEST(AnomalyMode, AnomalyErrorIsAScalargradError) {
  const AnomalyGuard anomaly;
  try {
    (void)log(Value(0.0));
    FAIL() << "no exception";
  } catch (const scalargrad::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("log returned -inf"));
  }
}

}  // namespace
