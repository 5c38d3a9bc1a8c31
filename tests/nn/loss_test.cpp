// nn losses and accuracy: values and gradients against hand-computed numbers and central finite
// differences; bce_with_logits_loss at extreme logits; misuse throws Error naming the problem.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <exception>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <scalargrad/error.hpp>
#include <scalargrad/nn/loss.hpp>
#include <scalargrad/nn/module.hpp>
#include <scalargrad/value.hpp>

#include "support/test_support.hpp"

namespace {

using scalargrad::testing_support::Bits;
using scalargrad::testing_support::ErrorMessage;

using scalargrad::Value;
using scalargrad::nn::accuracy;
using scalargrad::nn::bce_with_logits_loss;
using scalargrad::nn::hinge_loss;
using scalargrad::nn::l2_penalty;
using scalargrad::nn::mse_loss;
using ::testing::Eq;
using ::testing::HasSubstr;

using Loss = std::function<Value(std::span<const Value>, std::span<const double>)>;

std::vector<Value> Leaves(const std::vector<double>& xs) { return std::vector<Value>(xs.begin(), xs.end()); }

/// d loss / d output_i for each output, by backward().
std::vector<double> Gradients(const Loss& loss, const std::vector<double>& outputs, const std::vector<double>& labels) {
  const std::vector<Value> x = Leaves(outputs);
  loss(x, labels).backward();
  std::vector<double> grads;
  for (const Value& xi : x) grads.push_back(xi.grad());
  return grads;
}

/// d loss / d output_i for each output, by central differences (an independent reference).
std::vector<double> FiniteDifferences(const Loss& loss, const std::vector<double>& outputs,
                                      const std::vector<double>& labels) {
  const double h = 1e-6;
  std::vector<double> grads;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    std::vector<double> plus = outputs, minus = outputs;
    plus[i] += h;
    minus[i] -= h;
    grads.push_back((loss(Leaves(plus), labels).data() - loss(Leaves(minus), labels).data()) / (2 * h));
  }
  return grads;
}

void ExpectGradientsMatchFiniteDifferences(const Loss& loss, const std::vector<double>& outputs,
                                           const std::vector<double>& labels) {
  const std::vector<double> analytic = Gradients(loss, outputs, labels);
  const std::vector<double> numeric = FiniteDifferences(loss, outputs, labels);
  ASSERT_EQ(analytic.size(), numeric.size());
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << "output " << i;
  }
}

// ---- hinge_loss -----------------------------------------------------------------------------
// scores (2, -0.5, 0.3), labels (+1, +1, -1): terms relu(1 - y s) = relu(-1), relu(1.5), relu(1.3)
// = 0, 1.5, 1.3; mean 2.8 / 3. d/ds_i = -y_i / 3 where the term is active: 0, -1/3, +1/3.
const std::vector<double> kScores = {2.0, -0.5, 0.3};
const std::vector<double> kSigns = {1.0, 1.0, -1.0};

TEST(HingeLoss, MatchesHandComputedValue) {
  EXPECT_DOUBLE_EQ(hinge_loss(Leaves(kScores), kSigns).data(), 2.8 / 3.0);
}

TEST(HingeLoss, GradientMatchesHandDerivedValues) {
  const std::vector<double> grads = Gradients(hinge_loss, kScores, kSigns);
  EXPECT_DOUBLE_EQ(grads[0], 0.0);
  EXPECT_DOUBLE_EQ(grads[1], -1.0 / 3.0);
  EXPECT_DOUBLE_EQ(grads[2], 1.0 / 3.0);
}

TEST(HingeLoss, GradientMatchesFiniteDifference) { ExpectGradientsMatchFiniteDifferences(hinge_loss, kScores, kSigns); }

TEST(HingeLoss, PointExactlyOnTheMarginHasZeroGradient) {
  // 1 - y s = 0: relu'(0) = 0, as PyTorch and micrograd.
  const std::vector<double> grads = Gradients(hinge_loss, {1.0, -1.0}, {1.0, -1.0});
  EXPECT_EQ(grads[0], 0.0);
  EXPECT_EQ(grads[1], 0.0);
}

TEST(HingeLoss, GradientAccumulatesWhenOneScoreIsUsedTwice) {
  const Value s = 0.5;
  const std::vector<Value> scores = {s, s};
  hinge_loss(scores, std::vector<double>{1.0, -1.0}).backward();
  // d/ds [relu(1 - s) + relu(1 + s)] / 2 = (-1 + 1) / 2 = 0; with labels (+1, +1) it would be -1.
  EXPECT_DOUBLE_EQ(s.grad(), 0.0);
  const Value t = 0.5;
  const std::vector<Value> same = {t, t};
  hinge_loss(same, std::vector<double>{1.0, 1.0}).backward();
  EXPECT_DOUBLE_EQ(t.grad(), -1.0);
}

// ---- mse_loss -------------------------------------------------------------------------------
// predictions (1.5, -0.5, 2), targets (1, 0.5, 2): errors 0.5, -1, 0; mean of squares 1.25 / 3;
// d/dp_i = 2 e_i / 3 = 1/3, -2/3, 0.
const std::vector<double> kPredictions = {1.5, -0.5, 2.0};
const std::vector<double> kTargets = {1.0, 0.5, 2.0};

TEST(MseLoss, MatchesHandComputedValue) {
  EXPECT_DOUBLE_EQ(mse_loss(Leaves(kPredictions), kTargets).data(), 1.25 / 3.0);
}

TEST(MseLoss, GradientMatchesHandDerivedValues) {
  const std::vector<double> grads = Gradients(mse_loss, kPredictions, kTargets);
  EXPECT_DOUBLE_EQ(grads[0], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(grads[1], -2.0 / 3.0);
  EXPECT_DOUBLE_EQ(grads[2], 0.0);
}

TEST(MseLoss, GradientMatchesFiniteDifference) {
  ExpectGradientsMatchFiniteDifferences(mse_loss, kPredictions, kTargets);
}

// ---- bce_with_logits_loss -------------------------------------------------------------------
// logits (0, 2, -1), labels (1, 0, 0). Reference: the textbook form
// -[y log s(z) + (1 - y) log(1 - s(z))], fine for moderate z; d/dz_i = (s(z_i) - y_i) / 3.
const std::vector<double> kLogits = {0.0, 2.0, -1.0};
const std::vector<double> kBits = {1.0, 0.0, 0.0};

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

TEST(BceWithLogitsLoss, MatchesTextbookCrossEntropy) {
  double expected = 0.0;
  for (std::size_t i = 0; i < kLogits.size(); ++i) {
    const double s = Sigmoid(kLogits[i]);
    expected -= kBits[i] * std::log(s) + (1.0 - kBits[i]) * std::log(1.0 - s);
  }
  expected /= 3.0;
  // = (ln 2 + ln(1 + e^2) + ln(1 + e^-1)) / 3
  EXPECT_NEAR(expected, (std::log(2.0) + std::log1p(std::exp(2.0)) + std::log1p(std::exp(-1.0))) / 3.0, 1e-15);
  EXPECT_NEAR(bce_with_logits_loss(Leaves(kLogits), kBits).data(), expected, 1e-15);
}

TEST(BceWithLogitsLoss, GradientIsSigmoidMinusLabelOverN) {
  const std::vector<double> grads = Gradients(bce_with_logits_loss, kLogits, kBits);
  EXPECT_NEAR(grads[0], (0.5 - 1.0) / 3.0, 1e-15);
  EXPECT_NEAR(grads[1], Sigmoid(2.0) / 3.0, 1e-15);
  EXPECT_NEAR(grads[2], Sigmoid(-1.0) / 3.0, 1e-15);
}

TEST(BceWithLogitsLoss, GradientMatchesFiniteDifference) {
  ExpectGradientsMatchFiniteDifferences(bce_with_logits_loss, kLogits, kBits);
}

TEST(BceWithLogitsLoss, IsFiniteAndExactAtLogitsPlusMinus800) {
  // Right and confident: softplus(800) - 800 = 0 and softplus(-800) = e^-800 = 0 (underflow).
  // Wrong and confident: softplus(800) = 800 and softplus(-800) + 800 = 800. Mean 1600 / 4.
  // Gradients (s(z) - y) / 4: 0, 0, +1/4, -1/4. The textbook form would give inf or NaN here.
  const std::vector<double> logits = {800.0, -800.0, 800.0, -800.0};
  const std::vector<double> labels = {1.0, 0.0, 0.0, 1.0};
  const Value loss = bce_with_logits_loss(Leaves(logits), labels);
  ASSERT_TRUE(std::isfinite(loss.data()));
  EXPECT_DOUBLE_EQ(loss.data(), 400.0);
  const std::vector<double> grads = Gradients(bce_with_logits_loss, logits, labels);
  EXPECT_EQ(grads[0], 0.0);
  EXPECT_EQ(grads[1], 0.0);
  EXPECT_DOUBLE_EQ(grads[2], 0.25);
  EXPECT_DOUBLE_EQ(grads[3], -0.25);
}

TEST(BceWithLogitsLoss, IsFiniteAtLogitsPlusMinus1000) {
  const std::vector<double> logits = {1e3, -1e3};
  const std::vector<double> labels = {0.0, 1.0};
  EXPECT_DOUBLE_EQ(bce_with_logits_loss(Leaves(logits), labels).data(), 1e3);
  for (const double g : Gradients(bce_with_logits_loss, logits, labels)) EXPECT_TRUE(std::isfinite(g));
}

// ---- l2_penalty -----------------------------------------------------------------------------
TEST(L2Penalty, IsAlphaTimesSumOfSquaredParametersWithGradientTwoAlphaP) {
  scalargrad::nn::Neuron neuron(2, scalargrad::nn::Activation::linear());
  const std::vector<scalargrad::nn::Parameter*> params = neuron.parameters();  // w1, w2, b
  ASSERT_EQ(params.size(), 3u);
  params[0]->data = 0.5;
  params[1]->data = -2.0;
  params[2]->data = 3.0;
  // 1e-4 (0.25 + 4 + 9) = 1.325e-3; d/dp = 2e-4 p = 1e-4, -4e-4, 6e-4.
  const Value penalty = l2_penalty(neuron, 1e-4);
  EXPECT_DOUBLE_EQ(penalty.data(), 1.325e-3);
  penalty.backward();
  EXPECT_DOUBLE_EQ(params[0]->grad, 1e-4);
  EXPECT_DOUBLE_EQ(params[1]->grad, -4e-4);
  EXPECT_DOUBLE_EQ(params[2]->grad, 6e-4);
}

TEST(L2Penalty, MatchesSumOverEveryParameterOfAnMlp) {
  scalargrad::nn::MLP model(2, {4, 4, 1});
  double expected = 0.0;
  for (const scalargrad::nn::Parameter* p : std::as_const(model).parameters()) expected += p->data * p->data;
  EXPECT_NEAR(l2_penalty(model, 0.5).data(), 0.5 * expected, 1e-12);
}

// alpha * dot(ps, ps) over `params`, recorded from handles to their leaves (l2_penalty's form for
// a module that keeps no LeafBlock).
Value DotOfEveryParameter(const std::vector<const scalargrad::nn::Parameter*>& params, double alpha) {
  std::vector<Value> leaves;
  for (const scalargrad::nn::Parameter* p : params) leaves.push_back(p->value());
  return alpha * scalargrad::dot(leaves, leaves);
}

// After penalty.backward() from zeroed grads, each parameter's grad is 2 alpha p exactly: the
// dot adds alpha p twice, and 2 fl(alpha p) = fl(2 alpha p).
void ExpectTwoAlphaP(const scalargrad::nn::Module& model, double alpha) {
  std::size_t k = 0;
  for (const scalargrad::nn::Parameter* p : model.parameters()) {
    EXPECT_EQ(p->grad, 2.0 * alpha * p->data) << "parameter " << k;
    ++k;
  }
}

// Neuron, Layer and MLP keep a LeafBlock of their parameters for l2_penalty(): the node it
// records has the value of the dot over handles to the bit, and the same gradients.
TEST(L2Penalty, ThroughAModulesBlockGivesTheDotOfEveryParameterToTheBit) {
  using scalargrad::nn::Activation;
  const double alpha = 3e-4;
  scalargrad::nn::MLP mlp(3, {5, 4, 1}, Activation::prelu(), Activation::linear(), scalargrad::nn::Init::Uniform, 7);
  scalargrad::nn::Layer layer(4, 3, Activation::tanh(), scalargrad::nn::Init::Xavier, 8);
  scalargrad::nn::Neuron neuron(6, Activation::prelu(0.2), 9);
  for (scalargrad::nn::Module* model : std::vector<scalargrad::nn::Module*>{&mlp, &layer, &neuron}) {
    SCOPED_TRACE(model->repr());
    const Value expected = DotOfEveryParameter(std::as_const(*model).parameters(), alpha);
    model->zero_grad();
    for (int call = 0; call < 2; ++call) {  // the block made, then reused in the same graph
      const Value penalty = l2_penalty(*model, alpha);
      EXPECT_EQ(Bits(penalty.data()), Bits(expected.data()));
      EXPECT_EQ(penalty.op(), "*");
      model->zero_grad();
      penalty.backward();
      ExpectTwoAlphaP(*model, alpha);
    }
  }
}

// The block is the module's own: a copy, a moved-to module and one assigned another model
// penalise their own parameters, and the original's gradients stay untouched.
TEST(L2Penalty, CopiesMovesAndAssignmentsPenaliseTheirOwnParameters) {
  const double alpha = 0.5;
  scalargrad::nn::MLP original(2, {3, 1});
  (void)l2_penalty(original, alpha);  // makes its block
  original.zero_grad();

  scalargrad::nn::MLP copy = original;
  for (scalargrad::nn::Parameter* p : copy.parameters()) p->data *= 2.0;
  const Value copied = l2_penalty(copy, alpha);
  EXPECT_EQ(Bits(copied.data()), Bits(DotOfEveryParameter(std::as_const(copy).parameters(), alpha).data()));
  copied.backward();
  ExpectTwoAlphaP(copy, alpha);
  for (const scalargrad::nn::Parameter* p : std::as_const(original).parameters()) EXPECT_EQ(p->grad, 0.0);

  scalargrad::nn::MLP moved = std::move(copy);
  moved.zero_grad();
  const Value of_moved = l2_penalty(moved, alpha);
  EXPECT_EQ(Bits(of_moved.data()), Bits(DotOfEveryParameter(std::as_const(moved).parameters(), alpha).data()));
  of_moved.backward();
  ExpectTwoAlphaP(moved, alpha);

  scalargrad::nn::MLP assigned(2, {3, 1});
  (void)l2_penalty(assigned, alpha);  // makes its block, then gets other parameters
  assigned = scalargrad::nn::MLP(2, {4, 4, 1}, scalargrad::nn::Activation::relu(), scalargrad::nn::Activation::linear(),
                                 scalargrad::nn::Init::He, 3);
  assigned.zero_grad();
  const Value of_assigned = l2_penalty(assigned, alpha);
  EXPECT_EQ(Bits(of_assigned.data()), Bits(DotOfEveryParameter(std::as_const(assigned).parameters(), alpha).data()));
  of_assigned.backward();
  ExpectTwoAlphaP(assigned, alpha);
  for (const scalargrad::nn::Parameter* p : std::as_const(original).parameters()) EXPECT_EQ(p->grad, 0.0);
}

// A class derived from MLP may give other parameters over time (here: the first layer frozen,
// left out of parameters() after a first penalty): l2_penalty() follows its parameters(), as it
// does for any Module, and no block made on first use goes stale.
class FreezableMlp : public scalargrad::nn::MLP {
 public:
  using MLP::MLP;
  bool freeze_first = false;
  std::vector<scalargrad::nn::Parameter*> parameters() override {
    std::vector<scalargrad::nn::Parameter*> all = MLP::parameters();
    if (freeze_first) all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(layers().front().num_parameters()));
    return all;
  }
  using MLP::parameters;
};

TEST(L2Penalty, ADerivedModuleWhoseParametersChangeIsPenalisedOverItsCurrentOnes) {
  const double alpha = 0.5;
  FreezableMlp model(2, {3, 1});
  EXPECT_EQ(Bits(l2_penalty(model, alpha).data()),
            Bits(DotOfEveryParameter(std::as_const(model).parameters(), alpha).data()));
  model.freeze_first = true;
  for (scalargrad::nn::Parameter* p : model.MLP::parameters()) p->grad = 0.0;
  const Value penalty = l2_penalty(model, alpha);
  EXPECT_EQ(Bits(penalty.data()), Bits(DotOfEveryParameter(std::as_const(model).parameters(), alpha).data()));
  penalty.backward();
  ExpectTwoAlphaP(model, alpha);
  for (const scalargrad::nn::Neuron& n : model.layers().front().neurons()) {
    for (const scalargrad::nn::Parameter& w : n.weights()) EXPECT_EQ(w.grad, 0.0) << "a frozen weight";
  }
}

// A module of the user's own keeps no block: l2_penalty() copies a handle to each parameter.
class TwoParameters : public scalargrad::nn::Module {
 public:
  scalargrad::nn::Parameter a{1.5};
  scalargrad::nn::Parameter b{-0.25};
  std::vector<scalargrad::nn::Parameter*> parameters() override { return {&a, &b}; }
  using Module::parameters;
  std::string repr() const override { return "TwoParameters"; }
};

TEST(L2Penalty, AModuleThatKeepsNoBlockGetsTheSameNode) {
  TwoParameters model;
  const Value penalty = l2_penalty(model, 0.25);
  EXPECT_EQ(penalty.data(), 0.25 * (1.5 * 1.5 + 0.25 * 0.25));
  penalty.backward();
  EXPECT_EQ(model.a.grad, 0.75);
  EXPECT_EQ(model.b.grad, -0.125);
}

TEST(L2Penalty, RejectsNegativeOrNonFiniteAlpha) {
  const scalargrad::nn::Neuron neuron(2);
  EXPECT_THAT(ErrorMessage([&] { (void)l2_penalty(neuron, -1.0); }), HasSubstr("alpha must be >= 0 and finite, got -1"));
  EXPECT_THAT(ErrorMessage([&] { (void)l2_penalty(neuron, std::numeric_limits<double>::quiet_NaN()); }),
              HasSubstr("alpha"));
}

// ---- accuracy -------------------------------------------------------------------------------
TEST(Accuracy, CountsSignAgreementForPlusMinusOneLabels) {
  // scores (2, -0.5, 0.3, -1) vs labels (+1, +1, -1, -1): right, wrong, wrong, right.
  EXPECT_DOUBLE_EQ(accuracy(Leaves({2.0, -0.5, 0.3, -1.0}), std::vector<double>{1, 1, -1, -1}), 0.5);
}

TEST(Accuracy, CountsSignAgreementForZeroOneLabelsWithLogits) {
  EXPECT_DOUBLE_EQ(accuracy(Leaves({2.0, -0.5, 0.3, -1.0}), std::vector<double>{1, 1, 0, 0}), 0.5);
  EXPECT_DOUBLE_EQ(accuracy(Leaves({2.0, -0.5, -0.3}), std::vector<double>{1, 0, 0}), 1.0);
}

TEST(Accuracy, ScoreZeroCountsAsNegative) {
  EXPECT_DOUBLE_EQ(accuracy(Leaves({0.0}), std::vector<double>{-1.0}), 1.0);
  EXPECT_DOUBLE_EQ(accuracy(Leaves({0.0}), std::vector<double>{1.0}), 0.0);
}

// Regression: a NaN score compared as "not > 0", so a diverged model that scores NaN everywhere
// reported 50% on balanced labels.
TEST(Accuracy, ANaNScoreCountsAsWrongForEitherLabel) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_DOUBLE_EQ(accuracy(Leaves({nan, nan, nan, nan}), std::vector<double>{-1, -1, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(accuracy(Leaves({nan, nan}), std::vector<double>{0, 1}), 0.0);
  EXPECT_DOUBLE_EQ(accuracy(Leaves({nan, -2.0, 3.0}), std::vector<double>{-1, -1, 1}), 2.0 / 3.0);
}

TEST(Accuracy, ALabelOtherThanMinusOneZeroOrOneNamesIndexAndValue) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(ErrorMessage([&] { (void)accuracy(Leaves({1.0, 2.0}), std::vector<double>{1.0, nan}); }),
              Eq("scalargrad::nn: accuracy: label 1 is nan; labels must be -1 or 1 (with scores), or 0 or 1 "
                 "(with logits)"));
  EXPECT_THAT(ErrorMessage([&] { (void)accuracy(Leaves({1.0, 2.0}), std::vector<double>{2.0, 7.0}); }),
              HasSubstr("accuracy: label 0 is 2; labels must be"));
}

// ---- Misuse ---------------------------------------------------------------------------------
TEST(LossErrors, SizeMismatchNamesBothSizes) {
  const std::vector<Value> three = Leaves({1.0, 2.0, 3.0});
  const std::vector<double> two = {1.0, 1.0};
  EXPECT_THAT(ErrorMessage([&] { (void)hinge_loss(three, two); }), HasSubstr("got 3 scores and 2 labels"));
  EXPECT_THAT(ErrorMessage([&] { (void)mse_loss(three, two); }), HasSubstr("got 3 predictions and 2 labels"));
  EXPECT_THAT(ErrorMessage([&] { (void)bce_with_logits_loss(three, two); }), HasSubstr("got 3 logits and 2 labels"));
  EXPECT_THAT(ErrorMessage([&] { (void)accuracy(three, two); }), HasSubstr("got 3 scores and 2 labels"));
}

TEST(LossErrors, EmptyBatchIsAnError) {
  const std::vector<Value> none;
  const std::vector<double> no_labels;
  for (const Loss& loss : {Loss(hinge_loss), Loss(mse_loss), Loss(bce_with_logits_loss)}) {
    EXPECT_THAT(ErrorMessage([&] { (void)loss(none, no_labels); }), HasSubstr("and 0 labels"));
  }
  EXPECT_THAT(ErrorMessage([&] { (void)accuracy(none, no_labels); }), HasSubstr("got 0 scores and 0 labels"));
}

// Regression: a NaN target gave a NaN loss, and the next optimizer step put NaN in every weight.
TEST(LossErrors, MseTargetThatIsNotFiniteNamesIndexAndValue) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THAT(ErrorMessage([&] {
                (void)mse_loss(Leaves({1.0, 2.0}), std::vector<double>{0.5, std::numeric_limits<double>::quiet_NaN()});
              }),
              Eq("scalargrad::nn: mse_loss: target 1 is nan; targets must be finite"));
  EXPECT_THAT(ErrorMessage([&] { (void)mse_loss(Leaves({1.0}), std::vector<double>{-inf}); }),
              HasSubstr("mse_loss: target 0 is -inf"));
}

TEST(LossErrors, HingeLabelOtherThanPlusMinusOneNamesIndexAndValue) {
  EXPECT_THAT(ErrorMessage([] { (void)hinge_loss(Leaves({1.0, 2.0}), std::vector<double>{1.0, 0.0}); }),
              HasSubstr("hinge_loss: label 1 is 0; labels must be -1 or 1"));
}

TEST(LossErrors, BceLabelOtherThanZeroOneNamesIndexAndValue) {
  EXPECT_THAT(ErrorMessage([] { (void)bce_with_logits_loss(Leaves({1.0, 2.0, 3.0}), std::vector<double>{0, 1, -1}); }),
              HasSubstr("bce_with_logits_loss: label 2 is -1; labels must be 0 or 1"));
  EXPECT_THAT(ErrorMessage([] { (void)bce_with_logits_loss(Leaves({1.0}), std::vector<double>{0.5}); }),
              HasSubstr("label 0 is 0.5"));
}

}  // namespace
