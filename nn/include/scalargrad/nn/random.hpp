// nn::Rng: a small random generator whose output is the same with every compiler and standard
// library, so that a seed gives bit-identical weights and data everywhere.
#pragma once

#include <cstdint>

namespace scalargrad::nn {

/// xoshiro256** seeded through splitmix64, with its own mappings to doubles (the standard
/// distributions differ between libstdc++ and libc++, this does not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  /// The next 64 random bits.
  std::uint64_t next();
  /// Uniform in [0, 1), 53 random bits.
  double uniform();
  /// Uniform in [low, high).
  double uniform(double low, double high);
  /// Standard normal (Box-Muller, one value per call).
  double normal();
  /// Uniform integer in [0, n) (unbiased: rejection sampling). Throws scalargrad::Error if
  /// n == 0, whose range is empty; draws nothing then.
  std::uint64_t below(std::uint64_t n);

 private:
  std::uint64_t s_[4];
};

}  // namespace scalargrad::nn
