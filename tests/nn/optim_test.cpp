// nn optimizers: SGD and Adam updates against hand-computed steps, micrograd's learning-rate
// schedule, and argument validation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <scalargrad/error.hpp>
#include <scalargrad/nn/optim.hpp>
#include <scalargrad/nn/parameter.hpp>
#include <scalargrad/value.hpp>

#include "support/test_support.hpp"

namespace {

using scalargrad::testing_support::ErrorMessage;

using scalargrad::nn::Adam;
using scalargrad::nn::linear_decay;
using scalargrad::nn::Parameter;
using scalargrad::nn::SGD;
using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- Optimizer ------------------------------------------------------------------------------
TEST(Optimizer, ZeroGradZeroesEveryParameter) {
  Parameter a(1.0), b(2.0);
  a.grad = 3.0;
  b.grad = -4.0;
  SGD sgd({&a, &b}, 0.1);
  sgd.zero_grad();
  EXPECT_EQ(a.grad, 0.0);
  EXPECT_EQ(b.grad, 0.0);
}

TEST(Optimizer, SetLearningRateChangesTheNextStep) {
  Parameter p(1.0);
  SGD sgd({&p}, 0.1);
  sgd.set_learning_rate(0.5);
  EXPECT_EQ(sgd.learning_rate(), 0.5);
  p.grad = 1.0;
  sgd.step();
  EXPECT_EQ(p.data, 0.5);
}

TEST(Optimizer, ParametersAreTheOnesGiven) {
  Parameter a, b;
  const Adam adam({&a, &b});
  EXPECT_EQ(adam.parameters(), (std::vector<Parameter*>{&a, &b}));
  EXPECT_EQ(adam.learning_rate(), 1e-3);
}

// ---- SGD ------------------------------------------------------------------------------------
TEST(SGD, PlainStepIsDataMinusLearningRateTimesGrad) {
  Parameter a(0.5), b(-1.0);
  a.grad = 0.2;
  b.grad = -3.0;
  SGD sgd({&a, &b}, 0.1);
  sgd.step();
  EXPECT_EQ(a.data, 0.5 - 0.1 * 0.2);  // micrograd: p.data += -lr * p.grad, bit for bit
  EXPECT_EQ(b.data, -1.0 - 0.1 * -3.0);
  EXPECT_EQ(a.grad, 0.2);  // step() leaves grads alone
}

TEST(SGD, MomentumAndWeightDecayOverThreeStepsMatchHandComputation) {
  // lr 0.1, momentum 0.9, weight decay 0.01, data 1, grad 0.5 at every step;
  // v = 0.9 v + (g + 0.01 p), p -= 0.1 v:
  //   1: v = 0 + (0.5 + 0.01)                     = 0.51        p = 1 - 0.051             = 0.949
  //   2: v = 0.459 + (0.5 + 0.00949)              = 0.96849     p = 0.949 - 0.096849      = 0.852151
  //   3: v = 0.871641 + (0.5 + 0.00852151)        = 1.38016251  p = 0.852151 - 0.138016251 = 0.714134749
  Parameter p(1.0);
  SGD sgd({&p}, 0.1, 0.9, 0.01);
  const double expected[] = {0.949, 0.852151, 0.714134749};
  for (const double want : expected) {
    p.grad = 0.5;
    sgd.step();
    EXPECT_NEAR(p.data, want, 1e-15);
  }
}

TEST(SGD, MinimisesAQuadraticThroughBackward) {
  // f(p) = (p - 3)^2 from the graph: the gradient reaches p.grad through backward().
  Parameter p(0.0);
  SGD sgd({&p}, 0.1, 0.5);
  for (int i = 0; i < 200; ++i) {
    sgd.zero_grad();
    const scalargrad::Value& x = p.value();  // the leaf of p in this graph
    const scalargrad::Value f = (x - 3.0) * (x - 3.0);
    f.backward();
    sgd.step();
  }
  EXPECT_NEAR(p.data, 3.0, 1e-9);
}

// ---- Adam -----------------------------------------------------------------------------------
TEST(Adam, FirstThreeStepsMatchHandComputation) {
  // Kingma & Ba 2015, Algorithm 1, lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8, data 1,
  // gradients 0.5, -0.25, 1 (m_t = b1 m + (1 - b1) g, v_t = b2 v + (1 - b2) g^2,
  // p -= lr (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps)):
  //   t = 1: m = 0.05, v = 0.00025; m^ = 0.05 / 0.1 = 0.5, v^ = 0.00025 / 0.001 = 0.25
  //          step = 0.1 * 0.5 / (0.5 + 1e-8) = 0.099999998000000040      p = 0.900000001999999960
  //   t = 2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225
  //          m^ = 0.02 / 0.19 = 0.105263157894736842, v^ = 0.00031225 / 0.001999 = 0.156203101550775388
  //          sqrt(v^) = 0.395225380701664184
  //          step = 0.1 * m^ / (sqrt(v^) + 1e-8) = 0.026633703292153797    p = 0.873366298707846163
  //   t = 3: m = 0.018 + 0.1 = 0.118, v = 0.00031193775 + 0.001 = 0.00131193775
  //          m^ = 0.118 / 0.271 = 0.435424354243542435, v^ = 0.00131193775 / 0.002997001 = 0.437750187604208340
  //          sqrt(v^) = 0.661626924787835656
  //          step = 0.1 * m^ / (sqrt(v^) + 1e-8) = 0.065811159030756547    p = 0.807555139677089616
  Parameter p(1.0);
  Adam adam({&p}, 0.1, 0.9, 0.999, 1e-8);
  const double gradients[] = {0.5, -0.25, 1.0};
  const double expected[] = {0.900000001999999960, 0.873366298707846163, 0.807555139677089616};
  for (int t = 0; t < 3; ++t) {
    p.grad = gradients[t];
    adam.step();
    EXPECT_NEAR(p.data, expected[t], 1e-15) << "step " << t + 1;
  }
}

TEST(Adam, WeightDecayIsAddedToTheGradient) {
  // data 2, grad 0.5, weight decay 0.1: g = 0.5 + 0.2 = 0.7; first step lr * 0.7 / (0.7 + eps).
  Parameter p(2.0);
  Adam adam({&p}, 0.1, 0.9, 0.999, 1e-8, 0.1);
  p.grad = 0.5;
  adam.step();
  EXPECT_NEAR(p.data, 2.0 - 0.1 * 0.7 / (0.7 + 1e-8), 1e-15);
}

TEST(Adam, KeepsSeparateMomentsPerParameter) {
  // Each parameter's first step is lr * g / (|g| + eps), whatever the other's gradient.
  Parameter a(0.0), b(0.0);
  Adam adam({&a, &b}, 0.01);
  a.grad = 1000.0;
  b.grad = -0.001;
  adam.step();
  EXPECT_NEAR(a.data, -0.01, 1e-12);
  EXPECT_NEAR(b.data, 0.01 * 1e-3 / (1e-3 + 1e-8), 1e-15);  // eps matters at |g| = 1e-3
}

TEST(Adam, MinimisesAQuadraticThroughBackward) {
  Parameter p(0.0);
  Adam adam({&p}, 0.05);
  for (int i = 0; i < 2000; ++i) {
    adam.zero_grad();
    const scalargrad::Value& x = p.value();
    ((x - 3.0) * (x - 3.0)).backward();
    adam.step();
  }
  EXPECT_NEAR(p.data, 3.0, 1e-3);
}

// ---- linear_decay ---------------------------------------------------------------------------
TEST(LinearDecay, EqualsMicrogradScheduleBitForBit) {
  for (std::size_t k = 0; k <= 100; ++k) {
    EXPECT_EQ(linear_decay(k, 100), 1.0 - 0.9 * static_cast<double>(k) / 100) << "k = " << k;
  }
}

TEST(LinearDecay, GoesFromStartToEnd) {
  EXPECT_EQ(linear_decay(0, 10, 2.0, 1.0), 2.0);
  EXPECT_EQ(linear_decay(5, 10, 2.0, 1.0), 1.5);
  EXPECT_EQ(linear_decay(10, 10, 2.0, 1.0), 1.0);
}

TEST(LinearDecay, StaysAtItsLastRateAfterTheSchedule) {
  // Regression: past the schedule it went on down (-0.35 at step 150 of 100), a rate that
  // set_learning_rate() refuses.
  EXPECT_EQ(linear_decay(150, 100), linear_decay(100, 100));
  EXPECT_EQ(linear_decay(101, 100), 1.0 - 0.9);  // micrograd's formula at k = 100
  EXPECT_EQ(linear_decay(11, 10, 2.0, 1.0), 1.0);
}

// ---- Misuse ---------------------------------------------------------------------------------
TEST(OptimizerErrors, LearningRateMustBePositiveAndFinite) {
  Parameter p;
  EXPECT_THAT(ErrorMessage([&] { SGD({&p}, 0.0); }), HasSubstr("learning_rate must be > 0 and finite, got 0"));
  EXPECT_THAT(ErrorMessage([&] { SGD({&p}, -0.1); }), HasSubstr("learning_rate must be > 0 and finite, got -0.1"));
  EXPECT_THAT(ErrorMessage([&] { Adam({&p}, kNaN); }), HasSubstr("learning_rate must be > 0 and finite, got nan"));
  EXPECT_THAT(ErrorMessage([&] { Adam({&p}, kInf); }), HasSubstr("learning_rate must be > 0 and finite, got inf"));
}

TEST(OptimizerErrors, SetLearningRateRejectsBadRateAndKeepsTheOldOne) {
  Parameter p;
  SGD sgd({&p}, 0.1);
  EXPECT_THAT(ErrorMessage([&] { sgd.set_learning_rate(-1.0); }), HasSubstr("learning_rate must be > 0 and finite, got -1"));
  EXPECT_EQ(sgd.learning_rate(), 0.1);
}

TEST(OptimizerErrors, NullParameterIsNamedByIndex) {
  Parameter p;
  EXPECT_THAT(ErrorMessage([&] { SGD({&p, nullptr}, 0.1); }), HasSubstr("parameter 1 of 2 is a null pointer"));
  EXPECT_THAT(ErrorMessage([&] { Adam({nullptr}); }), HasSubstr("parameter 0 of 1 is a null pointer"));
}

TEST(OptimizerErrors, ParameterListedTwiceIsRefused) {
  Parameter p(1.0);
  Parameter q(2.0);
  EXPECT_THAT(ErrorMessage([&] { SGD({&p, &q, &p}, 0.1); }), HasSubstr("listed more than once"));
  EXPECT_THAT(ErrorMessage([&] { Adam({&q, &q}); }), HasSubstr("listed more than once"));
  EXPECT_EQ(p.data, 1.0);
}

TEST(OptimizerErrors, SgdMomentumMustBeInZeroOneAndWeightDecayNonNegative) {
  Parameter p;
  EXPECT_THAT(ErrorMessage([&] { SGD({&p}, 0.1, 1.0); }), HasSubstr("SGD: momentum must be in [0, 1), got 1"));
  EXPECT_THAT(ErrorMessage([&] { SGD({&p}, 0.1, -0.5); }), HasSubstr("SGD: momentum must be in [0, 1), got -0.5"));
  EXPECT_THAT(ErrorMessage([&] { SGD({&p}, 0.1, kNaN); }), HasSubstr("SGD: momentum must be in [0, 1), got nan"));
  EXPECT_THAT(ErrorMessage([&] { SGD({&p}, 0.1, 0.9, -0.5); }),
              HasSubstr("SGD: weight_decay must be >= 0 and finite, got -0.5"));
}

TEST(OptimizerErrors, AdamBetasEpsilonAndWeightDecayAreChecked) {
  Parameter p;
  EXPECT_THAT(ErrorMessage([&] { Adam({&p}, 1e-3, 1.0); }), HasSubstr("Adam: beta1 must be in [0, 1), got 1"));
  EXPECT_THAT(ErrorMessage([&] { Adam({&p}, 1e-3, 0.9, -0.1); }), HasSubstr("Adam: beta2 must be in [0, 1), got -0.1"));
  EXPECT_THAT(ErrorMessage([&] { Adam({&p}, 1e-3, 0.9, 0.999, 0.0); }),
              HasSubstr("Adam: epsilon must be > 0 and finite, got 0"));
  EXPECT_THAT(ErrorMessage([&] { Adam({&p}, 1e-3, 0.9, 0.999, 1e-8, -1.0); }),
              HasSubstr("Adam: weight_decay must be >= 0 and finite, got -1"));
}

TEST(OptimizerErrors, LinearDecayNeedsAtLeastOneStep) {
  EXPECT_THAT(ErrorMessage([] { (void)linear_decay(0, 0); }), HasSubstr("linear_decay: steps must be > 0, got 0"));
}

// Regression: linear_decay(0, 100, inf, 0.1) gave NaN, and ends near +-DBL_MAX, whose difference
// overflows, gave NaN at step 0 and -inf at the last.
TEST(OptimizerErrors, LinearDecayNeedsFiniteEndsAndHandlesTheLargest) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ErrorMessage([&] { (void)linear_decay(0, 100, inf, 0.1); }),
            "scalargrad::nn: linear_decay: start must be finite, got inf");
  EXPECT_EQ(ErrorMessage([&] { (void)linear_decay(0, 100, 1.0, std::numeric_limits<double>::quiet_NaN()); }),
            "scalargrad::nn: linear_decay: end must be finite, got nan");
  EXPECT_EQ(linear_decay(0, 100, 1e308, -1e308), 1e308);
  EXPECT_EQ(linear_decay(50, 100, 1e308, -1e308), 0.0);
  EXPECT_EQ(linear_decay(100, 100, 1e308, -1e308), -1e308);
  EXPECT_EQ(linear_decay(25, 100, 1e308, -1e308), 0.5e308);
  // start - end is finite, but its product with step overflows (a reviewer's probe: -inf).
  const double max = std::numeric_limits<double>::max();
  EXPECT_DOUBLE_EQ(linear_decay(2, 4, max, 0.0), max / 2.0);
  EXPECT_DOUBLE_EQ(linear_decay(1000000000, 2000000000, 1e300, 0.0), 0.5e300);
}

}  // namespace
