// demo.cpp: micrograd's demo.ipynb in C++. A small MLP learns to separate two moons, then the
// terminal shows where it draws the boundary between them.
//
// The notebook's run, which this program does by default:
//   data   100 points on two interleaving half circles (noise 0.1), labels -1 and +1;
//   model  an MLP 2-16-16-1: ReLU hidden layers, a linear output (its score: > 0 means +1),
//          weights drawn uniformly from (-1, 1), biases 0;
//   loss   micrograd's max-margin loss, mean of relu(1 - y * score), plus 1e-4 * sum of w^2;
//   steps  100 full-batch steps of gradient descent, learning rate 1.0 - 0.9 * k / 100.
// Each step is micrograd's loop: forward every point, loss, zero the gradients, backward,
// update. It reaches 100% training accuracy, as the notebook does.
//
//   demo                                   the notebook's run
//   demo --optimizer adam                  Adam instead of plain gradient descent
//   demo --hidden 8 --activation tanh      another network
//   demo --save moons.json                 keep the trained weights ...
//   demo --load moons.json --steps 0       ... and evaluate them again later
//
// Exit status: 0 on success, 2 for a bad command line, 1 when something fails while running
// (a model file that cannot be read or written, ...). `demo --help` lists every option.
#include <langinfo.h>  // nl_langinfo(CODESET): does the terminal take UTF-8?

#include <algorithm>
#include <charconv>
#include <chrono>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <scalargrad/file.hpp>
#include <scalargrad/scalargrad.hpp>

#include "support/options.hpp"     // whole_number(), number_in(), ...: checks that name the range
#include "support/output.hpp"      // finish_output(): what main() returns, stdout checked
#include "support/write_file.hpp"  // probe_output(), same_file(): the outputs tried before training

namespace nn = scalargrad::nn;
namespace support = scalargrad::support;
using scalargrad::Value;

namespace {

constexpr double kL2 = 1e-4;  // weight of the L2 penalty, micrograd's alpha

// ---- 1. The command line ----------------------------------------------------------------------

/// Everything the command line decides, already checked.
struct Setup {
  std::size_t steps = 100;
  std::vector<std::size_t> layer_sizes;  // hidden sizes, then the output's 1
  nn::Activation hidden = nn::Activation::relu();
  nn::Init init = nn::Init::Uniform;
  std::uint64_t seed = 1;       // draws the initial weights
  bool adam = false;            // else SGD
  double learning_rate = 1.0;   // at step 0; it decays linearly to a tenth at the last step
  std::size_t points = 100;
  double noise = 0.1;
  std::uint64_t data_seed = 1;  // draws the points
  std::string load, save;       // model files (empty: none)
  std::string boundary_csv;     // empty: not written
  bool quiet = false;
  bool ascii = false;
};

/// A command line that parses but means nothing, such as `--hidden 16,x`.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// "16,16" -> {16, 16}.
std::vector<std::size_t> parse_sizes(std::string_view text) {
  std::vector<std::size_t> sizes;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    std::size_t size = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), size);
    if (error != std::errc() || end != item.data() + item.size() || size == 0 || size > 4096) {
      throw UsageError("--hidden: '" + std::string(item) +
                       "' is not a layer size from 1 to 4096 (expected a comma list such as 16,16)");
    }
    sizes.push_back(size);
    if (comma == std::string_view::npos) return sizes;
    text.remove_prefix(comma + 1);
  }
}

/// The largest model --hidden may ask for: the graph of one step holds a few values per
/// parameter per point, so a bigger model takes gigabytes and minutes.
constexpr std::size_t kMaxParameters = 100000;

/// The parameters of an MLP with 2 inputs and these layer sizes: each layer has nin * nout
/// weights and nout biases.
std::size_t parameter_count(const std::vector<std::size_t>& layer_sizes) {
  std::size_t count = 0;
  std::size_t nin = 2;
  for (const std::size_t nout : layer_sizes) {
    count += (nin + 1) * nout;
    nin = nout;
  }
  return count;
}

void print_usage_error(const std::string& message) {
  std::fprintf(stderr, "demo: %s\nUsage: demo [OPTIONS]   (demo --help lists them)\n", message.c_str());
}

/// Reads the command line. Returns the setup, or nothing with `status` set to the exit status
/// to leave with: 0 after --help, 2 for a bad command line.
std::optional<Setup> read_command_line(int argc, char** argv, int& status) {
  CLI::App app{"Trains an MLP on two moons, as micrograd's demo.ipynb, and draws its decision boundary.",
               "demo"};
  app.footer(
      "The CSV file (--boundary-csv) has the header kind,x,y,score,class,label: one row per\n"
      "cell of the terminal picture (kind=grid: its centre, the model's score there, class -1 or\n"
      "+1, label empty), then one row per training point (kind=point, with its label -1 or +1).\n"
      "Exit status: 0 on success, 2 for a bad command line, 1 for an error while running.");

  Setup s;
  std::string hidden = "16,16", activation = "relu", init = "uniform", optimizer = "sgd";
  double lr = 0.0;
  std::string boundary_csv = "decision_boundary.csv";
  app.add_option("--steps", s.steps, "Full-batch training steps (0: only evaluate)")
      ->check(support::whole_number(0, 1000000))
      ->capture_default_str();
  app.add_option("--hidden", hidden,
                 "Sizes of the hidden layers, a comma list; each from 1 to 4096, at most " +
                     std::to_string(kMaxParameters) + " parameters in all")
      ->capture_default_str();
  app.add_option("--activation", activation,
                 "Activation of the hidden layers (the output stays linear): relu, leaky_relu[:slope], "
                 "prelu, tanh, sigmoid, elu, gelu, silu, softplus, linear")
      ->capture_default_str();
  app.add_option("--init", init, "Initial weights: uniform (-1, 1), xavier or he")
      ->check(CLI::IsMember({"uniform", "xavier", "he"}))
      ->capture_default_str();
  app.add_option("--optimizer", optimizer, "sgd or adam")
      ->check(CLI::IsMember({"sgd", "adam"}))
      ->capture_default_str();
  app.add_option("--lr", lr,
                 "Learning rate at step 0, decaying linearly to a tenth (default: 1 for sgd, 0.05 for adam)")
      ->check(support::positive_number());
  app.add_option("--seed", s.seed, "Seed of the initial weights")
      ->check(support::any_whole_number())
      ->capture_default_str();
  app.add_option("--data-seed", s.data_seed, "Seed of the points")
      ->check(support::any_whole_number())
      ->capture_default_str();
  app.add_option("--points", s.points, "Number of points")
      ->check(support::whole_number(2, 100000))
      ->capture_default_str();
  app.add_option("--noise", s.noise, "Standard deviation of the noise on the points")
      ->check(support::number_in(0.0, 10.0))
      ->capture_default_str();
  app.add_option("--load", s.load, "Start from this model file (it replaces --hidden, --activation, --init, --seed)")
      ->check(support::file_name())
      ->type_name("FILE");
  app.add_option("--save", s.save, "Save the trained model to this JSON file")
      ->check(support::file_name())
      ->type_name("FILE");
  app.add_option("--boundary-csv", boundary_csv, "Write the decision boundary to this CSV file (\"\": don't)")
      ->capture_default_str();
  app.add_flag("--quiet", s.quiet, "No line per training step");
  app.add_flag("--ascii", s.ascii, "Draw with ASCII only, even where the terminal takes UTF-8");

  try {
    app.parse(argc, argv);
    s.layer_sizes = parse_sizes(hidden);
    s.layer_sizes.push_back(1);  // the output: one score
    if (const std::size_t count = parameter_count(s.layer_sizes); s.load.empty() && count > kMaxParameters) {
      throw UsageError("--hidden " + hidden + ": the model would have " + std::to_string(count) +
                       " parameters, more than the limit of " + std::to_string(kMaxParameters));
    }
    if (s.load.empty()) {
      const std::size_t neurons = std::accumulate(s.layer_sizes.begin(), s.layer_sizes.end(), std::size_t{0});
      if (const auto message = support::graph_too_large(s.points, neurons, "use fewer --points or smaller --hidden")) {
        throw UsageError("--points " + std::to_string(s.points) + " with --hidden " + hidden + ": " + *message);
      }
    }
    s.hidden = nn::Activation::parse(activation);
    s.init = nn::parse_init(init);
    s.adam = optimizer == "adam";
    s.learning_rate = lr > 0.0 ? lr : s.adam ? 0.05 : 1.0;
    s.boundary_csv = boundary_csv;
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes are not ours: --help is a "ParseError" that exits 0, a bad
    // command line exits 2 whatever CLI11 would return.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      status = app.exit(e);
    } else {
      print_usage_error(e.what());
      status = 2;
    }
    return std::nullopt;
  } catch (const std::exception& e) {  // UsageError, or scalargrad::Error from a parse()
    print_usage_error(e.what());
    status = 2;
    return std::nullopt;
  }
  if (!s.load.empty()) {
    for (const char* name : {"--hidden", "--activation", "--init", "--seed"}) {
      if (app.count(name) > 0) std::fprintf(stderr, "note: %s is ignored with --load\n", name);
    }
  }
  return s;
}

// ---- 2. The model and the optimizer -------------------------------------------------------------

/// A new MLP as the setup says, or the one in the --load file.
nn::MLP make_model(const Setup& s) {
  if (s.load.empty()) return nn::MLP(2, s.layer_sizes, s.hidden, nn::Activation::linear(), s.init, s.seed);
  nn::MLP model = nn::load_model(s.load);
  if (model.nin() != 2 || model.nout() != 1) {
    throw std::runtime_error(s.load + ": the model has " + std::to_string(model.nin()) + " inputs and " +
                             std::to_string(model.nout()) + " outputs; the demo needs 2 inputs and 1 output");
  }
  return model;
}

std::unique_ptr<nn::Optimizer> make_optimizer(const Setup& s, nn::MLP& model) {
  if (s.adam) return std::make_unique<nn::Adam>(model.parameters(), s.learning_rate);
  return std::make_unique<nn::SGD>(model.parameters(), s.learning_rate);
}

/// "MLP 2-16-16-1 (relu, relu, linear), 337 parameters".
std::string describe(const nn::MLP& model) {
  std::string sizes = std::to_string(model.nin()), activations;
  for (const nn::Layer& layer : model.layers()) {
    sizes += "-" + std::to_string(layer.nout());
    activations += (activations.empty() ? "" : ", ") + layer.activation().name();
  }
  return "MLP " + sizes + " (" + activations + "), " + std::to_string(model.num_parameters()) + " parameters";
}

// ---- 3. Forward pass and evaluation -------------------------------------------------------------

/// The model's score for every point: > 0 means class +1. One batch (micrograd's
/// `list(map(model, inputs))`): the same graph as a loop of model.score(x), recorded faster.
std::vector<Value> scores_of(const nn::MLP& model, const nn::Dataset& data) { return model.scores(data.inputs); }

/// The demo's loss: the margin loss plus the L2 penalty.
Value loss_of(const nn::MLP& model, std::span<const Value> scores, const nn::Dataset& data) {
  return nn::hinge_loss(scores, data.labels) + nn::l2_penalty(model, kL2);
}

/// The loss with 4 decimals, and "nan" for a diverged one whatever its sign bit (printf writes
/// "-nan" for 0.0 / 0.0 here).
std::string loss_text(double loss) {
  if (std::isnan(loss)) return "nan";
  char text[64];
  std::snprintf(text, sizeof text, "%.4f", loss);
  return text;
}

/// Accuracy as a whole percentage, rounded down: 100 only when every point is right.
long percent(double accuracy, std::size_t points) {
  const long right = std::lround(accuracy * static_cast<double>(points));
  return right * 100 / static_cast<long>(points);
}

// ---- 4. The decision boundary -------------------------------------------------------------------

/// The model's scores on a grid of cells over the data's bounding box (with margins), and at
/// the data's points.
struct Boundary {
  static constexpr int kColumns = 60, kRows = 24;
  double x_min, x_max, y_min, y_max;
  std::vector<double> cell_scores;   // at each cell's centre, row by row, top row (largest y) first
  std::vector<double> point_scores;  // at each point of the data

  [[nodiscard]] double x(int column) const { return x_min + (column + 0.5) * (x_max - x_min) / kColumns; }
  [[nodiscard]] double y(int row) const { return y_max - (row + 0.5) * (y_max - y_min) / kRows; }
  [[nodiscard]] double score(int row, int column) const { return cell_scores[std::size_t(row * kColumns + column)]; }
};

Boundary evaluate_boundary(const nn::MLP& model, const nn::Dataset& data) {
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  for (const std::vector<double>& p : data.inputs) {
    x_min = std::min(x_min, p[0]), x_max = std::max(x_max, p[0]);
    y_min = std::min(y_min, p[1]), y_max = std::max(y_max, p[1]);
  }
  const double x_margin = 0.15 * (x_max - x_min) + 0.1, y_margin = 0.15 * (y_max - y_min) + 0.1;
  Boundary b{x_min - x_margin, x_max + x_margin, y_min - y_margin, y_max + y_margin, {}, {}};

  const scalargrad::NoGradGuard no_grad;  // only the scores are needed: record no graph
  for (int row = 0; row < Boundary::kRows; ++row) {
    for (int column = 0; column < Boundary::kColumns; ++column) {
      const double cell[2] = {b.x(column), b.y(row)};
      b.cell_scores.push_back(model.score(cell).data());
    }
  }
  for (const Value& score : scores_of(model, data)) b.point_scores.push_back(score.data());
  return b;
}

/// True when the user's locale encodes characters as UTF-8 (then shading blocks can be drawn).
bool locale_is_utf8() {
  std::setlocale(LC_CTYPE, "");  // character encoding only: numbers keep printing as "C"
  return std::string_view(nl_langinfo(CODESET)) == "UTF-8";
}

/// Prints the grid: each cell shaded where the model says +1, blank where it says -1, with the
/// points on top ('o' label -1, 'x' label +1; upper case when the model gets the point wrong).
void draw(const Boundary& b, const nn::Dataset& data, bool unicode) {
  const char* shade = unicode ? "\u2591" : ".";
  const char* corners[4] = {"+", "+", "+", "+"};  // top left, top right, bottom left, bottom right
  const char *bar = "-", *side = "|";
  if (unicode) corners[0] = "\u250c", corners[1] = "\u2510", corners[2] = "\u2514", corners[3] = "\u2518";
  if (unicode) bar = "\u2500", side = "\u2502";

  // The class of each cell's centre, then the points that fall in the cell.
  std::vector<std::string> cells;
  for (const double score : b.cell_scores) cells.emplace_back(score > 0.0 ? shade : " ");
  for (const bool wrong_ones : {false, true}) {  // the wrong points last, so that none is hidden
    for (std::size_t i = 0; i < data.size(); ++i) {
      const bool positive = data.labels[i] > 0.0;
      const bool wrong = positive != (b.point_scores[i] > 0.0);
      if (wrong != wrong_ones) continue;
      const double fx = (data.inputs[i][0] - b.x_min) / (b.x_max - b.x_min);
      const double fy = (b.y_max - data.inputs[i][1]) / (b.y_max - b.y_min);
      const int column = std::clamp(int(fx * Boundary::kColumns), 0, Boundary::kColumns - 1);
      const int row = std::clamp(int(fy * Boundary::kRows), 0, Boundary::kRows - 1);
      cells[std::size_t(row * Boundary::kColumns + column)] = wrong ? (positive ? "X" : "O") : (positive ? "x" : "o");
    }
  }

  std::string rule;
  for (int column = 0; column < Boundary::kColumns; ++column) rule += bar;
  std::printf("%s%s%s\n", corners[0], rule.c_str(), corners[1]);
  for (int row = 0; row < Boundary::kRows; ++row) {
    std::string line;
    for (int column = 0; column < Boundary::kColumns; ++column) {
      line += cells[std::size_t(row * Boundary::kColumns + column)];
    }
    std::printf("%s%s%s\n", side, line.c_str(), side);
  }
  std::printf("%s%s%s\n", corners[2], rule.c_str(), corners[3]);
  std::printf("x from %.2f to %.2f, y from %.2f to %.2f.  %s the model says +1, blank: -1\n", b.x_min, b.x_max,
              b.y_min, b.y_max, unicode ? "\u2591:" : ".:");
  std::printf("points: o label -1, x label +1 (O, X: on the wrong side)\n");
}

/// The cells and the points as CSV (the format is in --help's footer).
std::string csv_text(const Boundary& b, const nn::Dataset& data) {
  std::ostringstream out;
  char line[160];
  out << "kind,x,y,score,class,label\n";
  for (int row = 0; row < Boundary::kRows; ++row) {
    for (int column = 0; column < Boundary::kColumns; ++column) {
      const double score = b.score(row, column);
      std::snprintf(line, sizeof line, "grid,%.17g,%.17g,%.17g,%d,\n", b.x(column), b.y(row), score,
                    score > 0.0 ? 1 : -1);
      out << line;
    }
  }
  for (std::size_t i = 0; i < data.size(); ++i) {
    const double score = b.point_scores[i];
    std::snprintf(line, sizeof line, "point,%.17g,%.17g,%.17g,%d,%d\n", data.inputs[i][0], data.inputs[i][1], score,
                  score > 0.0 ? 1 : -1, data.labels[i] > 0.0 ? 1 : -1);
    out << line;
  }
  return std::move(out).str();
}

/// What the errors of writing the --save file and the --boundary-csv file start with.
std::string model_file_context(const std::string& path) { return "scalargrad::nn: cannot save model to '" + path + "'"; }
std::string csv_file_context(const std::string& path) { return "cannot write " + path; }

int program_main(int argc, char** argv) {
  int status = 0;
  const std::optional<Setup> setup = read_command_line(argc, argv, status);
  if (!setup) return status;
  const Setup& s = *setup;

  try {
    // The data: two interleaving half circles, label -1 (upper) and +1 (lower).
    const nn::Dataset data = nn::make_moons(s.points, s.noise, s.data_seed);
    nn::MLP model = make_model(s);
    if (!s.load.empty()) {  // the file's model, known only now
      std::size_t neurons = 0;
      for (const nn::Layer& layer : model.layers()) neurons += layer.nout();
      if (const auto message = support::graph_too_large(s.points, neurons, "use fewer --points")) {
        print_usage_error("--points " + std::to_string(s.points) + " with the model of --load " + s.load + ": " + *message);
        return 2;
      }
    }
    const std::unique_ptr<nn::Optimizer> optimizer = make_optimizer(s, model);
    // A path that cannot be written fails now, not after the training (the files are written at
    // the end, so that an interrupted run leaves nothing beside them).
    const bool save_in_place = !s.save.empty() && support::probe_output(s.save, model_file_context(s.save));
    const bool csv_in_place =
        !s.boundary_csv.empty() && support::probe_output(s.boundary_csv, csv_file_context(s.boundary_csv));
    if (!s.save.empty() && !s.boundary_csv.empty() && !save_in_place && !csv_in_place &&
        support::same_file(s.save, s.boundary_csv)) {
      print_usage_error("--save " + s.save + " and --boundary-csv " + s.boundary_csv +
                        " name the same file, whose model the CSV would replace: give them different names");
      return 2;
    }
    std::printf("data: %zu points of two moons (noise %g, seed %llu)\n", data.size(), s.noise,
                static_cast<unsigned long long>(s.data_seed));
    std::printf("model: %s%s%s\n", describe(model).c_str(), s.load.empty() ? "" : ", from ", s.load.c_str());
    if (s.steps > 0) {
      std::printf("training: %zu full-batch steps of %s, learning rate %g decaying linearly to %g, "
                  "loss = hinge + %g * sum w^2\n",
                  s.steps, s.adam ? "Adam" : "SGD", s.learning_rate, 0.1 * s.learning_rate, kL2);
    }

    // Training: micrograd's loop. (The time includes the progress lines; --quiet drops them.)
    const std::clock_t cpu_start = std::clock();
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < s.steps; ++k) {
      // forward: a score for every point, and the loss
      const std::vector<Value> scores = scores_of(model, data);
      const Value loss = loss_of(model, scores, data);
      const double accuracy = nn::accuracy(scores, data.labels);

      // backward: zero the gradients (backward() adds to them), then d(loss)/d(every weight)
      model.zero_grad();
      loss.backward();

      // update: a step against the gradient, with a learning rate that decays as micrograd's
      optimizer->set_learning_rate(nn::linear_decay(k, s.steps, s.learning_rate, 0.1 * s.learning_rate));
      optimizer->step();

      if (!s.quiet) {
        std::printf("step %3zu  loss %s  accuracy %ld%%\n", k, loss_text(loss.data()).c_str(),
                    percent(accuracy, data.size()));
      }
    }
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;

    // The final weights, evaluated without recording a graph.
    {
      const scalargrad::NoGradGuard no_grad;
      const std::vector<Value> scores = scores_of(model, data);
      std::printf("after %zu steps: loss %s  accuracy %ld%%\n", s.steps, loss_text(loss_of(model, scores, data).data()).c_str(),
                  percent(nn::accuracy(scores, data.labels), data.size()));
    }
    if (s.steps > 0) {
      std::printf("training time: %.3f s of CPU, %.3f s on the clock (%.2f ms of CPU per step)\n", cpu_seconds,
                  seconds.count(), 1e3 * cpu_seconds / static_cast<double>(s.steps));
    }

    // The decision boundary: the class the model gives to every cell of a grid.
    const Boundary boundary = evaluate_boundary(model, data);

    // Both files are written in full (to new files beside their targets) before either replaces
    // its target: a write that fails (a full disk) leaves both targets as they were.
    // What was printed goes first, should a file be stdout (--boundary-csv /dev/stdout).
    std::fflush(stdout);
    std::optional<scalargrad::FileReplacement> model_file;
    std::optional<scalargrad::FileReplacement> csv_file;
    if (!s.save.empty()) {
      std::string json;
      try {
        json = nn::to_json(model);  // as nn::save_model() writes it
      } catch (const scalargrad::Error& e) {
        // A diverged model: to_json() names the parameter that JSON cannot hold; say for which file.
        throw std::runtime_error("--save " + s.save + ": " + e.what());
      }
      model_file.emplace(s.save, model_file_context(s.save));
      model_file->write(json);
    }
    if (!s.boundary_csv.empty()) {
      csv_file.emplace(s.boundary_csv, csv_file_context(s.boundary_csv));
      csv_file->write(csv_text(boundary, data));
    }
    if (model_file) {
      model_file->commit();
      std::printf("saved the model to %s\n", s.save.c_str());
    }
    std::printf("\n");
    draw(boundary, data, !s.ascii && locale_is_utf8());
    if (csv_file) {
      std::fflush(stdout);
      csv_file->commit();
      std::printf("wrote %s (%d grid cells, %zu points)\n", s.boundary_csv.c_str(),
                  Boundary::kColumns * Boundary::kRows, data.size());
    }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "demo: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  scalargrad::support::report_file_size_limit();
  return scalargrad::support::finish_output("demo", program_main(argc, argv));
}
