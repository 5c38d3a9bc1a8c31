// W1: the micrograd demo step (MLP 2-16-16-1, 100 points, hinge loss + L2, forward + backward of
// the 337 weights), written directly on scalargrad Values, against plain-double code measured in
// the same binary and run:
//   F  plain-double forward (no gradient)           H  plain-double forward + hand-written backward
//   engine, scalar ops (w1*x1 + w2*x2 + ... + b)     engine, fused (affine(w, x, b): w . x + b,
//                                                    the 100 points as one batch through dense(),
//                                                    as nn::MLP::scores() records them; and, for
//                                                    information, point by point)
//   the same two on copies of the engine compiled into this benchmark with and without handle
//   counting (w1_micrograd_step.counted.cc / .uncounted.cc): their ratio is what counting costs
//   ADOL-C (if SCALARGRAD_HAVE_ADOLC): re-taping each step, and re-using one recorded tape.
//
// Targets: scalar <= 15x F and <= 5x H; fused <= 3x H; counted / uncounted <= 1.10 (both).
// Every gradient is checked against H before anything is timed (abort beyond 1e-9 relative).
//
// Usage: w1_micrograd_step [--rounds=N] [--no-check] [--no-gbench] [--dump-rounds]
//                          [--profile=VARIANT[:CALLS]] [--benchmark_* flags]
//   Google Benchmark runs the registered variants first (--benchmark_filter=... works), then two
//   interleaved measurements of N rounds each (default 800) print the summary table: the engine
//   against plain doubles and ADOL-C, and the handle bookkeeping. Exit status 1 if a target is
//   missed (0 with --no-check), 2 if a gradient check fails. --rounds=0 skips the summary. See
//   bench/common.hpp for the options.
#include <benchmark/benchmark.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common.hpp"
#include "scalargrad/scalargrad.hpp"
#include "w1_problem.hpp"

#if SCALARGRAD_HAVE_ADOLC
#include <adolc/adolc.h>
#endif

#define W1_ENGINE_NS w1_counted
#include "w1_engine.inc"
#undef W1_ENGINE_NS

namespace {

constexpr int kDefaultRounds = 800;
constexpr double kGradTolerance = 1e-9;

// ---- ADOL-C --------------------------------------------------------------------------------------
#if SCALARGRAD_HAVE_ADOLC
namespace adolc_w1 {

constexpr short kTag = 11;

/// The loss on adoubles, with the scalar ops of the engine's scalar variant; relu as fmax(x, 0),
/// which ADOL-C records as an op (so a recorded tape stays valid when branches change).
adouble loss(const adouble* p, const w1::Data& d) {
  adouble h1[w1::kHidden];
  adouble h2[w1::kHidden];
  adouble data_loss = 0.0;
  for (int i = 0; i < w1::kPoints; ++i) {
    const double* x = d.x[i];
    for (int j = 0; j < w1::kHidden; ++j) {
      const adouble* w = p + w1::kW1 + j * w1::kIn;
      h1[j] = fmax(w[0] * x[0] + w[1] * x[1] + p[w1::kB1 + j], 0.0);
    }
    for (int j = 0; j < w1::kHidden; ++j) {
      const adouble* w = p + w1::kW2 + j * w1::kHidden;
      adouble z = w[0] * h1[0];
      for (int k = 1; k < w1::kHidden; ++k) z += w[k] * h1[k];
      h2[j] = fmax(z + p[w1::kB2 + j], 0.0);
    }
    adouble s = p[w1::kW3] * h2[0];
    for (int k = 1; k < w1::kHidden; ++k) s += p[w1::kW3 + k] * h2[k];
    s += p[w1::kB3];
    data_loss += fmax(1.0 - d.y[i] * s, 0.0);
  }
  adouble reg = p[0] * p[0];
  for (int k = 1; k < w1::kParams; ++k) reg += p[k] * p[k];
  return data_loss / w1::kPoints + w1::kAlpha * reg;
}

struct Runner {
  const w1::Data* data = nullptr;
  std::array<double, w1::kParams> w{};
  std::array<double, w1::kParams> g{};

  /// What an ADOL-C user does for a dynamic graph: record the tape (keeping the Taylor values),
  /// then one reverse sweep on it. Every step records anew.
  double retape() {
    double y = 0;
    trace_on(kTag, 1);
    {
      std::vector<adouble> p(w1::kParams);
      for (int k = 0; k < w1::kParams; ++k) p[static_cast<std::size_t>(k)] <<= w[static_cast<std::size_t>(k)];
      adouble l = loss(p.data(), *data);
      l >>= y;
    }
    trace_off();
    double u = 1.0;
    fos_reverse(kTag, 1, w1::kParams, &u, g.data());
    return y + checksum();
  }

  /// Re-using the tape recorded by retape(): zero-order forward (keeping Taylors) + first-order
  /// reverse, what gradient() does. Valid here because no weight changes between steps; not an
  /// option for a dynamic-graph engine's users in general.
  double reuse() {
    double y = 0;
    zos_forward(kTag, 1, w1::kParams, 1, w.data(), &y);
    double u = 1.0;
    fos_reverse(kTag, 1, w1::kParams, &u, g.data());
    return y + checksum();
  }

  [[nodiscard]] double checksum() const {
    double s = 0;
    for (const double v : g) s += v;
    return s;
  }

  [[nodiscard]] std::size_t tape_ops() const {
    std::size_t stats[STAT_SIZE];
    tapestats(kTag, stats);
    return stats[NUM_OPERATIONS];
  }
};

}  // namespace adolc_w1
#endif

// ---- The variants, as free functions ------------------------------------------------------------
struct Setup {
  w1::Data data = w1::make_data();
  std::array<double, w1::kParams> params = w1::init_params();
  w1::Scratch scratch{};  // right after params: a fixed distance (w1::Scratch)
  std::array<double, w1::kParams> g{};
  w1_counted::Model counted;
#if SCALARGRAD_HAVE_ADOLC
  adolc_w1::Runner adolc;
#endif
};

Setup* setup = nullptr;

double run_F() { return w1::forward_plain(setup->params.data(), setup->data, setup->scratch); }
double run_F_interleaved() {
  return w1::forward_plain_interleaved(setup->params.data(), setup->data, setup->scratch);
}

double run_H() {
  double l = w1::gradient_plain(setup->params.data(), setup->data, setup->g.data(), setup->scratch);
  for (const double v : setup->g) l += v;  // read the grads, as the engine variants do
  return l;
}

double run_scalar() { return setup->counted.step(false); }
double run_fused() { return setup->counted.step(true); }
double run_fused_points() { return setup->counted.step_fused_points(); }
double run_scalar_forward() { return setup->counted.forward_only(false); }
double run_scalar_uncounted() { return w1_uncounted::step_scalar(); }
double run_fused_uncounted() { return w1_uncounted::step_fused(); }
double run_scalar_counted_copy() { return w1_counted_copy::step_scalar(); }
double run_fused_counted_copy() { return w1_counted_copy::step_fused(); }
#if SCALARGRAD_HAVE_ADOLC
double run_adolc_retape() { return setup->adolc.retape(); }
double run_adolc_reuse() { return setup->adolc.reuse(); }
#endif

/// False if this executable was linked without w1_micrograd_step.counted.cc / .uncounted.cc (their
/// entry points are weak): then the handle-bookkeeping targets cannot be measured.
bool copies_linked() {
  return &w1_uncounted::init != nullptr && &w1_uncounted::step_scalar != nullptr &&
         &w1_uncounted::step_fused != nullptr && &w1_uncounted::gradient != nullptr &&
         &w1_uncounted::last_nodes != nullptr && &w1_uncounted::leaves_now != nullptr &&
         &w1_counted_copy::init != nullptr && &w1_counted_copy::step_scalar != nullptr &&
         &w1_counted_copy::step_fused != nullptr && &w1_counted_copy::gradient != nullptr &&
         &w1_counted_copy::last_nodes != nullptr && &w1_counted_copy::leaves_now != nullptr;
}

void check_gradient(const char* who, const std::array<double, w1::kParams>& g,
                    const std::array<double, w1::kParams>& reference) {
  const double d = sgbench::max_rel_diff(g.data(), reference.data(), g.size());
  std::printf("  gradient check %-34s max rel diff vs H = %.3g  %s\n", who, d, d <= kGradTolerance ? "ok" : "MISMATCH");
  if (!(d <= kGradTolerance)) {
    std::fprintf(stderr, "FATAL: %s: gradient differs from the hand-written one (%.3g > %.3g)\n", who, d,
                 kGradTolerance);
    std::exit(2);
  }
}

/// Runs every variant once, compares every gradient with H (abort on mismatch), prints facts.
void verify_and_describe() {
  Setup& s = *setup;
  std::array<double, w1::kParams> gH{};
  const double lossH = w1::gradient_plain(s.params.data(), s.data, gH.data(), s.scratch);
  const double lossF = w1::forward_plain(s.params.data(), s.data, s.scratch);
  const w1::Activity act = w1::activity(s.params.data(), s.data);
  std::printf("W1: MLP 2-16-16-1, %d points, %d parameters; loss = %.12g (F) / %.12g (H)\n", w1::kPoints,
              w1::kParams, lossF, lossH);
  std::printf("  points with a non-zero hinge: %d of %d; live hidden units: %.1f%%\n", act.active_points,
              w1::kPoints, 100.0 * act.live_units / (2.0 * w1::kHidden * w1::kPoints));
  if (lossF != lossH) sgbench::die("F and H disagree on the loss");
  if (w1::forward_plain_interleaved(s.params.data(), s.data, s.scratch) != lossF) sgbench::die("F' and F disagree on the loss");

  const bool copies = copies_linked();
  if (copies) {
    const char* err = w1_uncounted::init(s.data, s.params.data());
    if (*err != '\0') sgbench::die(err);
    std::printf("  uncounted engine copy: the 337 weights are leaves 0..336 of its tape; after "
                "reset_for_benchmark(337) it holds %zu leaves and 0 nodes (checked)\n",
                w1_uncounted::leaves_now());
    err = w1_counted_copy::init(s.data, s.params.data());
    if (*err != '\0') sgbench::die(err);
  } else {
    std::printf("  NOTE: the engine copies (w1_micrograd_step.counted.cc, .uncounted.cc) are not linked in: "
                "the handle-bookkeeping targets will be reported as FAIL (not measured)\n");
  }

  s.counted.init(s.data, s.params.data());
  std::array<double, w1::kParams> g{};
  for (int rep = 0; rep < 2; ++rep) {  // twice: grads must be zeroed, nothing may leak across steps
    run_scalar();
    s.counted.gradient(g.data());
    check_gradient(rep == 0 ? "engine scalar (step 1)" : "engine scalar (step 2)", g, gH);
    run_fused();
    s.counted.gradient(g.data());
    check_gradient(rep == 0 ? "engine fused (step 1)" : "engine fused (step 2)", g, gH);
    run_fused_points();
    s.counted.gradient(g.data());
    check_gradient(rep == 0 ? "engine fused point by point (step 1)" : "engine fused point by point (step 2)", g, gH);
    if (!copies) continue;
    run_scalar_uncounted();
    w1_uncounted::gradient(g.data());
    check_gradient(rep == 0 ? "uncounted copy scalar (step 1)" : "uncounted copy scalar (step 2)", g, gH);
    run_fused_uncounted();
    w1_uncounted::gradient(g.data());
    check_gradient(rep == 0 ? "uncounted copy fused (step 1)" : "uncounted copy fused (step 2)", g, gH);
    run_scalar_counted_copy();
    w1_counted_copy::gradient(g.data());
    check_gradient(rep == 0 ? "counted copy scalar (step 1)" : "counted copy scalar (step 2)", g, gH);
    run_fused_counted_copy();
    w1_counted_copy::gradient(g.data());
    check_gradient(rep == 0 ? "counted copy fused (step 1)" : "counted copy fused (step 2)", g, gH);
  }
  if (copies && (w1_counted_copy::leaves_now() != static_cast<std::size_t>(w1::kParams) ||
                 w1_uncounted::leaves_now() != static_cast<std::size_t>(w1::kParams))) {
    sgbench::die("engine copies: leaves leak across steps");
  }
  const std::size_t nodes_scalar = s.counted.forward_nodes(false);
  const std::size_t nodes_fused = s.counted.forward_nodes(true);
  std::printf("  tape nodes per step (incl. leaf imports): scalar %zu, fused %zu", nodes_scalar, nodes_fused);
  if (copies) {
    std::printf(" (copies, fused: counted %zu, uncounted %zu)", w1_counted_copy::last_nodes(),
                w1_uncounted::last_nodes());
  }
  std::printf("\n");
  const scalargrad::TapeStats st = scalargrad::tape_stats();
  std::printf("  counted tape between steps: %zu nodes, %zu segments, %zu leaves (flat memory: %zu bytes held)\n",
              st.nodes, st.segments, st.leaves, st.bytes);

  std::printf("  page faults per step in steady state: engine scalar %.1f, fused %.1f", sgbench::faults_per_call(run_scalar, 20),
              sgbench::faults_per_call(run_fused, 20));
  if (copies) {
    std::printf("; copies, scalar: counted %.1f, uncounted %.1f", sgbench::faults_per_call(run_scalar_counted_copy, 20),
                sgbench::faults_per_call(run_scalar_uncounted, 20));
  }
  std::printf("\n");
#if SCALARGRAD_HAVE_ADOLC
  s.adolc.data = &s.data;
  s.adolc.w = s.params;
  run_adolc_retape();
  check_gradient("ADOL-C re-taping", s.adolc.g, gH);
  run_adolc_reuse();
  check_gradient("ADOL-C tape re-use", s.adolc.g, gH);
  std::printf("  ADOL-C: %zu operations on its tape per step\n", s.adolc.tape_ops());
#else
  std::printf("  ADOL-C: not compiled in (SCALARGRAD_HAVE_ADOLC not set)\n");
#endif
}

void register_benchmarks() {
  const auto add = sgbench::register_variant;
  add("W1/F_plain_forward", run_F);
  add("W1/F_plain_forward_interleaved", run_F_interleaved);
  add("W1/H_plain_gradient", run_H);
  add("W1/engine_scalar", run_scalar);
  add("W1/engine_fused", run_fused);
  add("W1/engine_fused_points", run_fused_points);
  add("W1/engine_scalar_forward_only", run_scalar_forward);
  if (copies_linked()) {
    add("W1/copy_counted_scalar", run_scalar_counted_copy);
    add("W1/copy_uncounted_scalar", run_scalar_uncounted);
    add("W1/copy_counted_fused", run_fused_counted_copy);
    add("W1/copy_uncounted_fused", run_fused_uncounted);
  }
#if SCALARGRAD_HAVE_ADOLC
  add("W1/adolc_retape", run_adolc_retape);
  add("W1/adolc_tape_reuse", run_adolc_reuse);
#endif
}

bool summary(int rounds, bool dump) {
  const auto wrap = [](double (*fn)()) { return [fn] { sgbench::keep(fn()); }; };

  // 1. Against plain doubles and ADOL-C.
  sgbench::Rounds r;
  const std::size_t F = r.add("F  plain forward", wrap(run_F), 10);
  const std::size_t F2 = r.add("F' plain forward, loops interchanged", wrap(run_F_interleaved), 10);
  const std::size_t H = r.add("H  plain forward + hand backward", wrap(run_H), 10);
  const std::size_t S = r.add("engine scalar ops", wrap(run_scalar));
  const std::size_t D = r.add("engine fused dot", wrap(run_fused));
  const std::size_t DP = r.add("engine fused dot, point by point", wrap(run_fused_points));
  const std::size_t SF = r.add("engine scalar ops, forward only", wrap(run_scalar_forward));
#if SCALARGRAD_HAVE_ADOLC
  const std::size_t AR = r.add("ADOL-C re-taping each step", wrap(run_adolc_retape));
  const std::size_t AU = r.add("ADOL-C re-using one tape (zos+fos)", wrap(run_adolc_reuse));
#endif
  std::printf("\nInterleaved measurement 1 (vs plain doubles): %d rounds, %zu variants, start rotated, "
              "CPU time of this thread\nload average before: %s\n",
              rounds, r.size(), sgbench::load_average().c_str());
  std::fflush(stdout);
  r.run(rounds);
  std::printf("load average after:  %s\n", sgbench::load_average().c_str());
  r.print_times();
  if (dump) r.dump();

  // 2. Handle bookkeeping: a small difference (10%), so measured in rounds of the engine variants
  // only, the two samples of a ratio close in time.
  sgbench::Rounds b;
  const bool copies = copies_linked();
  const std::size_t bS = b.add("engine scalar ops (library)", wrap(run_scalar));
  const std::size_t bD = b.add("engine fused dot (library)", wrap(run_fused));
  std::size_t bSC = 0, bSU = 0, bDC = 0, bDU = 0;
  if (copies) {
    bSC = b.add("copy, counted: scalar ops", wrap(run_scalar_counted_copy));
    bSU = b.add("copy, uncounted: scalar ops", wrap(run_scalar_uncounted));
    bDC = b.add("copy, counted: fused dot", wrap(run_fused_counted_copy));
    bDU = b.add("copy, uncounted: fused dot", wrap(run_fused_uncounted));
  }
  if (copies) {
    std::printf("\nInterleaved measurement 2 (handle bookkeeping): %d rounds, %zu variants\nload average before: %s\n",
                rounds, b.size(), sgbench::load_average().c_str());
    std::fflush(stdout);
    b.run(rounds);
    std::printf("load average after:  %s\n", sgbench::load_average().c_str());
    b.print_times();
    if (dump) b.dump();
  }

  sgbench::Report rep("W1 summary: ratios = median over rounds of (variant / baseline of the same round)");
  rep.target("W1 engine scalar ops / F", r.ratios(S, F), 15.0);
  rep.target("W1 engine scalar ops / H", r.ratios(S, H), 5.0);
  rep.target("W1 engine fused dot / H", r.ratios(D, H), 3.0);
  if (copies) {
    rep.target("W1 counted / uncounted (copies), scalar ops", b.ratios(bSC, bSU), 1.10);
    rep.target("W1 counted / uncounted (copies), fused dot", b.ratios(bDC, bDU), 1.10);
  } else {  // not measured: NaN, reported as FAIL
    rep.target_value("W1 counted / uncounted, scalar ops (NOT BUILT)", std::nan(""), 1.10);
    rep.target_value("W1 counted / uncounted, fused dot (NOT BUILT)", std::nan(""), 1.10);
  }
  rep.info("W1 engine fused dot / F", r.ratios(D, F));
  rep.info("W1 engine fused dot / engine scalar ops", r.ratios(D, S));
  rep.info("W1 engine fused dot, point by point / H", r.ratios(DP, H));
  rep.info("W1 engine scalar ops, forward only / F", r.ratios(SF, F));
  rep.info("W1 H / F", r.ratios(H, F));
  rep.info("W1 F' (loops interchanged, same bits) / F", r.ratios(F2, F));
  if (copies) {
    rep.info("W1 library engine / uncounted copy, scalar", b.ratios(bS, bSU));
    rep.info("W1 library engine / uncounted copy, fused", b.ratios(bD, bDU));
    rep.info("W1 library engine / counted copy, scalar", b.ratios(bS, bSC));
    rep.info("W1 library engine / counted copy, fused", b.ratios(bD, bDC));
  }
#if SCALARGRAD_HAVE_ADOLC
  rep.info("W1 ADOL-C re-taping / F", r.ratios(AR, F));
  rep.info("W1 ADOL-C re-taping / H", r.ratios(AR, H));
  rep.info("W1 engine scalar ops / ADOL-C re-taping", r.ratios(S, AR));
  rep.info("W1 ADOL-C tape re-use (not dynamic) / H", r.ratios(AU, H));
  rep.info("W1 engine scalar ops / ADOL-C tape re-use", r.ratios(S, AU));
#endif
  rep.print();
  return !rep.any_fail();
}

}  // namespace

int main(int argc, char** argv) {
  const sgbench::Options opt = sgbench::parse_options(argc, argv, kDefaultRounds);
  sgbench::print_build_info();
  Setup s;
  setup = &s;
  verify_and_describe();
  if (!opt.profile.empty()) {
    std::vector<sgbench::Named> variants{{"F", run_F},
                                         {"H", run_H},
                                         {"scalar", run_scalar},
                                         {"fused", run_fused},
                                         {"fused_points", run_fused_points},
                                         {"scalar_forward", run_scalar_forward}};
    if (copies_linked()) {
      variants.insert(variants.end(), {{"copy_counted_scalar", run_scalar_counted_copy},
                                       {"copy_uncounted_scalar", run_scalar_uncounted},
                                       {"copy_counted_fused", run_fused_counted_copy},
                                       {"copy_uncounted_fused", run_fused_uncounted}});
    }
#if SCALARGRAD_HAVE_ADOLC
    variants.insert(variants.end(), {{"adolc_retape", run_adolc_retape}, {"adolc_reuse", run_adolc_reuse}});
#endif
    return sgbench::run_profile(opt.profile, variants, 200);
  }

  if (opt.gbench) {
    register_benchmarks();
    if (!sgbench::run_google_benchmark(argc, argv)) return 1;
  }
  if (opt.rounds <= 0) return 0;
  const bool ok = summary(opt.rounds, opt.dump_rounds);
  std::printf("\nRESULT: %s\n", ok ? "all W1 targets met" : "FAIL: a W1 target is missed");
  return ok || !opt.check ? 0 : 1;
}
