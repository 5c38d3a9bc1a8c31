// Deep graphs: the tape is flat arrays, so recording, backward(), topological_order() and teardown
// use no recursion, and a chain of ten million ops neither overflows the stack nor loses accuracy.
// (STYLE.md: "recursive topological sorts and destructors that overflow the stack on deep graphs".)
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <exception>
#include <functional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "scalargrad/value.hpp"

#include "support/test_support.hpp"

namespace {

using scalargrad::testing_support::OnFreshTape;

using scalargrad::TapeStats;
using scalargrad::Value;
using scalargrad::tape_stats;

// y_0 = x; y_{k+1} = a y_k + x, two ops (a multiplication by a constant, an addition) per step.
// Closed form: y_n = a^n x + x (1 - a^n) / (1 - a), so dy_n/dx = a^n + (1 - a^n) / (1 - a).
// 5,000,000 steps are 10,000,000 ops (ten segments). Under AddressSanitizer the chain runs in
// about 10 s (of which most is recording), well inside a minute, so it is not shortened there.
constexpr int kSteps = 5'000'000;
constexpr double kA = 0.9999999;

TEST(DeepGraph, TenMillionOpChainBackpropagatesToTheClosedFormAndTearsDown) {
  OnFreshTape([] {
    const double xd = 0.75;
    {
      Value x = xd;
      Value y = x;
      for (int k = 0; k < kSteps; ++k) y = y * kA + x;
      const TapeStats live = tape_stats();
      EXPECT_GE(live.nodes, std::size_t{2} * kSteps);  // every op recorded
      EXPECT_GE(live.segments, 9u);                    // over many segments

      const double an = std::pow(kA, kSteps);
      const double dydx = an + (1.0 - an) / (1.0 - kA);  // ~3.9e6
      // Accumulated rounding: ~kSteps ulps at most, ~1e-9 relative.
      EXPECT_NEAR(y.data(), xd * dydx, 1e-7 * xd * dydx);
      y.backward();
      EXPECT_NEAR(x.grad(), dydx, 1e-7 * dydx);
      EXPECT_EQ(y.grad(), 1.0);
    }  // teardown of the whole chain: no recursion, no crash
    const TapeStats after = tape_stats();
    EXPECT_EQ(after.nodes, 0u);
    EXPECT_LE(after.segments, 1u);
    EXPECT_EQ(after.leaves, 0u);
  });
}

TEST(DeepGraph, TenMillionOpChainTearsDownWithoutBackward) {
  OnFreshTape([] {
    {
      Value x = 0.5;
      Value y = x;
      for (int k = 0; k < kSteps; ++k) y = (y + x) * 0.5;
      EXPECT_DOUBLE_EQ(y.data(), 0.5);
    }
    EXPECT_EQ(tape_stats().nodes, 0u);
  });
}

// A chain of 1,000,000 ops alternating y - x (x = -1, so +1) and y + 0.5: every node's data is
// distinct (and exact), so data() identifies a node in the order.
TEST(DeepGraph, TopologicalOrderOfAMillionNodeChainPutsOperandsFirstAndRootLast) {
  OnFreshTape([] {
    constexpr int kOps = 1'000'000;
    Value x = -1.0;
    Value y = x * -2.0;  // 2
    for (int k = 1; k < kOps; ++k) y = (k % 2 == 1) ? y - x : y + 0.5;
    const std::vector<Value> order = topological_order(y);
    ASSERT_EQ(order.size(), std::size_t{kOps} + 1);  // every op, and the leaf x once
    EXPECT_TRUE(order.front().is_leaf());
    EXPECT_EQ(order.front().data(), -1.0);
    EXPECT_EQ(order.back().data(), y.data());
    EXPECT_EQ(order.back().op(), y.op());

    std::unordered_map<double, std::size_t> position;  // data -> index in order
    position.reserve(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      ASSERT_TRUE(position.emplace(order[i].data(), i).second) << "node listed twice: " << order[i].data();
    }
    for (std::size_t i = 0; i < order.size(); ++i) {
      for (const Value& operand : order[i].operands()) {
        ASSERT_LT(position.at(operand.data()), i) << "operand after its user at " << i;
      }
    }
  });
}

TEST(DeepGraph, BackwardThroughAMillionTanhChainMatchesTheForwardRecurrence) {
  // y_{k+1} = tanh(y_k) + 0.5; dy_{k+1}/dy_k = 1 - tanh^2(y_k): the product, computed in doubles
  // from the forward values in reverse, is the reference (an independent reimplementation).
  constexpr int kOps = 500'000;
  Value x = 0.3;
  Value y = x;
  std::vector<double> forward;
  forward.reserve(kOps);
  double yd = 0.3;
  for (int k = 0; k < kOps; ++k) {
    forward.push_back(yd);
    y = y.tanh() + 0.5;
    yd = std::tanh(yd) + 0.5;
  }
  EXPECT_EQ(y.data(), yd);
  y.backward();
  double g = 1.0;
  for (int k = kOps; k-- > 0;) {
    const double t = std::tanh(forward[k]);
    g *= 1.0 - t * t;
  }
  EXPECT_EQ(x.grad(), g);
}

}  // namespace
