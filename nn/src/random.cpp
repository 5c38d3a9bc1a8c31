#include <scalargrad/nn/random.hpp>

#include <cmath>
#include <numbers>
#include <string>

#include <scalargrad/error.hpp>

namespace scalargrad::nn {

namespace {

// splitmix64 (Steele, Lea, Flood 2014): spreads one seed over xoshiro's 256-bit state.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(std::uint64_t seed) {
  for (std::uint64_t& word : s_) word = splitmix64(seed);
}

std::uint64_t Rng::next() {
  // xoshiro256** (Blackman & Vigna 2018)
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::uniform(double low, double high) {
  const double u = uniform();
  const double width = high - low;
  if (std::isinf(width) && std::isfinite(low) && std::isfinite(high)) [[unlikely]] {
    // Bounds near +-DBL_MAX: their distance overflows, half of it does not.
    return 2.0 * (0.5 * low + (0.5 * high - 0.5 * low) * u);
  }
  return low + width * u;
}

double Rng::normal() {
  // Box-Muller; 1 - u is in (0, 1], so the logarithm is finite.
  const double u = 1.0 - uniform();
  const double v = uniform();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
}

std::uint64_t Rng::below(std::uint64_t n) {
  // [0, 0) is empty, and (0 - n) % n below would divide by zero.
  if (n == 0) throw Error("scalargrad::nn: Rng::below(n) draws from [0, n) and needs n > 0, got n = 0");
  // Rejection of the (2^64 mod n) lowest values makes r mod n exactly uniform.
  const std::uint64_t threshold = (0 - n) % n;
  std::uint64_t r = next();
  while (r < threshold) r = next();
  return r % n;
}

}  // namespace scalargrad::nn
