// The facts of the activation table (examples/activations.cpp, docs/activations.md), measured
// as the example measures them: f'(x) by backward() on a grid over [-6, 6] with step 0.01.
//
// References: the closed forms sigmoid' = s (1 - s) <= 1/4, tanh' = 1 - tanh^2 <= 1, relu' in
// {0, 1}, leaky_relu' in {slope, 1}; each maximum and where it is reached follows from them.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "scalargrad/nn/activation.hpp"
#include "scalargrad/value.hpp"

namespace {

using scalargrad::Value;
using scalargrad::nn::Activation;

struct Sample {
  double x, y, dy;
};

// f and f' at x = i / 100 for i = -600..600 (0 and +-5 exactly on the grid).
std::vector<Sample> OnGrid(const Activation& f) {
  std::vector<Sample> samples;
  for (int i = -600; i <= 600; ++i) {
    const Value x(i / 100.0);
    const Value y = f(x);
    y.backward();
    samples.push_back({x.data(), y.data(), x.grad()});
  }
  return samples;
}

const Sample& LargestDerivative(const std::vector<Sample>& samples) {
  const Sample* best = &samples.front();
  for (const Sample& s : samples) {
    if (s.dy > best->dy) best = &s;
  }
  return *best;
}

TEST(ActivationFacts, SigmoidDerivativeIsAtMostAQuarterReachedAtZero) {
  const std::vector<Sample> grid = OnGrid(Activation::sigmoid());
  const Sample& best = LargestDerivative(grid);
  EXPECT_EQ(best.x, 0.0);
  EXPECT_EQ(best.dy, 0.25);
  for (const Sample& s : grid) {
    EXPECT_GT(s.y, 0.0);  // a probability: strictly inside (0, 1)
    EXPECT_LT(s.y, 1.0);
  }
}

TEST(ActivationFacts, TanhDerivativeIsAtMostOneReachedAtZeroAndTanhIsZeroCentred) {
  const std::vector<Sample> grid = OnGrid(Activation::tanh());
  const Sample& best = LargestDerivative(grid);
  EXPECT_EQ(best.x, 0.0);
  EXPECT_EQ(best.dy, 1.0);
  for (std::size_t i = 0; i < grid.size(); ++i) {
    EXPECT_GT(grid[i].y, -1.0);
    EXPECT_LT(grid[i].y, 1.0);
    // Zero-centred: tanh is odd, tanh(-x) = -tanh(x).
    EXPECT_EQ(grid[i].y, -grid[grid.size() - 1 - i].y) << "x = " << grid[i].x;
  }
  // Saturation: far from 0 the derivative is tiny (1 - tanh(5)^2 = 1.8e-4).
  EXPECT_LT(grid[100].dy, 2e-4);
  EXPECT_LT(grid[1100].dy, 2e-4);
}

TEST(ActivationFacts, ReluDerivativeIsOneForEveryPositiveInputAndZeroOtherwise) {
  for (const Sample& s : OnGrid(Activation::relu())) {
    EXPECT_EQ(s.dy, s.x > 0.0 ? 1.0 : 0.0) << "x = " << s.x;  // relu'(0) = 0, as PyTorch
  }
}

TEST(ActivationFacts, LeakyReluDerivativeIsTheSlopeForNegativeInputs) {
  for (const double slope : {0.01, 0.001}) {
    for (const Sample& s : OnGrid(Activation::leaky_relu(slope))) {
      EXPECT_EQ(s.dy, s.x > 0.0 ? 1.0 : slope) << "slope " << slope << ", x = " << s.x;
      EXPECT_GT(s.dy, 0.0);  // never 0: a leaky neuron always passes some gradient
    }
  }
}

}  // namespace
