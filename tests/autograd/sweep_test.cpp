// The backward sweep keeps a contribution to the node just below in a register (Note [Carried
// adjoint] in tape.cpp), and ops read their operands' values from the handles (Note [Carried
// value] in value_impl.hpp). Both must give the same bits as adding and reading in memory: the
// sweep under AnomalyGuard adds every contribution in memory, so it is the reference here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <utility>
#include <vector>

#include "scalargrad/value.hpp"

#include "support/test_support.hpp"

namespace {

using scalargrad::AnomalyGuard;
using scalargrad::Value;
using scalargrad::testing_support::Bits;

// x * x with x the node just before: both halves reach x, in the order the memory sweep adds them.
TEST(CarriedAdjoint, ABinaryOpOnTheNodeJustBeforeTwiceGetsBothContributions) {
  Value x = 0.3;
  const Value t = x.exp();
  Value y = t * t;
  y.backward();
  EXPECT_EQ(Bits(t.grad()), Bits(t.data() + t.data()));
  EXPECT_EQ(Bits(x.grad()), Bits(t.grad() * t.data()));

  Value s = t + t;
  s.backward();
  EXPECT_EQ(t.grad(), 2.0);
  Value d = t - t;
  d.backward();
  EXPECT_EQ(Bits(t.grad()), Bits(0.0));  // 1 + (-1)
  Value q = t / t;
  q.backward();
  EXPECT_EQ(Bits(t.grad()), Bits(1.0 / t.data() + -(1.0 * q.data() / t.data())));
}

// t is used by the node just after it (tanh, carried) and by a later one (t * 2, added in memory
// first, since the sweep reaches it first): t's gradient is 2 + (1 - u^2), in that order.
TEST(CarriedAdjoint, ANodeUsedJustAfterAndLaterAddsTheLaterUseFirst) {
  Value x = 0.4;
  const Value t = x.exp();
  const Value u = t.tanh();
  const Value v = t * 2.0;
  Value w = u + v;
  w.backward();
  EXPECT_EQ(v.grad(), 1.0);
  EXPECT_EQ(u.grad(), 1.0);
  EXPECT_EQ(Bits(t.grad()), Bits(2.0 + (1.0 - u.data() * u.data())));
  EXPECT_EQ(Bits(x.grad()), Bits(t.grad() * t.data()));
}

// W2's chain: every intermediate gradient is stored (readable after backward()), equal to the
// hand-written reverse recurrence in the engine's order of operations, bit for bit.
TEST(CarriedAdjoint, EveryIntermediateGradientOfAChainIsStored) {
  constexpr int kSteps = 2000;
  Value a = 0.9;
  Value b = 0.1;
  Value y0 = 0.5;
  std::vector<Value> m;
  std::vector<Value> s;
  std::vector<Value> t{y0};
  for (int n = 0; n < kSteps; ++n) {
    m.push_back(a * t.back());
    s.push_back(m.back() + b);
    t.push_back(s.back().tanh());
  }
  t.back().backward();

  double g = 1.0;  // adjoint of t[n]
  double ga = 0.0;
  double gb = 0.0;
  for (int n = kSteps; n >= 1; --n) {
    const auto k = static_cast<std::size_t>(n);
    ASSERT_EQ(Bits(t[k].grad()), Bits(g)) << "tanh node of step " << n;
    const double y = t[k].data();
    const double gs = 0.0 + g * (1.0 - y * y);
    ASSERT_EQ(Bits(s[k - 1].grad()), Bits(gs)) << "+ node of step " << n;
    gb += gs;
    const double gm = 0.0 + gs;
    ASSERT_EQ(Bits(m[k - 1].grad()), Bits(gm)) << "* node of step " << n;
    ga += gm * t[k - 1].data();
    g = 0.0 + gm * a.data();
  }
  EXPECT_EQ(Bits(y0.grad()), Bits(g));
  EXPECT_EQ(Bits(a.grad()), Bits(ga));
  EXPECT_EQ(Bits(b.grad()), Bits(gb));
}

// A seeded random expression in which most ops take the node just before as an operand (often
// twice), with leaves and older nodes mixed in. All gradients, of the nodes and of the leaves,
// must have the same bits with the register-carried sweep as with the memory-only sweep of
// anomaly mode; and every op's value must be the same as when computed from data().
TEST(CarriedAdjoint, RandomChainsHaveTheGradientsOfTheMemoryOnlySweepBitForBit) {
  std::mt19937_64 rng(20261128);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<Value> leaves;
    for (int k = 0; k < 4; ++k) leaves.emplace_back(std::uniform_real_distribution<double>(-1.0, 1.0)(rng));
    std::vector<Value> nodes{leaves[0] * 0.5};
    std::vector<double> expected_values{leaves[0].data() * 0.5};
    std::uniform_int_distribution<int> pick_op(0, 9);
    for (int n = 0; n < 400; ++n) {
      const Value& prev = nodes.back();
      const Value& other = (rng() % 3 == 0) ? leaves[rng() % leaves.size()] : nodes[rng() % nodes.size()];
      const double p = prev.data();
      const double o = other.data();
      switch (pick_op(rng)) {
        case 0: nodes.push_back(prev * prev); expected_values.push_back(p * p); break;
        case 1: nodes.push_back(prev + prev); expected_values.push_back(p + p); break;
        case 2: nodes.push_back(prev - other); expected_values.push_back(p - o); break;
        case 3: nodes.push_back(other * prev); expected_values.push_back(o * p); break;
        case 4: nodes.push_back(prev / (other.abs() + 1.0)); expected_values.push_back(p / (std::fabs(o) + 1.0)); break;
        case 5: nodes.push_back(prev.tanh()); expected_values.push_back(std::tanh(p)); break;
        case 6: {
          const double sigmoid = p >= 0.0 ? 1.0 / (1.0 + std::exp(-p)) : std::exp(p) / (1.0 + std::exp(p));
          nodes.push_back(prev.sigmoid() * other);
          expected_values.push_back(sigmoid * o);
          break;
        }
        case 7: nodes.push_back(prev.relu() + 0.25); expected_values.push_back((p > 0.0 ? p : 0.0) + 0.25); break;
        case 8: nodes.push_back(1.0 - prev); expected_values.push_back(1.0 - p); break;
        default: nodes.push_back(prev * 0.9 + other); expected_values.push_back(p * 0.9 + o); break;
      }
      ASSERT_EQ(Bits(nodes.back().data()), Bits(expected_values.back())) << "trial " << trial << ", op " << n;
    }
    const auto gradients = [&] {
      std::vector<double> g;
      for (const Value& v : nodes) g.push_back(v.grad());
      for (Value& v : leaves) {
        g.push_back(v.grad());
        v.zero_grad();
      }
      return g;
    };
    nodes.back().backward();
    const std::vector<double> carried = gradients();
    {
      AnomalyGuard memory_only;
      nodes.back().backward();
    }
    const std::vector<double> in_memory = gradients();
    ASSERT_EQ(carried.size(), in_memory.size());
    for (std::size_t k = 0; k < carried.size(); ++k) {
      ASSERT_EQ(Bits(carried[k]), Bits(in_memory[k])) << "trial " << trial << ", gradient " << k;
    }
  }
}

// A node's handle carries its value: copies and moves of it, and ops on them, see that value.
TEST(CarriedValue, CopiesAndMovesOfANodeHandleComputeWithItsValue) {
  Value x = 1.5;
  const Value y = x * 3.0;
  Value copy = y;
  Value moved = std::move(copy);
  EXPECT_EQ((moved + 1.0).data(), 5.5);
  Value assigned = x;
  assigned = moved;
  EXPECT_EQ((assigned * assigned).data(), 20.25);
  assigned += 1.0;  // the handle moves to the new node, with its value
  EXPECT_EQ(assigned.data(), 5.5);
  EXPECT_EQ((assigned - y).data(), 1.0);
  // A leaf's data is read from the tape: a change shows in the next op.
  x.set_data(2.0);
  EXPECT_EQ((x * 3.0).data(), 6.0);
  EXPECT_EQ(y.data(), 4.5);
}

}  // namespace
