// nn::weight_grad_norms, positive_counts, dead_neurons (nn/diagnostics.hpp), and the
// vanishing-gradient claims of the activation lab (docs/activations.md) that they measure.
//
// References: gradients of small linear networks computed by hand; networks built so that
// which neurons are dead is known; for depth 20, the theory of docs/activations.md section 3
// (each sigmoid layer scales the backward signal by about 0.25 * |W|, so 19 layers shrink it by
// many orders of magnitude; ReLU with He initialisation keeps its size on average).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "scalargrad/nn/activation.hpp"
#include "scalargrad/nn/data.hpp"
#include "scalargrad/nn/diagnostics.hpp"
#include "scalargrad/nn/loss.hpp"
#include "scalargrad/nn/module.hpp"
#include "scalargrad/value.hpp"

#include "support/test_support.hpp"

namespace {

using scalargrad::Value;
using scalargrad::nn::Activation;
using scalargrad::nn::dead_neurons;
using scalargrad::nn::Init;
using scalargrad::nn::MLP;
using scalargrad::nn::Parameter;
using scalargrad::nn::positive_counts;
using scalargrad::nn::weight_grad_norms;
using scalargrad::testing_support::ErrorMessage;
using scalargrad::testing_support::OnFreshTape;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Sets every parameter, in parameters() order (layer by layer, neuron by neuron, weights then bias).
void SetParameters(MLP& model, const std::vector<double>& values) {
  const std::vector<Parameter*> params = model.parameters();
  ASSERT_EQ(params.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) params[i]->data = values[i];
}

// ---- 1. weight_grad_norms ------------------------------------------------------------------

TEST(WeightGradNorms, MatchHandComputedGradientsOfALinearNetwork) {
  // y = w2 (w1 x + b1) + b2 with x = 3, w1 = 2, b1 = 1, w2 = -4, b2 = 5:
  // dy/dw1 = w2 x = -12, dy/dw2 = w1 x + b1 = 7; biases are left out.
  MLP model(1, {1, 1}, Activation::linear(), Activation::linear());
  SetParameters(model, {2.0, 1.0, -4.0, 5.0});
  model.score(std::vector<double>{3.0}).backward();
  EXPECT_THAT(weight_grad_norms(model), ElementsAre(12.0, 7.0));
}

TEST(WeightGradNorms, AreTheEuclideanNormOverEveryNeuronOfALayer) {
  // Two hidden neurons h_j = w_j . x + b_j, y = v1 h1 + v2 h2 + c, x = (1, 2):
  // dy/dw_j = v_j x, so the first layer's norm is |x| sqrt(v1^2 + v2^2) = sqrt(5) * 5.
  MLP model(2, {2, 1}, Activation::linear(), Activation::linear());
  SetParameters(model, {0.5, 0.5, 0.0, -1.0, 2.0, 0.0, 3.0, 4.0, 0.0});
  model.score(std::vector<double>{1.0, 2.0}).backward();
  const std::vector<double> norms = weight_grad_norms(model);
  ASSERT_EQ(norms.size(), 2u);
  EXPECT_DOUBLE_EQ(norms[0], std::sqrt(5.0) * 5.0);
  // dy/dv_j = h_j: h1 = 1.5, h2 = 3.
  EXPECT_DOUBLE_EQ(norms[1], std::sqrt(1.5 * 1.5 + 3.0 * 3.0));
}

TEST(WeightGradNorms, AreZeroBeforeAnyBackward) {
  const MLP model(2, {4, 4, 1});
  EXPECT_THAT(weight_grad_norms(model), ElementsAre(0.0, 0.0, 0.0));
}

// Regression: the squares were summed unscaled, so gradients of 1e160 gave a norm of inf and
// gradients of 1e-170 a norm of 0 (a vanishing gradient that read as exactly none).
TEST(WeightGradNorms, NeitherOverflowNorUnderflowAtExtremeGradients) {
  MLP model(2, {2, 1});
  for (const double g : {1e160, 1e-170, 1e300, 5e-324}) {
    for (Parameter* p : model.parameters()) p->grad = g;
    // Layer 1 has 4 weights, layer 2 has 2: norms 2g and sqrt(2) g.
    const std::vector<double> norms = weight_grad_norms(model);
    ASSERT_EQ(norms.size(), 2u);
    if (g == 5e-324) {  // the smallest subnormal: each weight's g exactly, scaled back exactly
      EXPECT_EQ(norms[0], 2.0 * g);
      EXPECT_GT(norms[1], 0.0);
      continue;
    }
    EXPECT_DOUBLE_EQ(norms[0], 2.0 * g) << g;
    EXPECT_DOUBLE_EQ(norms[1], std::sqrt(2.0) * g) << g;
  }
  // Mixed sizes in one layer: the largest sets the scale, the small ones still count.
  const std::vector<Parameter*> params = model.parameters();  // layer 1: w w b, w w b; layer 2: w w b
  for (Parameter* p : params) p->grad = 0.0;
  params[0]->grad = 3e200;
  params[1]->grad = -4e200;
  EXPECT_DOUBLE_EQ(weight_grad_norms(model)[0], 5e200);
  // Ordinary gradients keep the plain sum's bits.
  params[0]->grad = 0.1;
  params[1]->grad = 0.2;
  EXPECT_EQ(weight_grad_norms(model)[0], std::sqrt(0.1 * 0.1 + 0.2 * 0.2));
}

// Regression: a moved-from MLP (no layers) gave empty results, where every other use throws.
TEST(Diagnostics, AMovedFromMlpIsAnError) {
  MLP model(2, {2, 1});
  const MLP other = std::move(model);
  const std::vector<std::vector<double>> inputs = {{1.0, 2.0}};
  const std::string expected =
      "scalargrad::nn: this MLP was moved from and has no layers; assign a model to it before using it";
  EXPECT_EQ(ErrorMessage([&] { (void)weight_grad_norms(model); }), expected);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(ErrorMessage([&] { (void)positive_counts(model, inputs); }), expected);
  EXPECT_EQ(ErrorMessage([&] { (void)dead_neurons(model, inputs); }), expected);
  EXPECT_EQ(other.layers().size(), 2u);
}

// ---- 2. positive_counts and dead_neurons ---------------------------------------------------

// A 2-3-1 ReLU network whose dead neurons are known on inputs in [-1, 1]^2:
//   neuron 0: x1        -> positive where x1 > 0
//   neuron 1: -1        -> never positive (dead)
//   neuron 2: -x1 - x2 - 10 -> never positive on [-1, 1]^2 (dead)
// output: relu(x1) + 0 + 0 - 0.25.
MLP KnownDeadNetwork() {
  MLP model(2, {3, 1}, Activation::relu(), Activation::linear());
  SetParameters(model, {1.0, 0.0, 0.0,  0.0, 0.0, -1.0,  -1.0, -1.0, -10.0,  1.0, 1.0, 1.0, -0.25});
  return model;
}

const std::vector<std::vector<double>> kInputs = {{1.0, 0.0}, {-1.0, 0.0}, {0.5, 0.5}, {-0.5, 1.0}};

TEST(PositiveCounts, CountInputsWithPositivePreActivationPerNeuron) {
  const MLP model = KnownDeadNetwork();
  // Output z = relu(x1) - 0.25: positive for x1 = 1 and 0.5 only.
  EXPECT_THAT(positive_counts(model, kInputs), ElementsAre(ElementsAre(2u, 0u, 0u), ElementsAre(2u)));
}

TEST(DeadNeurons, FindsTheNeuronsBuiltDead) {
  const MLP model = KnownDeadNetwork();
  const auto dead = dead_neurons(model, kInputs);
  EXPECT_THAT(dead.dead, ElementsAre(ElementsAre(false, true, true), ElementsAre(false)));
  EXPECT_EQ(dead.in_layer(0), 2u);
  EXPECT_EQ(dead.in_layer(1), 0u);
  EXPECT_EQ(dead.hidden(), 2u);
}

TEST(DeadNeurons, DeadReluNeuronsGetNoGradientFromThoseInputs) {
  // What makes "dead" matter: the loss over these inputs gives the dead neurons' weights
  // and biases exactly 0 gradient, so gradient descent on them never moves them.
  MLP model = KnownDeadNetwork();
  std::vector<Value> scores;
  for (const auto& x : kInputs) scores.push_back(model.score(x));
  const std::vector<double> labels = {1.0, -1.0, -1.0, 1.0};
  scalargrad::nn::hinge_loss(scores, labels).backward();
  const std::vector<Parameter*> params = model.parameters();
  for (std::size_t i = 3; i < 9; ++i) EXPECT_EQ(params[i]->grad, 0.0) << "parameter " << i;
  EXPECT_NE(params[0]->grad, 0.0);  // the live neuron learns
}

TEST(DeadNeurons, RunTheHiddenActivationsForward) {
  // Leaky ReLU passes 0.5 * z for z <= 0, so the second layer sees negative inputs: its neuron
  // -h is positive exactly where the first layer's pre-activation x1 is negative.
  MLP model(2, {1, 1, 1}, Activation::leaky_relu(0.5), Activation::linear());
  SetParameters(model, {1.0, 0.0, 0.0,  -1.0, 0.0,  1.0, 0.0});
  EXPECT_THAT(positive_counts(model, kInputs), ElementsAre(ElementsAre(2u), ElementsAre(2u), ElementsAre(2u)));
  const auto dead = dead_neurons(model, std::vector<std::vector<double>>{{1.0, 0.0}});
  EXPECT_THAT(dead.dead, ElementsAre(ElementsAre(false), ElementsAre(true), ElementsAre(true)));
  EXPECT_EQ(dead.hidden(), 1u);  // the output layer is not hidden
}

TEST(DeadNeurons, LeaveTheModelAndTheTapeUntouched) {
  OnFreshTape([] {
    const MLP model(2, {8, 8, 1}, Activation::relu(), Activation::linear(), Init::Uniform, 3);
    std::vector<double> before;
    for (const Parameter* p : model.parameters()) before.push_back(p->data);
    const std::size_t nodes = scalargrad::tape_stats().nodes;
    (void)dead_neurons(model, kInputs);
    EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);
    std::vector<double> after;
    for (const Parameter* p : model.parameters()) after.push_back(p->data);
    EXPECT_EQ(after, before);
  });
}

TEST(DeadNeurons, RejectBadInputsWithAClearError) {
  const MLP model = KnownDeadNetwork();
  EXPECT_THAT(ErrorMessage([&] { (void)dead_neurons(model, {}); }), HasSubstr("needs at least one input"));
  const std::vector<std::vector<double>> ragged = {{1.0, 0.0}, {1.0, 2.0, 3.0}};
  EXPECT_EQ(ErrorMessage([&] { (void)positive_counts(model, ragged); }),
            "scalargrad::nn: input 1 has 3 values, the model expects 2");
  EXPECT_EQ(ErrorMessage([&] { (void)dead_neurons(model, ragged); }),
            "scalargrad::nn: input 1 has 3 values, the model expects 2");
  const std::vector<std::vector<double>> short_first = {{1.0}};
  EXPECT_EQ(ErrorMessage([&] { (void)dead_neurons(model, short_first); }),
            "scalargrad::nn: input 0 has 1 value, the model expects 2");
  const auto dead = dead_neurons(model, kInputs);
  EXPECT_EQ(ErrorMessage([&] { (void)dead.in_layer(2); }),
            "scalargrad::nn: DeadNeurons::in_layer(2): the model has 2 layers");
}

// ---- 3. Vanishing gradients at depth 20 (docs/activations.md) -------------------------------

// First-layer / last-layer weight-gradient norm of a depth-layer network of width 16 after one
// backward pass of the mean squared error on 100 moons points; norms averaged over `seeds`.
double FirstOverLastRatio(Activation hidden, Init init, std::size_t depth, int seeds) {
  const auto data = scalargrad::nn::make_moons(100, 0.1, 1);
  double first = 0.0;
  double last = 0.0;
  for (int seed = 1; seed <= seeds; ++seed) {
    std::vector<std::size_t> sizes(depth - 1, 16);
    sizes.push_back(1);
    MLP model(2, sizes, hidden, Activation::linear(), init, static_cast<std::uint64_t>(seed));
    std::vector<Value> scores;
    for (const auto& x : data.inputs) scores.push_back(model.score(x));
    scalargrad::nn::mse_loss(scores, data.labels).backward();
    const std::vector<double> norms = weight_grad_norms(model);
    first += norms.front() / seeds;
    last += norms.back() / seeds;
  }
  return first / last;
}

TEST(VanishingGradient, SigmoidWithUniformWeightsLosesThreeOrdersOfMagnitudeAtDepth20) {
  const double ratio = FirstOverLastRatio(Activation::sigmoid(), Init::Uniform, 20, 5);
  EXPECT_LT(ratio, 1e-3);
  EXPECT_GT(ratio, 0.0);  // vanished, not zero: sigmoid' is never 0
}

TEST(VanishingGradient, ReluWithHeInitialisationStaysWithinTwoOrdersOfMagnitudeAtDepth20) {
  const double ratio = FirstOverLastRatio(Activation::relu(), Init::He, 20, 5);
  EXPECT_GT(ratio, 1e-2);
  EXPECT_LT(ratio, 1e2);
}

}  // namespace
