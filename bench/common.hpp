// Shared helpers of the scalargrad benchmarks: per-thread CPU time, interleaved rounds, medians
// of per-round ratios, target checks, a small deterministic PRNG, and peak-RSS measurement in a
// child process. Engine-free on purpose: it may be included by any translation unit.
//
// Methodology (docs/performance.md, DESIGN.md section 7): every variant runs in the same binary
// and the same run, in rounds A B C ... with the start rotated by one each round (and the order
// reversed every other cycle of rounds, so that no variant always follows the same one); each sample
// is per-thread CPU time (CLOCK_THREAD_CPUTIME_ID) of a batch of calls (at least 10 calls for
// short variants), after a warm-up; a ratio is computed per round (variant / baseline of that
// round) and we report the median of those ratios with their spread.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define SGBENCH_HAVE_CALLGRIND 1
#else
#define SGBENCH_HAVE_CALLGRIND 0
#endif

namespace sgbench {

// ---- Time ------------------------------------------------------------------------------------
/// CPU time consumed by the calling thread, in seconds.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Keeps `x` observable so that the computation producing it is not optimised away.
template <typename T>
inline void keep(const T& x) {
  asm volatile("" : : "g"(&x) : "memory");
}

// ---- Deterministic PRNG (splitmix64): the same numbers on every platform ----------------------
struct Rng {
  std::uint64_t state;
  explicit Rng(std::uint64_t seed) : state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
};

// ---- Statistics ------------------------------------------------------------------------------
struct Summary {
  double median = 0, min = 0, max = 0, q1 = 0, q3 = 0;
  std::size_t n = 0;
};

inline double quantile_sorted(const std::vector<double>& s, double q) {
  if (s.empty()) return std::nan("");
  const double pos = q * static_cast<double>(s.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (pos - static_cast<double>(lo)) * (s[hi] - s[lo]);
}

inline Summary summarize(std::vector<double> xs) {
  Summary r;
  r.n = xs.size();
  if (xs.empty()) return r;
  std::sort(xs.begin(), xs.end());
  r.median = quantile_sorted(xs, 0.5);
  r.q1 = quantile_sorted(xs, 0.25);
  r.q3 = quantile_sorted(xs, 0.75);
  r.min = xs.front();
  r.max = xs.back();
  return r;
}

// ---- Command line ------------------------------------------------------------------------------
/// Our own flags; everything else is left in argv for benchmark::Initialize().
///   --rounds=N      interleaved rounds of the summary (0: skip the summary and the checks)
///   --no-check      print the target table but exit 0 even if a target is missed
///   --no-gbench     skip the Google Benchmark run (only the interleaved summary)
///   --dump-rounds   also print every round's per-call times (CSV), to look at the noise
///   --rss-child=X   internal: run measurement X in this process and print its result
///   --profile=V[:N] after the checks, run only variant V, N times, and exit (for perf, and for
///                   valgrind --tool=callgrind --collect-atstart=no: the N calls are bracketed by
///                   CALLGRIND_TOGGLE_COLLECT, so the profile holds exactly them)
struct Options {
  int rounds = 0;
  bool check = true;
  bool gbench = true;
  bool dump_rounds = false;
  std::string rss_child;
  std::string profile;
};

inline Options parse_options(int& argc, char** argv, int default_rounds) {
  Options o;
  o.rounds = default_rounds;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("--rounds=")) {
      o.rounds = std::atoi(argv[i] + 9);
    } else if (a == "--no-check") {
      o.check = false;
    } else if (a == "--check") {
      o.check = true;
    } else if (a == "--no-gbench") {
      o.gbench = false;
    } else if (a == "--dump-rounds") {
      o.dump_rounds = true;
    } else if (a.starts_with("--rss-child=")) {
      o.rss_child = std::string(a.substr(12));
    } else if (a.starts_with("--profile=")) {
      o.profile = std::string(a.substr(10));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  argv[argc] = nullptr;
  return o;
}

// ---- Interleaved rounds ------------------------------------------------------------------------
/// Runs every registered variant once per round, in an order rotated by one each round (and
/// reversed every other n rounds), and keeps the CPU time per call of each sample.
class Rounds {
 public:
  struct Variant {
    std::string name;
    std::function<void()> run;
    int batch;                   // calls per sample (chosen in the warm-up, at least min_batch)
    std::vector<double> per_call;  // seconds per call, one entry per round
  };

  /// Calls per timed sample: enough for a sample to take >= min_sample_s, at least `min_batch`,
  /// and at least 10 for variants shorter than 50 us (baselines: pass min_batch = 10).
  std::size_t add(std::string name, std::function<void()> run, int min_batch = 1) {
    variants_.push_back(Variant{std::move(name), std::move(run), min_batch, {}});
    return variants_.size() - 1;
  }

  void run(int rounds, double min_sample_s = 2e-4, double warmup_s = 0.02) {
    // Warm-up: page faults, caches, branch predictors, lazily built state; calibrates batches.
    for (Variant& v : variants_) {
      int calls = 0;
      const double t0 = thread_cpu_seconds();
      double t = 0;
      do {
        v.run();
        ++calls;
        t = thread_cpu_seconds() - t0;
      } while (calls < 3 || t < warmup_s);
      const double per_call = t / calls;
      v.batch = std::max(v.batch, static_cast<int>(std::ceil(min_sample_s / per_call)));
      if (per_call < 5e-5) v.batch = std::max(v.batch, 10);
    }
    const std::size_t n = variants_.size();
    for (Variant& v : variants_) v.per_call.assign(static_cast<std::size_t>(std::max(rounds, 0)), 0.0);
    for (int r = 0; r < rounds; ++r) {
      // Start rotated by one each round; every other cycle of n rounds in reverse order, so that
      // a variant does not always run right after the same one (caches, predictors).
      const auto start = static_cast<std::size_t>(r) % n;
      const bool reverse = (static_cast<std::size_t>(r) / n) % 2 == 1;
      for (std::size_t k = 0; k < n; ++k) {
        Variant& v = variants_[reverse ? (start + n - k) % n : (start + k) % n];
        const double t0 = thread_cpu_seconds();
        for (int b = 0; b < v.batch; ++b) v.run();
        const double t1 = thread_cpu_seconds();
        v.per_call[static_cast<std::size_t>(r)] = (t1 - t0) / v.batch;
      }
    }
  }

  /// Every round's per-call time of every variant, in microseconds, as CSV.
  void dump(std::FILE* out = stdout) const {
    std::fprintf(out, "round");
    for (const Variant& v : variants_) std::fprintf(out, ",%s", v.name.c_str());
    std::fprintf(out, "\n");
    const std::size_t rounds = variants_.empty() ? 0 : variants_[0].per_call.size();
    for (std::size_t r = 0; r < rounds; ++r) {
      std::fprintf(out, "%zu", r);
      for (const Variant& v : variants_) std::fprintf(out, ",%.2f", v.per_call[r] * 1e6);
      std::fprintf(out, "\n");
    }
  }

  [[nodiscard]] const Variant& operator[](std::size_t i) const { return variants_[i]; }
  [[nodiscard]] std::size_t size() const { return variants_.size(); }

  /// Per-round ratios variant / baseline.
  [[nodiscard]] std::vector<double> ratios(std::size_t variant, std::size_t baseline) const {
    const auto& a = variants_[variant].per_call;
    const auto& b = variants_[baseline].per_call;
    std::vector<double> r(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) r[i] = a[i] / b[i];
    return r;
  }

  void print_times(std::FILE* out = stdout) const {
    std::fprintf(out, "  %-44s %6s %12s %12s %12s\n", "variant", "batch", "median", "min", "max");
    for (const Variant& v : variants_) {
      const Summary s = summarize(v.per_call);
      std::fprintf(out, "  %-44s %6d %9.2f us %9.2f us %9.2f us\n", v.name.c_str(), v.batch, s.median * 1e6,
                   s.min * 1e6, s.max * 1e6);
    }
  }

 private:
  std::vector<Variant> variants_;
};

// ---- Profiling one variant ------------------------------------------------------------------------
struct Named {
  const char* name;
  double (*fn)();
};

/// --profile=NAME[:CALLS]: runs one variant CALLS times (one call first, not counted) and prints
/// the CPU time per call; under callgrind --collect-atstart=no, the profile holds exactly those.
inline int run_profile(const std::string& spec, const std::vector<Named>& variants, int default_calls) {
  const std::size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const int calls = colon == std::string::npos ? default_calls : std::atoi(spec.c_str() + colon + 1);
  for (const Named& v : variants) {
    if (name != v.name) continue;
    keep(v.fn());
#if SGBENCH_HAVE_CALLGRIND
    CALLGRIND_TOGGLE_COLLECT;  // run callgrind with --collect-atstart=no
#endif
    const double t0 = thread_cpu_seconds();
    for (int i = 0; i < calls; ++i) keep(v.fn());
    const double t1 = thread_cpu_seconds();
#if SGBENCH_HAVE_CALLGRIND
    CALLGRIND_TOGGLE_COLLECT;
#endif
    std::printf("profile %s: %d calls, %.2f us CPU per call\n", v.name, calls, (t1 - t0) / calls * 1e6);
    return 0;
  }
  std::fprintf(stderr, "--profile: unknown variant '%s'; one of:", name.c_str());
  for (const Named& v : variants) std::fprintf(stderr, " %s", v.name);
  std::fprintf(stderr, "\n");
  return 2;
}

// ---- Targets and the summary table -------------------------------------------------------------
class Report {
 public:
  explicit Report(std::string title) : title_(std::move(title)) {}

  /// A ratio with a target: measured (median of per-round ratios) must be <= target.
  void target(std::string what, const std::vector<double>& per_round, double target) {
    rows_.push_back(Row{std::move(what), summarize(per_round), target, true});
  }
  /// A single measured figure with an upper target (no spread).
  void target_value(std::string what, double value, double target) {
    Summary s;
    s.median = s.min = s.max = s.q1 = s.q3 = value;
    s.n = 1;
    rows_.push_back(Row{std::move(what), s, target, true});
  }
  /// A figure reported for information only.
  void info(std::string what, const std::vector<double>& per_round) {
    rows_.push_back(Row{std::move(what), summarize(per_round), 0, false});
  }
  void info_value(std::string what, double value) {
    Summary s;
    s.median = s.min = s.max = s.q1 = s.q3 = value;
    s.n = 1;
    rows_.push_back(Row{std::move(what), s, 0, false});
  }

  [[nodiscard]] bool any_fail() const {
    return std::any_of(rows_.begin(), rows_.end(),
                       [](const Row& r) { return r.has_target && !(r.s.median <= r.target); });
  }

  void print(std::FILE* out = stdout) const {
    std::fprintf(out, "\n== %s ==\n", title_.c_str());
    std::fprintf(out, "%-52s %9s %9s %9s %9s %9s %8s  %s\n", "metric", "median", "min", "q1", "q3", "max",
                 "target", "status");
    for (const Row& r : rows_) {
      char target[32];
      if (r.has_target) {
        std::snprintf(target, sizeof target, "<= %.2f", r.target);
      } else {
        std::snprintf(target, sizeof target, "-");
      }
      const char* status = !r.has_target ? "info" : (r.s.median <= r.target ? "PASS" : "FAIL");
      if (r.s.n > 1) {
        std::fprintf(out, "%-52s %9.3f %9.3f %9.3f %9.3f %9.3f %8s  %s\n", r.what.c_str(), r.s.median, r.s.min,
                     r.s.q1, r.s.q3, r.s.max, target, status);
      } else {
        std::fprintf(out, "%-52s %9.3f %9s %9s %9s %9s %8s  %s\n", r.what.c_str(), r.s.median, "", "", "", "",
                     target, status);
      }
    }
  }

 private:
  struct Row {
    std::string what;
    Summary s;
    double target;
    bool has_target;
  };
  std::string title_;
  std::vector<Row> rows_;
};

// ---- Memory ------------------------------------------------------------------------------------
/// A field of /proc/self/status in kB (VmHWM, VmRSS), or -1.
inline long proc_status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
  }
  return -1;
}

/// Minor + major page faults of the calling thread so far.
inline long thread_page_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt + u.ru_majflt;
}

/// Page faults per call of `fn`, averaged over `calls` calls (after one call not counted).
template <typename Fn>
double faults_per_call(Fn fn, int calls = 3) {
  fn();
  const long before = thread_page_faults();
  for (int i = 0; i < calls; ++i) fn();
  return static_cast<double>(thread_page_faults() - before) / calls;
}

/// Resets VmHWM to the current RSS (Linux >= 4.0); returns false if not possible.
inline bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

/// Runs this executable again with `args` and returns what it printed on stdout.
inline std::string run_self(const std::string& args) {
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return {};
  exe[len] = '\0';
  const std::string cmd = std::string("'") + exe + "' " + args;
  std::FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (pclose(p) != 0) return {};
  return out;
}

/// Value of `key=` in a "k1=v1 k2=v2" line, or NaN.
inline double field(const std::string& text, const std::string& key) {
  const std::size_t at = text.find(key + "=");
  if (at == std::string::npos) return std::nan("");
  return std::strtod(text.c_str() + at + key.size() + 1, nullptr);
}

/// The first line of /proc/loadavg (other processes on this shared machine), or "?".
inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  if (!std::getline(in, line)) return "?";
  return line;
}

/// What this binary was compiled with, for the record.
inline void print_build_info(std::FILE* out = stdout) {
  std::fprintf(out, "build: g++ %s, %s, %s; load average now: %s\n", __VERSION__,
#ifdef __OPTIMIZE__
               "optimized",
#else
               "NOT optimized",
#endif
#ifdef NDEBUG
               "NDEBUG",
#else
               "assertions on",
#endif
               load_average().c_str());
}

// ---- Gradient comparison -----------------------------------------------------------------------
/// Largest relative difference between two gradients, component-wise:
/// |a_k - b_k| / max(|a_k|, |b_k|, 1e-6 * max_j |b_j|) (the floor keeps components that are
/// zero up to rounding, e.g. by cancellation, from dominating).
inline double max_rel_diff(const double* a, const double* b, std::size_t n) {
  double scale = 0;
  for (std::size_t k = 0; k < n; ++k) scale = std::max(scale, std::fabs(b[k]));
  double worst = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const double d = std::fabs(a[k] - b[k]);
    const double m = std::max({std::fabs(a[k]), std::fabs(b[k]), 1e-6 * scale, 1e-300});
    worst = std::max(worst, d / m);
    if (std::isnan(a[k]) != std::isnan(b[k])) worst = INFINITY;
  }
  return worst;
}

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "FATAL: %s\n", what);
  std::exit(2);
}

// ---- Google Benchmark ------------------------------------------------------------------------
/// Registers `fn` as a Google Benchmark variant named `name`: one call per iteration.
inline benchmark::internal::Benchmark* register_variant(const char* name, double (*fn)()) {
  return benchmark::RegisterBenchmark(name, [fn](benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(fn());
  });
}

/// Runs the registered variants with the arguments parse_options() left in argv; false if one
/// of them is not Google Benchmark's either.
inline bool run_google_benchmark(int& argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return false;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return true;
}

}  // namespace sgbench
