// nn::Rng: the exact xoshiro256** / splitmix64 sequence, and the statistics of its mappings to
// doubles and integers (every statistical test uses a fixed seed, so it is deterministic).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <algorithm>
#include <vector>

#include <scalargrad/error.hpp>
#include <scalargrad/nn/random.hpp>

#include "support/test_support.hpp"

namespace {

using scalargrad::nn::Rng;
using scalargrad::testing_support::ErrorMessage;
using ::testing::HasSubstr;

TEST(Rng, Seed42GivesTheReferenceXoshiro256StarStarSequence) {
  // Computed independently with the reference algorithm (Python, arbitrary-precision integers):
  // state = four splitmix64 outputs from seed 42 (Steele, Lea, Flood 2014), then xoshiro256**
  // (Blackman & Vigna 2018); that script also reproduces both papers' published test vectors.
  Rng rng(42);
  EXPECT_EQ(rng.next(), 0x15780b2e0c2ec716ull);
  EXPECT_EQ(rng.next(), 0x6104d9866d113a7eull);
  EXPECT_EQ(rng.next(), 0xae17533239e499a1ull);
  EXPECT_EQ(rng.next(), 0xecb8ad4703b360a1ull);
}

TEST(Rng, SameSeedGivesBitIdenticalSequenceAndAnotherSeedDoesNot) {
  Rng a(7), b(7), c(8);
  bool all_equal_to_other_seed = true;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    if (x != c.next()) all_equal_to_other_seed = false;
  }
  EXPECT_FALSE(all_equal_to_other_seed);
  EXPECT_EQ(a.uniform(), b.uniform());
  EXPECT_EQ(a.normal(), b.normal());
  EXPECT_EQ(a.below(1000), b.below(1000));
}

TEST(Rng, UniformIsTheTop53BitsOfNextScaledToUnitInterval) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.uniform(), static_cast<double>(b.next() >> 11) * 0x1.0p-53);
}

TEST(Rng, UniformIsInHalfOpenUnitIntervalWithMeanOneHalf) {
  Rng rng(1);
  const int n = 100000;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // standard error of the mean: sqrt(1/12 / n) = 0.00091; allow 5 of them
  EXPECT_NEAR(sum / n, 0.5, 0.0046);
}

TEST(Rng, UniformWithBoundsStaysInThem) {
  Rng rng(3);
  for (int i = 0; i < 10000; ++i) {
    const double x = rng.uniform(-2.0, 5.0);
    ASSERT_GE(x, -2.0);
    ASSERT_LT(x, 5.0);
  }
}

// Regression: high - low overflowed for bounds near +-DBL_MAX, and every draw was +-inf (a Neuron
// with bound 1e308 got the weights inf inf inf).
TEST(Rng, UniformWithBoundsNearTheLargestDoubleStaysFiniteAndInThem) {
  constexpr double kMax = std::numeric_limits<double>::max();
  for (const double bound : {1e308, kMax}) {
    Rng rng(3), reference(3);
    double lowest = kMax, highest = -kMax;
    for (int i = 0; i < 10000; ++i) {
      const double x = rng.uniform(-bound, bound);
      ASSERT_TRUE(std::isfinite(x)) << bound << " draw " << i;
      ASSERT_GE(x, -bound);
      ASSERT_LE(x, bound);
      // Where the unit draw is u, the point is -bound + 2 bound u, up to rounding.
      const double u = reference.uniform();
      ASSERT_NEAR(x / bound, 2.0 * u - 1.0, 1e-15) << i;
      lowest = std::min(lowest, x);
      highest = std::max(highest, x);
    }
    EXPECT_LT(lowest, -0.99 * bound);  // the whole range is drawn from
    EXPECT_GT(highest, 0.99 * bound);
  }
  // Ordinary bounds keep their exact formula (weights stay the same for a seed).
  Rng rng(5), reference(5);
  EXPECT_EQ(rng.uniform(-1.0, 1.0), -1.0 + 2.0 * reference.uniform());
}

TEST(Rng, BelowIsLessThanN) {
  Rng rng(5);
  for (const std::uint64_t n : {1ull, 2ull, 3ull, 7ull, 10ull, 1000003ull, (1ull << 63) + 1, ~0ull}) {
    for (int i = 0; i < 1000; ++i) ASSERT_LT(rng.below(n), n) << "n = " << n;
  }
}

TEST(Rng, BelowZeroThrowsAndLeavesTheSequenceAlone) {
  // Regression: below(0) computed (0 - 0) % 0 and died of SIGFPE.
  Rng rng(5), reference(5);
  EXPECT_THROW((void)rng.below(0), scalargrad::Error);
  EXPECT_THAT(ErrorMessage([&] { (void)rng.below(0); }), HasSubstr("Rng::below(n) draws from [0, n) and needs n > 0, got n = 0"));
  EXPECT_EQ(rng.next(), reference.next());  // the failed calls drew nothing
}

TEST(Rng, BelowTenPassesChiSquareTest) {
  // 100000 draws into 10 cells, 10000 expected in each; chi-square with 9 degrees of freedom
  // exceeds 27.88 with probability 0.001.
  Rng rng(2024);
  std::array<int, 10> counts{};
  const int n = 100000;
  for (int i = 0; i < n; ++i) ++counts[rng.below(10)];
  const double expected = n / 10.0;
  double chi_square = 0.0;
  for (const int count : counts) chi_square += (count - expected) * (count - expected) / expected;
  EXPECT_LT(chi_square, 27.88);
}

TEST(Rng, BelowIsUnbiasedWhenMostDrawsAreRejected) {
  // n = 2^63 + 1: the (2^64 mod n) = 2^63 - 1 lowest draws are rejected. The result must still
  // fall in both halves of [0, n) about equally (3 cells of 1/4, 1/4, 1/2 and chi-square, 2 dof:
  // 13.8 at probability 0.001).
  Rng rng(11);
  const std::uint64_t n = (1ull << 63) + 1;
  std::array<int, 3> counts{};
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    const std::uint64_t r = rng.below(n);
    ++counts[r < (1ull << 61) ? 0 : r < (1ull << 62) ? 1 : 2];
  }
  const std::array<double, 3> expected = {draws * 0.25, draws * 0.25, draws * 0.5};
  double chi_square = 0.0;
  for (std::size_t i = 0; i < 3; ++i) chi_square += (counts[i] - expected[i]) * (counts[i] - expected[i]) / expected[i];
  EXPECT_LT(chi_square, 13.8);
}

TEST(Rng, NormalHasMeanZeroVarianceOneAndNormalShape) {
  Rng rng(99);
  const int n = 100000;
  double sum = 0.0, sum_squares = 0.0;
  int within_one = 0;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sum_squares += x * x;
    if (std::abs(x) < 1.0) ++within_one;
  }
  const double mean = sum / n;
  const double variance = sum_squares / n - mean * mean;
  // standard errors: mean 1/sqrt(n) = 0.0032, variance sqrt(2/n) = 0.0045, P(|x| < 1) 0.0015;
  // allow 5 of each.
  EXPECT_NEAR(mean, 0.0, 0.016);
  EXPECT_NEAR(variance, 1.0, 0.023);
  EXPECT_NEAR(static_cast<double>(within_one) / n, 0.682689, 0.0075);
}

}  // namespace
