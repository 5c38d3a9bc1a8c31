// affine(w, x, b) = w . x + b as one node: its value, its partials, its errors and modes, and its
// LeafBlock forms (one block, a layer's rows, the range node of Note [Range dot]).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <scalargrad/value.hpp>

#include "support/test_support.hpp"

using scalargrad::Error;
using scalargrad::LeafBlock;
using scalargrad::Value;
using scalargrad::detail::Op;
using scalargrad::testing_support::Bits;
using scalargrad::testing_support::ConsecutiveNodes;
using scalargrad::testing_support::ErrorMessage;
using scalargrad::testing_support::LastOp;
using scalargrad::testing_support::ListSize;
using scalargrad::testing_support::OnFreshTape;
using scalargrad::testing_support::Owner;
using scalargrad::testing_support::RandomBlocks;
using scalargrad::testing_support::RandomLeaves;
using scalargrad::testing_support::WeightedSum;
using testing::HasSubstr;

namespace {

/// `w` then `b`, as a neuron's LeafBlock holds them.
std::vector<Value> WeightsThenBias(const std::vector<Value>& w, const Value& b) {
  std::vector<Value> leaves = w;
  leaves.push_back(b);
  return leaves;
}

/// The data of each of `values`.
std::vector<double> Data(std::span<const Value> values) {
  std::vector<double> data;
  for (const Value& v : values) data.push_back(v.data());
  return data;
}

}  // namespace

// ---- 1. The span form ---------------------------------------------------------------------------

TEST(AffineOp, GivesDotPlusBiasToTheBitAndEachOperandItsPartial) {
  std::mt19937_64 rng(31);
  for (const std::size_t n : {1u, 2u, 3u, 16u, 100u}) {
    const std::vector<Value> w = RandomLeaves(n, rng);
    const std::vector<Value> x = RandomLeaves(n, rng);
    const Value b = RandomLeaves(1, rng).front();

    const Value y = scalargrad::affine(w, x, b);
    EXPECT_EQ(Bits(y.data()), Bits((scalargrad::dot(w, x) + b).data())) << "n = " << n;
    EXPECT_EQ(y.op(), "affine");
    // Operands: the weights, the inputs, then the bias.
    const std::vector<Value> operands = y.operands();
    ASSERT_EQ(operands.size(), 2 * n + 1);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(Bits(operands[i].data()), Bits(w[i].data())) << i;
      EXPECT_EQ(Bits(operands[n + i].data()), Bits(x[i].data())) << i;
    }
    EXPECT_EQ(Bits(operands[2 * n].data()), Bits(b.data()));

    // d/dw_i = x_i, d/dx_i = w_i, d/db = 1.
    y.backward();
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(w[i].grad(), x[i].data()) << i;
      EXPECT_EQ(x[i].grad(), w[i].data()) << i;
    }
    EXPECT_EQ(b.grad(), 1.0);
  }
}

TEST(AffineOp, PartialsMatchCentralFiniteDifferencesThroughATanh) {
  // f = tanh(w . x + b) at random points: each partial against (f(p + h) - f(p - h)) / 2h.
  std::mt19937_64 rng(32);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> p(7);  // w0 w1 w2 x0 x1 x2 b
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    for (double& v : p) v = uniform(rng);
    const auto f = [](const std::vector<double>& q) {
      return std::tanh(q[0] * q[3] + q[1] * q[4] + q[2] * q[5] + q[6]);
    };
    std::vector<Value> leaves(p.begin(), p.end());
    const std::span<const Value> all(leaves);
    const Value y = scalargrad::affine(all.subspan(0, 3), all.subspan(3, 3), leaves[6]).tanh();
    y.backward();
    EXPECT_NEAR(y.data(), f(p), 1e-15);
    for (std::size_t k = 0; k < p.size(); ++k) {
      constexpr double kH = 1e-6;
      std::vector<double> up = p;
      std::vector<double> down = p;
      up[k] += kH;
      down[k] -= kH;
      EXPECT_NEAR(leaves[k].grad(), (f(up) - f(down)) / (2 * kH), 1e-9) << "trial " << trial << ", operand " << k;
    }
  }
}

TEST(AffineOp, ARepeatedOperandAccumulatesEveryPartial) {
  // affine({x, x}, {x, y}, x) = x^2 + xy + x: d/dx = 2x + y + 1, d/dy = x.
  Value x = 3.0;
  Value y = -0.5;
  const std::vector<Value> w = {x, x};
  const std::vector<Value> in = {x, y};
  const Value a = scalargrad::affine(w, in, x);
  a.backward();
  EXPECT_EQ(a.data(), 9.0 - 1.5 + 3.0);
  EXPECT_EQ(x.grad(), 6.0 - 0.5 + 1.0);
  EXPECT_EQ(y.grad(), 3.0);
}

TEST(AffineOp, NoWeightsGiveANodeHoldingTheBias) {
  Value b = 2.5;
  const Value a = scalargrad::affine({}, {}, b);
  EXPECT_EQ(a.data(), 2.5);
  EXPECT_EQ(a.op(), "affine");
  a.backward();
  EXPECT_EQ(b.grad(), 1.0);
}

TEST(AffineOp, MismatchedLengthsThrowErrorNamingBothLengths) {
  const std::vector<Value> w(17, Value(1.0));
  const std::vector<Value> x(4242, Value(2.0));
  const std::size_t nodes = scalargrad::tape_stats().nodes;
  EXPECT_EQ(ErrorMessage([&] { (void)scalargrad::affine(w, x, Value(1.0)); }),
            "scalargrad: affine() needs as many weights as inputs, got 17 and 4242");
  EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);
}

TEST(AffineOp, AMovedFromBiasThrowsSayingSo) {
  Value b = 1.0;
  const Value moved = std::move(b);
  const std::vector<Value> w = {1.0};
  const std::vector<Value> x = {2.0};
  // NOLINTNEXTLINE(bugprone-use-after-move): the misuse under test
  EXPECT_THAT(ErrorMessage([&] { (void)scalargrad::affine(w, x, b); }), HasSubstr("this Value was moved from"));
  EXPECT_EQ(scalargrad::affine(w, x, moved).data(), 3.0);
}

TEST(AffineOp, MoreOperandsThanOneNodeHoldsGiveTheExactValueAndPartials) {
  // 70,000 pairs: partial dot nodes, their sum, then the bias.
  std::vector<Value> w;
  std::vector<Value> x;
  for (int i = 0; i < 70000; ++i) {
    w.emplace_back(static_cast<double>(i % 7));
    x.emplace_back(i % 2 == 0 ? 1.0 : -2.0);
  }
  Value b = 0.5;
  const Value a = scalargrad::affine(w, x, b);
  a.backward();
  double expected = 0.0;
  for (int i = 0; i < 70000; ++i) expected += (i % 7) * (i % 2 == 0 ? 1.0 : -2.0);  // integers: exact
  EXPECT_EQ(a.data(), expected + 0.5);
  EXPECT_EQ(w[69999].grad(), -2.0);
  EXPECT_EQ(x[69999].grad(), 69999 % 7);
  EXPECT_EQ(b.grad(), 1.0);
}

TEST(AffineOp, UnderNoGradGuardGivesAConstant) {
  const std::vector<Value> w = {2.0, 3.0};
  const std::vector<Value> x = {4.0, 5.0};
  const Value b = 0.5;
  scalargrad::NoGradGuard no_grad;
  const Value a = scalargrad::affine(w, x, b);
  EXPECT_EQ(a.data(), 23.5);
  EXPECT_TRUE(a.is_leaf());
}

TEST(AffineOp, UnderAnomalyGuardNamesTheAffineNodeThatOverflows) {
  const std::vector<Value> w = {1e308, 1.0};
  const std::vector<Value> x = {10.0, 1.0};
  scalargrad::AnomalyGuard anomaly;
  try {
    (void)scalargrad::affine(w, x, Value(2.0));
    FAIL() << "an infinite affine node did not throw under AnomalyGuard";
  } catch (const scalargrad::AnomalyError& e) {
    EXPECT_THAT(e.what(), HasSubstr("affine"));
  }
}

// Recorded without the guard, so in its range form (the weights and bias one run of nodes, the
// input one node), then checked by a backward() under it: the checked sweep names the node.
TEST(AffineOp, UnderAnomalyGuardBackwardNamesTheRangeNodeWhoseGradientIsNotFinite) {
  OnFreshTape([] {
    const LeafBlock wb({1e308, 0.5});  // w = 1e308, b = 0.5
    const Value leaf = 1e-300;
    std::vector<Value> x = {leaf * 1.0};  // w * x = 1e8 is finite, d/dx = w * g is not
    x[0].label("x");
    const Value z = scalargrad::affine(wb, x);
    ASSERT_EQ(LastOp(), Op::AffineRange);
    const Value y = z * 1e10;
    EXPECT_DOUBLE_EQ(y.data(), (1e8 + 0.5) * 1e10);
    const scalargrad::AnomalyGuard anomaly;
    try {
      y.backward();
      FAIL() << "an infinite gradient through an affine node did not throw under AnomalyGuard";
    } catch (const scalargrad::AnomalyError& e) {
      EXPECT_EQ(e.op(), "affine");
      EXPECT_THAT(e.what(), HasSubstr("scalargrad: anomaly: backward through affine (value "));
      EXPECT_THAT(e.what(), HasSubstr("made the gradient of its operand 1e-300 (label 'x') inf"));
    }
  });
}

// ---- 2. One LeafBlock: the weights then the bias ------------------------------------------------

TEST(LeafBlockAffine, GivesTheSpanFormsNodeToTheBitWithTheSameGradients) {
  std::mt19937_64 rng(33);
  for (const std::size_t n : {1u, 2u, 3u, 16u, 100u}) {
    std::vector<Value> w = RandomLeaves(n, rng);
    Value b = RandomLeaves(1, rng).front();
    std::vector<Value> x0 = RandomLeaves(n, rng);
    std::vector<Value> x;
    for (const Value& v : x0) x.push_back(v.tanh());
    const LeafBlock block(WeightsThenBias(w, b));

    const Value by_block = scalargrad::affine(block, x);
    const Value by_span = scalargrad::affine(w, x, b);
    EXPECT_EQ(Bits(by_block.data()), Bits(by_span.data())) << "n = " << n;
    EXPECT_EQ(by_block.op(), "affine");
    EXPECT_EQ(Data(by_block.operands()), Data(by_span.operands()));

    by_block.backward();
    std::vector<double> first;
    for (Value& v : w) first.push_back(v.grad()), v.zero_grad();
    for (Value& v : x0) first.push_back(v.grad()), v.zero_grad();
    first.push_back(b.grad());
    b.zero_grad();
    by_span.backward();
    std::vector<double> second;
    for (const Value& v : w) second.push_back(v.grad());
    for (const Value& v : x0) second.push_back(v.grad());
    second.push_back(b.grad());
    ASSERT_EQ(first.size(), second.size());
    for (std::size_t k = 0; k < first.size(); ++k) EXPECT_EQ(Bits(first[k]), Bits(second[k])) << k;
    EXPECT_EQ(second.back(), 1.0);
  }
}

TEST(LeafBlockAffine, ABlockNotOneLeafLongerThanTheInputsThrowsNamingBothLengths) {
  const std::vector<Value> x(5, Value(2.0));
  for (const std::size_t leaves : {0u, 5u, 7u}) {
    const LeafBlock block(std::vector<Value>(leaves, Value(1.0)));
    EXPECT_EQ(ErrorMessage([&] { (void)scalargrad::affine(block, x); }),
              "scalargrad: affine() of a LeafBlock needs one leaf more than the inputs (the weights then the bias), "
              "but the block has " + std::to_string(leaves) + " leaves and there are 5 inputs");
  }
}

// Regression: "the block has 1 leaves and there are 1 inputs".
TEST(LeafBlockAffine, ItsLengthErrorCountsInTheRightNumber) {
  const std::vector<Value> one_input(1, Value(2.0));
  const LeafBlock one_leaf(std::vector<Value>(1, Value(1.0)));
  EXPECT_THAT(ErrorMessage([&] { (void)scalargrad::affine(one_leaf, one_input); }),
              HasSubstr("but the block has 1 leaf and there is 1 input"));
}

TEST(LeafBlockAffine, ABlockOfOnlyTheBiasWithNoInputsGivesTheBias) {
  Value b = -1.25;
  const LeafBlock block({b});
  const Value a = scalargrad::affine(block, {});
  EXPECT_EQ(a.data(), -1.25);
  a.backward();
  EXPECT_EQ(b.grad(), 1.0);
}

TEST(LeafBlockAffine, SeesTheOwnersNewBiasBetweenTwoCallsInOneGraph) {
  // As a Parameter's: the bias is an external leaf whose owner changes between two calls.
  Owner w{2.0, 0.0};
  Owner b{1.0, 0.0};
  const LeafBlock block({Value::external(w.data, w.grad), Value::external(b.data, b.grad)});
  const std::vector<Value> x = {10.0};
  const Value before = scalargrad::affine(block, x);
  b.data = -4.0;
  const Value after = scalargrad::affine(block, x);
  EXPECT_EQ(before.data(), 21.0);  // recorded before: keeps the old value
  EXPECT_EQ(after.data(), 16.0);
  (before + after).backward();
  EXPECT_EQ(b.grad, 2.0);  // both nodes' biases accumulate into the one owner
  EXPECT_EQ(w.grad, 20.0);
}

TEST(LeafBlockAffine, UnderNoGradGuardGivesAConstant) {
  const LeafBlock block({Value(2.0), Value(3.0), Value(0.5)});
  const std::vector<Value> x = {4.0, 5.0};
  scalargrad::NoGradGuard no_grad;
  const Value a = scalargrad::affine(block, x);
  EXPECT_EQ(a.data(), 23.5);
  EXPECT_TRUE(a.is_leaf());
}

// ---- 3. affine(rows, x): a layer --------------------------------------------------------------

TEST(LeafBlockAffineRows, GiveTheNodesOfALoopOfAffineToTheBit) {
  std::mt19937_64 rng(34);
  std::vector<std::vector<Value>> leaves;  // each row's weights then bias
  const std::vector<LeafBlock> rows = RandomBlocks(6, 5, rng, leaves);
  std::vector<Value> inputs = RandomLeaves(3, rng);
  const Value shared = inputs[1].tanh();
  const std::vector<Value> x = {inputs[0] * 2.0, inputs[2], shared, shared};  // nodes, a leaf, a repeat

  const std::vector<Value> together = scalargrad::affine(rows, x);
  std::vector<Value> one_by_one;
  for (const LeafBlock& row : rows) one_by_one.push_back(scalargrad::affine(row, x));
  ASSERT_EQ(together.size(), rows.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    EXPECT_EQ(Bits(together[j].data()), Bits(one_by_one[j].data())) << j;
    EXPECT_EQ(together[j].op(), "affine");
    EXPECT_EQ(together[j].operands().size(), 9u);
  }

  // d(sum_j c_j row_j(x))/dw_jk = c_j x_k, d/db_j = c_j; the same through either form.
  WeightedSum(together).backward();
  std::vector<double> first;
  for (std::vector<Value>& row : leaves) {
    for (Value& v : row) first.push_back(v.grad()), v.zero_grad();
  }
  for (Value& v : inputs) first.push_back(v.grad()), v.zero_grad();
  WeightedSum(one_by_one).backward();
  std::size_t k = 0;
  for (std::size_t j = 0; j < leaves.size(); ++j) {
    for (std::size_t i = 0; i < 5; ++i, ++k) {
      EXPECT_EQ(Bits(leaves[j][i].grad()), Bits(first[k])) << j << ", " << i;
      EXPECT_EQ(leaves[j][i].grad(), (1.0 + j) * (i < 4 ? x[i].data() : 1.0)) << j << ", " << i;
    }
  }
  for (const Value& v : inputs) EXPECT_EQ(Bits(v.grad()), Bits(first[k++]));
}

TEST(LeafBlockAffineRows, ARowOfAnotherLengthThrowsNamingItAndRecordsNothing) {
  const std::vector<LeafBlock> rows = {LeafBlock({Value(1.0), Value(2.0), Value(0.0)}),
                                       LeafBlock({Value(3.0), Value(0.0)})};
  const std::vector<Value> x = {1.0, 1.0};
  const std::size_t nodes = scalargrad::tape_stats().nodes;
  EXPECT_EQ(ErrorMessage([&] { (void)scalargrad::affine(rows, x); }),
            "scalargrad: affine() of LeafBlocks needs each block one leaf longer than the inputs (the weights then "
            "the bias), but block 1 has 2 leaves and there are 2 inputs");
  EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);
}

TEST(LeafBlockAffineRows, NoRowsGiveNoValuesAndNoInputsGiveEachRowItsBias) {
  EXPECT_TRUE(scalargrad::affine(std::span<const LeafBlock>{}, std::vector<Value>{1.0}).empty());
  const std::vector<LeafBlock> rows = {LeafBlock({Value(1.5)}), LeafBlock({Value(-2.0)})};
  const std::vector<Value> biases = scalargrad::affine(rows, {});
  ASSERT_EQ(biases.size(), 2u);
  EXPECT_EQ(biases[0].data(), 1.5);
  EXPECT_EQ(biases[1].data(), -2.0);
}

TEST(LeafBlockAffineRows, LargeLayersAndNoGradGiveTheSameValues) {
  // 300 rows of 300 inputs: more operands than one call records at once, so one row at a time.
  std::mt19937_64 rng(35);
  std::vector<LeafBlock> rows;
  for (int j = 0; j < 300; ++j) rows.emplace_back(RandomLeaves(301, rng));
  const std::vector<Value> x = RandomLeaves(300, rng);
  const std::vector<Value> together = scalargrad::affine(rows, x);
  std::vector<double> expected;
  for (const LeafBlock& row : rows) {
    const std::span<const Value> l = row.values();
    expected.push_back((scalargrad::dot(l.first(300), x) + l.back()).data());
  }
  for (std::size_t j = 0; j < rows.size(); ++j) EXPECT_EQ(Bits(together[j].data()), Bits(expected[j])) << j;

  scalargrad::NoGradGuard no_grad;
  const std::vector<Value> constants = scalargrad::affine(rows, x);
  for (std::size_t j = 0; j < rows.size(); ++j) {
    EXPECT_TRUE(constants[j].is_leaf());
    EXPECT_EQ(Bits(constants[j].data()), Bits(expected[j])) << j;
  }
}

// ---- 4. Runs of consecutive nodes (Note [Range dot] in scalargrad/detail/tape.hpp) -------------

TEST(RangeAffine, ConsecutiveLeavesAndInputsRecordTwoOffsetsAndTheListFormsNode) {
  OnFreshTape([] {
    std::mt19937_64 rng(36);
    for (const std::size_t n : {1u, 2u, 5u, 16u, 64u}) {
      std::vector<Value> w = RandomLeaves(n, rng);
      Value b = RandomLeaves(1, rng).front();
      std::vector<Value> x0 = RandomLeaves(n, rng);
      const std::vector<Value> x = ConsecutiveNodes(x0);
      const LeafBlock block(WeightsThenBias(w, b));  // weights and bias enter one after the other

      const std::size_t before = ListSize();
      const Value range = scalargrad::affine(block, x);
      EXPECT_EQ(LastOp(), Op::AffineRange) << "n = " << n;
      EXPECT_EQ(ListSize() - before, 2u) << "n = " << n;  // not 2n + 1

      const Value list = scalargrad::affine(w, x, b);  // the span form: an operand list
      EXPECT_EQ(LastOp(), Op::Affine);
      EXPECT_EQ(ListSize() - before, 2u + 2 * n + 1);

      EXPECT_EQ(Bits(range.data()), Bits(list.data())) << "n = " << n;
      EXPECT_EQ(range.op(), "affine");
      EXPECT_EQ(Data(range.operands()), Data(list.operands()));
      EXPECT_EQ(scalargrad::graph_of(range).operands, scalargrad::graph_of(list).operands);

      range.backward();
      std::vector<double> first;
      for (Value& v : w) first.push_back(v.grad()), v.zero_grad();
      for (Value& v : x0) first.push_back(v.grad()), v.zero_grad();
      first.push_back(b.grad());
      b.zero_grad();
      list.backward();
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(Bits(w[i].grad()), Bits(first[i])) << i;
        EXPECT_EQ(Bits(x0[i].grad()), Bits(first[n + i])) << i;
        EXPECT_EQ(w[i].grad(), x[i].data()) << i;
        const double t = std::tanh(0.5 * x0[i].data());
        EXPECT_NEAR(x0[i].grad(), 0.5 * w[i].data() * (1.0 - t * t), 1e-15) << i;
      }
      EXPECT_EQ(b.grad(), 1.0);
      EXPECT_EQ(first.back(), 1.0);
    }
  });
}

TEST(RangeAffine, InputsOverlappingTheWeightsAndBiasGiveEveryPartial) {
  // Block (w0, w1, c) imported as nodes L, L+1, L+2; inputs (w1, c) are the run L+1, L+2, which
  // overlaps the weights' run and holds the bias: y = w0 w1 + w1 c + c, so d/dw0 = w1,
  // d/dw1 = w0 + c, d/dc = w1 + 1.
  OnFreshTape([] {
    Value w0 = 1.5;
    Value w1 = -2.0;
    Value c = 0.25;
    const LeafBlock block({w0, w1, c});
    const Value warm = scalargrad::affine(block, std::vector<Value>{0.0, 0.0});  // imports w0, w1, c in order
    const std::vector<Value> x = {w1, c};
    const Value y = scalargrad::affine(block, x);
    ASSERT_EQ(LastOp(), Op::AffineRange);
    EXPECT_EQ(y.data(), 1.5 * -2.0 + -2.0 * 0.25 + 0.25);
    y.backward();
    EXPECT_EQ(w0.grad(), -2.0);
    EXPECT_EQ(w1.grad(), 1.5 + 0.25);
    EXPECT_EQ(c.grad(), -2.0 + 1.0);
  });
}

TEST(RangeAffine, BackwardFromOneOfTwoNodesReachesOnlyItsOwnOperands) {
  // Two neurons' nodes in one segment; backward() from the first must not pass anything to the
  // second's bias (the mask of backward() follows the bias as an operand).
  OnFreshTape([] {
    std::mt19937_64 rng(37);
    std::vector<Value> first_leaves = RandomLeaves(3, rng);
    std::vector<Value> second_leaves = RandomLeaves(3, rng);
    const LeafBlock first(first_leaves);
    const LeafBlock second(second_leaves);
    const std::vector<Value> x = ConsecutiveNodes(RandomLeaves(2, rng));
    const Value a = scalargrad::affine(first, x);
    ASSERT_EQ(LastOp(), Op::AffineRange);
    const Value b = scalargrad::affine(second, x);
    ASSERT_EQ(LastOp(), Op::AffineRange);
    (a * b).backward();  // both get a gradient in this graph ...
    for (Value& v : first_leaves) v.zero_grad();
    for (Value& v : second_leaves) v.zero_grad();
    a.backward();  // ... then only the first's operands
    EXPECT_EQ(first_leaves[2].grad(), 1.0);
    for (const Value& v : second_leaves) EXPECT_EQ(v.grad(), 0.0);
  });
}
