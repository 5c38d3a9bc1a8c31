// micrograd's published reference values, reproduced through scalargrad's Value.
//
// Sources: micrograd's test/test_engine.py (test_sanity_check, test_more_ops), which checks its
// engine against PyTorch in float64, and the "micrograd from scratch" lecture's neuron
// (o = tanh(x1 w1 + x2 w2 + b) with b = 6.8813735870195432, chosen so that o = 1/sqrt(2)).
//
// Each check is made twice: at the published tolerance (micrograd's assertion, or the 4 digits
// the lecture prints), and then tighter against the exact value, worked out by hand here:
//   * sanity check: every intermediate is an integer, so y = -20 and dy/dx = 46 are exact;
//   * more ops: g = 2421/98, dg/da = 47620/343, dg/db = 221433/343 exactly (rational arithmetic);
//     the double computation rounds a handful of times (measured: within 1 ulp), so 1e-14
//     relative (~45 ulp) is honest slack, and any wrong derivative rule is off by far more;
//   * neuron: n = 0.8813735870195432 = atanh(1/sqrt 2) to double precision, so o = 1/sqrt 2 and
//     1 - o^2 = 1/2 to ~2 ulp; the gradients are 1/2 times x1, w1, x2, w2, 1.
#include <gtest/gtest.h>

#include <cmath>

#include "scalargrad/value.hpp"

namespace {

using scalargrad::Value;

TEST(MicrogradReference, SanityCheckGivesExactValueAndGradient) {
  Value x = -4.0;
  Value z = 2 * x + 2 + x;
  Value q = z.relu() + z * x;
  Value h = (z * z).relu();
  Value y = h + q + q * x;
  y.backward();

  // Published (micrograd vs PyTorch): y = -20, dy/dx = 46. All integers: exact.
  EXPECT_EQ(y.data(), -20.0);
  EXPECT_EQ(x.grad(), 46.0);
  // The intermediates, by hand: z = -10, q = relu(-10) + 40 = 40, h = relu(100) = 100.
  EXPECT_EQ(z.data(), -10.0);
  EXPECT_EQ(q.data(), 40.0);
  EXPECT_EQ(h.data(), 100.0);
}

TEST(MicrogradReference, MoreOpsGivesPublishedValueAndGradients) {
  Value a = -4.0;
  Value b = 2.0;
  Value c = a + b;
  Value d = a * b + b.pow(3);
  c += c + 1;
  c += 1 + c + (-a);
  d += d * 2 + (b + a).relu();
  d += 3 * d + (b - a).relu();
  Value e = c - d;
  Value f = e.pow(2);
  Value g = f / 2.0;
  g += 10.0 / f;
  g.backward();

  // Intermediates, by hand (all integers, so exact): c = -1, d = 6, e = -7, f = 49.
  EXPECT_EQ(c.data(), -1.0);
  EXPECT_EQ(d.data(), 6.0);
  EXPECT_EQ(e.data(), -7.0);
  EXPECT_EQ(f.data(), 49.0);

  // As published (micrograd's own tolerance is 1e-6; the values it prints are PyTorch's).
  EXPECT_NEAR(g.data(), 24.70408163265306, 1e-4);
  EXPECT_NEAR(a.grad(), 138.83381924198250, 1e-4);
  EXPECT_NEAR(b.grad(), 645.57725947521870, 1e-4);

  // Against PyTorch's float64 value, and the exact value 2421/98 to within 4 ulp.
  EXPECT_NEAR(g.data(), 24.704081632653061, 1e-10);
  EXPECT_DOUBLE_EQ(g.data(), 2421.0 / 98.0);

  // Against the exact gradients: dg/da = 47620/343 = 138.8338192419825072886...,
  // dg/db = 221433/343 = 645.5772594752186588921...
  constexpr double kExactDa = 47620.0 / 343.0;
  constexpr double kExactDb = 221433.0 / 343.0;
  EXPECT_NEAR(a.grad(), kExactDa, 1e-14 * kExactDa);
  EXPECT_NEAR(b.grad(), kExactDb, 1e-14 * kExactDb);
}

TEST(MicrogradReference, LectureNeuronGivesPublishedOutputAndGradients) {
  Value x1 = 2.0;
  Value x2 = 0.0;
  Value w1 = -3.0;
  Value w2 = 1.0;
  Value b = 6.8813735870195432;
  Value x1w1 = x1 * w1;
  Value x2w2 = x2 * w2;
  Value x1w1x2w2 = x1w1 + x2w2;
  Value n = x1w1x2w2 + b;
  Value o = n.tanh();
  o.backward();

  // As printed in the lecture (4 digits).
  EXPECT_NEAR(o.data(), 0.7071, 1e-4);
  EXPECT_NEAR(x1.grad(), -1.5, 1e-4);
  EXPECT_NEAR(w1.grad(), 1.0, 1e-4);
  EXPECT_NEAR(x2.grad(), 0.5, 1e-4);
  EXPECT_NEAR(w2.grad(), 0.0, 1e-4);
  EXPECT_NEAR(b.grad(), 0.5, 1e-4);
  EXPECT_NEAR(n.grad(), 0.5, 1e-4);

  // Tighter: o = 1/sqrt 2 and do/dn = 1 - o^2 = 1/2 to a few ulp; w2's gradient is x2 * 1/2 = 0.
  EXPECT_NEAR(o.data(), 1.0 / std::sqrt(2.0), 5e-16);
  EXPECT_NEAR(n.grad(), 0.5, 1e-15);
  EXPECT_NEAR(x1.grad(), -1.5, 3e-15);
  EXPECT_NEAR(w1.grad(), 1.0, 2e-15);
  EXPECT_NEAR(x2.grad(), 0.5, 1e-15);
  EXPECT_EQ(w2.grad(), 0.0);
  EXPECT_NEAR(b.grad(), 0.5, 1e-15);
  // The chain rule through the sums: every node of the sum carries do/dn.
  EXPECT_EQ(x1w1.grad(), n.grad());
  EXPECT_EQ(x2w2.grad(), n.grad());
  EXPECT_EQ(x1w1x2w2.grad(), n.grad());
}

TEST(MicrogradReference, SanityCheckGradientAccumulatesOverTwoBackwardCalls) {
  // PyTorch leaf semantics: a second backward() through a new graph adds to x's gradient.
  Value x = -4.0;
  for (int pass = 1; pass <= 2; ++pass) {
    Value z = 2 * x + 2 + x;
    Value q = z.relu() + z * x;
    Value h = (z * z).relu();
    Value y = h + q + q * x;
    y.backward();
    EXPECT_EQ(x.grad(), 46.0 * pass);
  }
}

}  // namespace
