// LeafBlock and dot(LeafBlock, x): the same node as dot(block.values(), x), whatever happened to
// the leaves between two calls (new data, rebind, unbind, a new segment, another thread).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <initializer_list>
#include <memory>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <scalargrad/value.hpp>

#include "support/test_support.hpp"

using scalargrad::Error;
using scalargrad::LeafBlock;
using scalargrad::Value;
using testing::HasSubstr;

namespace {

using scalargrad::testing_support::Owner;

using scalargrad::testing_support::Bits;
using scalargrad::testing_support::ConsecutiveNodes;
using scalargrad::testing_support::ErrorMessage;
using scalargrad::testing_support::LastOp;
using scalargrad::testing_support::ListSize;
using scalargrad::testing_support::OnFreshTape;
using scalargrad::testing_support::RandomBlocks;
using scalargrad::testing_support::RandomLeaves;
using scalargrad::testing_support::WeightedSum;

/// w_1 x_1 + ... + w_n x_n summed left to right in long double: the reference value.
long double Reference(const std::vector<double>& w, const std::vector<double>& x) {
  long double total = 0.0L;
  for (std::size_t i = 0; i < w.size(); ++i) total += static_cast<long double>(w[i]) * x[i];
  return total;
}

}  // namespace

// ---- 1. The same node as the span form ---------------------------------------------------------

TEST(LeafBlockDot, GivesTheSpanFormsValueToTheBitAndTheSameGradients) {
  std::mt19937_64 rng(7);
  for (const std::size_t n : {1u, 2u, 3u, 16u, 100u}) {
    std::vector<Value> w = RandomLeaves(n, rng);
    std::vector<Value> x0 = RandomLeaves(n, rng);
    std::vector<Value> x;  // inputs that are nodes, as a layer's are
    for (const Value& v : x0) x.push_back(v.tanh());
    const LeafBlock block(w);

    const Value by_block = scalargrad::dot(block, x);
    const Value by_span = scalargrad::dot(w, x);
    EXPECT_EQ(Bits(by_block.data()), Bits(by_span.data())) << "n = " << n;
    EXPECT_EQ(by_block.op(), "dot");
    ASSERT_EQ(by_block.operands().size(), 2 * n);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(Bits(by_block.operands()[i].data()), Bits(w[i].data()));
      EXPECT_EQ(Bits(by_block.operands()[n + i].data()), Bits(x[i].data()));
    }

    // d(block . x)/dw_i = x_i, d/dx0_i = w_i tanh'(x0_i); the same through either form.
    by_block.backward();
    std::vector<double> gw;
    std::vector<double> gx;
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(w[i].grad(), x[i].data()) << i;
      gw.push_back(w[i].grad());
      gx.push_back(x0[i].grad());
      w[i].zero_grad();
      x0[i].zero_grad();
    }
    by_span.backward();
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(w[i].grad(), gw[i]) << i;
      EXPECT_EQ(x0[i].grad(), gx[i]) << i;
      const double t = std::tanh(x0[i].data());
      EXPECT_NEAR(gx[i], w[i].data() * (1.0 - t * t), 1e-15) << i;
    }
  }
}

TEST(LeafBlockDot, ManyCallsInOneGraphAgreeWithAnIndependentReference) {
  // A layer: 8 neurons of 5 weights each, 40 points, all in one graph; the blocks are reused
  // from the second point on.
  std::mt19937_64 rng(11);
  std::vector<std::vector<Value>> weights;
  const std::vector<LeafBlock> blocks = RandomBlocks(8, 5, rng, weights);
  std::vector<Value> outputs;
  std::vector<std::vector<double>> inputs;
  for (int p = 0; p < 40; ++p) {
    const std::vector<Value> x = RandomLeaves(5, rng);
    std::vector<double> xd;
    for (const Value& v : x) xd.push_back(v.data());
    inputs.push_back(xd);
    for (int j = 0; j < 8; ++j) {
      outputs.push_back(scalargrad::dot(blocks[j], x));
      std::vector<double> wd;
      for (const Value& v : weights[j]) wd.push_back(v.data());
      EXPECT_NEAR(outputs.back().data(), static_cast<double>(Reference(wd, xd)), 1e-14);
    }
  }
  // d(sum of all outputs)/dw_jk = sum over points of x_pk.
  const Value total = scalargrad::sum(outputs);
  total.backward();
  for (int j = 0; j < 8; ++j) {
    for (int k = 0; k < 5; ++k) {
      long double expected = 0.0L;
      for (const std::vector<double>& xd : inputs) expected += xd[k];
      EXPECT_NEAR(weights[j][k].grad(), static_cast<double>(expected), 1e-13) << j << ", " << k;
    }
  }
}

TEST(LeafBlockDot, EmptyBlockAndEmptyInputsGiveZero) {
  const LeafBlock block;
  EXPECT_TRUE(block.empty());
  EXPECT_EQ(scalargrad::dot(block, {}).data(), 0.0);
}

TEST(LeafBlockDot, MismatchedLengthsThrowErrorNamingBothLengths) {
  const LeafBlock block(std::vector<Value>(3, Value(1.0)));
  const std::vector<Value> x(5, Value(2.0));
  try {
    (void)scalargrad::dot(block, x);
    FAIL() << "dot() of lengths 3 and 5 did not throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("same length, got 3 and 5"));
  }
  EXPECT_THROW((void)scalargrad::dot(LeafBlock(), x), Error);
}

TEST(LeafBlockDot, MoreOperandsThanOneNodeHoldsGiveTheExactValue) {
  // 70,000 pairs: nested partial nodes, as the span form makes them.
  std::vector<Value> w;
  std::vector<Value> x;
  for (int i = 0; i < 70000; ++i) {
    w.emplace_back(static_cast<double>(i % 7));
    x.emplace_back(i % 2 == 0 ? 1.0 : -2.0);
  }
  const LeafBlock block(w);
  Value d = scalargrad::dot(block, x);
  d.backward();
  double expected = 0.0;
  for (int i = 0; i < 70000; ++i) expected += (i % 7) * (i % 2 == 0 ? 1.0 : -2.0);  // integers: exact
  EXPECT_EQ(d.data(), expected);
  EXPECT_EQ(w[69999].grad(), -2.0);
  EXPECT_EQ(x[69999].grad(), 69999 % 7);
}

// ---- 2. New data between two calls --------------------------------------------------------------

TEST(LeafBlockDot, SeesSetDataOnAPlainLeafBetweenTwoCallsInOneGraph) {
  Value w0 = 2.0;
  Value w1 = 3.0;
  const LeafBlock block({w0, w1});
  const std::vector<Value> x = {10.0, 100.0};
  const Value before = scalargrad::dot(block, x);
  w1.set_data(-1.0);
  const Value after = scalargrad::dot(block, x);
  EXPECT_EQ(before.data(), 320.0);  // recorded before: keeps the old value
  EXPECT_EQ(after.data(), -80.0);
  const Value both = before + after;
  both.backward();
  EXPECT_EQ(w1.grad(), 200.0);  // one leaf, used by both nodes
}

TEST(LeafBlockDot, SeesTheOwnersNewDataOfAnExternalLeaf) {
  // A gradient check perturbs Parameter::data between two forward passes in one segment.
  Owner a{2.0, 0.0};
  Owner b{3.0, 0.0};
  const LeafBlock block({Value::external(a.data, a.grad), Value::external(b.data, b.grad)});
  const std::vector<Value> x = {10.0, 100.0};
  const Value first = scalargrad::dot(block, x);
  b.data = 3.5;
  const Value second = scalargrad::dot(block, x);
  b.data = 3.0;  // back to the value of the first call's node
  const Value third = scalargrad::dot(block, x);
  EXPECT_EQ(first.data(), 320.0);
  EXPECT_EQ(second.data(), 370.0);
  EXPECT_EQ(third.data(), 320.0);
  (first + second + third).backward();
  EXPECT_EQ(a.grad, 30.0);  // gradients go to the owners
  EXPECT_EQ(b.grad, 300.0);
}

TEST(LeafBlockDot, FollowsRebindAndStopsReadingTheOldStorage) {
  auto old_storage = std::make_unique<Owner>(Owner{2.0, 0.0});
  Owner new_storage{2.0, 0.0};  // the same data: only the rebind tells the move
  Value leaf = Value::external(old_storage->data, old_storage->grad);
  const LeafBlock block({leaf});
  const std::vector<Value> x = {10.0};
  const Value first = scalargrad::dot(block, x);  // keeps this segment open for the calls below
  EXPECT_EQ(first.data(), 20.0);
  leaf.rebind(new_storage.data, new_storage.grad);
  EXPECT_EQ(scalargrad::dot(block, x).data(), 20.0);
  new_storage.data = 5.0;  // the old storage still holds 2.0
  const Value d = scalargrad::dot(block, x);
  EXPECT_EQ(d.data(), 50.0);
  old_storage.reset();  // the block must not read it again (AddressSanitizer would report it)
  EXPECT_EQ(scalargrad::dot(block, x).data(), 50.0);
  d.backward();
  EXPECT_EQ(new_storage.grad, 10.0);
}

TEST(LeafBlockDot, AfterUnbindUsesTheLastDataNotTheOwners) {
  auto owner = std::make_unique<Owner>(Owner{4.0, 0.0});
  Value leaf = Value::external(owner->data, owner->grad);
  const LeafBlock block({leaf});
  const std::vector<Value> x = {0.5};
  const Value first = scalargrad::dot(block, x);  // keeps this segment open for the calls below
  EXPECT_EQ(first.data(), 2.0);
  leaf.unbind();
  owner.reset();  // the block must not read it again (AddressSanitizer would report it)
  const Value d = scalargrad::dot(block, x);
  EXPECT_EQ(d.data(), 2.0);
  d.backward();
  EXPECT_EQ(leaf.grad(), 0.5);
}

// ---- 3. Segments and backward -------------------------------------------------------------------

TEST(LeafBlockDot, KeepsRightAcrossBackwardAndZeroGradAsInTraining) {
  Value w0 = 0.5;
  Value w1 = -1.5;
  const LeafBlock block({w0, w1});
  for (int step = 0; step < 5; ++step) {
    const std::vector<Value> x = {1.0 + step, 2.0};
    const Value y = scalargrad::dot(block, x) * 2.0;
    EXPECT_EQ(y.data(), 2.0 * (w0.data() * (1.0 + step) + w1.data() * 2.0)) << step;
    w0.zero_grad();
    w1.zero_grad();
    y.backward();
    EXPECT_EQ(w0.grad(), 2.0 * (1.0 + step)) << step;
    EXPECT_EQ(w1.grad(), 4.0) << step;
    w0.set_data(w0.data() - 0.1 * w0.grad());  // an SGD step
    w1.set_data(w1.data() - 0.1 * w1.grad());
  }
}

TEST(LeafBlockDot, KeepsRightInTheGraphsAfterBackwardWithUnchangedWeights) {
  // Each backward() starts a new segment: the nodes found in the last one are not this one's.
  std::vector<Value> w = {0.5, -1.5, 2.0};
  const LeafBlock block(w);
  for (int step = 0; step < 4; ++step) {
    const std::vector<Value> x = {1.0 + step, 2.0 - step, 0.25 * step};
    const Value y = scalargrad::dot(block, x).tanh();
    const double z = 0.5 * (1.0 + step) - 1.5 * (2.0 - step) + 2.0 * 0.25 * step;
    EXPECT_EQ(y.data(), std::tanh(z)) << step;
    for (Value& v : w) v.zero_grad();
    y.backward();
    const double dz = 1.0 - std::tanh(z) * std::tanh(z);
    for (std::size_t k = 0; k < 3; ++k) {
      EXPECT_NEAR(w[k].grad(), dz * x[k].data(), 1e-15) << step << ", " << k;
      EXPECT_NEAR(x[k].grad(), dz * w[k].data(), 1e-15) << step << ", " << k;
    }
  }
}

TEST(LeafBlockDot, GraphsSpanningSeveralSegmentsGiveTheSpanFormsResults) {
  // Over 30,000 nodes: the tape opens new segments while the blocks are in use.
  std::mt19937_64 rng(5);
  std::vector<Value> w = RandomLeaves(4, rng);
  const LeafBlock block(w);
  Value acc_block = 0.0;
  Value acc_span = 0.0;
  for (int i = 0; i < 3000; ++i) {
    const std::vector<Value> x = RandomLeaves(4, rng);
    acc_block = acc_block * 0.999 + scalargrad::dot(block, x);
    acc_span = acc_span * 0.999 + scalargrad::dot(w, x);
  }
  EXPECT_EQ(Bits(acc_block.data()), Bits(acc_span.data()));
  acc_block.backward();
  std::vector<double> g;
  for (Value& v : w) {
    g.push_back(v.grad());
    v.zero_grad();
  }
  acc_span.backward();
  for (std::size_t k = 0; k < w.size(); ++k) EXPECT_EQ(Bits(w[k].grad()), Bits(g[k])) << k;
}

// ---- 4. Modes -----------------------------------------------------------------------------------

TEST(LeafBlockDot, UnderNoGradGuardGivesAConstant) {
  const std::vector<Value> w = {2.0, 3.0};
  const LeafBlock block(w);
  const std::vector<Value> x = {4.0, 5.0};
  scalargrad::NoGradGuard no_grad;
  const Value d = scalargrad::dot(block, x);
  EXPECT_EQ(d.data(), 23.0);
  EXPECT_TRUE(d.is_leaf());
}

TEST(LeafBlockDot, UnderAnomalyGuardNamesTheDotThatOverflows) {
  const LeafBlock block({Value(1e308), Value(1e308)});
  const std::vector<Value> x = {10.0, 10.0};
  scalargrad::AnomalyGuard anomaly;
  try {
    (void)scalargrad::dot(block, x);
    FAIL() << "an infinite dot did not throw under AnomalyGuard";
  } catch (const scalargrad::AnomalyError& e) {
    EXPECT_THAT(e.what(), HasSubstr("dot"));
  }
}

// ---- 5. The block itself ------------------------------------------------------------------------

TEST(LeafBlock, HoldsItsLeavesInOrder) {
  const Value a = 1.0;
  const Value b = 2.0;
  const LeafBlock block({a, b, a});
  ASSERT_EQ(block.size(), 3u);
  EXPECT_EQ(block.values()[1].data(), 2.0);
  // A leaf twice: its gradient accumulates over both places.
  const Value d = scalargrad::dot(block, std::vector<Value>{10.0, 20.0, 30.0});
  d.backward();
  EXPECT_EQ(a.grad(), 40.0);
  EXPECT_EQ(b.grad(), 20.0);
}

TEST(LeafBlock, RejectsTheResultOfAnOpNamingItsPlace) {
  const Value a = 1.0;
  const Value b = 2.0;
  try {
    const LeafBlock block({a, a + b});
    FAIL() << "a LeafBlock took the result of an op";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "scalargrad: a LeafBlock holds leaves only, but element 1 is the result of '+'; use "
                 "the leaves themselves, or detach() for a constant");
  }
}

TEST(LeafBlock, RejectsAMovedFromValue) {
  Value a = 1.0;
  const Value stolen = std::move(a);
  try {
    const LeafBlock block({stolen, a});  // NOLINT(bugprone-use-after-move): on purpose
    FAIL() << "a LeafBlock took a moved-from Value";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("was moved from and holds nothing"));
  }
}

TEST(LeafBlock, RejectsLeavesOfAnotherThread) {
  std::vector<Value> foreign;  // made on another thread; moved, not copied, into the block below
  std::thread other([&] {
    foreign.emplace_back(1.0);
    foreign.emplace_back(2.0);
  });
  other.join();
  try {
    const LeafBlock block(std::move(foreign));
    FAIL() << "a LeafBlock took leaves of another thread";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("used on a thread other than the one that recorded it"));
  }
  const LeafBlock mine({Value(2.0), Value(3.0)});  // this thread's leaves still make blocks
  const std::vector<Value> x = {1.0, 1.0};
  EXPECT_EQ(scalargrad::dot(mine, x).data(), 5.0);
}

TEST(LeafBlock, UsedOnAnotherThreadThrowsAndLeavesItUsableHere) {
  const std::vector<Value> w = {2.0, 3.0};
  const LeafBlock block(w);
  const std::vector<Value> x = {1.0, 1.0};
  EXPECT_EQ(scalargrad::dot(block, x).data(), 5.0);
  std::string message;
  std::thread other([&] {
    const std::vector<Value> y = {1.0, 1.0};  // this thread's own
    try {
      (void)scalargrad::dot(block, y);
    } catch (const Error& e) {
      message = e.what();
    }
  });
  other.join();
  EXPECT_THAT(message, HasSubstr("used on a thread other than the one that recorded it"));
  EXPECT_EQ(scalargrad::dot(block, x).data(), 5.0);
}

TEST(LeafBlock, CopiesHoldTheSameLeavesAndMovesKeepWorking) {
  Value a = 2.0;
  Value b = 3.0;
  LeafBlock block({a, b});
  const std::vector<Value> x = {10.0, 100.0};
  EXPECT_EQ(scalargrad::dot(block, x).data(), 320.0);  // fills its cache

  const LeafBlock copy = block;
  LeafBlock assigned;
  assigned = block;
  LeafBlock moved = std::move(block);
  LeafBlock move_assigned;
  move_assigned = std::move(moved);
  b.set_data(4.0);
  for (const LeafBlock* blk : std::initializer_list<const LeafBlock*>{&copy, &assigned, &move_assigned}) {
    const Value d = scalargrad::dot(*blk, x);
    EXPECT_EQ(d.data(), 420.0);
    d.backward();
  }
  EXPECT_EQ(a.grad(), 30.0);   // three backward passes of d/da = 10
  EXPECT_EQ(b.grad(), 300.0);  // and d/db = 100
  EXPECT_TRUE(block.empty());  // NOLINT(bugprone-use-after-move): a moved-from block is empty
  EXPECT_EQ(scalargrad::dot(block, {}).data(), 0.0);
}

// ---- 6. dot(rows, x): a layer's dots with the inputs found once ---------------------------------

TEST(LeafBlockRows, GiveTheNodesOfALoopOfDotToTheBit) {
  std::mt19937_64 rng(3);
  std::vector<std::vector<Value>> weights;
  const std::vector<LeafBlock> rows = RandomBlocks(6, 4, rng, weights);
  // Inputs of every kind: nodes of the open segment, a leaf, a node used twice.
  std::vector<Value> leaves = RandomLeaves(3, rng);
  const Value shared = leaves[1].tanh();
  const std::vector<Value> x = {leaves[0] * 2.0, leaves[2], shared, shared};

  const std::vector<Value> together = scalargrad::dot(rows, x);
  std::vector<Value> one_by_one;
  for (const LeafBlock& w : rows) one_by_one.push_back(scalargrad::dot(w, x));
  ASSERT_EQ(together.size(), rows.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    EXPECT_EQ(Bits(together[j].data()), Bits(one_by_one[j].data())) << j;
    EXPECT_EQ(together[j].op(), "dot");
    EXPECT_EQ(together[j].operands().size(), 8u);
  }

  // d(sum_j c_j row_j . x)/dw_jk = c_j x_k; the same through either form, to the bit.
  WeightedSum(together).backward();
  std::vector<double> first;
  for (std::vector<Value>& row : weights) {
    for (Value& w : row) {
      first.push_back(w.grad());
      w.zero_grad();
    }
  }
  for (Value& leaf : leaves) {
    first.push_back(leaf.grad());
    leaf.zero_grad();
  }
  WeightedSum(one_by_one).backward();
  std::size_t k = 0;
  for (std::size_t j = 0; j < weights.size(); ++j) {
    for (std::size_t i = 0; i < 4; ++i, ++k) {
      EXPECT_EQ(Bits(weights[j][i].grad()), Bits(first[k])) << j << ", " << i;
      EXPECT_EQ(weights[j][i].grad(), (1.0 + j) * x[i].data()) << j << ", " << i;
    }
  }
  for (const Value& leaf : leaves) EXPECT_EQ(Bits(leaf.grad()), Bits(first[k++]));
}

TEST(LeafBlockRows, ARowOfAnotherLengthThrowsNamingItAndRecordsNothing) {
  const std::vector<LeafBlock> rows = {LeafBlock({Value(1.0), Value(2.0)}), LeafBlock({Value(3.0)})};
  const std::vector<Value> x = {1.0, 1.0};
  const std::size_t nodes = scalargrad::tape_stats().nodes;
  try {
    (void)scalargrad::dot(rows, x);
    FAIL() << "a row of length 1 against 2 inputs did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "scalargrad: dot() of LeafBlocks needs each block as long as the inputs, but block 1 has "
                 "1 leaf and there are 2 inputs");
  }
  EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);
}

// A wrong row throws before dot(rows, x) makes room: with the open segment two nodes short of
// full, the call must not close it and open another (the next op would then land there).
TEST(LeafBlockRows, ARowOfAnotherLengthThrowsBeforeMakingRoom) {
  OnFreshTape([] {
    Value t = Value(1.0) * 1.0;
    while (scalargrad::tape_stats().nodes < (std::size_t{1} << 20) - 3) t = t * 1.0;
    const std::vector<Value> x = {t, t * 1.0};  // two nodes short of a full segment
    const std::vector<LeafBlock> rows = {LeafBlock({Value(1.0), Value(2.0)}), LeafBlock({Value(3.0)})};
    const scalargrad::TapeStats before = scalargrad::tape_stats();
    EXPECT_THAT(ErrorMessage([&] { (void)scalargrad::dot(rows, x); }), HasSubstr("but block 1 has 1 leaf and there are 2 inputs"));
    const scalargrad::TapeStats after = scalargrad::tape_stats();
    EXPECT_EQ(after.segments, before.segments);
    EXPECT_EQ(after.nodes, before.nodes);
  });
}

TEST(LeafBlockRows, NoRowsGiveNoValuesAndEmptyRowsGiveZeros) {
  EXPECT_TRUE(scalargrad::dot(std::span<const LeafBlock>{}, std::vector<Value>{1.0}).empty());
  const std::vector<LeafBlock> empty_rows(3);
  const std::vector<Value> zeros = scalargrad::dot(empty_rows, {});
  ASSERT_EQ(zeros.size(), 3u);
  for (const Value& z : zeros) EXPECT_EQ(z.data(), 0.0);
}

TEST(LeafBlockRows, LargeLayersAndNoGradGiveTheSameValues) {
  // 300 rows of 300: more operands than one call records at once, so one row at a time.
  std::mt19937_64 rng(9);
  std::vector<LeafBlock> rows;
  for (int j = 0; j < 300; ++j) rows.emplace_back(RandomLeaves(300, rng));
  const std::vector<Value> x = RandomLeaves(300, rng);
  const std::vector<Value> together = scalargrad::dot(rows, x);
  std::vector<double> expected;
  for (const LeafBlock& w : rows) expected.push_back(scalargrad::dot(w.values(), x).data());
  for (std::size_t j = 0; j < rows.size(); ++j) EXPECT_EQ(Bits(together[j].data()), Bits(expected[j])) << j;

  scalargrad::NoGradGuard no_grad;
  const std::vector<Value> constants = scalargrad::dot(rows, x);
  for (std::size_t j = 0; j < rows.size(); ++j) {
    EXPECT_TRUE(constants[j].is_leaf());
    EXPECT_EQ(Bits(constants[j].data()), Bits(expected[j])) << j;
  }
}

TEST(LeafBlockRows, SeesWeightsChangedBetweenTwoCallsInOneGraph) {
  Owner a{1.0, 0.0};
  Owner b{2.0, 0.0};
  const std::vector<LeafBlock> rows = {LeafBlock({Value::external(a.data, a.grad)}),
                                       LeafBlock({Value::external(b.data, b.grad)})};
  const std::vector<Value> x = {3.0};
  const std::vector<Value> first = scalargrad::dot(rows, x);
  b.data = -2.0;
  const std::vector<Value> second = scalargrad::dot(rows, x);
  EXPECT_EQ(first[1].data(), 6.0);
  EXPECT_EQ(second[0].data(), 3.0);
  EXPECT_EQ(second[1].data(), -6.0);
}

TEST(LeafBlockRows, ALaterRowOfAnotherThreadThrowsAndLeavesTheCountsRight) {
  // The rows are checked before anything is recorded: the second row throws before the first
  // row's leaves are imported, no handle is counted for a Value never made, and the graph is
  // freed when its last Value goes.
  OnFreshTape([] {
    std::vector<LeafBlock> rows;
    rows.emplace_back(std::vector<Value>{Value(1.0), Value(2.0)});
    std::thread other([&] { rows.emplace_back(std::vector<Value>{Value(3.0), Value(4.0)}); });
    other.join();
    {
      const std::vector<Value> x = ConsecutiveNodes({Value(1.0), Value(1.0)});
      const std::size_t nodes = scalargrad::tape_stats().nodes;
      try {
        (void)scalargrad::dot(rows, x);
        FAIL() << "a row of another thread did not throw";
      } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("used on a thread other than the one that recorded it"));
      }
      EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);  // nothing recorded
      const std::vector<LeafBlock> good(rows.begin(), rows.begin() + 1);
      const Value y = scalargrad::dot(good, x).front();
      EXPECT_EQ(y.data(), std::tanh(0.5) * 3.0);
    }
    EXPECT_EQ(scalargrad::tape_stats().nodes, 0u);  // every Value gone: the graph is freed
  });
}

TEST(LeafBlockRows, AnInputOfAnotherThreadThrowsAndTheNextCallWorks) {
  const std::vector<LeafBlock> rows = {LeafBlock({Value(1.0), Value(2.0)})};
  std::vector<Value> foreign;  // made on another thread (copying one here would throw already)
  std::thread other([&] {
    foreign.emplace_back(1.0);
    foreign.emplace_back(5.0);
  });
  other.join();
  try {
    (void)scalargrad::dot(rows, foreign);
    FAIL() << "inputs of another thread did not throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("used on a thread other than the one that recorded it"));
  }
  const std::vector<Value> good = {10.0, 100.0};
  EXPECT_EQ(scalargrad::dot(rows, good).front().data(), 210.0);
}

// ---- 7. Runs of consecutive nodes (Note [Range dot] in scalargrad/detail/tape.hpp) -------------

using scalargrad::detail::Op;

TEST(RangeDot, ConsecutiveWeightsAndInputsRecordTwoOffsetsAndTheListFormsNode) {
  OnFreshTape([] {
    std::mt19937_64 rng(21);
    for (const std::size_t n : {1u, 2u, 5u, 16u, 64u}) {
      std::vector<Value> w = RandomLeaves(n, rng);
      std::vector<Value> x0 = RandomLeaves(n, rng);
      const std::vector<Value> x = ConsecutiveNodes(x0);
      const LeafBlock block(w);  // its leaves enter the segment one after the other

      const std::size_t before = ListSize();
      const Value range = scalargrad::dot(block, x);
      EXPECT_EQ(LastOp(), Op::DotRange) << "n = " << n;
      EXPECT_EQ(ListSize() - before, 2u) << "n = " << n;  // not 2n

      const Value list = scalargrad::dot(w, x);  // the span form: an operand list
      EXPECT_EQ(LastOp(), Op::Dot);
      EXPECT_EQ(ListSize() - before, 2u + 2 * n);

      EXPECT_EQ(Bits(range.data()), Bits(list.data())) << "n = " << n;
      EXPECT_EQ(range.op(), "dot");
      const std::vector<Value> a = range.operands();
      const std::vector<Value> b = list.operands();
      ASSERT_EQ(a.size(), 2 * n);
      ASSERT_EQ(b.size(), 2 * n);
      for (std::size_t i = 0; i < 2 * n; ++i) {
        EXPECT_EQ(Bits(a[i].data()), Bits(b[i].data())) << i;
        EXPECT_EQ(a[i].is_leaf(), b[i].is_leaf()) << i;
      }
      EXPECT_EQ(scalargrad::graph_of(range).operands, scalargrad::graph_of(list).operands);

      // The same gradients to the bit, and d/dx0_i = w_i tanh'(x0_i / 2) / 2.
      range.backward();
      std::vector<double> first;
      for (std::size_t i = 0; i < n; ++i) first.push_back(w[i].grad()), first.push_back(x0[i].grad());
      for (Value& v : w) v.zero_grad();
      for (Value& v : x0) v.zero_grad();
      list.backward();
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(Bits(w[i].grad()), Bits(first[2 * i])) << i;
        EXPECT_EQ(Bits(x0[i].grad()), Bits(first[2 * i + 1])) << i;
        EXPECT_EQ(w[i].grad(), x[i].data()) << i;
        const double t = std::tanh(0.5 * x0[i].data());
        EXPECT_NEAR(x0[i].grad(), 0.5 * w[i].data() * (1.0 - t * t), 1e-15) << i;
      }
    }
  });
}

TEST(RangeDot, InputsOutOfOrderOrWithAGapRecordTheOperandList) {
  OnFreshTape([] {
    std::mt19937_64 rng(22);
    const std::vector<Value> w = RandomLeaves(3, rng);
    const LeafBlock block(w);
    const std::vector<Value> x = ConsecutiveNodes(RandomLeaves(4, rng));
    const std::vector<std::vector<Value>> inputs = {
        {x[1], x[0], x[2]},  // reversed pair
        {x[0], x[1], x[3]},  // a gap
        {x[0], x[0], x[1]},  // a node used twice
    };
    for (const std::vector<Value>& in : inputs) {
      const Value d = scalargrad::dot(block, in);
      EXPECT_EQ(LastOp(), Op::Dot);
      double expected = 0.0;
      for (std::size_t i = 0; i < 3; ++i) expected += w[i].data() * in[i].data();
      EXPECT_EQ(Bits(d.data()), Bits(expected));
    }
  });
}

TEST(RangeDot, WeightsAlreadyImportedOutOfOrderRecordTheOperandList) {
  OnFreshTape([] {
    const Value w0 = 2.0;
    const Value w1 = 3.0;
    const Value early = w1 * 1.0;  // w1 enters the segment before w0
    const LeafBlock block({w0, w1});
    const std::vector<Value> x = ConsecutiveNodes({Value(0.5), Value(-0.25)});
    const Value d = scalargrad::dot(block, x);
    EXPECT_EQ(LastOp(), Op::Dot);
    d.backward();
    EXPECT_EQ(w0.grad(), x[0].data());
    EXPECT_EQ(w1.grad(), x[1].data());
  });
}

TEST(RangeDot, TheSameRunForWeightsAndInputsGivesTwiceEachProductsGradient) {
  OnFreshTape([] {
    const std::vector<Value> v = {1.5, -2.0, 0.25};
    const LeafBlock block(v);
    const Value d = scalargrad::dot(block, v);  // v . v: both runs are v's Import nodes
    EXPECT_EQ(LastOp(), Op::DotRange);
    EXPECT_EQ(d.data(), 1.5 * 1.5 + 2.0 * 2.0 + 0.25 * 0.25);
    d.backward();  // d(v . v)/dv_i = 2 v_i
    for (const Value& x : v) EXPECT_EQ(x.grad(), 2.0 * x.data());
  });
}

TEST(RangeDot, PartlyOverlappingRunsGiveEachLeafBothOfItsProducts) {
  OnFreshTape([] {
    const Value a = 0.5;
    const Value b = -1.25;
    const Value c = 2.0;
    const Value d = 3.5;
    const std::vector<Value> x = {a, b, c};  // imported first: a run k, k+1, k+2
    const LeafBlock block({b, c, d});         // b, c already there, d imported next: k+1 .. k+3
    const Value y = scalargrad::dot(block, x);
    ASSERT_EQ(LastOp(), Op::DotRange);
    EXPECT_EQ(y.data(), b.data() * a.data() + c.data() * b.data() + d.data() * c.data());
    y.backward();  // y = b a + c b + d c
    EXPECT_EQ(a.grad(), b.data());
    EXPECT_EQ(b.grad(), a.data() + c.data());
    EXPECT_EQ(c.grad(), b.data() + d.data());
    EXPECT_EQ(d.grad(), c.data());
  });
}

TEST(RangeDot, InputsFromAnOlderSegmentAreARunOfImports) {
  OnFreshTape([] {
    std::vector<Value> x0 = {0.3, -0.7, 1.1};
    const std::vector<Value> x = ConsecutiveNodes(x0);
    scalargrad::sum(x).backward();  // a new segment starts: x is now older
    for (Value& v : x0) v.zero_grad();
    std::vector<Value> w = {2.0, -3.0, 0.25};
    const LeafBlock block(w);
    const Value y = scalargrad::dot(block, x);  // x enters through three ImportSegment nodes
    ASSERT_EQ(LastOp(), Op::DotRange);
    y.backward();
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(w[i].grad(), x[i].data()) << i;
      const double t = std::tanh(0.5 * x0[i].data());
      EXPECT_DOUBLE_EQ(x0[i].grad(), 0.5 * w[i].data() * (1.0 - t * t)) << i;
    }
  });
}

TEST(RangeDot, BackwardFromOneOfTwoDotsReachesOnlyItsOwnOperands) {
  // In a segment swept before, backward() zeroes and sweeps only what the root reaches
  // (Tape::reachable): a range node's operands must be marked as a list's are.
  OnFreshTape([] {
    std::vector<Value> w1 = {1.0, 2.0};
    std::vector<Value> w2 = {3.0, 4.0};
    std::vector<Value> x0 = {0.5, -0.5};
    const std::vector<Value> x = ConsecutiveNodes(x0);
    const LeafBlock b1(w1);
    const LeafBlock b2(w2);
    const Value d1 = scalargrad::dot(b1, x);
    ASSERT_EQ(LastOp(), Op::DotRange);
    const Value d2 = scalargrad::dot(b2, x);
    ASSERT_EQ(LastOp(), Op::DotRange);
    const Value y = d1 * 2.0;
    const Value other = d2 * 5.0;
    other.backward();  // sweeps the segment: a later backward() there works with a mask
    for (std::vector<Value>* leaves : {&w1, &w2, &x0}) {
      for (Value& v : *leaves) v.zero_grad();
    }
    y.backward();
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(w1[i].grad(), 2.0 * x[i].data()) << i;
      EXPECT_EQ(w2[i].grad(), 0.0) << i;
      const double t = std::tanh(0.5 * x0[i].data());
      EXPECT_DOUBLE_EQ(x0[i].grad(), w1[i].data() * (1.0 - t * t)) << i;  // 2 * 0.5 * w * tanh'
    }
    EXPECT_EQ(d2.grad(), 5.0);  // the other graph keeps its gradients
  });
}

TEST(RangeDot, AnomalyModeNamesTheRangeDotWhoseBackwardOverflows) {
  OnFreshTape([] {
    const LeafBlock block({Value(1e300), Value(1.0)});
    const std::vector<Value> x = ConsecutiveNodes({Value(0.1), Value(0.2)});
    const Value d = scalargrad::dot(block, x);
    ASSERT_EQ(LastOp(), Op::DotRange);
    const Value y = d * 1e10;
    scalargrad::AnomalyGuard anomaly;  // the backward checks every gradient it passes on
    try {
      y.backward();
      FAIL() << "an infinite gradient did not throw under AnomalyGuard";
    } catch (const scalargrad::AnomalyError& e) {
      // d(y)/dx_0 = 1e10 * 1e300: the dot makes its operand x_0's gradient infinite.
      EXPECT_THAT(e.what(), HasSubstr("backward through dot"));
      EXPECT_THAT(e.what(), HasSubstr("made the gradient of its operand"));
      EXPECT_THAT(e.what(), HasSubstr("inf"));
    }
  });
}

// ---- 8. Batches: dot(rows, xs, points) and affine(rows, xs, points) ------------------------------

namespace {

/// Every leaf's gradient, in order, zeroed after reading.
std::vector<double> TakeGrads(std::vector<std::vector<Value>>& groups) {
  std::vector<double> g;
  for (std::vector<Value>& group : groups) {
    for (Value& v : group) {
      g.push_back(v.grad());
      v.zero_grad();
    }
  }
  return g;
}

}  // namespace

TEST(LeafBlockBatch, GivesTheNodesOfALoopOverThePointsToTheBit) {
  for (const bool affine : {false, true}) {
    std::mt19937_64 rng(affine ? 31 : 30);
    const std::size_t n = 4;
    const std::size_t points = 7;
    std::vector<std::vector<Value>> leaves;  // the rows' leaves, then the inputs' leaves
    const std::vector<LeafBlock> rows = RandomBlocks(5, affine ? n + 1 : n, rng, leaves);
    leaves.push_back(RandomLeaves(points * n, rng));
    // Inputs of every kind: leaves, nodes of the open segment, one node used by two points.
    std::vector<Value> xs;
    for (std::size_t k = 0; k < points * n; ++k) {
      const Value& leaf = leaves.back()[k];
      xs.push_back(k % 3 == 0 ? leaf : k % 3 == 1 ? leaf.tanh() : leaf * 2.0);
    }
    xs[2 * n + 1] = xs[1];

    const std::vector<Value> batch =
        affine ? scalargrad::affine(rows, xs, points) : scalargrad::dot(rows, xs, points);
    std::vector<Value> loop;
    for (std::size_t p = 0; p < points; ++p) {
      const std::span<const Value> x = std::span<const Value>(xs).subspan(p * n, n);
      for (Value& v : affine ? scalargrad::affine(rows, x) : scalargrad::dot(rows, x)) loop.push_back(std::move(v));
    }
    ASSERT_EQ(batch.size(), rows.size() * points);
    ASSERT_EQ(loop.size(), batch.size());
    for (std::size_t k = 0; k < batch.size(); ++k) {
      EXPECT_EQ(Bits(batch[k].data()), Bits(loop[k].data())) << k;
      EXPECT_EQ(batch[k].op(), affine ? "affine" : "dot") << k;
      EXPECT_EQ(batch[k].operands().size(), affine ? 2 * n + 1 : 2 * n) << k;
    }
    // Point 3's row 2 against an independent reference.
    long double expected = affine ? rows[2].values()[n].data() : 0.0L;
    std::vector<double> w;
    std::vector<double> x;
    for (std::size_t i = 0; i < n; ++i) {
      w.push_back(rows[2].values()[i].data());
      x.push_back(xs[3 * n + i].data());
    }
    expected += Reference(w, x);
    EXPECT_NEAR(batch[3 * rows.size() + 2].data(), static_cast<double>(expected), 1e-14);

    WeightedSum(batch).backward();
    const std::vector<double> from_batch = TakeGrads(leaves);
    WeightedSum(loop).backward();
    const std::vector<double> from_loop = TakeGrads(leaves);
    ASSERT_EQ(from_batch.size(), from_loop.size());
    for (std::size_t k = 0; k < from_batch.size(); ++k) EXPECT_EQ(Bits(from_batch[k]), Bits(from_loop[k])) << k;
  }
}

TEST(LeafBlockBatch, EachPointsNodesReadItsInputsAsARunAndItsWeightsAsARun) {
  // Speed: a batch of a layer whose inputs are each point's activations (one run per point)
  // records range nodes only (Note [Range dot]), as the loop does.
  OnFreshTape([] {
    std::mt19937_64 rng(32);
    std::vector<std::vector<Value>> weights;
    const std::vector<LeafBlock> rows = RandomBlocks(3, 5, rng, weights);  // 4 weights and a bias
    const std::vector<Value> xs = ConsecutiveNodes(RandomLeaves(6 * 4, rng));
    const std::vector<Value> out = scalargrad::affine(rows, xs, 6);
    const scalargrad::detail::Segment& s = *scalargrad::detail::tls_tape->open;
    int ranges = 0;
    for (std::uint32_t i = 0; i < s.size; ++i) ranges += s.nodes.op[i] == Op::AffineRange ? 1 : 0;
    EXPECT_EQ(ranges, 3 * 6);
    EXPECT_EQ(ListSize(), 2u * 3 * 6) << "two offsets per node, no operand lists";
  });
}

TEST(LeafBlockBatch, SeesWeightsChangedBetweenTwoBatchesInOneGraph) {
  Owner a{1.0, 0.0};
  Owner b{2.0, 0.0};
  const std::vector<LeafBlock> rows = {LeafBlock({Value::external(a.data, a.grad)}),
                                       LeafBlock({Value::external(b.data, b.grad)})};
  const std::vector<Value> xs = {3.0, 5.0};
  const std::vector<Value> first = scalargrad::dot(rows, xs, 2);
  b.data = -2.0;
  const std::vector<Value> second = scalargrad::dot(rows, xs, 2);
  ASSERT_EQ(second.size(), 4u);  // point 0: rows 0, 1; point 1: rows 0, 1
  EXPECT_EQ(first[3].data(), 10.0);
  EXPECT_EQ(second[0].data(), 3.0);
  EXPECT_EQ(second[1].data(), -6.0);
  EXPECT_EQ(second[2].data(), 5.0);
  EXPECT_EQ(second[3].data(), -10.0);
  (first[3] + second[3]).backward();
  EXPECT_EQ(b.grad, 10.0);  // 5 from each batch
}

TEST(LeafBlockBatch, ABatchThatFillsASegmentGoesOnInTheNextWithTheRowsFoundAgain) {
  // The open segment is filled to 200 nodes below its largest size, so that the batch (8 rows
  // of 8 weights and a bias, 50 points) must close it after a few points and go on in a new
  // segment, where each row's leaves must be imported again before its cache is used.
  OnFreshTape([] {
    std::mt19937_64 rng(33);
    std::vector<std::vector<Value>> leaves;
    const std::vector<LeafBlock> rows = RandomBlocks(8, 9, rng, leaves);
    const std::size_t points = 50;
    leaves.push_back(RandomLeaves(points * 8, rng));
    const std::vector<Value>& xs = leaves.back();
    const scalargrad::detail::Segment* open = scalargrad::detail::tls_tape->open;
    Value filler = leaves.back().front();
    while (scalargrad::detail::tls_tape->open->size < scalargrad::detail::kMaxSegmentCapacity - 200) {
      filler = filler + 1.0;
      open = scalargrad::detail::tls_tape->open;
    }
    const std::vector<Value> batch = scalargrad::affine(rows, xs, points);
    EXPECT_NE(scalargrad::detail::tls_tape->open, open) << "the batch did not need a new segment";
    EXPECT_EQ(scalargrad::tape_stats().segments, 2u);
    std::vector<Value> loop;
    for (std::size_t p = 0; p < points; ++p) {
      for (Value& v : scalargrad::affine(rows, std::span<const Value>(xs).subspan(p * 8, 8))) loop.push_back(std::move(v));
    }
    ASSERT_EQ(batch.size(), loop.size());
    for (std::size_t k = 0; k < batch.size(); ++k) ASSERT_EQ(Bits(batch[k].data()), Bits(loop[k].data())) << k;
    // The batch's weights get their gradient through two Import nodes (one per segment), each
    // summing its part; the loop, recorded after it in the new segment, through one: equal to
    // rounding.
    WeightedSum(batch).backward();
    const std::vector<double> from_batch = TakeGrads(leaves);
    WeightedSum(loop).backward();
    const std::vector<double> from_loop = TakeGrads(leaves);
    for (std::size_t k = 0; k < from_batch.size(); ++k) {
      ASSERT_NEAR(from_batch[k], from_loop[k], 1e-12 * (1.0 + std::abs(from_loop[k]))) << k;
    }
  });
}

TEST(LeafBlockBatch, AnInputCountThatIsNotAMultipleOfThePointsThrowsAndRecordsNothing) {
  const std::vector<LeafBlock> rows = {LeafBlock({Value(1.0), Value(2.0), Value(0.5)})};
  const std::vector<Value> xs = {1.0, 2.0, 3.0, 4.0, 5.0};
  const std::size_t nodes = scalargrad::tape_stats().nodes;
  try {
    (void)scalargrad::affine(rows, xs, 2);
    FAIL() << "5 inputs for 2 points did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "scalargrad: affine() of a batch of 2 points needs as many inputs for each, but there are 5 "
                 "inputs in all");
  }
  try {
    (void)scalargrad::dot(rows, xs, 0);
    FAIL() << "5 inputs for 0 points did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "scalargrad: dot() of a batch of 0 points takes no inputs, but there are 5");
  }
  // With no rows too: the inputs are checked all the same.
  EXPECT_THAT(scalargrad::testing_support::ErrorMessage(
                  [&] { (void)scalargrad::affine(std::span<const LeafBlock>{}, xs, 2); }),
              HasSubstr("affine() of a batch of 2 points needs as many inputs for each, but there are 5"));
  EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);
}

TEST(LeafBlockBatch, ARowOfAnotherLengthThrowsNamingItAndRecordsNothing) {
  const std::vector<LeafBlock> rows = {LeafBlock({Value(1.0), Value(2.0), Value(0.5)}), LeafBlock({Value(3.0)})};
  const std::vector<Value> xs = {1.0, 2.0, 3.0, 4.0};
  const std::size_t nodes = scalargrad::tape_stats().nodes;
  try {
    (void)scalargrad::affine(rows, xs, 2);
    FAIL() << "a row of length 1 did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "scalargrad: affine() of LeafBlocks needs each block one leaf longer than the inputs (the weights "
                 "then the bias), but block 1 has 1 leaf and there are 2 inputs");
  }
  EXPECT_EQ(scalargrad::tape_stats().nodes, nodes);
}

TEST(LeafBlockBatch, NoPointsOrNoRowsGiveNoValuesAndEmptyRowsGiveZeros) {
  const std::vector<LeafBlock> rows = {LeafBlock({Value(1.0)})};
  EXPECT_TRUE(scalargrad::dot(rows, {}, 0).empty());
  EXPECT_TRUE(scalargrad::dot(std::span<const LeafBlock>{}, std::vector<Value>{1.0, 2.0}, 2).empty());
  const std::vector<LeafBlock> empty_rows(2);
  const std::vector<Value> zeros = scalargrad::dot(empty_rows, {}, 3);  // 3 points of no inputs
  ASSERT_EQ(zeros.size(), 6u);
  for (const Value& z : zeros) EXPECT_EQ(z.data(), 0.0);
}

TEST(LeafBlockBatch, LargeLayersNoGradAndAnomalyModeGiveTheSameValues) {
  // 300 rows of 300 leaves: more than one call reserves at once, so point by point, row by row;
  // under NoGradGuard constants; under AnomalyGuard the checked path.
  std::mt19937_64 rng(34);
  std::vector<LeafBlock> rows;
  for (int j = 0; j < 300; ++j) rows.emplace_back(RandomLeaves(300, rng));
  const std::vector<Value> xs = RandomLeaves(2 * 300, rng);
  std::vector<double> expected;
  for (std::size_t p = 0; p < 2; ++p) {
    const std::span<const Value> x = std::span<const Value>(xs).subspan(p * 300, 300);
    for (const LeafBlock& w : rows) expected.push_back(scalargrad::dot(w.values(), x).data());
  }
  const auto same = [&](const std::vector<Value>& got, bool leaves) {
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(Bits(got[k].data()), Bits(expected[k])) << k;
      EXPECT_EQ(got[k].is_leaf(), leaves) << k;
    }
  };
  same(scalargrad::dot(rows, xs, 2), false);
  {
    scalargrad::AnomalyGuard anomaly;
    same(scalargrad::dot(rows, xs, 2), false);
  }
  scalargrad::NoGradGuard no_grad;
  same(scalargrad::dot(rows, xs, 2), true);
}

TEST(LeafBlockBatch, AnInputOfAnotherThreadThrowsAndTheGraphIsFreedAfterwards) {
  // Point 0's nodes and handles are made before point 1's foreign input throws: they go with the
  // unwinding, and the tape is empty once every Value is gone.
  OnFreshTape([] {
    const std::vector<LeafBlock> rows = {LeafBlock({Value(1.0), Value(2.0)})};
    std::vector<Value> foreign;  // made on another thread (copying one here would throw already)
    std::thread other([&] { foreign.emplace_back(7.0); });
    other.join();
    {
      std::vector<Value> xs = ConsecutiveNodes({Value(1.0), Value(1.0)});
      xs.push_back(Value(3.0));
      xs.push_back(std::move(foreign.front()));
      try {
        (void)scalargrad::dot(rows, xs, 2);
        FAIL() << "an input of another thread did not throw";
      } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("used on a thread other than the one that recorded it"));
      }
      const std::span<const Value> good = std::span<const Value>(xs).first(2);
      EXPECT_EQ(scalargrad::dot(rows, good, 1).front().data(), std::tanh(0.5) * 3.0);
    }
    EXPECT_EQ(scalargrad::tape_stats().nodes, 0u);
  });
}
