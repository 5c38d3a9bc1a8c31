// activations.cpp: every activation function of scalargrad and its derivative, side by side.
//
// For each function f it walks a grid over [-6, 6], computes y = f(x) on a Value and calls
// y.backward(): x.grad() is then f'(x) as the engine computes it. The program checks that
// derivative against the closed form written below (independent of the engine) and prints a
// table of what the study note claims about each function:
//   its output range, its largest derivative and where that is reached, and f'(-5), f'(0),
//   f'(5): sigmoid' is at most 0.25 (at 0), tanh' at most 1 (at 0), ReLU' is 1 for every
//   x > 0 and 0 for every x < 0, Leaky ReLU' is its slope for x < 0.
// Then it times each function on plain doubles: ReLU is a comparison, the others need exp or erf.
// It writes every grid point as CSV (activations.csv) for tools/plot_lab.py.
//
//   activations                 the table, and ./activations.csv
//   activations --out DIR       write DIR/activations.csv
//   activations --step 0.001    a finer grid
//   activations --no-timing     skip the table of what each function costs
//
// Exit status: 0 on success, 1 if a derivative disagrees with its closed form or the CSV
// cannot be written, 2 for a bad command line. docs/activations.md shows the output.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <numbers>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <scalargrad/scalargrad.hpp>

#include "support/options.hpp"     // number_in(): a check that names the range
#include "support/output.hpp"      // finish_output(): what main() returns, stdout checked
#include "support/write_file.hpp"  // AtomicFile: a failed write leaves the old file as it was

namespace nn = scalargrad::nn;
namespace support = scalargrad::support;
using scalargrad::Value;

namespace {

// ---- 1. The functions, with their derivatives in closed form ---------------------------------

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// An activation with its value and derivative written out by hand: the reference for the
/// engine's, and what the timing below runs.
struct Function {
  nn::Activation activation;
  std::function<double(double)> value;
  std::function<double(double)> derivative;
};

std::vector<Function> functions() {
  const double sqrt_2pi = std::sqrt(2.0 * std::numbers::pi);
  const auto phi = [](double x) { return 0.5 * (1.0 + std::erf(x / std::numbers::sqrt2)); };  // normal CDF
  return {
      {nn::Activation::sigmoid(), sigmoid, [](double x) { return sigmoid(x) * (1.0 - sigmoid(x)); }},
      {nn::Activation::tanh(), [](double x) { return std::tanh(x); },
       [](double x) { return 1.0 - std::tanh(x) * std::tanh(x); }},
      // At the kinks, the convention of PyTorch: relu'(0) = 0, leaky_relu'(0) = slope.
      {nn::Activation::relu(), [](double x) { return x > 0.0 ? x : 0.0; }, [](double x) { return x > 0.0 ? 1.0 : 0.0; }},
      {nn::Activation::leaky_relu(0.01), [](double x) { return x > 0.0 ? x : 0.01 * x; },
       [](double x) { return x > 0.0 ? 1.0 : 0.01; }},
      {nn::Activation::leaky_relu(0.001), [](double x) { return x > 0.0 ? x : 0.001 * x; },
       [](double x) { return x > 0.0 ? 1.0 : 0.001; }},
      {nn::Activation::elu(1.0), [](double x) { return x > 0.0 ? x : std::expm1(x); },
       [](double x) { return x > 0.0 ? 1.0 : std::exp(x); }},
      // gelu(x) = x Phi(x): Phi(x) + x phi(x), phi the standard normal density.
      {nn::Activation::gelu(), [phi](double x) { return x * phi(x); },
       [phi, sqrt_2pi](double x) { return phi(x) + x * std::exp(-0.5 * x * x) / sqrt_2pi; }},
      // silu(x) = x s(x): s(x) + x s(x) (1 - s(x)).
      {nn::Activation::silu(), [](double x) { return x * sigmoid(x); },
       [](double x) { return sigmoid(x) + x * sigmoid(x) * (1.0 - sigmoid(x)); }},
      // softplus(x) = log(1 + e^x): s(x).
      {nn::Activation::softplus(), [](double x) { return x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); },
       sigmoid},
  };
}

// ---- 2. What each function costs -------------------------------------------------------------

/// Nanoseconds per call of f on plain doubles spread over [-6, 6]: the best of 5 passes over
/// a million inputs. Every function is called through the same std::function, so what differs
/// is the arithmetic: a comparison for ReLU, an exponential or erf for the others.
double nanoseconds_per_call(const std::function<double(double)>& f) {
  std::vector<double> inputs(1'000'000);
  for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = -6.0 + 12.0 * static_cast<double>(i % 9973) / 9973.0;
  double best = 1e300;
  volatile double sink = 0.0;  // keeps the calls from being optimised away
  for (int pass = 0; pass < 5; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    double total = 0.0;
    for (const double x : inputs) total += f(x);
    sink = total;
    const std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count() / static_cast<double>(inputs.size()));
  }
  (void)sink;
  return best;
}

// ---- 3. One function on the grid -------------------------------------------------------------

struct Point {
  double x, y, engine_dy, closed_form_y, closed_form_dy;
};

/// f and f' (by backward()) at x = i * step for every i with |x| <= 6.
std::vector<Point> evaluate(const Function& f, double step) {
  std::vector<Point> points;
  const auto n = static_cast<long>(std::floor(6.0 / step + 1e-9));
  for (long i = -n; i <= n; ++i) {
    const double x = static_cast<double>(i) * step;  // exact 0 (and +-5 for steps like 0.01)
    const Value input(x);
    const Value output = f.activation(input);
    output.backward();
    points.push_back({x, output.data(), input.grad(), f.value(x), f.derivative(x)});
  }
  return points;
}

/// f'(x) by backward(), at any x (the grid need not hold it: a step of 0.7 misses -5 and 5).
double derivative_at(const Function& f, double x) {
  const Value input(x);
  f.activation(input).backward();
  return input.grad();
}

/// One row of the table.
void print_row(const Function& f, const std::vector<Point>& points, double error) {
  double lo = points.front().y, hi = lo, best = points.front().engine_dy;
  for (const Point& p : points) {
    lo = std::min(lo, p.y);
    hi = std::max(hi, p.y);
    best = std::max(best, p.engine_dy);
  }
  // Where the largest derivative is reached: one point, or the stretch of the grid where the
  // derivative equals it (ReLU: every x > 0).
  double first = 0.0, last = 0.0;
  bool found = false;
  for (const Point& p : points) {
    if (p.engine_dy >= best - 1e-12) {
      if (!found) first = p.x;
      last = p.x;
      found = true;
    }
  }
  char where[32];
  if (first == last) {
    std::snprintf(where, sizeof where, "x = %.2f", first);
  } else {
    std::snprintf(where, sizeof where, "x in [%.2f, %.2f]", first, last);
  }
  std::printf("%-17s [%7.4f, %6.4f]  %7.4f  %-18s %8.4f %8.4f %8.4f   %.1e\n", f.activation.name().c_str(), lo, hi,
              best, where, derivative_at(f, -5.0), derivative_at(f, 0.0), derivative_at(f, 5.0), error);
}

int program_main(int argc, char** argv) {
  CLI::App app{"Every activation function and its derivative (by backward()) on a grid over [-6, 6].",
               "activations"};
  std::filesystem::path out_dir = ".";
  double step = 0.01;
  app.add_option("--out", out_dir, "directory for activations.csv")->capture_default_str();
  bool no_timing = false;  // (a plain flag: "!--no-timing" into `timing` showed as --no-timing{false} in --help)
  app.add_flag("--no-timing", no_timing, "skip timing each function");
  app.add_option("--step", step, "grid spacing")->capture_default_str()->check(support::number_in(1e-4, 1.0));
  if (const std::optional<int> status = support::parse_command_line(app, argc, argv)) return *status;

  const std::filesystem::path csv_path = out_dir / "activations.csv";
  std::error_code ignored;  // a directory that cannot be made shows up as a file that cannot be written
  std::filesystem::create_directories(out_dir, ignored);
  std::optional<support::AtomicFile> file;  // a temporary beside csv_path until commit()
  try {
    file.emplace(csv_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "activations: %s\n", e.what());
    return 1;
  }
  std::ostream& csv = file->stream();
  csv.precision(17);
  csv << "function,x,value,derivative,closed_form_derivative\n";

  // The grid's ends: the multiples of step in [-6, 6] (+-6 itself for steps such as 0.5, +-5.6 for 0.7).
  const double end = std::floor(6.0 / step + 1e-9) * step;
  std::printf("f on [%g, %g], step %g; f' by backward(); f and f' checked against their closed forms\n\n", -end,
              end, step);
  std::printf("%-17s %-17s  %-7s  %-18s %8s %8s %8s   %s\n", "function", "output range", "max f'", "at",
              "f'(-5)", "f'(0)", "f'(5)", "|engine - closed form|");
  bool agree = true;
  for (const Function& f : functions()) {
    const std::string name = f.activation.name();
    const std::vector<Point> points = evaluate(f, step);
    double error = 0.0;
    for (const Point& p : points) {
      error = std::max({error, std::abs(p.y - p.closed_form_y), std::abs(p.engine_dy - p.closed_form_dy)});
      csv << name << ',' << p.x << ',' << p.y << ',' << p.engine_dy << ',' << p.closed_form_dy << '\n';
    }
    print_row(f, points, error);
    if (!(error <= 1e-12)) {
      std::fprintf(stderr, "activations: %s: the engine differs from the closed form by %g\n", name.c_str(), error);
      agree = false;
    }
  }
  if (!no_timing) {
    std::printf("\ncost of f(x) on plain doubles (closed form above; best of 5 passes over 10^6 inputs)\n");
    std::printf("%-17s %10s %12s\n", "function", "ns / call", "x relu");
    const std::vector<Function> all = functions();
    std::vector<double> ns;
    for (const Function& f : all) ns.push_back(nanoseconds_per_call(f.value));
    const double relu_ns = ns[2];
    for (std::size_t i = 0; i < all.size(); ++i) {
      std::printf("%-17s %10.2f %12.1f\n", all[i].activation.name().c_str(), ns[i], ns[i] / relu_ns);
    }
  }
  try {
    file->commit();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "activations: %s\n", e.what());
    return 1;
  }
  std::printf("\nwrote %s\n", csv_path.c_str());
  return agree ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  scalargrad::support::report_file_size_limit();
  return scalargrad::support::finish_output("activations", program_main(argc, argv));
}
