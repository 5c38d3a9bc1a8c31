// Value::external, rebind and unbind: the leaves behind nn::Parameter.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include <scalargrad/value.hpp>

#include "support/test_support.hpp"

using scalargrad::Error;
using scalargrad::Value;
using testing::HasSubstr;

namespace {

using scalargrad::testing_support::Owner;

}  // namespace

TEST(ExternalLeaf, ReadsOwnerDataAndAddsGradientIntoOwnerGrad) {
  Owner w{3.0, 0.5};
  const Value leaf = Value::external(w.data, w.grad);
  EXPECT_TRUE(leaf.is_leaf());
  EXPECT_EQ(leaf.data(), 3.0);
  EXPECT_EQ(leaf.grad(), 0.5);

  const Value y = leaf * leaf + 1.0;  // dy/dw = 2w = 6
  y.backward();
  EXPECT_EQ(y.data(), 10.0);
  EXPECT_EQ(w.grad, 0.5 + 6.0);  // accumulated into the owner's grad
  EXPECT_EQ(leaf.grad(), w.grad);
}

TEST(ExternalLeaf, OwnerDataChangedWithoutBackwardIsSeenByLaterOps) {
  // A gradient check perturbs the weight between two forward passes in the same segment.
  Owner w{3.0, 0.0};
  const Value leaf = Value::external(w.data, w.grad);
  const Value before = leaf * 2.0;
  w.data = 4.0;
  const Value after = leaf * 2.0;
  EXPECT_EQ(before.data(), 6.0);
  EXPECT_EQ(after.data(), 8.0);
  const Value both = before + after;
  both.backward();
  EXPECT_EQ(w.grad, 4.0);  // both uses reach the same owner
}

TEST(ExternalLeaf, OwnerDataChangedWithoutBackwardIsSeenByLaterDots) {
  // dot() looks each weight up in the leaf-import cache of the segment (a neuron's weights):
  // an owner whose data changed since must enter again, in either span, forward and backward.
  Owner w0{1.0, 0.0};
  Owner w1{2.0, 0.0};
  const std::vector<Value> w{Value::external(w0.data, w0.grad), Value::external(w1.data, w1.grad)};
  const Value x0 = 3.0;
  const Value x1 = 5.0;
  const std::vector<Value> x{x0, x1};
  const Value before = dot(w, x);  // 1*3 + 2*5
  w1.data = -2.0;
  const Value after = dot(w, x);          // 1*3 - 2*5
  const Value after_swapped = dot(x, w);  // the weights in the second span
  EXPECT_EQ(before.data(), 13.0);
  EXPECT_EQ(after.data(), -7.0);
  EXPECT_EQ(after_swapped.data(), -7.0);

  const Value y = before * after;  // y = (w0 x0 + w1 x1)(w0 x0 + w1' x1)
  y.backward();
  EXPECT_EQ(x0.grad(), 1.0 * -7.0 + 13.0 * 1.0);   // w0 after + before w0
  EXPECT_EQ(x1.grad(), 2.0 * -7.0 + 13.0 * -2.0);  // w1 after + before w1'
  EXPECT_EQ(w0.grad, 3.0 * -7.0 + 13.0 * 3.0);     // x0 after + before x0
  EXPECT_EQ(w1.grad, 5.0 * -7.0 + 13.0 * 5.0);     // both uses reach the same owner
}

TEST(ExternalLeaf, UnbindKeepsGraphsValidAndStopsWritingToOwner) {
  auto owner = std::make_unique<Owner>(Owner{2.0, 0.0});
  Value leaf = Value::external(owner->data, owner->grad);
  const Value y = leaf * leaf;  // dy/dw = 4
  leaf.unbind();
  owner.reset();  // the owner is gone; the graph must not write into it
  y.backward();
  EXPECT_EQ(leaf.data(), 2.0);
  EXPECT_EQ(leaf.grad(), 4.0);  // into the leaf's own storage now
  leaf.unbind();                // a second unbind does nothing
}

TEST(ExternalLeaf, RebindFollowsTheOwnerToNewStorage) {
  Owner first{1.0, 0.0};
  Owner second{5.0, 0.0};
  Value leaf = Value::external(first.data, first.grad);
  leaf.rebind(second.data, second.grad);
  const Value y = leaf * 3.0;
  y.backward();
  EXPECT_EQ(y.data(), 15.0);
  EXPECT_EQ(second.grad, 3.0);
  EXPECT_EQ(first.grad, 0.0);
}

TEST(ExternalLeaf, SetDataThrowsAndNamesTheOwner) {
  Owner w{1.0, 0.0};
  Value leaf = Value::external(w.data, w.grad);
  try {
    leaf.set_data(2.0);
    FAIL() << "set_data on an external leaf must throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("external leaf"));
    EXPECT_THAT(e.what(), HasSubstr("owner's data"));
  }
  EXPECT_EQ(w.data, 1.0);
}

TEST(ExternalLeaf, RebindOnAnOrdinaryValueThrows) {
  Owner w{1.0, 0.0};
  Value plain = 1.0;
  EXPECT_THROW(plain.rebind(w.data, w.grad), Error);
  try {
    plain.rebind(w.data, w.grad);
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "scalargrad: rebind() on a Value that is not an external leaf; only Values made by "
                 "Value::external() mirror outside storage");
  }
  EXPECT_EQ(plain.data(), 1.0);  // still its own data, not the owner's
  Value op = plain * 2.0;
  EXPECT_THROW(op.rebind(w.data, w.grad), Error);
  op.unbind();  // no-op on a Value that is not an external leaf
  EXPECT_EQ(op.data(), 2.0);
}

TEST(ExternalLeaf, UnbindOnAnotherThreadDoesNothing) {
  Owner w{1.0, 0.0};
  Value leaf = Value::external(w.data, w.grad);
  std::thread([&leaf] { leaf.unbind(); }).join();
  const Value y = leaf * 2.0;
  y.backward();
  EXPECT_EQ(w.grad, 2.0);  // still bound
}

TEST(ExternalLeaf, SlotIsRecycledWhenTheLastHandleGoes) {
  Owner a{1.0, 0.0};
  Owner b{7.0, 0.0};
  { const Value leaf = Value::external(a.data, a.grad); }
  const Value reused = Value::external(b.data, b.grad);  // may reuse the freed slot and record
  const Value y = reused * 1.0;
  y.backward();
  EXPECT_EQ(b.grad, 1.0);
  EXPECT_EQ(a.grad, 0.0);
}

TEST(ExternalLeaf, UnbindAfterTheOwnersDataChangedUsesTheNewDataInTheSameGraph) {
  // Regression: unbind() kept the leaf's last Import node of the open segment, which held the
  // owner's data from before the change; later ops (and dots) read that old value.
  Owner w{1.0, 0.0};
  Value leaf = Value::external(w.data, w.grad);
  const Value before = leaf * 2.0;  // imports 1.0 and keeps the segment open
  w.data = 5.0;
  leaf.unbind();
  EXPECT_EQ(leaf.data(), 5.0);
  EXPECT_EQ((leaf * 1.0).data(), 5.0);
  const std::vector<Value> x = {3.0};
  EXPECT_EQ(scalargrad::dot(std::vector<Value>{leaf}, x).data(), 15.0);
  EXPECT_EQ(scalargrad::dot(scalargrad::LeafBlock({leaf}), x).data(), 15.0);
  EXPECT_EQ(before.data(), 2.0);
}
