// relu_(xs) and the other activations in place over a span: the nodes, values and gradients of a
// loop of x = f(x), whatever the Values are (Note [In place over a span] in autograd/src/value.cpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <scalargrad/value.hpp>

#include "support/test_support.hpp"

using scalargrad::Value;
using scalargrad::testing_support::Bits;
using scalargrad::testing_support::ErrorMessage;
using scalargrad::testing_support::OnFreshTape;
using scalargrad::testing_support::WeightedSum;
using testing::HasSubstr;

namespace {

/// One activation: its in-place span form and its one-Value form.
struct InPlace {
  std::string name;  // as op() says
  std::function<void(std::span<Value>)> each;
  std::function<Value(const Value&)> one;
  double reference(double x) const;  // closed form, for an independent check
};

double InPlace::reference(double x) const {
  if (name == "relu") return x > 0 ? x : 0.0;
  if (name == "leaky_relu") return x > 0 ? x : 0.2 * x;
  if (name == "tanh") return std::tanh(x);
  if (name == "sigmoid") return 1.0 / (1.0 + std::exp(-x));
  if (name == "elu") return x > 0 ? x : 0.5 * std::expm1(x);
  if (name == "gelu") return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  if (name == "silu") return x / (1.0 + std::exp(-x));
  return std::log1p(std::exp(x));  // softplus
}

std::vector<InPlace> AllInPlace() {
  return {
      {"relu", [](std::span<Value> xs) { relu_(xs); }, [](const Value& x) { return relu(x); }},
      {"leaky_relu", [](std::span<Value> xs) { leaky_relu_(xs, 0.2); }, [](const Value& x) { return leaky_relu(x, 0.2); }},
      {"tanh", [](std::span<Value> xs) { tanh_(xs); }, [](const Value& x) { return tanh(x); }},
      {"sigmoid", [](std::span<Value> xs) { sigmoid_(xs); }, [](const Value& x) { return sigmoid(x); }},
      {"elu", [](std::span<Value> xs) { elu_(xs, 0.5); }, [](const Value& x) { return elu(x, 0.5); }},
      {"gelu", [](std::span<Value> xs) { gelu_(xs); }, [](const Value& x) { return gelu(x); }},
      {"silu", [](std::span<Value> xs) { silu_(xs); }, [](const Value& x) { return silu(x); }},
      {"softplus", [](std::span<Value> xs) { softplus_(xs); }, [](const Value& x) { return softplus(x); }},
  };
}

/// Points on both sides of every kink, and zeros of both signs.
const std::vector<double> kPoints = {-3.0, -0.5, -0.0, 0.0, 1e-3, 0.7, 2.5, -40.0, 40.0};

}  // namespace

TEST(InPlace, GivesTheValuesAndGradientsOfALoopToTheBit) {
  for (const InPlace& f : AllInPlace()) {
    // Inputs of every kind: nodes of the open segment, a leaf, a node used twice.
    std::vector<Value> leaves(kPoints.begin(), kPoints.end());
    std::vector<Value> xs;
    for (std::size_t i = 0; i < leaves.size(); ++i) xs.push_back(i == 4 ? leaves[i] : leaves[i] * 1.0);
    xs.push_back(xs[1]);
    std::vector<Value> in_place = xs;
    f.each(in_place);
    std::vector<Value> loop = xs;
    for (Value& x : loop) x = f.one(x);
    ASSERT_EQ(in_place.size(), loop.size());
    for (std::size_t i = 0; i < loop.size(); ++i) {
      const double x = xs[i].data();
      EXPECT_EQ(Bits(in_place[i].data()), Bits(loop[i].data())) << f.name << " at " << x;
      EXPECT_NEAR(in_place[i].data(), f.reference(x), 1e-15 * (1.0 + std::abs(x))) << f.name << " at " << x;
      EXPECT_EQ(in_place[i].op(), f.name);
      ASSERT_EQ(in_place[i].operands().size(), 1u);
      EXPECT_EQ(Bits(in_place[i].operands()[0].data()), Bits(x));
    }
    WeightedSum(in_place).backward();
    std::vector<double> g;
    for (Value& leaf : leaves) g.push_back(leaf.grad()), leaf.zero_grad();
    WeightedSum(loop).backward();
    for (std::size_t i = 0; i < leaves.size(); ++i) EXPECT_EQ(Bits(leaves[i].grad()), Bits(g[i])) << f.name << " " << i;
  }
}

TEST(InPlace, DefaultSlopeAndAlphaAreTheOnesOfTheOneValueForms) {
  std::vector<Value> xs = {Value(-2.0) * 1.0, Value(-2.0) * 1.0};
  leaky_relu_(std::span(xs).first(1));
  elu_(std::span(xs).subspan(1));
  EXPECT_EQ(xs[0].data(), leaky_relu(Value(-2.0)).data());
  EXPECT_EQ(xs[0].data(), -0.02);
  EXPECT_EQ(xs[1].data(), elu(Value(-2.0)).data());
}

TEST(InPlace, ANodeRunStaysARunAndTheHandlesAreCountedOnce) {
  // White box: the new nodes follow one another at the end of the open segment, and once every
  // Value is gone the tape holds nothing (no handle counted twice or lost).
  OnFreshTape([] {
    {
      std::vector<Value> xs;
      for (int i = 0; i < 16; ++i) xs.push_back(Value(i - 8.0) * 0.5);
      const std::uint32_t before = scalargrad::detail::tls_tape->open->size;
      relu_(xs);
      const scalargrad::detail::Segment& s = *scalargrad::detail::tls_tape->open;
      ASSERT_EQ(s.size, before + 16);
      for (std::uint32_t k = 0; k < 16; ++k) EXPECT_EQ(s.nodes.op[before + k], scalargrad::detail::Op::Relu) << k;
      const Value total = scalargrad::sum(xs);
      total.backward();
      EXPECT_EQ(total.data(), 0.5 * (1 + 2 + 3 + 4 + 5 + 6 + 7));
      EXPECT_GT(scalargrad::tape_stats().nodes, 0u);
    }
    EXPECT_EQ(scalargrad::tape_stats().nodes, 0u);
  });
}

TEST(InPlace, MoreThanAChunkGivesTheLoopsValues) {
  // 10,000 nodes: several chunks of room.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(-3.0, 3.0);
  std::vector<Value> xs;
  for (int i = 0; i < 10000; ++i) xs.push_back(Value(uniform(rng)) * 1.0);
  std::vector<Value> loop = xs;
  tanh_(xs);
  for (Value& x : loop) x = tanh(x);
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(Bits(xs[i].data()), Bits(loop[i].data())) << i;
  ASSERT_EQ(xs[9999].op(), "tanh");
}

TEST(InPlace, WhereASegmentFillsUpItRecordsTheLoopsNodes) {
  // The open segment filled to 3,000 nodes below its largest size, then 1,400 inputs (2,800
  // nodes: each leaf's import and its product): 200 in-place nodes fit, the other 1,200 go to a
  // new segment, which imports each of their inputs from the full one. The same on two fresh
  // tapes, in place and as a loop: the same nodes, values and gradients, to the bit.
  struct Run {
    std::size_t nodes = 0;
    std::size_t segments = 0;
    std::vector<double> values;
    std::vector<double> grads;
  };
  const auto run = [](bool in_place) {
    Run r;
    OnFreshTape([&] {
      std::mt19937_64 rng(8);
      std::uniform_real_distribution<double> uniform(-3.0, 3.0);
      Value filler = 0.0;
      while (scalargrad::detail::tls_tape->open->size < scalargrad::detail::kMaxSegmentCapacity - 3000) {
        filler = filler + 1.0;
      }
      std::vector<Value> leaves;
      std::vector<Value> xs;
      for (int i = 0; i < 1400; ++i) {
        leaves.emplace_back(uniform(rng));
        xs.push_back(leaves.back() * 1.0);
      }
      const std::size_t before = scalargrad::tape_stats().nodes;
      if (in_place) {
        silu_(xs);
      } else {
        for (Value& x : xs) x = silu(x);
      }
      r.nodes = scalargrad::tape_stats().nodes - before;
      r.segments = scalargrad::tape_stats().segments;
      for (const Value& x : xs) r.values.push_back(x.data());
      scalargrad::sum(xs).backward();
      for (const Value& leaf : leaves) r.grads.push_back(leaf.grad());
    });
    return r;
  };
  const Run in_place = run(true);
  const Run loop = run(false);
  EXPECT_EQ(in_place.segments, 2u);
  EXPECT_EQ(in_place.nodes, loop.nodes) << "200 in the full segment, then 1,200 imports and 1,200 silu";
  EXPECT_EQ(loop.nodes, 200u + 2 * 1200u);
  ASSERT_EQ(in_place.values.size(), loop.values.size());
  for (std::size_t i = 0; i < loop.values.size(); ++i) {
    ASSERT_EQ(Bits(in_place.values[i]), Bits(loop.values[i])) << i;
    ASSERT_EQ(Bits(in_place.grads[i]), Bits(loop.grads[i])) << i;
  }
}

TEST(InPlace, UnderNoGradGuardGivesConstantsAndUnderAnomalyGuardNamesTheOp) {
  std::vector<Value> xs = {Value(1.0) * 2.0, Value(-1.0) * 2.0};
  {
    scalargrad::NoGradGuard no_grad;
    std::vector<Value> constants = xs;
    relu_(constants);
    EXPECT_TRUE(constants[0].is_leaf());
    EXPECT_EQ(constants[0].data(), 2.0);
    EXPECT_EQ(constants[1].data(), 0.0);
  }
  std::vector<Value> nan = {Value(std::numeric_limits<double>::quiet_NaN()) * 1.0};
  scalargrad::AnomalyGuard anomaly;
  try {
    sigmoid_(nan);
    FAIL() << "a NaN under AnomalyGuard did not throw";
  } catch (const scalargrad::AnomalyError& e) {
    EXPECT_THAT(e.what(), HasSubstr("sigmoid"));
  }
}

TEST(InPlace, AMovedFromValueThrowsAfterTheOnesBeforeItAreReplaced) {
  std::vector<Value> xs = {Value(-1.0) * 1.0, Value(2.0) * 1.0, Value(-3.0) * 1.0};
  const Value taken = std::move(xs[1]);
  const std::string message = ErrorMessage([&] { relu_(xs); });
  EXPECT_THAT(message, HasSubstr("this Value was moved from and holds nothing"));
  EXPECT_EQ(xs[0].op(), "relu");
  EXPECT_EQ(xs[0].data(), 0.0);
  EXPECT_EQ(xs[2].op(), "*");  // as it was
  EXPECT_EQ(xs[2].data(), -3.0);
  EXPECT_EQ(taken.data(), 2.0);
}

TEST(InPlace, AValueOfAnotherThreadThrowsAndTheNextCallWorks) {
  std::vector<Value> foreign;
  std::thread other([&] { foreign.emplace_back(1.0); });
  other.join();
  EXPECT_THAT(ErrorMessage([&] { relu_(foreign); }), HasSubstr("used on a thread other than the one that recorded it"));
  std::vector<Value> mine = {Value(-1.0) * 1.0};
  relu_(mine);
  EXPECT_EQ(mine[0].data(), 0.0);
}

TEST(InPlace, AnEmptySpanDoesNothing) {
  std::vector<Value> none;
  relu_(none);
  softplus_(none);
  EXPECT_TRUE(none.empty());
}
