// W2: a chain y = tanh(a*y + b) of 1e6 iterations (a, b, y0 leaf Values), forward + backward,
// against the plain-double forward measured in the same binary and run; and the memory per node,
// both as the engine counts it (tape_stats().bytes / nodes at the end of the forward) and as the
// kernel sees it (peak RSS growth per node, VmHWM, in a separate process: this binary re-run with
// --rss-child=...).
//
// Targets: (forward + backward) / plain forward <= 1.5 (Adept and CoDiPack measure 1.2x, 1.3x);
// bytes per node <= 32, for both measures.
//
// The chain's parameters are a = 1, b = 0, y0 = 0.5: dy_n/dy_{n-1} = 1 - y_n^2 tends to 1, so the
// adjoints decay only like a power of n and stay far from zero over the 1e6 steps. With a
// contracting chain (|a| < 1) they would underflow to 0 after a few thousand steps, and the
// engine's skip of zero adjoints would make the rest of the backward free: flattering, not
// representative. The adjoint of y0 is printed to show it is not zero.
//
// Usage: w2_tanh_chain [--rounds=N] [--no-check] [--no-gbench] [--dump-rounds]
//                      [--profile=VARIANT[:CALLS]] [--benchmark_* flags]
//   Google Benchmark runs the registered variants first, then two interleaved measurements print
//   the summary: N rounds (default 60) of plain / hand / engine, and N/4 rounds with ADOL-C.
//   Exit status 1 if a target is missed (0 with --no-check), 2 if a gradient check fails.
//   --rounds=0 skips the summary. See bench/common.hpp for the options.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"
#include "scalargrad/scalargrad.hpp"

#if SCALARGRAD_HAVE_ADOLC
#include <adolc/adolc.h>
#endif

namespace {

constexpr int kDefaultRounds = 60;
constexpr int kSteps = 1'000'000;
constexpr double kA = 1.0;
constexpr double kB = 0.0;
constexpr double kY0 = 0.5;
constexpr double kGradTolerance = 1e-9;

// ---- Plain doubles -------------------------------------------------------------------------------
// The parameters as the plain code sees them: read through volatile, so that the compiler cannot
// fold a*y + b into y + 0 (the engine and ADOL-C really multiply and add, so must the baseline).
volatile double param_a = kA;
volatile double param_b = kB;
volatile double param_y0 = kY0;

/// The baseline: the forward in plain doubles.
double plain_forward() {
  const double a = param_a;
  const double b = param_b;
  double y = param_y0;
  for (int i = 0; i < kSteps; ++i) y = std::tanh(a * y + b);
  return y;
}

/// A hand-written gradient (forward storing y_n, then the reverse sweep): g = d y_N / d(a, b, y0).
double hand_gradient(std::vector<double>& ys, std::array<double, 3>& g) {
  const double a = param_a;
  const double b = param_b;
  ys.resize(kSteps + 1);
  ys[0] = param_y0;
  for (int i = 0; i < kSteps; ++i) ys[i + 1] = std::tanh(a * ys[i] + b);
  double adj = 1.0;  // d y_N / d y_n
  double ga = 0.0;
  double gb = 0.0;
  for (int n = kSteps; n >= 1; --n) {
    const double t = adj * (1.0 - ys[n] * ys[n]);  // d y_N / d(a y_{n-1} + b)
    ga += t * ys[n - 1];
    gb += t;
    adj = t * a;
  }
  g = {ga, gb, adj};
  return ys[kSteps];
}

// ---- The engine ----------------------------------------------------------------------------------
struct Engine {
  scalargrad::Value a{kA};
  scalargrad::Value b{kB};
  scalargrad::Value y0{kY0};

  /// Forward (records 3 nodes per step) and, if asked, backward. Returns a checksum.
  double run(bool backward) {
    a.zero_grad();
    b.zero_grad();
    y0.zero_grad();
    scalargrad::Value y = y0;
    for (int i = 0; i < kSteps; ++i) y = tanh(a * y + b);
    if (!backward) return y.data();
    y.backward();
    return y.data() + a.grad() + b.grad() + y0.grad();
  }

  /// Tape statistics at the end of a forward (not timed).
  scalargrad::TapeStats forward_stats() {
    scalargrad::Value y = y0;
    for (int i = 0; i < kSteps; ++i) y = tanh(a * y + b);
    return scalargrad::tape_stats();
  }
};

// ---- ADOL-C ----------------------------------------------------------------------------------------
#if SCALARGRAD_HAVE_ADOLC
struct Adolc {
  static constexpr short kTag = 21;
  // Buffer sizes (elements) large enough that the whole tape stays in core: no tape files. Set
  // from a first recording (ops, locations, values, Taylors), with room to spare.
  unsigned obs = 1u << 20, lbs = 1u << 20, vbs = 1u << 20, tbs = 1u << 20;
  std::array<double, 3> x{kA, kB, kY0};
  std::array<double, 3> g{};

  /// Re-taping, as for a dynamic graph: record (keeping Taylors), then one reverse sweep.
  double retape() {
    double out = 0;
    trace_on(kTag, 1, obs, lbs, vbs, tbs);
    {
      adouble a, b, y;
      a <<= x[0];
      b <<= x[1];
      y <<= x[2];
      for (int i = 0; i < kSteps; ++i) y = tanh(a * y + b);
      y >>= out;
    }
    trace_off();
    double u = 1.0;
    fos_reverse(kTag, 1, 3, &u, g.data());
    return out + g[0] + g[1] + g[2];
  }

  /// Re-using the recorded tape: zos_forward (keeping Taylors) + fos_reverse.
  double reuse() {
    double out = 0;
    zos_forward(kTag, 1, 3, 1, x.data(), &out);
    double u = 1.0;
    fos_reverse(kTag, 1, 3, &u, g.data());
    return out + g[0] + g[1] + g[2];
  }

  std::array<std::size_t, STAT_SIZE> stats() const {
    std::array<std::size_t, STAT_SIZE> s{};
    tapestats(kTag, s.data());
    return s;
  }

  /// Records once with generous buffers, then sizes the buffers to the tape (+25%).
  void size_buffers() {
    obs = lbs = vbs = tbs = 1u << 26;
    retape();
    const auto s = stats();
    const auto fit = [](std::size_t n) { return static_cast<unsigned>(n + n / 4 + 1024); };
    obs = fit(s[NUM_OPERATIONS]);
    lbs = fit(s[NUM_LOCATIONS]);
    vbs = fit(s[NUM_VALUES]);
    tbs = fit(s[TAY_STACK_SIZE]);
  }
};
#endif

struct Setup {
  Engine engine;
  std::vector<double> ys;
  std::array<double, 3> g{};
#if SCALARGRAD_HAVE_ADOLC
  Adolc adolc;
#endif
};
Setup* setup = nullptr;

double run_plain() { return plain_forward(); }
double run_hand() {
  const double y = hand_gradient(setup->ys, setup->g);
  return y + setup->g[0] + setup->g[1] + setup->g[2];
}
double run_engine() { return setup->engine.run(true); }
double run_engine_forward() { return setup->engine.run(false); }
#if SCALARGRAD_HAVE_ADOLC
double run_adolc_retape() { return setup->adolc.retape(); }
double run_adolc_reuse() { return setup->adolc.reuse(); }
#endif

void check_gradient(const char* who, const std::array<double, 3>& g, const std::array<double, 3>& ref) {
  const double d = sgbench::max_rel_diff(g.data(), ref.data(), 3);
  std::printf("  gradient check %-22s (%.12g, %.12g, %.6g)  max rel diff vs hand = %.3g  %s\n", who, g[0], g[1],
              g[2], d, d <= kGradTolerance ? "ok" : "MISMATCH");
  if (!(d <= kGradTolerance)) {
    std::fprintf(stderr, "FATAL: %s: W2 gradient differs from the hand-written one\n", who);
    std::exit(2);
  }
}

// ---- Peak RSS in a child process ---------------------------------------------------------------
/// Runs in the child (--rss-child=what): one forward (and backward) from a fresh process, printing
/// the RSS before, the peak after the forward and after the backward, and the nodes.
int rss_child(const std::string& what) {
  std::size_t nodes = 0;
  std::size_t tape_bytes = 0;
  long rss0 = 0, hwm_fwd = 0, hwm_bwd = 0;
  bool reset = false;
  double check = 0;
  const auto start = [&] {
    reset = sgbench::reset_peak_rss();
    rss0 = reset ? sgbench::proc_status_kb("VmRSS") : sgbench::proc_status_kb("VmHWM");
  };
  if (what == "engine") {
    scalargrad::Value a = kA, b = kB, y0 = kY0;
    scalargrad::Value warm = a * b;  // the tape exists before the baseline is read
    start();
    {
      scalargrad::Value y = y0;
      for (int i = 0; i < kSteps; ++i) y = tanh(a * y + b);
      hwm_fwd = sgbench::proc_status_kb("VmHWM");
      const scalargrad::TapeStats st = scalargrad::tape_stats();
      nodes = st.nodes;
      tape_bytes = st.bytes;
      y.backward();
      hwm_bwd = sgbench::proc_status_kb("VmHWM");
      check = a.grad() + y.data() + warm.data();
    }
  } else if (what == "plain") {
    start();
    check = plain_forward();
    hwm_fwd = hwm_bwd = sgbench::proc_status_kb("VmHWM");
    nodes = 3 * static_cast<std::size_t>(kSteps);
#if SCALARGRAD_HAVE_ADOLC
  } else if (what == "adolc") {
    Adolc ad;
    ad.size_buffers();  // records once, so the buffers' sizes are known; the measured run is the next
    removeTape(Adolc::kTag, ADOLC_REMOVE_COMPLETELY);
    start();
    double out = 0;
    trace_on(Adolc::kTag, 1, ad.obs, ad.lbs, ad.vbs, ad.tbs);
    {
      adouble a, b, y;
      a <<= ad.x[0];
      b <<= ad.x[1];
      y <<= ad.x[2];
      for (int i = 0; i < kSteps; ++i) y = tanh(a * y + b);
      y >>= out;
    }
    trace_off();
    hwm_fwd = sgbench::proc_status_kb("VmHWM");
    double u = 1.0;
    fos_reverse(Adolc::kTag, 1, 3, &u, ad.g.data());
    hwm_bwd = sgbench::proc_status_kb("VmHWM");
    nodes = ad.stats()[NUM_OPERATIONS];
    check = out + ad.g[0];
#endif
  } else {
    std::fprintf(stderr, "unknown --rss-child=%s\n", what.c_str());
    return 2;
  }
  std::printf("nodes=%zu rss0_kb=%ld hwm_fwd_kb=%ld hwm_bwd_kb=%ld tape_bytes=%zu reset=%d check=%g\n", nodes, rss0,
              hwm_fwd, hwm_bwd, tape_bytes, reset ? 1 : 0, check);
  return 0;
}

struct RssResult {
  double nodes = NAN, fwd_per_node = NAN, bwd_per_node = NAN;
  bool reset = false;
};

RssResult rss_in_child(const char* what) {
  const std::string out = sgbench::run_self(std::string("--rss-child=") + what);
  RssResult r;
  if (out.empty()) return r;
  r.nodes = sgbench::field(out, "nodes");
  const double rss0 = sgbench::field(out, "rss0_kb");
  r.fwd_per_node = (sgbench::field(out, "hwm_fwd_kb") - rss0) * 1024.0 / r.nodes;
  r.bwd_per_node = (sgbench::field(out, "hwm_bwd_kb") - rss0) * 1024.0 / r.nodes;
  r.reset = sgbench::field(out, "reset") == 1.0;
  return r;
}

// ---- Checks, benchmarks, summary ----------------------------------------------------------------
struct Memory {
  double tape_bytes_per_node = NAN;
  RssResult engine, plain, adolc;
};

Memory verify_and_describe() {
  Setup& s = *setup;
  std::array<double, 3> ref{};
  const double y_hand = hand_gradient(s.ys, ref);
  const double y_plain = plain_forward();
  std::printf("W2: y = tanh(a*y + b), %d steps, a = %g, b = %g, y0 = %g; y_N = %.12g (plain) / %.12g (hand)\n",
              kSteps, kA, kB, kY0, y_plain, y_hand);
  if (y_plain != y_hand) sgbench::die("plain forward and hand gradient disagree on y_N");
  std::printf("  d y_N / d y0 = %.6g (non-zero: the backward sweeps every node)\n", ref[2]);
  if (!(ref[2] != 0.0)) sgbench::die("the adjoint of y0 underflowed: the chain is not representative");

  for (int rep = 0; rep < 2; ++rep) {
    run_engine();
    std::array<double, 3> g{s.engine.a.grad(), s.engine.b.grad(), s.engine.y0.grad()};
    check_gradient(rep == 0 ? "engine (run 1)" : "engine (run 2)", g, ref);
  }
  Memory m;
  const scalargrad::TapeStats st = s.engine.forward_stats();
  m.tape_bytes_per_node = static_cast<double>(st.bytes) / static_cast<double>(st.nodes);
  std::printf("  engine tape at the end of the forward: %zu nodes (%.4f per step), %zu segments, %zu bytes "
              "= %.2f bytes/node (%.2f per step)\n",
              st.nodes, static_cast<double>(st.nodes) / kSteps, st.segments, st.bytes, m.tape_bytes_per_node,
              static_cast<double>(st.bytes) / kSteps);
  std::printf("  page faults per call in steady state (after one call): engine forward + backward %.0f, "
              "plain forward %.0f\n",
              sgbench::faults_per_call(run_engine), sgbench::faults_per_call(run_plain));
#if SCALARGRAD_HAVE_ADOLC
  s.adolc.size_buffers();
  run_adolc_retape();
  check_gradient("ADOL-C re-taping", s.adolc.g, ref);
  run_adolc_reuse();
  check_gradient("ADOL-C tape re-use", s.adolc.g, ref);
  std::printf("  ADOL-C page faults per call in steady state: re-taping %.0f, tape re-use %.0f\n",
              sgbench::faults_per_call(run_adolc_retape, 1), sgbench::faults_per_call(run_adolc_reuse, 1));
  const auto as = s.adolc.stats();
  std::printf("  ADOL-C tape: %zu operations (%.2f per step), %zu locations, %zu values, %zu Taylors; "
              "in core (files written: ops %zu, locs %zu, vals %zu)\n",
              as[NUM_OPERATIONS], static_cast<double>(as[NUM_OPERATIONS]) / kSteps, as[NUM_LOCATIONS],
              as[NUM_VALUES], as[TAY_STACK_SIZE], as[OP_FILE_ACCESS], as[LOC_FILE_ACCESS], as[VAL_FILE_ACCESS]);
#endif
  m.engine = rss_in_child("engine");
  m.plain = rss_in_child("plain");
#if SCALARGRAD_HAVE_ADOLC
  m.adolc = rss_in_child("adolc");
#endif
  std::printf("  peak RSS growth in a fresh process (%s): engine %.2f bytes/node after the forward, "
              "%.2f after the backward (%.0f nodes); plain forward %.3f bytes/op",
              m.engine.reset ? "VmHWM reset through clear_refs" : "VmHWM", m.engine.fwd_per_node,
              m.engine.bwd_per_node, m.engine.nodes, m.plain.fwd_per_node);
#if SCALARGRAD_HAVE_ADOLC
  std::printf("; ADOL-C %.2f bytes/op after taping, %.2f after the reverse (%.0f ops)", m.adolc.fwd_per_node,
              m.adolc.bwd_per_node, m.adolc.nodes);
#endif
  std::printf("\n");
  return m;
}

void register_benchmarks() {
  const auto add = [](const char* name, double (*fn)()) {
    sgbench::register_variant(name, fn)->Unit(benchmark::kMillisecond);
  };
  add("W2/plain_forward", run_plain);
  add("W2/hand_gradient", run_hand);
  add("W2/engine_forward_backward", run_engine);
  add("W2/engine_forward_only", run_engine_forward);
#if SCALARGRAD_HAVE_ADOLC
  add("W2/adolc_retape", run_adolc_retape);
  add("W2/adolc_tape_reuse", run_adolc_reuse);
#endif
}

bool summary(int rounds, bool dump, const Memory& m) {
  const auto wrap = [](double (*fn)()) { return [fn] { sgbench::keep(fn()); }; };

  // 1. The engine against plain doubles: short rounds (~0.2 s), many of them.
  sgbench::Rounds r;
  const std::size_t P = r.add("plain forward", wrap(run_plain));
  const std::size_t H = r.add("hand-written gradient (plain)", wrap(run_hand));
  const std::size_t E = r.add("engine forward + backward", wrap(run_engine));
  const std::size_t EF = r.add("engine forward only", wrap(run_engine_forward));
  std::printf("\nInterleaved measurement 1 (vs plain doubles): %d rounds, %zu variants, start rotated, CPU time "
              "of this thread\nload average before: %s\n",
              rounds, r.size(), sgbench::load_average().c_str());
  std::fflush(stdout);
  r.run(rounds, 2e-4, 0.0);
  std::printf("load average after:  %s\n", sgbench::load_average().c_str());
  r.print_times();
  if (dump) r.dump();

#if SCALARGRAD_HAVE_ADOLC
  // 2. ADOL-C, whose re-taping takes ~0.3-0.5 s a call: fewer rounds, with the plain forward and
  // the engine again, so that its ratios are per round too.
  sgbench::Rounds a;
  const int adolc_rounds = std::max(3, rounds / 4);
  const std::size_t aP = a.add("plain forward", wrap(run_plain));
  const std::size_t aE = a.add("engine forward + backward", wrap(run_engine));
  const std::size_t AR = a.add("ADOL-C re-taping + reverse", wrap(run_adolc_retape));
  const std::size_t AU = a.add("ADOL-C tape re-use (zos+fos)", wrap(run_adolc_reuse));
  std::printf("\nInterleaved measurement 2 (ADOL-C): %d rounds, %zu variants\nload average before: %s\n",
              adolc_rounds, a.size(), sgbench::load_average().c_str());
  std::fflush(stdout);
  a.run(adolc_rounds, 2e-4, 0.0);
  std::printf("load average after:  %s\n", sgbench::load_average().c_str());
  a.print_times();
  if (dump) a.dump();
#endif

  sgbench::Report rep("W2 summary: ratios = median over rounds of (variant / plain forward of the same round)");
  rep.target("W2 engine forward + backward / plain forward", r.ratios(E, P), 1.5);
  rep.info("W2 engine forward only / plain forward", r.ratios(EF, P));
  rep.info("W2 hand-written gradient / plain forward", r.ratios(H, P));
  rep.info("W2 engine forward + backward / hand gradient", r.ratios(E, H));
#if SCALARGRAD_HAVE_ADOLC
  rep.info("W2 ADOL-C re-taping + reverse / plain forward", a.ratios(AR, aP));
  rep.info("W2 ADOL-C tape re-use (not dynamic) / plain fwd", a.ratios(AU, aP));
  rep.info("W2 engine forward + backward / ADOL-C re-taping", a.ratios(aE, AR));
  rep.info("W2 engine f+b / plain forward (ADOL-C rounds)", a.ratios(aE, aP));
#endif
  rep.target_value("W2 bytes/node, engine's count (tape_stats)", m.tape_bytes_per_node, 32.0);
  rep.target_value("W2 bytes/node, peak RSS growth after forward", m.engine.fwd_per_node, 32.0);
  rep.info_value("W2 bytes/node, peak RSS growth after backward", m.engine.bwd_per_node);
#if SCALARGRAD_HAVE_ADOLC
  rep.info_value("W2 ADOL-C bytes/op, peak RSS growth after taping", m.adolc.fwd_per_node);
#endif
  rep.print();
  return !rep.any_fail();
}

}  // namespace

int main(int argc, char** argv) {
  const sgbench::Options opt = sgbench::parse_options(argc, argv, kDefaultRounds);
  if (!opt.rss_child.empty()) return rss_child(opt.rss_child);
  sgbench::print_build_info();
  Setup s;
  setup = &s;
  const Memory m = verify_and_describe();
  if (!opt.profile.empty()) {
    return sgbench::run_profile(opt.profile,
                                {{"plain", run_plain},
                                 {"hand", run_hand},
                                 {"engine", run_engine},
                                 {"engine_forward", run_engine_forward},
#if SCALARGRAD_HAVE_ADOLC
                                 {"adolc_retape", run_adolc_retape},
                                 {"adolc_reuse", run_adolc_reuse},
#endif
                                },
                                5);
  }

  if (opt.gbench) {
    register_benchmarks();
    if (!sgbench::run_google_benchmark(argc, argv)) return 1;
  }
  if (opt.rounds <= 0) return 0;
  const bool ok = summary(opt.rounds, opt.dump_rounds, m);
  std::printf("\nRESULT: %s\n", ok ? "all W2 targets met" : "FAIL: a W2 target is missed");
  return ok || !opt.check ? 0 : 1;
}
