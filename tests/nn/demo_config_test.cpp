// The configuration of examples/demo.cpp (micrograd's demo.ipynb), re-stated with the public
// API: it reaches 100% training accuracy within 100 steps, its loss falls, two runs with the
// same seeds are bit-identical, and so are its scores as one batch and point by point. (The demo program itself is run by the examples.demo_* tests.)
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <scalargrad/scalargrad.hpp>

namespace {

namespace nn = scalargrad::nn;
using scalargrad::Value;

/// What one training run went through.
struct TrainingRun {
  std::vector<double> losses;      // at each step, before its update
  std::vector<double> accuracies;  // idem
  double final_loss = 0.0;         // after the last update
  double final_accuracy = 0.0;
  std::vector<double> weights;  // after the last update
};

/// The demo's defaults: 100 two-moons points (noise 0.1, seed 1, labels -1/+1); MLP 2-16-16-1,
/// ReLU hidden, linear output, micrograd's uniform(-1, 1) init with seed 1; loss = hinge +
/// 1e-4 * L2; full-batch SGD with micrograd's learning rate 1.0 - 0.9 k / steps. The scores as
/// the demo takes them, with MLP::scores() (one batch), or else with a loop of MLP::score().
TrainingRun train_demo_configuration(std::size_t steps = 100, bool batch = true) {
  const nn::Dataset data = nn::make_moons(100, 0.1, 1);
  nn::MLP model(2, {16, 16, 1}, nn::Activation::relu(), nn::Activation::linear(), nn::Init::Uniform, 1);
  nn::SGD optimizer(model.parameters(), 1.0);

  const auto scores_of = [&] {
    if (batch) return model.scores(data.inputs);
    std::vector<Value> scores;
    for (const std::vector<double>& x : data.inputs) scores.push_back(model.score(x));
    return scores;
  };
  TrainingRun run;
  for (std::size_t k = 0; k < steps; ++k) {
    const std::vector<Value> scores = scores_of();
    const Value loss = nn::hinge_loss(scores, data.labels) + nn::l2_penalty(model, 1e-4);
    run.losses.push_back(loss.data());
    run.accuracies.push_back(nn::accuracy(scores, data.labels));
    model.zero_grad();
    loss.backward();
    optimizer.set_learning_rate(nn::linear_decay(k, steps));
    optimizer.step();
  }
  const scalargrad::NoGradGuard no_grad;
  const std::vector<Value> scores = scores_of();
  run.final_loss = (nn::hinge_loss(scores, data.labels) + nn::l2_penalty(model, 1e-4)).data();
  run.final_accuracy = nn::accuracy(scores, data.labels);
  for (const nn::Parameter* p : std::as_const(model).parameters()) run.weights.push_back(p->data);
  return run;
}

std::vector<std::uint64_t> bits(const std::vector<double>& xs) {
  std::vector<std::uint64_t> out;
  for (const double x : xs) out.push_back(std::bit_cast<std::uint64_t>(x));
  return out;
}

TEST(DemoConfiguration, ReachesFullTrainingAccuracyWithin100Steps) {
  const TrainingRun run = train_demo_configuration();
  EXPECT_EQ(run.final_accuracy, 1.0);
  // And it gets there during training, not only at the very end.
  std::size_t first = run.accuracies.size();
  for (std::size_t k = 0; k < run.accuracies.size(); ++k) {
    if (run.accuracies[k] == 1.0) {
      first = k;
      break;
    }
  }
  EXPECT_LT(first, 100u) << "100% training accuracy is never reached during the 100 steps";
}

TEST(DemoConfiguration, LossDecreases) {
  const TrainingRun run = train_demo_configuration();
  ASSERT_EQ(run.losses.size(), 100u);
  double first_ten = 0.0, last_ten = 0.0;
  for (std::size_t k = 0; k < 10; ++k) {
    first_ten += run.losses[k];
    last_ten += run.losses[90 + k];
  }
  EXPECT_LT(last_ten, 0.25 * first_ten);
  EXPECT_LT(run.final_loss, 0.25 * run.losses.front());
  EXPECT_LT(run.final_loss, 0.05);  // the margin is met almost everywhere
}

TEST(DemoConfiguration, TrainingIsBitIdenticalAcrossRuns) {
  const TrainingRun a = train_demo_configuration();
  const TrainingRun b = train_demo_configuration();
  EXPECT_EQ(bits(a.losses), bits(b.losses));
  EXPECT_EQ(bits(a.weights), bits(b.weights));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.final_loss), std::bit_cast<std::uint64_t>(b.final_loss));
}

TEST(DemoConfiguration, ScoresAsOneBatchTrainExactlyAsALoopOfScore) {
  // MLP::scores() records the nodes layer by layer for all 100 points (one chunk, one segment):
  // the same values and gradients, so 100 steps later the same weights, to the bit.
  const TrainingRun batch = train_demo_configuration(100, true);
  const TrainingRun loop = train_demo_configuration(100, false);
  EXPECT_EQ(bits(batch.losses), bits(loop.losses));
  EXPECT_EQ(bits(batch.accuracies), bits(loop.accuracies));
  EXPECT_EQ(bits(batch.weights), bits(loop.weights));
  EXPECT_EQ(batch.weights.size(), 337u);
}

}  // namespace
