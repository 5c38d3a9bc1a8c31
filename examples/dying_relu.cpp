// dying_relu.cpp: ReLU neurons that die during training and never come back, and Leaky ReLU
// neurons that do.
//
// A hidden neuron is dead on the training set when its pre-activation w . x + b is <= 0 for
// every training point (nn::dead_neurons). A dead ReLU neuron outputs 0 for all of them and
// passes back no gradient, so gradient descent never changes its weights again: it can only
// revive if the layer below changes what it feeds it (a first-layer neuron sees the fixed data
// and stays dead for good). A Leaky ReLU neuron in the same state still passes `slope` times
// its gradient, so it keeps learning and can come back.
//
// The program trains micrograd's demo network (2-16-16-1, uniform(-1, 1) weights, hinge + 1e-4
// L2, gradient descent with micrograd's linear decay) on the moons, with ReLU and with Leaky
// ReLU (slope 0.01) hidden layers, at the demo's learning rate and at large ones, over several
// seeds; it counts the dead hidden neurons after every step and prints, summed over the seeds:
// dead before training, dead after, how many neurons were dead at some step, and how many of
// those ever came back to life.
//
// CSV for tools/plot_lab.py: dying_relu.csv (activation, learning_rate, seed, step, loss, dead);
// step 0 is before training.
//
//   dying_relu                                  everything, CSV into .
//   dying_relu --seeds 3 --steps 20 --out DIR
//
// Exit status: 0 on success, 1 if the CSV cannot be written, 2 for a bad command line.
// docs/activations.md shows the output and explains it.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <ostream>
#include <stdexcept>
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

struct Options {
  std::vector<double> learning_rates = {0.1, 1.0, 3.0};  // 1: micrograd's demo
  std::size_t seeds = 10;
  std::size_t steps = 100;
  std::size_t points = 100;
  std::filesystem::path out = ".";
};

/// One hidden neuron's life during training: dead at some step, alive again at a later one.
struct Life {
  bool ever_dead = false;
  bool recovered = false;  // alive at some step after one where it was dead
};

/// What one training run saw (or several, added up).
struct Run {
  std::size_t dead_before = 0, dead_after = 0, ever_dead = 0, hidden = 0;
  std::size_t recovered[2] = {0, 0};  // neurons of hidden layer 1 and 2 that came back
  double final_accuracy = 0.0;
  bool diverged = false;

  Run& operator+=(const Run& r) {
    dead_before += r.dead_before;
    dead_after += r.dead_after;
    ever_dead += r.ever_dead;
    hidden += r.hidden;
    recovered[0] += r.recovered[0];
    recovered[1] += r.recovered[1];
    final_accuracy += r.final_accuracy;
    return *this;
  }
};

Run train(const nn::Activation& hidden, double learning_rate, std::uint64_t seed, const Options& o,
          const nn::Dataset& data, std::ostream& csv) {
  nn::MLP model(2, {16, 16, 1}, hidden, nn::Activation::linear(), nn::Init::Uniform, seed);
  nn::SGD sgd(model.parameters(), learning_rate);
  std::vector<Life> lives;
  Run run;

  char lr_text[32];  // as the command line gave it: 0.1, not 0.10000000000000001
  std::snprintf(lr_text, sizeof lr_text, "%g", learning_rate);

  // Counts the dead hidden neurons after `step` steps and follows each one's life.
  lives.resize(2 * 16);  // hidden layer 1, then hidden layer 2
  const auto census = [&](std::size_t step, double loss) {
    const nn::DeadNeurons dead = nn::dead_neurons(model, data.inputs);
    std::size_t count = 0;
    for (std::size_t j = 0; j < lives.size(); ++j) {
      if (dead.dead[j / 16][j % 16]) {
        ++count;
        lives[j].ever_dead = true;
      } else if (lives[j].ever_dead) {
        lives[j].recovered = true;
      }
    }
    csv << hidden.name() << ',' << lr_text << ',' << seed << ',' << step << ',' << loss << ',' << count << '\n';
    return count;
  };

  std::vector<Value> scores;
  const auto forward = [&] {
    scores = model.scores(data.inputs);  // model.score(x) for every point, as one batch
    return nn::hinge_loss(scores, data.labels) + nn::l2_penalty(model, 1e-4);
  };

  Value loss = forward();
  run.dead_before = census(0, loss.data());
  run.dead_after = run.dead_before;  // after 0 steps (--steps 0), as before them
  for (std::size_t k = 0; k < o.steps; ++k) {
    model.zero_grad();
    loss.backward();
    sgd.set_learning_rate(nn::linear_decay(k, o.steps, learning_rate, 0.1 * learning_rate));
    sgd.step();
    loss = forward();
    if (!std::isfinite(loss.data())) {  // diverged: with infinite or NaN weights, no neuron means anything
      run.diverged = true;
      return run;
    }
    run.dead_after = census(k + 1, loss.data());
  }
  run.final_accuracy = nn::accuracy(scores, data.labels);
  run.hidden = lives.size();
  for (std::size_t j = 0; j < lives.size(); ++j) {
    run.ever_dead += lives[j].ever_dead ? 1 : 0;
    run.recovered[j / 16] += lives[j].recovered ? 1 : 0;
  }
  return run;
}

int run(const Options& o) {
  std::error_code ignored;  // a directory that cannot be made shows up as a file that cannot be written
  std::filesystem::create_directories(o.out, ignored);
  const std::filesystem::path path = o.out / "dying_relu.csv";
  support::AtomicFile file(path);  // a temporary beside `path` until commit()
  std::ostream& csv = file.stream();
  csv.precision(17);
  csv << "activation,learning_rate,seed,step,loss,dead\n";

  const auto started = std::chrono::steady_clock::now();
  const nn::Dataset data = nn::make_moons(o.points, 0.1, 1);
  std::printf("Dead hidden neurons (pre-activation <= 0 on all %zu training points) of a 2-16-16-1 network,\n"
              "%zu steps of gradient descent (learning rate decaying linearly to a tenth), summed over %zu seeds\n\n",
              o.points, o.steps, o.seeds);
  std::printf("%-16s %6s %12s %12s %12s %21s %10s\n", "activation", "lr", "dead before", "dead after", "ever dead",
              "came back: layer 1, 2", "accuracy");
  for (const nn::Activation& hidden : {nn::Activation::relu(), nn::Activation::leaky_relu(0.01)}) {
    for (const double lr : o.learning_rates) {
      Run total;  // over the runs that did not diverge
      std::size_t finished = 0;
      for (std::uint64_t seed = 1; seed <= o.seeds; ++seed) {
        const Run r = train(hidden, lr, seed, o, data, csv);
        if (r.diverged) continue;
        total += r;
        ++finished;
      }
      const auto of = [&](std::size_t n) { return std::to_string(n) + "/" + std::to_string(total.hidden); };
      std::printf("%-16s %6g %12s %12s %12s %10zu %10zu %9.0f%%", hidden.name().c_str(), lr,
                  of(total.dead_before).c_str(), of(total.dead_after).c_str(), of(total.ever_dead).c_str(),
                  total.recovered[0], total.recovered[1],
                  finished > 0 ? 100.0 * total.final_accuracy / static_cast<double>(finished) : 0.0);
      if (finished < o.seeds) std::printf("  (%zu of %zu runs diverged, left out)", o.seeds - finished, o.seeds);
      std::printf("\n");
    }
  }
  file.commit();
  std::printf("\nwrote %s\n", path.c_str());
  std::printf("total time %.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}

int program_main(int argc, char** argv) {
  CLI::App app{"Dead ReLU and Leaky ReLU neurons before, during and after training.", "dying_relu"};
  Options o;
  std::string learning_rates = "0.1,1,3";
  app.add_option("--lrs", learning_rates, "initial learning rates to compare, a comma list of finite numbers > 0")
      ->capture_default_str()
      ->check(support::list_of(support::positive_number()));
  app.add_option("--seeds", o.seeds, "seeds (initial weights) per setting")
      ->capture_default_str()
      ->check(support::whole_number(1, 1000));
  app.add_option("--steps", o.steps, "training steps")
      ->capture_default_str()
      ->check(support::whole_number(0, 1000000));
  app.add_option("--points", o.points, "moons training points")
      ->capture_default_str()
      ->check(support::whole_number(2, 100000));
  app.add_option("--out", o.out, "directory for dying_relu.csv")->capture_default_str();
  if (const std::optional<int> status = support::parse_command_line(app, argc, argv)) return *status;
  o.learning_rates = support::split_list<double>(learning_rates, support::read_finite_number);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dying_relu: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  scalargrad::support::report_file_size_limit();
  return scalargrad::support::finish_output("dying_relu", program_main(argc, argv));
}
