// W1, the micrograd demo step, in plain doubles: the data set, the initial weights, the plain
// forward F and the hand-written gradient H that the engine variants are measured against.
// Engine-free: included by both translation units of bench_w1_micrograd_step (the counted one and
// w1_micrograd_step.uncounted.cc), so everything here is inline and identical in both.
//
// The model: MLP 2-16-16-1, ReLU hidden layers, linear output; 100 points of a two-moons set with
// labels +-1; loss = mean_i relu(1 - y_i score_i) + 1e-4 sum_p p^2 (micrograd's demo loss).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common.hpp"

namespace w1 {

inline constexpr int kIn = 2;
inline constexpr int kHidden = 16;
inline constexpr int kPoints = 100;
inline constexpr double kAlpha = 1e-4;  // L2 regularisation
// Parameter layout (one flat array of 337): weights of a neuron are contiguous.
inline constexpr int kW1 = 0;                            // [16][2]
inline constexpr int kB1 = kW1 + kHidden * kIn;          // [16]   = 32
inline constexpr int kW2 = kB1 + kHidden;                // [16][16] = 48
inline constexpr int kB2 = kW2 + kHidden * kHidden;      // [16]   = 304
inline constexpr int kW3 = kB2 + kHidden;                // [16]   = 320
inline constexpr int kB3 = kW3 + kHidden;                // [1]    = 336
inline constexpr int kParams = kB3 + 1;                  // 337
static_assert(kParams == 337);

struct Data {
  double x[kPoints][kIn];
  double y[kPoints];  // +1 or -1
};

/// A two-moons set (as sklearn's make_moons, noise 0.1 uniform), from our own PRNG.
inline Data make_data(std::uint64_t seed = 1) {
  sgbench::Rng rng(seed);
  Data d{};
  constexpr double kPi = 3.14159265358979323846;
  for (int i = 0; i < kPoints; ++i) {
    const double t = kPi * rng.uniform();
    const bool upper = i % 2 == 0;
    const double nx = rng.uniform(-0.1, 0.1);
    const double ny = rng.uniform(-0.1, 0.1);
    d.x[i][0] = (upper ? std::cos(t) : 1.0 - std::cos(t)) + nx;
    d.x[i][1] = (upper ? std::sin(t) : 0.5 - std::sin(t)) + ny;
    d.y[i] = upper ? -1.0 : 1.0;
  }
  return d;
}

/// micrograd's initialisation: weights uniform(-1, 1), biases 0.
inline std::array<double, kParams> init_params(std::uint64_t seed = 2) {
  sgbench::Rng rng(seed);
  std::array<double, kParams> p{};
  for (double& v : p) v = rng.uniform(-1.0, 1.0);
  for (int j = 0; j < kHidden; ++j) {
    p[kB1 + j] = 0.0;
    p[kB2 + j] = 0.0;
  }
  p[kB3] = 0.0;
  return p;
}

inline double relu(double x) { return x > 0.0 ? x : 0.0; }

/// Scratch arrays of the plain-double baselines (F, F', H). The benchmark keeps them next to the
/// parameters, at a fixed distance, not on the stack: there, their distance to the heap-held
/// weights modulo 4 KiB depended on the size of the process's environment, and when a store to
/// h2[j] matched the address of a weight loaded next in its low 12 bits, the load waited for the
/// store ("4K aliasing"). F took 23 or 46 us depending on how long the environment was.
struct Scratch {
  double h1[kHidden];
  double h2[kHidden];
  double z1[kHidden];
  double z2[kHidden];
  double dh1[kHidden];
};

/// F: the loss in plain doubles, same operations in the same order as the engine variants.
inline double forward_plain(const double* p, const Data& d, Scratch& scratch) {
  double data_loss = 0.0;
  double* const h1 = scratch.h1;
  double* const h2 = scratch.h2;
  for (int i = 0; i < kPoints; ++i) {
    const double* x = d.x[i];
    for (int j = 0; j < kHidden; ++j) {
      const double* w = p + kW1 + j * kIn;
      h1[j] = relu(w[0] * x[0] + w[1] * x[1] + p[kB1 + j]);
    }
    for (int j = 0; j < kHidden; ++j) {
      const double* w = p + kW2 + j * kHidden;
      double z = w[0] * h1[0];
      for (int k = 1; k < kHidden; ++k) z += w[k] * h1[k];
      h2[j] = relu(z + p[kB2 + j]);
    }
    double s = p[kW3] * h2[0];
    for (int k = 1; k < kHidden; ++k) s += p[kW3 + k] * h2[k];
    s += p[kB3];
    data_loss += relu(1.0 - d.y[i] * s);
  }
  double reg = 0.0;
  for (int k = 0; k < kParams; ++k) reg += p[k] * p[k];
  return data_loss / kPoints + kAlpha * reg;
}

/// F': the same loss with the same operations in the same order for every sum (so the same
/// bits), but the loops of each layer interchanged (for k, for j: z_j += w_jk h_k), so that the
/// 16 neurons' sums are independent chains the CPU can overlap. Shows how much of F is latency.
inline double forward_plain_interleaved(const double* p, const Data& d, Scratch& scratch) {
  double data_loss = 0.0;
  double* const h1 = scratch.h1;
  double* const z = scratch.z2;
  for (int i = 0; i < kPoints; ++i) {
    const double* x = d.x[i];
    for (int j = 0; j < kHidden; ++j) {
      const double* w = p + kW1 + j * kIn;
      h1[j] = relu(w[0] * x[0] + w[1] * x[1] + p[kB1 + j]);
    }
    for (int j = 0; j < kHidden; ++j) z[j] = p[kW2 + j * kHidden] * h1[0];
    for (int k = 1; k < kHidden; ++k) {
      for (int j = 0; j < kHidden; ++j) z[j] += p[kW2 + j * kHidden + k] * h1[k];
    }
    double s = p[kW3] * relu(z[0] + p[kB2]);
    for (int k = 1; k < kHidden; ++k) s += p[kW3 + k] * relu(z[k] + p[kB2 + k]);
    s += p[kB3];
    data_loss += relu(1.0 - d.y[i] * s);
  }
  double reg = 0.0;
  for (int k = 0; k < kParams; ++k) reg += p[k] * p[k];
  return data_loss / kPoints + kAlpha * reg;
}

/// H: forward and hand-written backward in plain doubles; writes dloss/dp into g (overwritten,
/// as "grads zeroed each step") and returns the loss. The loss is a sum over points, so each
/// point's backward runs right after its forward (what one writes by hand).
inline double gradient_plain(const double* p, const Data& d, double* g, Scratch& scratch) {
  for (int k = 0; k < kParams; ++k) g[k] = 0.0;
  double data_loss = 0.0;
  const double dmean = 1.0 / kPoints;
  double* const z1 = scratch.z1;
  double* const h1 = scratch.h1;
  double* const z2 = scratch.z2;
  double* const h2 = scratch.h2;
  double* const dh1 = scratch.dh1;
  for (int i = 0; i < kPoints; ++i) {
    const double* x = d.x[i];
    for (int j = 0; j < kHidden; ++j) {
      const double* w = p + kW1 + j * kIn;
      z1[j] = w[0] * x[0] + w[1] * x[1] + p[kB1 + j];
      h1[j] = relu(z1[j]);
    }
    for (int j = 0; j < kHidden; ++j) {
      const double* w = p + kW2 + j * kHidden;
      double z = w[0] * h1[0];
      for (int k = 1; k < kHidden; ++k) z += w[k] * h1[k];
      z2[j] = z + p[kB2 + j];
      h2[j] = relu(z2[j]);
    }
    double s = p[kW3] * h2[0];
    for (int k = 1; k < kHidden; ++k) s += p[kW3 + k] * h2[k];
    s += p[kB3];
    const double m = 1.0 - d.y[i] * s;
    data_loss += relu(m);
    if (!(m > 0.0)) continue;  // relu'(m) = 0: nothing flows back from this point
    const double ds = -(dmean * d.y[i]);
    for (int k = 0; k < kHidden; ++k) g[kW3 + k] += ds * h2[k];
    g[kB3] += ds;
    for (int k = 0; k < kHidden; ++k) dh1[k] = 0.0;
    for (int j = 0; j < kHidden; ++j) {
      if (!(z2[j] > 0.0)) continue;
      const double dz = ds * p[kW3 + j];
      const double* w = p + kW2 + j * kHidden;
      double* gw = g + kW2 + j * kHidden;
      for (int k = 0; k < kHidden; ++k) {
        gw[k] += dz * h1[k];
        dh1[k] += dz * w[k];
      }
      g[kB2 + j] += dz;
    }
    for (int j = 0; j < kHidden; ++j) {
      if (!(z1[j] > 0.0)) continue;
      const double dz = dh1[j];
      g[kW1 + j * kIn] += dz * x[0];
      g[kW1 + j * kIn + 1] += dz * x[1];
      g[kB1 + j] += dz;
    }
  }
  double reg = 0.0;
  for (int k = 0; k < kParams; ++k) {
    reg += p[k] * p[k];
    g[k] += 2.0 * kAlpha * p[k];
  }
  return data_loss / kPoints + kAlpha * reg;
}

/// Facts about one evaluation, printed so that a reader knows how much of the backward is live.
struct Activity {
  int active_points = 0;   // points with 1 - y s > 0 (the others send no gradient)
  int live_units = 0;      // hidden units with pre-activation > 0, summed over points
};

inline Activity activity(const double* p, const Data& d) {
  Activity a;
  double h1[kHidden];
  for (int i = 0; i < kPoints; ++i) {
    const double* x = d.x[i];
    for (int j = 0; j < kHidden; ++j) {
      const double* w = p + kW1 + j * kIn;
      h1[j] = relu(w[0] * x[0] + w[1] * x[1] + p[kB1 + j]);
      a.live_units += h1[j] > 0.0;
    }
    double s = p[kB3];
    for (int j = 0; j < kHidden; ++j) {
      const double* w = p + kW2 + j * kHidden;
      double z = w[0] * h1[0];
      for (int k = 1; k < kHidden; ++k) z += w[k] * h1[k];
      const double h2 = relu(z + p[kB2 + j]);
      a.live_units += h2 > 0.0;
      s += p[kW3 + j] * h2;
    }
    a.active_points += 1.0 - d.y[i] * s > 0.0;
  }
  return a;
}

}  // namespace w1

// ---- Copies of the engine compiled into the benchmark (w1_engine_copy.inc) ---------------------
// w1_micrograd_step.uncounted.cc compiles the whole engine once more in namespace
// scalargrad_uncounted with SCALARGRAD_UNCOUNTED_HANDLES=1, w1_micrograd_step.counted.cc in
// namespace scalargrad_counted with counting; these functions are their only entry points.
// Declared weak: if a build leaves those two files out, bench_w1_micrograd_step still links, and
// reports the bookkeeping targets as not measured (FAIL) instead of breaking the build.
#if defined(__GNUC__) || defined(__clang__)
#define W1_COPY_WEAK __attribute__((weak))
#else
#define W1_COPY_WEAK
#endif
#define W1_COPY_API w1_uncounted
#include "w1_copy_api.inc"
#undef W1_COPY_API
#define W1_COPY_API w1_counted_copy
#include "w1_copy_api.inc"
#undef W1_COPY_API
