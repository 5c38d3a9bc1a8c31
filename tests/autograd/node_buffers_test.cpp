// detail::NodeBuffers: a segment's five node arrays in one allocation, staggered modulo 4 KiB
// (Note [Staggered arrays] in scalargrad/detail/tape.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <utility>

#include <scalargrad/value.hpp>

using scalargrad::detail::NodeBuffers;
using scalargrad::detail::Op;

namespace {

struct Extent {
  std::uintptr_t begin;
  std::uintptr_t end;
};

std::array<Extent, 5> Extents(const NodeBuffers& n) {
  const auto at = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p); };
  const std::size_t c = n.capacity;
  return {{{at(n.value), at(n.value + c)},
           {at(n.grad), at(n.grad + c)},
           {at(n.a), at(n.a + c)},
           {at(n.b), at(n.b + c)},
           {at(n.op), at(n.op + c)}}};
}

}  // namespace

TEST(NodeBuffers, ArraysAreDisjointOnCacheLinesAndAtDistinctOffsetsModuloFourKiB) {
  for (const std::uint32_t capacity : {1u, 7u, 1024u, 4096u, 1u << 17, 1u << 20}) {
    const NodeBuffers n(capacity);
    const std::array<Extent, 5> e = Extents(n);
    std::set<std::uintptr_t> offsets;
    for (std::size_t i = 0; i < e.size(); ++i) {
      EXPECT_EQ(e[i].begin % 64, 0u) << "array " << i << ", capacity " << capacity;
      offsets.insert(e[i].begin % 4096);
      for (std::size_t j = i + 1; j < e.size(); ++j) {
        EXPECT_TRUE(e[i].end <= e[j].begin || e[j].end <= e[i].begin)
            << "arrays " << i << " and " << j << " overlap, capacity " << capacity;
      }
    }
    EXPECT_EQ(offsets.size(), 5u) << "capacity " << capacity;
    // Every array is usable end to end (AddressSanitizer checks the bounds in CI).
    n.value[capacity - 1] = 1.0;
    n.grad[capacity - 1] = 2.0;
    n.a[capacity - 1] = 3;
    n.b[capacity - 1] = 4;
    n.op[capacity - 1] = Op::Add;
    // The padding is small: less than five pages and a cache line over the 25 bytes a node needs.
    EXPECT_GE(n.bytes(), std::size_t{25} * capacity);
    EXPECT_LT(n.bytes(), std::size_t{25} * capacity + 5 * 4096 + 64);
  }
}

TEST(NodeBuffers, EmptyHoldsNothingAndAMoveLeavesTheSourceEmpty) {
  const NodeBuffers empty;
  EXPECT_EQ(empty.value, nullptr);
  EXPECT_EQ(empty.bytes(), 0u);

  NodeBuffers first(1024);
  first.value[5] = 42.0;
  double* const values = first.value;
  NodeBuffers second(std::move(first));
  EXPECT_EQ(second.value, values);
  EXPECT_EQ(second.value[5], 42.0);
  EXPECT_EQ(second.capacity, 1024u);
  EXPECT_EQ(first.value, nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(first.capacity, 0u);
  EXPECT_EQ(first.bytes(), 0u);

  NodeBuffers third(16);
  third = std::move(second);
  EXPECT_EQ(third.value, values);
  EXPECT_EQ(third.capacity, 1024u);
  EXPECT_EQ(second.grad, nullptr);  // NOLINT(bugprone-use-after-move)
}
