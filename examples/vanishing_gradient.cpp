// vanishing_gradient.cpp: how the gradient fades (or not) on its way back through deep networks.
//
// Part 1. For each hidden activation (sigmoid, tanh, ReLU, Leaky ReLU) and each initialisation
// (micrograd's uniform(-1, 1), Xavier, He), MLPs of depth 2 to 30 (depth = layers of weights:
// depth - 1 hidden layers of width 16, then one linear output) make one forward and one
// backward pass of the mean squared error over a batch of moons points. The gradient norm of
// each layer's weights (nn::weight_grad_norms), averaged over several seeds, says how much of
// the error signal reaches that layer. The program prints the norms layer by layer at depth
// 20, then the first-layer / last-layer ratio for every depth: far below 1 is a vanishing
// gradient, far above 1 an exploding one.
//
// Part 2. Training curves: each activation and initialisation trains a depth-10 network on the
// moons (micrograd's demo loss: hinge + 1e-4 L2, plain gradient descent), showing which learn.
// The table also gives the spread of the initial scores over the points (largest minus
// smallest): a network that gives every point nearly the same score has little to start from.
//
// CSV for tools/plot_lab.py: vanishing_gradient_norms.csv (activation, init, depth, layer,
// grad_norm) and vanishing_gradient_training.csv (activation, init, step, loss, accuracy).
//
//   vanishing_gradient                          everything, CSV into .
//   vanishing_gradient --depths 2,10,20 --seeds 2 --steps 20 --out DIR
//
// Exit status: 0 on success, 1 if the CSV cannot be written, 2 for a bad command line.
// docs/activations.md shows the output and explains it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <scalargrad/scalargrad.hpp>

#include "support/options.hpp"     // whole_number(), list_of(), ...: checks that name the range
#include "support/output.hpp"      // finish_output(): what main() returns, stdout checked
#include "support/write_file.hpp"  // AtomicFile: a failed write leaves the old file as it was

namespace nn = scalargrad::nn;
namespace support = scalargrad::support;
using scalargrad::Value;

namespace {

const std::vector<nn::Activation> kActivations = {nn::Activation::sigmoid(), nn::Activation::tanh(),
                                                  nn::Activation::relu(), nn::Activation::leaky_relu(0.01)};
const std::vector<nn::Init> kInits = {nn::Init::Uniform, nn::Init::Xavier, nn::Init::He};
constexpr std::size_t kWidth = 16;

struct Options {
  std::vector<std::size_t> depths;
  std::size_t table_depth = 20;  // the depth whose norms are printed layer by layer: one of depths
  std::size_t seeds = 5;
  std::size_t points = 100;
  std::size_t train_depth = 10;
  std::size_t steps = 100;
  double learning_rate = 0.1;  // decays linearly to a tenth, as in micrograd's demo
  std::filesystem::path out = ".";
};

/// depth - 1 hidden layers of kWidth neurons, then one linear output.
nn::MLP make_network(std::size_t depth, const nn::Activation& hidden, nn::Init init, std::uint64_t seed) {
  std::vector<std::size_t> sizes(depth - 1, kWidth);
  sizes.push_back(1);
  return nn::MLP(2, sizes, hidden, nn::Activation::linear(), init, seed);
}

std::vector<Value> scores(const nn::MLP& model, const nn::Dataset& data) {
  return model.scores(data.inputs);  // model.score(x) for every point, as one batch
}

// ---- 1. Gradient norm per layer, one backward pass -------------------------------------------

/// Each layer's weight-gradient norm after one backward pass of the MSE on `data`, averaged
/// over seeds 1..seeds.
std::vector<double> mean_grad_norms(std::size_t depth, const nn::Activation& hidden, nn::Init init,
                                    std::size_t seeds, const nn::Dataset& data) {
  std::vector<double> mean(depth, 0.0);
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const nn::MLP model = make_network(depth, hidden, init, seed);
    nn::mse_loss(scores(model, data), data.labels).backward();
    const std::vector<double> norms = nn::weight_grad_norms(model);
    for (std::size_t l = 0; l < depth; ++l) mean[l] += norms[l] / static_cast<double>(seeds);
  }
  return mean;
}

// ---- 2. Training at one depth ----------------------------------------------------------------

struct StepResult {
  double loss, accuracy;
  double spread;  // largest score minus smallest: how differently the network sees the points
};

/// micrograd's demo loop on a deeper network: hinge + 1e-4 L2, gradient descent.
std::vector<StepResult> train(const nn::Activation& hidden, nn::Init init, const Options& o, const nn::Dataset& data) {
  nn::MLP model = make_network(o.train_depth, hidden, init, 1);
  nn::SGD sgd(model.parameters(), o.learning_rate);
  std::vector<StepResult> curve;
  for (std::size_t k = 0; k < o.steps; ++k) {
    const std::vector<Value> s = scores(model, data);
    const Value loss = nn::hinge_loss(s, data.labels) + nn::l2_penalty(model, 1e-4);
    const auto [lo, hi] = std::minmax_element(s.begin(), s.end(),
                                              [](const Value& a, const Value& b) { return a.data() < b.data(); });
    curve.push_back({loss.data(), nn::accuracy(s, data.labels), hi->data() - lo->data()});
    if (!std::isfinite(loss.data())) break;  // diverged: nothing more to learn from it
    model.zero_grad();
    loss.backward();
    sgd.set_learning_rate(nn::linear_decay(k, o.steps, o.learning_rate, 0.1 * o.learning_rate));
    sgd.step();
  }
  return curve;
}

// ---- 3. Output -------------------------------------------------------------------------------

/// Opens a CSV file (as a temporary beside it, see support/write_file.hpp) and writes its header.
void open_csv(support::AtomicFile& csv, const char* header) {
  csv.stream().precision(17);
  csv.stream() << header << '\n';
}

void close_csv(support::AtomicFile& csv, const std::filesystem::path& path) {
  csv.commit();
  std::printf("wrote %s\n", path.c_str());
}

void print_header(const char* first_column) {
  std::printf("%-7s", first_column);
  for (const auto& a : kActivations) std::printf(" %16s", a.name().c_str());
  std::printf("\n");
}

int run(const Options& o) {
  std::error_code ignored;  // a directory that cannot be made shows up as a file that cannot be written
  std::filesystem::create_directories(o.out, ignored);
  const nn::Dataset data = nn::make_moons(o.points, 0.1, 1);
  const auto started = std::chrono::steady_clock::now();

  // norms[a][i][d]: activation a, init i, the d-th depth of o.depths.
  std::vector<std::vector<std::vector<std::vector<double>>>> norms(
      kActivations.size(), std::vector<std::vector<std::vector<double>>>(kInits.size()));
  const std::filesystem::path norms_path = o.out / "vanishing_gradient_norms.csv";
  support::AtomicFile norms_file(norms_path);
  open_csv(norms_file, "activation,init,depth,layer,grad_norm");
  std::ostream& norms_csv = norms_file.stream();
  for (std::size_t a = 0; a < kActivations.size(); ++a) {
    for (std::size_t i = 0; i < kInits.size(); ++i) {
      for (const std::size_t depth : o.depths) {
        norms[a][i].push_back(mean_grad_norms(depth, kActivations[a], kInits[i], o.seeds, data));
        for (std::size_t l = 0; l < depth; ++l) {
          norms_csv << kActivations[a].name() << ',' << nn::init_name(kInits[i]) << ',' << depth << ',' << l + 1
                    << ',' << norms[a][i].back()[l] << '\n';
        }
      }
    }
  }

  std::printf("Part 1: weight-gradient norm per layer after one backward pass of the MSE on %zu moons points,\n"
              "width %zu, mean over %zu seeds. Layer 1 is next to the input, the last layer is the output.\n",
              o.points, kWidth, o.seeds);
  const auto table = static_cast<std::size_t>(  // main() made table_depth one of the depths
      std::find(o.depths.begin(), o.depths.end(), o.table_depth) - o.depths.begin());
  for (std::size_t i = 0; i < kInits.size(); ++i) {
    std::printf("\ndepth %zu, %s initialisation: gradient norm of each layer's weights\n", o.table_depth,
                std::string(nn::init_name(kInits[i])).c_str());
    print_header("layer");
    for (std::size_t l = 0; l < o.table_depth; ++l) {
      std::printf("%-7zu", l + 1);
      for (std::size_t a = 0; a < kActivations.size(); ++a) std::printf(" %16.3e", norms[a][i][table][l]);
      std::printf("\n");
    }
  }
  for (std::size_t i = 0; i < kInits.size(); ++i) {
    std::printf("\nfirst-layer / last-layer gradient norm, %s initialisation\n",
                std::string(nn::init_name(kInits[i])).c_str());
    print_header("depth");
    for (std::size_t d = 0; d < o.depths.size(); ++d) {
      std::printf("%-7zu", o.depths[d]);
      for (std::size_t a = 0; a < kActivations.size(); ++a) {
        std::printf(" %16.3e", norms[a][i][d].front() / norms[a][i][d].back());
      }
      std::printf("\n");
    }
  }
  close_csv(norms_file, norms_path);

  if (o.steps > 0) {
    std::printf("\nPart 2: training at depth %zu (hinge + 1e-4 L2 on %zu moons points, gradient descent,\n"
                "learning rate %g decaying to %g over %zu steps)\n",
                o.train_depth, o.points, o.learning_rate, 0.1 * o.learning_rate, o.steps);
    const std::filesystem::path train_path = o.out / "vanishing_gradient_training.csv";
    support::AtomicFile train_file(train_path);
    open_csv(train_file, "activation,init,step,loss,accuracy");
    std::ostream& train_csv = train_file.stream();
    std::printf("%-16s %-8s %12s %12s %12s %9s %14s\n", "activation", "init", "first loss", "middle loss",
                "last loss", "accuracy", "score spread");
    for (const nn::Init init : kInits) {
      for (const nn::Activation& a : kActivations) {
        const std::vector<StepResult> curve = train(a, init, o, data);
        for (std::size_t k = 0; k < curve.size(); ++k) {
          train_csv << a.name() << ',' << nn::init_name(init) << ',' << k + 1 << ',' << curve[k].loss << ','
                    << curve[k].accuracy << '\n';
        }
        // Stopped on a non-finite loss, or ended far above where it started.
        const bool diverged = curve.size() < o.steps || curve.back().loss > 1e3 * curve.front().loss;
        std::printf("%-16s %-8s %12.4g %12.4g %12.4g %8.0f%% %14.3g%s\n", a.name().c_str(),
                    std::string(nn::init_name(init)).c_str(), curve.front().loss, curve[curve.size() / 2].loss,
                    curve.back().loss, 100.0 * curve.back().accuracy, curve.front().spread,
                    diverged ? "  (diverged)" : "");
      }
    }
    close_csv(train_file, train_path);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("total time %.1f s\n", seconds);
  return 0;
}

int program_main(int argc, char** argv) {
  CLI::App app{"Gradient norm per layer against depth, per activation and initialisation; training curves.",
               "vanishing_gradient"};
  Options o;
  std::string depths = "2-30";  // every depth from 2 to 30
  app.add_option("--depths", depths,
                 "network depths (layers of weights): a comma list of depths and ranges (2-10,15,20), each from 2 "
                 "to 1000")
      ->capture_default_str()
      ->check(support::list_of(support::whole_number_or_range(2, 1000)));
  app.add_option("--table-depth", o.table_depth,
                 "depth whose norms are printed layer by layer: one of --depths (default: 20 if it is one, "
                 "else the largest)")
      ->check(support::whole_number(2, 1000));
  app.add_option("--seeds", o.seeds, "seeds to average the norms over")
      ->capture_default_str()
      ->check(support::whole_number(1, 1000));
  app.add_option("--points", o.points, "moons points in the batch")
      ->capture_default_str()
      ->check(support::whole_number(2, 100000));
  app.add_option("--train-depth", o.train_depth, "depth of the networks trained in part 2")
      ->capture_default_str()
      ->check(support::whole_number(2, 1000));
  app.add_option("--steps", o.steps, "training steps in part 2 (0: skip it)")
      ->capture_default_str()
      ->check(support::whole_number(0, 1000000));
  app.add_option("--lr", o.learning_rate, "initial learning rate of part 2")
      ->capture_default_str()
      ->check(support::positive_number());
  app.add_option("--out", o.out, "directory for the CSV files")->capture_default_str();
  const std::optional<int> status = support::parse_command_line(app, argc, argv, [&] {
    for (const std::uint64_t d : support::split_ranges(depths)) o.depths.push_back(static_cast<std::size_t>(d));
    const bool listed = std::find(o.depths.begin(), o.depths.end(), o.table_depth) != o.depths.end();
    if (app.count("--table-depth") > 0 && !listed) {
      throw CLI::ValidationError("--table-depth", std::to_string(o.table_depth) + " is not one of --depths " + depths);
    }
    if (!listed) o.table_depth = *std::max_element(o.depths.begin(), o.depths.end());
    // The deepest network: of part 1's depths, or part 2's when it trains.
    std::size_t deepest = *std::max_element(o.depths.begin(), o.depths.end());
    if (o.steps > 0) deepest = std::max(deepest, o.train_depth);
    if (const auto message = support::graph_too_large(o.points, (deepest - 1) * kWidth + 1,
                                                      "use fewer --points or smaller --depths or --train-depth")) {
      throw CLI::ValidationError("--points", std::to_string(o.points) + " with depth " + std::to_string(deepest) +
                                                 " (width " + std::to_string(kWidth) + "): " + *message);
    }
  });
  if (status) return *status;
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vanishing_gradient: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  scalargrad::support::report_file_size_limit();
  return scalargrad::support::finish_output("vanishing_gradient", program_main(argc, argv));
}
