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
using scalargrad::LeafBlock;
using scalargrad::testing_support::Bits;
using scalargrad::testing_support::ConsecutiveNodes;
using scalargrad::testing_support::LastOp;
using scalargrad::testing_support::RandomBlocks;
using scalargrad::testing_support::RandomLeaves;
using scalargrad::testing_support::WeightedSum;
using Op = scalargrad::detail::Op;

// The gradients of `nodes` then of `leaves` after root.backward(); the leaves' are zeroed once
// read, so that the next backward() starts from zero.
std::vector<double> GradientsAfterBackward(const Value& root, const std::vector<Value>& nodes,
                                           std::vector<Value>& leaves) {
  root.backward();
  std::vector<double> g;
  for (const Value& v : nodes) g.push_back(v.grad());
  for (Value& v : leaves) {
    g.push_back(v.grad());
    v.zero_grad();
  }
  return g;
}

// root.backward() gives every node and leaf the same bits as the memory-only sweep of anomaly
// mode gives; the leaves' gradients are left at zero.
void ExpectTheMemorySweepsGradients(const Value& root, const std::vector<Value>& nodes,
                                    std::vector<Value>& leaves) {
  const std::vector<double> carried = GradientsAfterBackward(root, nodes, leaves);
  std::vector<double> in_memory;
  {
    AnomalyGuard memory_only;
    in_memory = GradientsAfterBackward(root, nodes, leaves);
  }
  ASSERT_EQ(carried.size(), in_memory.size());
  for (std::size_t k = 0; k < carried.size(); ++k) {
    ASSERT_EQ(Bits(carried[k]), Bits(in_memory[k])) << "gradient " << k << " of " << carried.size();
  }
}

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
    SCOPED_TRACE(testing::Message() << "trial " << trial);
    ExpectTheMemorySweepsGradients(nodes.back(), nodes, leaves);
    if (testing::Test::HasFatalFailure()) return;
  }
}

// sum, dot, affine and pow(q, q) whose operands include the node just before, once or several
// times: n-ary ops add in memory, pow(q, q) adds both halves in memory; nothing is lost between
// them and the carried adds around them.
TEST(CarriedAdjoint, NaryOpsAndPowOnTheNodeJustBeforeGetEveryContribution) {
  std::vector<Value> leaves{Value(0.3), Value(-0.7)};
  const Value& x = leaves[0];
  const Value& w = leaves[1];
  const Value t = x.exp();
  const Value s = scalargrad::sum(std::vector<Value>{t, x, t});
  const Value d = scalargrad::dot(std::vector<Value>{s, w, s}, std::vector<Value>{s, s, x});
  const Value a = scalargrad::affine(std::vector<Value>{d, x}, std::vector<Value>{w, d}, d);
  const Value q = a.sigmoid();
  const Value r = scalargrad::pow(q, q);
  r.backward();
  // d(q^q)/dq = q^q (ln q + 1), both halves of the binary rule reaching q.
  EXPECT_NEAR(q.grad(), r.data() * (std::log(q.data()) + 1.0), 1e-15);
  // d(sum(t, x, t))/dt = 2 and d/dx = 1 (plus x's other uses).
  EXPECT_EQ(t.grad(), 2.0 * s.grad());
  for (Value& leaf : leaves) leaf.zero_grad();
  ExpectTheMemorySweepsGradients(r, {t, s, d, a, q, r}, leaves);
}

// A dot and an affine recorded as ranges (Note [Range dot]) whose last input is the node just
// before them, and a layer's rows: the same gradients as the memory sweep.
TEST(CarriedAdjoint, RangeNodesWhoseLastInputIsTheNodeJustBeforeAddInMemory) {
  std::mt19937_64 rng(7);
  std::vector<Value> inputs = RandomLeaves(5, rng);
  std::vector<std::vector<Value>> weights;
  const std::vector<LeafBlock> rows = RandomBlocks(3, 6, rng, weights);  // 5 weights and a bias each
  const std::vector<Value> x = ConsecutiveNodes(inputs);
  const Value single = scalargrad::affine(rows[0], x);
  ASSERT_EQ(LastOp(), Op::AffineRange);
  const std::vector<Value> layer = scalargrad::affine(rows, x);
  const Value h = single.tanh();  // carried into the affine node just before
  const Value root = WeightedSum(layer) * h;
  std::vector<Value> nodes(x);
  nodes.insert(nodes.end(), layer.begin(), layer.end());
  nodes.push_back(single);
  nodes.push_back(h);
  std::vector<Value> leaves(inputs);
  for (const auto& row : weights) leaves.insert(leaves.end(), row.begin(), row.end());
  ExpectTheMemorySweepsGradients(root, nodes, leaves);
}

// A graph continued after backward() closed its segment: the first node of the new segment is
// the import of the old node (ImportSegment), and the op just after it carries into it.
TEST(CarriedAdjoint, AGraphContinuedInANewSegmentCarriesIntoTheImportNode) {
  std::vector<Value> leaves{Value(0.6)};
  const Value& x = leaves[0];
  const Value t = x.exp();
  const Value u = t.tanh();
  u.backward();  // closes the segment
  leaves[0].zero_grad();
  const Value v = u.sigmoid();
  const Value y = v * v;
  y.backward();
  // dy/dx = 2v * v(1 - v) * (1 - u^2) * t, in the sweep's order of operations.
  const double gv = 0.0 + y.grad() * v.data() + y.grad() * v.data();
  const double gu = 0.0 + gv * (v.data() * (1.0 - v.data()));
  const double gt = 0.0 + gu * (1.0 - u.data() * u.data());
  EXPECT_EQ(Bits(v.grad()), Bits(gv));
  EXPECT_EQ(Bits(u.grad()), Bits(gu));
  EXPECT_EQ(Bits(t.grad()), Bits(gt));
  EXPECT_EQ(Bits(x.grad()), Bits(gt * t.data()));
  leaves[0].zero_grad();
  ExpectTheMemorySweepsGradients(y, {t, u, v, y}, leaves);
}

// Two graphs recorded interleaved in one segment, in runs in which each node uses the one just
// before. The first backward() sweeps the segment; the second, of the other graph, sweeps only
// its own nodes (a mask) and must carry as the unmasked sweep does, leaving the first graph's
// gradients as they were.
TEST(CarriedAdjoint, ASecondGraphInASweptSegmentGetsTheMemorySweepsGradients) {
  std::vector<Value> first_leaves{Value(0.2)};
  std::vector<Value> second_leaves{Value(-0.4)};
  std::vector<Value> first{first_leaves[0].exp()};
  std::vector<Value> second{second_leaves[0].exp()};
  for (int run = 0; run < 4; ++run) {
    for (int k = 0; k < 3; ++k) first.push_back((first.back() * 0.9).tanh());
    for (int k = 0; k < 3; ++k) second.push_back(second.back().sigmoid() * second.back());
  }
  first.back().backward();
  std::vector<double> first_grads;
  for (const Value& v : first) first_grads.push_back(v.grad());
  ExpectTheMemorySweepsGradients(second.back(), second, second_leaves);
  for (std::size_t k = 0; k < first.size(); ++k) {
    EXPECT_EQ(Bits(first[k].grad()), Bits(first_grads[k])) << "node " << k << " of the first graph";
  }
  EXPECT_NE(first_leaves[0].grad(), 0.0);
}

// Note [Zero runs] (tape.cpp): the sweep jumps over runs of nodes whose adjoints are zero, four
// at a time. Group k below is a chain of L nodes t = t * 1.5 from the leaf x, then t * m: with
// m = 0 (or -0) the chain's L nodes get a zero adjoint, a run of every length from 0 to 12 with
// the previous group's last node, which has an adjoint, just below it. Every value here is a
// small multiple of a power of 1.5 or 2, so the expected gradients are exact.
struct ChainGroup {
  std::vector<Value> chain;  // t * 1.5, (t * 1.5) * 1.5, ...
  double m = 0.0;
};

std::vector<ChainGroup> RecordZeroRunGroups(const Value& x, std::vector<Value>& outs) {
  std::vector<ChainGroup> groups;
  for (int length = 0; length <= 12; ++length) {
    for (const double m : {0.0, 2.0, -0.0, -0.5}) {
      ChainGroup group{{}, m};
      Value t = x;
      for (int j = 0; j < length; ++j) {
        t = t * 1.5;
        group.chain.push_back(t);
      }
      outs.push_back(t * m);
      groups.push_back(std::move(group));
    }
  }
  return groups;
}

// The gradients of each group's chain nodes, and the one x must have: node j of a chain of L
// has d(root)/d(node) = m * 1.5^(L - 1 - j), and x gets m * 1.5^L from each group.
void ExpectZeroRunGradients(const std::vector<ChainGroup>& groups, double x_grad) {
  double expected_x = 0.0;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const ChainGroup& group = groups[k];
    const std::size_t length = group.chain.size();
    for (std::size_t j = 0; j < length; ++j) {
      const double expected = group.m * std::pow(1.5, static_cast<double>(length - 1 - j));
      ASSERT_EQ(group.chain[j].grad(), expected) << "group " << k << " (m = " << group.m << ", chain of " << length
                                                 << "), node " << j;
    }
    expected_x += group.m * std::pow(1.5, static_cast<double>(length));
  }
  EXPECT_EQ(x_grad, expected_x);
}

TEST(ZeroRuns, RunsOfZeroAdjointsOfEveryLengthLeaveEveryOtherNodeItsGradient) {
  Value x(1.0);
  std::vector<Value> outs;
  const std::vector<ChainGroup> groups = RecordZeroRunGroups(x, outs);
  const Value root = scalargrad::sum(outs);
  root.backward();
  ExpectZeroRunGradients(groups, x.grad());
  for (const Value& out : outs) EXPECT_EQ(out.grad(), 1.0);
}

// In a segment swept before (a mask: only the second graph's nodes are swept), runs of zeros
// sit between the first graph's nodes, whose gradients are not zero and must stay as they were.
TEST(ZeroRuns, ASecondGraphInASweptSegmentSkipsOnlyZerosAndKeepsTheFirstGraphs) {
  Value x(1.0);
  Value y(0.75);
  std::vector<Value> first;
  std::vector<Value> outs;
  std::vector<ChainGroup> groups;
  for (int k = 0; k < 6; ++k) {  // the first graph's nodes between the second's groups
    first.push_back((first.empty() ? y : first.back()) * 1.25);
    std::vector<Value> some_outs;
    for (ChainGroup& group : RecordZeroRunGroups(x, some_outs)) groups.push_back(std::move(group));
    for (Value& out : some_outs) outs.push_back(std::move(out));
  }
  first.back().backward();
  std::vector<double> first_grads;
  for (const Value& v : first) first_grads.push_back(v.grad());
  const double y_grad = y.grad();
  EXPECT_NE(y_grad, 0.0);

  const Value root = scalargrad::sum(outs);
  root.backward();
  ExpectZeroRunGradients(groups, x.grad());
  for (std::size_t k = 0; k < first.size(); ++k) {
    EXPECT_EQ(Bits(first[k].grad()), Bits(first_grads[k])) << "node " << k << " of the first graph";
  }
  EXPECT_EQ(y.grad(), y_grad);
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

// Handles the engine makes, not the user's ops: operands(), topological_order() and a layer's
// rows. Each carries its node's value, so an op on it computes with that value.
TEST(CarriedValue, HandlesMadeByTheEngineComputeWithTheirNodesValues) {
  Value x = 0.8;
  const Value y = (x * 2.0).tanh() + x.exp();
  for (const Value& operand : y.operands()) {
    EXPECT_EQ(Bits((operand * 1.0).data()), Bits(operand.data())) << operand.label();
  }
  EXPECT_EQ(Bits((y.operands()[0] + y.operands()[1]).data()), Bits(y.data()));
  for (const Value& node : scalargrad::topological_order(y)) {
    EXPECT_EQ(Bits((node - 0.0).data()), Bits(node.data()));
  }
  std::mt19937_64 rng(3);
  std::vector<Value> inputs = RandomLeaves(4, rng);
  std::vector<std::vector<Value>> weights;
  const std::vector<LeafBlock> rows = RandomBlocks(3, 4, rng, weights);
  const std::vector<Value> layer = scalargrad::dot(rows, inputs);
  for (std::size_t j = 0; j < layer.size(); ++j) {
    const double expected = scalargrad::dot(weights[j], inputs).data();
    EXPECT_EQ(Bits(layer[j].data()), Bits(expected)) << "row " << j;
    EXPECT_EQ(Bits((layer[j] + 0.0).data()), Bits(expected)) << "row " << j;
  }
}

}  // namespace
