// graph_of() and topological_order() (value.hpp): what a root depends on, with its edges.
//
// References: graphs small enough to list by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scalargrad/value.hpp"
#include "support/test_support.hpp"

namespace {

using scalargrad::Graph;
using scalargrad::graph_of;
using scalargrad::Value;
using scalargrad::testing_support::Labels;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(GraphOf, ListsNodesOperandsFirstWithTheirOperandPositions) {
  Value x = 3.0;
  Value y = 4.0;
  x.label("x");
  y.label("y");
  Value xx = x * x;
  xx.label("xx");
  Value z = xx + y;
  z.label("z");
  const Graph g = graph_of(z);
  EXPECT_THAT(Labels(g.nodes), ElementsAre("x", "xx", "y", "z"));
  ASSERT_EQ(g.operands.size(), 4u);
  EXPECT_THAT(g.operands[0], IsEmpty());
  EXPECT_THAT(g.operands[1], ElementsAre(0u, 0u));  // x used twice appears twice
  EXPECT_THAT(g.operands[2], IsEmpty());
  EXPECT_THAT(g.operands[3], ElementsAre(1u, 2u));
}

TEST(GraphOf, SharesASubexpressionUsedManyTimes) {
  Value a = 1.0;
  a.label("a");
  Value s = a + 1.0;
  s.label("s");
  Value t = s * s;
  t.label("t");
  Value root = scalargrad::sum({s, t, s});
  root.label("root");
  const Graph g = graph_of(root);
  EXPECT_THAT(Labels(g.nodes), ElementsAre("a", "s", "t", "root"));
  EXPECT_THAT(g.operands[1], ElementsAre(0u));
  EXPECT_THAT(g.operands[2], ElementsAre(1u, 1u));
  EXPECT_THAT(g.operands[3], ElementsAre(1u, 2u, 1u));
}

TEST(GraphOf, OfALeafIsTheLeaf) {
  Value x = 2.0;
  x.label("x");
  const Graph g = graph_of(x);
  EXPECT_THAT(Labels(g.nodes), ElementsAre("x"));
  EXPECT_THAT(g.operands, ElementsAre(IsEmpty()));
}

TEST(GraphOf, AgreesWithTopologicalOrder) {
  Value x = 0.5;
  Value y = x;
  for (int i = 0; i < 50; ++i) y = tanh(y * x + 0.1);
  const Graph g = graph_of(y);
  const std::vector<Value> order = scalargrad::topological_order(y);
  ASSERT_EQ(g.nodes.size(), order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(g.nodes[i].data(), order[i].data());
    for (const std::size_t k : g.operands[i]) EXPECT_LT(k, i) << "operands come first";
  }
}

TEST(ConstantOnLeft, TellsWhichSideOfItsOperandAConstantStands) {
  const Value x = 3.0;
  EXPECT_TRUE((1.0 - x).constant_on_left());
  EXPECT_TRUE((2.0 / x).constant_on_left());
  EXPECT_TRUE(pow(2.0, x).constant_on_left());
  EXPECT_FALSE((x - 1.0).constant_on_left());  // recorded as x + (-1)
  EXPECT_FALSE((x / 2.0).constant_on_left());
  EXPECT_FALSE(x.pow(2.0).constant_on_left());
  EXPECT_FALSE((2.0 * x).constant_on_left());  // commutative: recorded as x * 2
  EXPECT_FALSE((x * x).constant_on_left());    // no constant
  EXPECT_FALSE(x.constant_on_left());          // a leaf
}

}  // namespace
