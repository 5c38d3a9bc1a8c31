// Note [Lifetime] (DESIGN.md section 3): memory takes care of itself, and nothing a user naturally
// writes breaks training. Each of the four properties of DESIGN.md is checked here:
//   1. a natural training loop, with a Value declared outside it or a long-lived constant used in
//      it, trains exactly (bit for bit) like a scoped loop, in flat memory ("the trap");
//   2. after y.backward(), y's graph and its gradients stay readable while a handle into it lives;
//   3. a user's leaf accumulates gradients over backward() calls (PyTorch leaf semantics);
// plus set_data, graphs over several segments, cross-generation use, NoGradGuard and containers.
//
// The tape, and so tape_stats() and its high-water marks, belong to a thread. Tests that measure
// memory run their body on a new thread (OnFreshTape), so that what earlier tests left on the
// main thread's tape can neither hide growth nor count against them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "scalargrad/value.hpp"

#include "support/test_support.hpp"

namespace {

using scalargrad::testing_support::OnFreshTape;

using scalargrad::NoGradGuard;
using scalargrad::TapeStats;
using scalargrad::Value;
using scalargrad::tape_stats;

// ---- 1. Helpers ------------------------------------------------------------------------------

#if defined(__SANITIZE_ADDRESS__)
#define SCALARGRAD_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCALARGRAD_TEST_SANITIZED 1
#endif
#endif
#ifndef SCALARGRAD_TEST_SANITIZED
#define SCALARGRAD_TEST_SANITIZED 0
#endif

/// `full` in a normal build; `sanitized` under AddressSanitizer, which is several times slower.
constexpr int Scaled(int full, int sanitized) { return SCALARGRAD_TEST_SANITIZED ? sanitized : full; }

constexpr std::size_t kSegmentNodes = std::size_t{1} << 20;  // most nodes of one segment
constexpr std::size_t kMiB = std::size_t{1} << 20;

/// Resident set of the process (VmRSS in /proc/self/status), in bytes; 0 if unreadable.
std::size_t ResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmRSS: N kB"
  }
  return 0;
}

/// Exact comparison of doubles, NaN and signed zero included.
bool SameBits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

// ---- 2. A small model written directly on Values ---------------------------------------------
// A 1-4-1 tanh network fitted to sin(2x) at kPoints points by full-batch gradient descent; one
// loss is 24 nodes per point, ~10,000 nodes in all.

constexpr int kHidden = 4;
constexpr int kPoints = 416;
constexpr double kLearningRate = 2e-5;

struct Dataset {
  std::vector<double> x, t;  // inputs and targets
};

Dataset MakeDataset() {
  Dataset d;
  for (int i = 0; i < kPoints; ++i) {
    const double x = -1.0 + 2.0 * i / (kPoints - 1);
    d.x.push_back(x);
    d.t.push_back(std::sin(2.0 * x));
  }
  return d;
}

/// Initial parameters: w1[0..3], b1[0..3], w2[0..3], b2.
std::vector<double> InitialParameters() {
  return {0.5, -0.7, 0.9, -1.1, 0.1, -0.2, 0.3, -0.4, 0.3, -0.2, 0.4, 0.1, 0.05};
}

struct Model {
  std::vector<Value> p;  // leaves, laid out as InitialParameters()
  [[nodiscard]] const Value& w1(int j) const { return p[j]; }
  [[nodiscard]] const Value& b1(int j) const { return p[kHidden + j]; }
  [[nodiscard]] const Value& w2(int j) const { return p[2 * kHidden + j]; }
  [[nodiscard]] const Value& b2() const { return p[3 * kHidden]; }
};

Model MakeModel() {
  Model m;
  for (const double v : InitialParameters()) m.p.emplace_back(v);
  return m;
}

/// loss = c * sum_i (pred_i - t_i)^2 with pred = one * b2 + sum_j w2_j tanh(w1_j x + b1_j), where
/// `one` (1) and `c` (6) are Values: the long-lived constants of the trap.
Value ModelLoss(const Model& m, const Dataset& d, const Value& one, const Value& c) {
  Value total = 0.0;
  for (int i = 0; i < kPoints; ++i) {
    Value pred = m.b2() * one;
    for (int j = 0; j < kHidden; ++j) pred = pred + m.w2(j) * tanh(m.w1(j) * d.x[i] + m.b1(j));
    const Value e = pred - d.t[i];
    total = total + e * e;
  }
  return total * c;
}

/// The same training in plain doubles with hand-derived gradients: the independent reference.
/// dL/de_i = 12 e_i; dL/db2 = sum g_i; dL/dw2_j = sum g_i h_ij;
/// dL/db1_j = sum g_i w2_j (1 - h_ij^2); dL/dw1_j = sum g_i w2_j (1 - h_ij^2) x_i.
std::vector<double> ReferenceTraining(int steps) {
  const Dataset d = MakeDataset();
  std::vector<double> p = InitialParameters();
  for (int step = 0; step < steps; ++step) {
    std::vector<double> g(p.size(), 0.0);
    for (int i = 0; i < kPoints; ++i) {
      double h[kHidden];
      double pred = p[3 * kHidden];
      for (int j = 0; j < kHidden; ++j) {
        h[j] = std::tanh(p[j] * d.x[i] + p[kHidden + j]);
        pred += p[2 * kHidden + j] * h[j];
      }
      const double ge = 12.0 * (pred - d.t[i]);
      g[3 * kHidden] += ge;
      for (int j = 0; j < kHidden; ++j) {
        g[2 * kHidden + j] += ge * h[j];
        const double gz = ge * p[2 * kHidden + j] * (1.0 - h[j] * h[j]);
        g[kHidden + j] += gz;
        g[j] += gz * d.x[i];
      }
    }
    for (std::size_t k = 0; k < p.size(); ++k) p[k] -= kLearningRate * g[k];
  }
  return p;
}

/// Where the handles of a training loop live.
enum class Form {
  kScoped,            // `Value loss` and the constants inside the loop
  kLossOutside,       // `Value loss;` before the loop, assigned inside
  kConstantsOutside,  // `Value one = 1.0; Value c = Value(2.0) * 3.0;` before the loop
  kAllOutside,        // both of the above
};

struct TrainingRun {
  std::vector<double> parameters;  // after the last step
  double first_loss = 0.0;
  double last_loss = 0.0;
  TapeStats after_step_100;  // tape after step 100 (while the loss is alive)
  TapeStats after_last_step;
  std::size_t rss_after_step_1000 = 0;
  std::size_t rss_after_last_step = 0;
  TapeStats after_teardown;  // all Values of the run gone
};

/// Trains the model for `steps` steps in the given form, on a fresh tape. The user calls nothing
/// but ops, backward(), zero_grad(), grad() and set_data().
TrainingRun Train(Form form, int steps) {
  TrainingRun run;
  OnFreshTape([&] {
    {
      Model m = MakeModel();
      const Dataset d = MakeDataset();
      const auto step_on = [&](const Value& loss, int step) {
        if (step == 1) run.first_loss = loss.data();
        run.last_loss = loss.data();
        for (Value& p : m.p) p.zero_grad();
        loss.backward();
        for (Value& p : m.p) p.set_data(p.data() - kLearningRate * p.grad());
        if (step == 100) run.after_step_100 = tape_stats();
        if (step == 1000) run.rss_after_step_1000 = ResidentBytes();
        if (step == steps) {
          run.after_last_step = tape_stats();
          run.rss_after_last_step = ResidentBytes();
        }
      };
      switch (form) {
        case Form::kScoped:
          for (int step = 1; step <= steps; ++step) {
            const Value one = 1.0;
            const Value c = Value(2.0) * 3.0;
            const Value loss = ModelLoss(m, d, one, c);
            step_on(loss, step);
          }
          break;
        case Form::kLossOutside: {
          Value loss;
          for (int step = 1; step <= steps; ++step) {
            const Value one = 1.0;
            const Value c = Value(2.0) * 3.0;
            loss = ModelLoss(m, d, one, c);
            step_on(loss, step);
          }
          break;
        }
        case Form::kConstantsOutside: {
          const Value one = 1.0;
          const Value c = Value(2.0) * 3.0;
          for (int step = 1; step <= steps; ++step) {
            const Value loss = ModelLoss(m, d, one, c);
            step_on(loss, step);
          }
          break;
        }
        case Form::kAllOutside: {
          const Value one = 1.0;
          const Value c = Value(2.0) * 3.0;
          Value loss;
          for (int step = 1; step <= steps; ++step) {
            loss = ModelLoss(m, d, one, c);
            step_on(loss, step);
          }
          break;
        }
      }
      for (const Value& p : m.p) run.parameters.push_back(p.data());
    }
    run.after_teardown = tape_stats();
  });
  return run;
}

// 10,000 steps of a ~10,000-node graph; fewer (but >= 1000 past the RSS probe) under ASan.
constexpr int kLongSteps = Scaled(10'000, 2'000);

/// The long run of each form, computed once (each on its own fresh tape) and shared by the
/// flat-memory tests and the bit-identity test.
const TrainingRun& LongRun(Form form) {
  static std::map<Form, TrainingRun> runs;
  auto it = runs.find(form);
  if (it == runs.end()) it = runs.emplace(form, Train(form, kLongSteps)).first;
  return it->second;
}

/// The memory claims of property 1 for one form's long run.
void ExpectFlatMemory(const TrainingRun& run) {
  // The graph is rebuilt every step: after the first steps, the tape never holds more.
  EXPECT_EQ(run.after_last_step.high_water_nodes, run.after_step_100.high_water_nodes);
  EXPECT_EQ(run.after_last_step.high_water_bytes, run.after_step_100.high_water_bytes);
  EXPECT_LE(run.after_last_step.bytes, run.after_step_100.high_water_bytes);
  // At most a few graphs' worth of nodes (a pinned first segment, the previous and this step).
  EXPECT_LE(run.after_last_step.high_water_nodes, std::size_t{4 * 10'000});
  EXPECT_LE(run.after_last_step.bytes, 16 * kMiB);
  // The process does not grow either.
  ASSERT_GT(run.rss_after_step_1000, 0u) << "VmRSS not readable";
  EXPECT_LE(run.rss_after_last_step, run.rss_after_step_1000 + 16 * kMiB);
  // Training happened: the loss went down.
  EXPECT_LT(run.last_loss, 0.5 * run.first_loss);
  // And all of it is given back when the Values are gone.
  EXPECT_EQ(run.after_teardown.nodes, 0u);
  EXPECT_EQ(run.after_teardown.leaves, 0u);
  EXPECT_LE(run.after_teardown.segments, 1u);
}

// ---- 3. Property 1: natural training loops, flat memory, identical results -------------------

TEST(Lifetime, ScopedTrainingLoopKeepsMemoryFlat) { ExpectFlatMemory(LongRun(Form::kScoped)); }

TEST(Lifetime, ValueDeclaredOutsideLoopKeepsMemoryFlat) { ExpectFlatMemory(LongRun(Form::kLossOutside)); }

TEST(Lifetime, LongLivedConstantsUsedInLoopKeepMemoryFlat) {
  ExpectFlatMemory(LongRun(Form::kConstantsOutside));
}

TEST(Lifetime, LossAndConstantsAllOutsideLoopKeepMemoryFlat) { ExpectFlatMemory(LongRun(Form::kAllOutside)); }

TEST(Lifetime, LongTrainingIsBitIdenticalWhereverHandlesLive) {
  const std::vector<double>& scoped = LongRun(Form::kScoped).parameters;
  for (const Form form : {Form::kLossOutside, Form::kConstantsOutside, Form::kAllOutside}) {
    const std::vector<double>& other = LongRun(form).parameters;
    ASSERT_EQ(other.size(), scoped.size());
    for (std::size_t k = 0; k < scoped.size(); ++k) {
      EXPECT_TRUE(SameBits(other[k], scoped[k]))
          << "form " << static_cast<int>(form) << ", parameter " << k << ": " << other[k] << " vs " << scoped[k];
    }
  }
}

TEST(Lifetime, FiftyStepsTrainBitIdenticallyInEveryFormAndMatchHandDerivedGradients) {
  constexpr int kSteps = 50;
  const std::vector<double> reference = ReferenceTraining(kSteps);
  const TrainingRun scoped = Train(Form::kScoped, kSteps);
  ASSERT_EQ(scoped.parameters.size(), reference.size());
  for (std::size_t k = 0; k < reference.size(); ++k) {
    EXPECT_NEAR(scoped.parameters[k], reference[k], 1e-10 * (1.0 + std::fabs(reference[k]))) << "parameter " << k;
    // Each parameter moved: the gradient reached it on every step.
    EXPECT_GT(std::fabs(scoped.parameters[k] - InitialParameters()[k]), 1e-6) << "parameter " << k;
  }
  EXPECT_LT(scoped.last_loss, scoped.first_loss);
  for (const Form form : {Form::kLossOutside, Form::kConstantsOutside, Form::kAllOutside}) {
    const TrainingRun other = Train(form, kSteps);
    ASSERT_EQ(other.parameters.size(), scoped.parameters.size());
    for (std::size_t k = 0; k < scoped.parameters.size(); ++k) {
      EXPECT_TRUE(SameBits(other.parameters[k], scoped.parameters[k]))
          << "form " << static_cast<int>(form) << ", parameter " << k;
    }
    EXPECT_TRUE(SameBits(other.last_loss, scoped.last_loss)) << "form " << static_cast<int>(form);
  }
}

TEST(Lifetime, CompoundAssignmentMovesOnlyItsOwnHandle) {
  // `z += w` records a node and re-points z at it; another handle to z's old node keeps that
  // node, a leaf on the left becomes a node and leaves the original leaf alone, and when every
  // handle is gone the open segment is recycled (the counts balance).
  OnFreshTape([] {
    Value x = 2.0;
    {
      Value z = x * 1.0;
      const Value alias = z;  // the old node: 2
      z += x;                 // 4
      z *= 3.0;               // 12
      z -= x;                 // 10
      z /= x;                 // 5
      Value y = x;            // a copy of the leaf
      y += 1.0;               // a node now: 3
      EXPECT_EQ(alias.data(), 2.0);
      EXPECT_EQ(z.data(), 5.0);
      EXPECT_EQ(y.data(), 3.0);
      EXPECT_EQ(x.data(), 2.0);
      EXPECT_TRUE(x.is_leaf());
      EXPECT_FALSE(y.is_leaf());
      // z = u / x with u = 3 (x + x) - x = 10, du/dx = 5: dz/dx = 5/x - u/x^2 = 2.5 - 2.5.
      z.backward();
      EXPECT_EQ(x.grad(), 5.0 / 2.0 - 10.0 / 4.0);
      EXPECT_EQ(alias.op(), "*");
      EXPECT_GT(tape_stats().nodes, 0u);
    }
    // Only the leaf x is left: no node of any graph is.
    EXPECT_EQ(tape_stats().nodes, 0u);
    EXPECT_EQ(tape_stats().segments, 0u);
  });
}

// ---- 4. Evaluation loops (no backward) ---------------------------------------------------------

constexpr int kChainSteps = 50'000;  // one evaluation: 100,000 nodes, so ~10 per segment

/// y <- y/2 + x, kChainSteps times from y = x: converges to 2x (exactly, in doubles).
Value Evaluate(const Value& x) {
  Value y = x;
  for (int k = 0; k < kChainSteps; ++k) y = y * 0.5 + x;
  return y;
}

TEST(Lifetime, EvaluationLoopWithScoreOutsideLoopRecyclesFullSegments) {
  // Graphs straddle segment boundaries here, so that a segment imports from the one before it.
  OnFreshTape([] {
    const int evaluations = Scaled(100, 60);  // 10 M (6 M) nodes: many segments' worth
    constexpr int kMid = 30;                  // ~3 segments in
    Value x = 0.25;
    Value score;
    TapeStats mid;
    std::size_t most_segments = 0;
    for (int i = 1; i <= evaluations; ++i) {
      x.set_data(0.25 + i);
      score = Evaluate(x);
      ASSERT_DOUBLE_EQ(score.data(), 2.0 * (0.25 + i)) << "evaluation " << i;
      const TapeStats s = tape_stats();
      if (i > kMid) most_segments = std::max(most_segments, s.segments);
      if (i == kMid) mid = s;
    }
    const TapeStats end = tape_stats();
    ASSERT_GE(std::size_t(evaluations) * 2 * kChainSteps, 5 * kSegmentNodes);  // several rollovers
    // Old segments are recycled: a couple of segments live at any time, not all of them. (The
    // dead imports of a closed segment are let go when the tape next needs room, so the high
    // water mark may still rise after `mid`, but never past three segments.)
    EXPECT_LE(most_segments, 3u);
    EXPECT_LE(end.nodes, 3 * kSegmentNodes);
    EXPECT_LE(end.high_water_nodes, 3 * kSegmentNodes);
    EXPECT_LE(end.high_water_bytes, mid.high_water_bytes + 32 * kMiB);
  });
}

TEST(Lifetime, EvaluationLoopWithScopedScoreReusesOneSegment) {
  OnFreshTape([] {
    const int evaluations = Scaled(40, 20);
    Value x = 0.25;
    TapeStats first;
    for (int i = 1; i <= evaluations; ++i) {
      x.set_data(0.25 + i);
      const Value score = Evaluate(x);
      ASSERT_DOUBLE_EQ(score.data(), 2.0 * (0.25 + i));
      if (i == 2) first = tape_stats();
    }
    const TapeStats end = tape_stats();
    EXPECT_EQ(end.high_water_nodes, first.high_water_nodes);
    EXPECT_EQ(end.high_water_bytes, first.high_water_bytes);
    EXPECT_LE(end.segments, 1u);
    EXPECT_EQ(end.nodes, 0u);  // the open segment was reset when the last score went
  });
}

TEST(Lifetime, NoGradEvaluationLoopRecordsNoNodes) {
  OnFreshTape([] {
    Value x = 0.25;
    Value score;
    const NoGradGuard no_grad;
    for (int i = 1; i <= 5; ++i) {
      x.set_data(0.25 + i);
      score = Evaluate(x);
      EXPECT_DOUBLE_EQ(score.data(), 2.0 * (0.25 + i));
      EXPECT_TRUE(score.is_leaf());
    }
    EXPECT_EQ(tape_stats().high_water_nodes, 0u);
  });
}

// ---- 5. Property 2: the graph and its gradients outlive backward() --------------------------
// x = 2, w = 3; a = x w = 6; b = a + x = 8; c = b^2 = 64; y = c/2 + a = 38.
// dy/dy = 1; dy/dc = 1/2; dy/db = b = 8; dy/da = 1 + dy/db = 9;
// dy/dx = w dy/da + dy/db = 35; dy/dw = x dy/da = 18.

struct Graph {
  Value x = 2.0, w = 3.0, a, b, c, y;
  Graph() {
    x.label("x");
    w.label("w");
    a = (x * w).label("a");
    b = (a + x).label("b");
    c = (b * b).label("c");
    y = (c * 0.5 + a).label("y");
  }
};

/// What topological_order(root) shows: (label, op, data) of each Value.
std::vector<std::string> Describe(const Value& root) {
  std::vector<std::string> out;
  for (const Value& v : topological_order(root)) {
    out.push_back(v.label() + "|" + std::string(v.op()) + "|" + std::to_string(v.data()));
  }
  return out;
}

std::map<std::string, double> GradsByLabel(const Value& root) {
  std::map<std::string, double> out;
  for (const Value& v : topological_order(root)) {
    if (!v.label().empty()) out[v.label()] = v.grad();
  }
  return out;
}

const std::map<std::string, double> kExpectedGrads = {{"x", 35.0}, {"w", 18.0}, {"a", 9.0},
                                                      {"b", 8.0},  {"c", 0.5},  {"y", 1.0}};

TEST(Lifetime, GraphAndIntermediateGradsSurviveBackwardWhileRootLives) {
  Graph g;
  const std::vector<std::string> before = Describe(g.y);
  g.y.backward();
  EXPECT_EQ(Describe(g.y), before);
  EXPECT_EQ(GradsByLabel(g.y), kExpectedGrads);
  EXPECT_EQ(g.a.grad(), 9.0);
  EXPECT_EQ(g.b.grad(), 8.0);
  EXPECT_EQ(g.c.grad(), 0.5);

  // Further computation: a backward() through a graph of other leaves, then ops on y's Values.
  // (A backward() of a graph recorded together with ops on y's Values is
  // BackwardOfADisjointGraphKeepsTheFirstGraphsIntermediateGrads below.)
  Value u = 1.5;
  const Value other = u * u * 4.0;
  other.backward();
  EXPECT_EQ(u.grad(), 12.0);
  Value later = g.y * g.b + g.a.tanh() + u;
  for (int k = 0; k < 1000; ++k) later = later * 0.5 + g.x;
  EXPECT_EQ(Describe(g.y), before);
  EXPECT_EQ(GradsByLabel(g.y), kExpectedGrads);
}

TEST(Lifetime, GraphAndGradsSurviveWhenOnlyAnIntermediateHandleIsKept) {
  Value b;
  {
    Graph g;
    g.y.backward();
    b = g.b;
  }  // y and every other handle gone
  EXPECT_EQ(b.grad(), 8.0);
  EXPECT_EQ(b.data(), 8.0);
  EXPECT_EQ(b.label(), "b");
  std::vector<std::string> order = Describe(b);
  ASSERT_EQ(order.size(), 4u);  // x, w, a, b
  EXPECT_EQ(order.back(), "b|+|" + std::to_string(8.0));
  const std::vector<Value> ops = b.operands();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].label(), "a");
  EXPECT_EQ(ops[0].grad(), 9.0);
  EXPECT_EQ(ops[1].label(), "x");
  EXPECT_EQ(ops[1].grad(), 35.0);

  Value more = b * b;  // further computation
  for (int k = 0; k < 1000; ++k) more = more + 1.0;
  EXPECT_EQ(Describe(b), order);
  EXPECT_EQ(b.grad(), 8.0);
  EXPECT_EQ(ops[0].grad(), 9.0);
}

// Value::grad(): "d(root)/d(this) from the latest backward() that reached this Value". A later
// backward() through a disjoint graph does not reach y1's nodes, so their gradients must stay.
TEST(Lifetime, BackwardOfADisjointGraphKeepsTheFirstGraphsIntermediateGrads) {
  Value a = 3.0, b = 5.0;
  const Value p = a * a;      // dy1/dp = 2
  const Value y1 = p * 2.0;   // recorded in the same segment as y2 (no backward in between)
  const Value q = b * b;
  const Value y2 = q * 2.0;
  y1.backward();
  ASSERT_EQ(p.grad(), 2.0);
  y2.backward();
  EXPECT_EQ(q.grad(), 2.0);
  EXPECT_EQ(a.grad(), 12.0);
  EXPECT_EQ(p.grad(), 2.0) << "y2.backward() did not reach p, yet p's gradient from y1 is gone";
  EXPECT_EQ(y1.grad(), 1.0) << "y2.backward() did not reach y1, yet y1's gradient is gone";
}

TEST(Lifetime, CrossGenerationBackwardKeepsTheOldGraphsOwnIntermediateGrads) {
  // y's graph: s = w^2 = 9 is recorded before a = x w = 6; y = a s = 54.
  // dy/dy = 1, dy/ds = a = 6, dy/da = s = 9.
  Value x = 2.0, w = 3.0;
  const Value s = w * w;
  const Value a = x * w;
  const Value y = a * s;
  y.backward();
  ASSERT_EQ(s.grad(), 6.0);
  ASSERT_EQ(a.grad(), 9.0);
  const Value z = a * 3.0;  // a new generation that uses only a (and, through it, x and w)
  z.backward();
  EXPECT_EQ(a.grad(), 3.0);  // reached again: recomputed
  // Not reached by z.backward(): still y's gradients.
  EXPECT_EQ(y.grad(), 1.0);
  EXPECT_EQ(s.grad(), 6.0) << "z.backward() did not reach s, yet s's gradient from y is gone";
}

// ---- 6. Property 3: leaf gradients accumulate; intermediate ones are recomputed -------------

TEST(Lifetime, LeafUsedInTwoGraphsAccumulatesBothGradients) {
  Value x = 2.0;
  {
    const Value y1 = x * x;  // dy1/dx = 2x = 4
    y1.backward();
  }
  EXPECT_EQ(x.grad(), 4.0);
  {
    const Value y2 = x * 3.0 + 1.0;  // dy2/dx = 3
    y2.backward();
  }
  EXPECT_EQ(x.grad(), 7.0);
  x.zero_grad();
  EXPECT_EQ(x.grad(), 0.0);
  const Value y3 = x.pow(3.0);  // 3x^2 = 12
  y3.backward();
  EXPECT_EQ(x.grad(), 12.0);
}

TEST(Lifetime, LeafUsedInTwoLiveGraphsAccumulatesBothGradients) {
  Value x = 2.0;
  const Value y1 = x * x;        // both recorded before either backward()
  const Value y2 = x * 3.0 + 1.0;
  y1.backward();
  y2.backward();
  EXPECT_EQ(x.grad(), 7.0);
}

TEST(Lifetime, SecondBackwardRecomputesIntermediatesAndAccumulatesLeaves) {
  Value x = 2.0;
  const Value t = x * x;   // 4
  const Value y = t * t;   // x^4 = 16; dy/dt = 2t = 8; dy/dx = 4x^3 = 32
  y.backward();
  EXPECT_EQ(t.grad(), 8.0);
  EXPECT_EQ(y.grad(), 1.0);
  EXPECT_EQ(x.grad(), 32.0);
  y.backward();
  EXPECT_EQ(t.grad(), 8.0);  // recomputed, not 16
  EXPECT_EQ(y.grad(), 1.0);
  EXPECT_EQ(x.grad(), 64.0);  // accumulated
  x.zero_grad();
  y.backward();
  EXPECT_EQ(x.grad(), 32.0);
}

TEST(Lifetime, BackwardOfALeafGivesItGradientOne) {
  Value x = 2.0;
  x.backward();
  x.backward();
  EXPECT_EQ(x.grad(), 2.0);
}

// ---- 7. set_data -------------------------------------------------------------------------------

TEST(Lifetime, SetDataIsSeenByLaterOpsNotEarlierOnesInTheSameSegment) {
  Value x = 2.0;
  const Value before = x * x;  // recorded with x = 2
  x.set_data(5.0);
  const Value after = x * x;   // recorded with x = 5, in the same segment (no backward between)
  EXPECT_EQ(before.data(), 4.0);
  EXPECT_EQ(after.data(), 25.0);
  EXPECT_EQ(x.data(), 5.0);
  before.backward();
  EXPECT_EQ(x.grad(), 4.0);  // 2 * 2: the derivative uses the recorded value
  after.backward();
  EXPECT_EQ(x.grad(), 14.0);  // + 2 * 5
  EXPECT_EQ(before.data(), 4.0);

  x.set_data(1.0);
  x.set_data(7.0);  // twice without ops in between
  const Value again = x + 0.0;
  EXPECT_EQ(again.data(), 7.0);
  EXPECT_EQ(before.data(), 4.0);
  EXPECT_EQ(after.data(), 25.0);
}

TEST(Lifetime, SetDataBetweenOperandsOfOneExpressionIsSeen) {
  Value x = 1.0;
  Value acc = x * 1.0;       // imports x = 1
  for (int k = 2; k <= 10; ++k) {
    x.set_data(k);
    acc = acc + x;           // each add sees the new x
  }
  EXPECT_EQ(acc.data(), 55.0);
  acc.backward();
  EXPECT_EQ(x.grad(), 10.0);  // ten uses, each with derivative 1
}

// ---- 8. A graph over several segments --------------------------------------------------------

/// x = 0.5; e = x^2 (in the first segment); y = e + x + x + ... (n times) ; y <- y e.
/// y = (x^2 + n x) x^2; dy/dx = (2x + n) x^2 + (x^2 + n x) 2x: exact in doubles for x = 0.5.
TEST(Lifetime, GraphOverSeveralSegmentsGivesTheClosedFormGradientAndIsReleased) {
  OnFreshTape([] {
    const int n = Scaled(3'000'000, 2'500'000);  // > 2 segments of additions
    {
      Value x = 0.5;
      const Value e = x * x;
      Value y = e;
      for (int k = 0; k < n; ++k) y = y + x;  // x used throughout: imported into each segment
      y = y * e;                              // e, from the first segment, used much later
      const TapeStats live = tape_stats();
      EXPECT_GE(live.segments, 3u);
      EXPECT_GE(live.nodes, static_cast<std::size_t>(n));
      const double xd = 0.5;
      EXPECT_EQ(y.data(), (xd * xd + n * xd) * xd * xd);
      y.backward();
      EXPECT_EQ(x.grad(), (2 * xd + n) * xd * xd + (xd * xd + n * xd) * 2 * xd);
      EXPECT_EQ(e.grad(), (xd * xd + n * xd) + xd * xd);  // dy/de = (e + n x) + e
    }
    const TapeStats after = tape_stats();
    EXPECT_EQ(after.nodes, 0u);
    EXPECT_LE(after.segments, 1u);
    EXPECT_EQ(after.leaves, 0u);
  });
}

TEST(Lifetime, GraphOverSeveralSegmentsIsReleasedWithoutBackward) {
  OnFreshTape([] {
    {
      Value x = 0.5;
      const Value e = x * x;
      Value y = e;
      for (int k = 0; k < Scaled(2'500'000, 2'200'000); ++k) y = y + x;
      y = y * e;
      EXPECT_GE(tape_stats().segments, 3u);
    }
    const TapeStats after = tape_stats();
    EXPECT_EQ(after.nodes, 0u);
    EXPECT_LE(after.segments, 1u);
  });
}

// ---- 9. Cross-generation use -------------------------------------------------------------------

TEST(Lifetime, ValueKeptFromAnOldGraphGivesCorrectGradientsInNewGraphs) {
  OnFreshTape([] {
    {
      const double xd = 1.5;
      Value x = xd;
      const Value a = x * x;  // generation 1
      {
        const Value y1 = a * x;  // x^3
        y1.backward();
        EXPECT_EQ(x.grad(), 3 * xd * xd);
      }
      x.zero_grad();
      const Value y2 = a * a + x;  // generation 2: x^4 + x
      y2.backward();
      EXPECT_DOUBLE_EQ(x.grad(), 4 * xd * xd * xd + 1);
      EXPECT_DOUBLE_EQ(a.grad(), 2 * xd * xd);  // dy2/da = 2a
      x.zero_grad();
      const Value y3 = y2 * a;  // generation 3: (x^4 + x) x^2 = x^6 + x^3
      y3.backward();
      EXPECT_DOUBLE_EQ(y3.data(), std::pow(xd, 6) + std::pow(xd, 3));
      EXPECT_DOUBLE_EQ(x.grad(), 6 * std::pow(xd, 5) + 3 * xd * xd);
      EXPECT_DOUBLE_EQ(y2.grad(), xd * xd);  // dy3/dy2 = a
    }
    EXPECT_EQ(tape_stats().nodes, 0u);
  });
}

// ---- 10. NoGradGuard and detach() ----------------------------------------------------------------

TEST(NoGradGuard, OpsRecordNothingAndGiveLeaves) {
  OnFreshTape([] {
    Value x = 2.0, w = 3.0;
    const Value recorded = x * w;  // opens a segment
    const std::size_t nodes = tape_stats().nodes;
    EXPECT_TRUE(scalargrad::is_grad_enabled());
    {
      const NoGradGuard guard;
      EXPECT_FALSE(scalargrad::is_grad_enabled());
      const std::vector<Value> xs{x, w, recorded};
      const std::vector<Value> results{x * w, x + 1.0, 2.0 - x, x.tanh(), x.pow(w), recorded * recorded,
                                       scalargrad::sum(xs), scalargrad::dot(xs, xs), -x};
      for (const Value& r : results) {
        EXPECT_TRUE(r.is_leaf());
        EXPECT_EQ(r.op(), "");
        EXPECT_TRUE(r.operands().empty());
      }
      EXPECT_EQ(results[0].data(), 6.0);
      EXPECT_EQ(results[4].data(), 8.0);
      EXPECT_EQ(results[5].data(), 36.0);
      EXPECT_EQ(results[7].data(), 4.0 + 9.0 + 36.0);
      EXPECT_EQ(tape_stats().nodes, nodes);
    }
    EXPECT_TRUE(scalargrad::is_grad_enabled());
    EXPECT_FALSE((x * w).is_leaf());
  });
}

TEST(NoGradGuard, NestsAndRestoresThePreviousMode) {
  EXPECT_TRUE(scalargrad::is_grad_enabled());
  {
    const NoGradGuard outer;
    EXPECT_FALSE(scalargrad::is_grad_enabled());
    {
      const NoGradGuard inner;
      EXPECT_FALSE(scalargrad::is_grad_enabled());
    }
    EXPECT_FALSE(scalargrad::is_grad_enabled());  // restored to the outer guard's mode
  }
  EXPECT_TRUE(scalargrad::is_grad_enabled());
}

TEST(NoGradGuard, DetachGivesALeafWithTheSameDataThatStopsGradients) {
  Value x = 3.0;
  const Value y = x * x;
  const Value d = y.detach();
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.data(), y.data());
  const Value z = d * x;  // dz/dx = d = 9 (not 3x^2 = 27)
  z.backward();
  EXPECT_EQ(x.grad(), 9.0);
  EXPECT_EQ(d.grad(), 3.0);
  EXPECT_EQ(y.grad(), 0.0);  // nothing flowed into y's graph
}

// ---- 11. Handles in containers -----------------------------------------------------------------

TEST(Lifetime, CopyingMovingAndSortingValuesInContainersKeepsCountsRight) {
  OnFreshTape([] {
    {
      std::vector<Value> leaves;
      std::vector<Value> values;
      for (int i = 0; i < 2000; ++i) {
        leaves.emplace_back(static_cast<double>((i * 7919) % 2000));  // a permutation of 0..1999
        values.push_back(leaves.back() * 2.0);                        // reallocations move handles
        if (i % 3 == 0) values.push_back(values.back());              // copies
      }
      std::vector<Value> copy = values;
      std::vector<Value> moved = std::move(copy);
      std::mt19937 rng(42);
      std::shuffle(moved.begin(), moved.end(), rng);
      std::sort(moved.begin(), moved.end(), [](const Value& p, const Value& q) { return p < q; });
      EXPECT_TRUE(std::is_sorted(moved.begin(), moved.end()));
      std::reverse(moved.begin(), moved.end());
      std::swap(moved.front(), moved.back());
      Value& first = moved.front();
      const Value* same = &first;
      first = *same;  // self-assignment
      Value* alias = &first;
      first = std::move(*alias);  // self-move
      EXPECT_EQ(first.data(), 0.0);
      moved.erase(std::remove_if(moved.begin(), moved.end(), [](const Value& v) { return v.data() > 2000.0; }),
                  moved.end());
      std::vector<std::vector<Value>> nested(3, moved);
      nested.pop_back();

      // Still a working graph: d(sum of squares)/d leaf_i = 2 v_i * 2 * multiplicity.
      const Value loss = scalargrad::dot(values, values);
      loss.backward();
      for (int i = 0; i < 2000; ++i) {
        const double multiplicity = (i % 3 == 0) ? 2.0 : 1.0;
        ASSERT_EQ(leaves[i].grad(), 2.0 * (2.0 * leaves[i].data()) * 2.0 * multiplicity) << i;
      }
    }
    {  // one more op and its release
      const Value one = 1.0;
      const Value two = one + one;
      EXPECT_EQ(two.data(), 2.0);
    }
    const TapeStats after = tape_stats();
    EXPECT_EQ(after.nodes, 0u);
    EXPECT_EQ(after.leaves, 0u);
    EXPECT_LE(after.segments, 1u);
  });
}

}  // namespace
