// The scalargrad command: try an expression on the engine without writing C++ (docs/cli.md).
//
//   scalargrad grad "tanh(x1*w1 + x2*w2 + b)" --at x1=2,x2=0,w1=-3,w2=1,b=6.8813735870195432
//
// prints the value, then d/dv for every variable v in the order they first appear, with the
// '=' signs aligned:
//   value = 0.7071
//   d/dx1 = -1.5000
//   d/dw1 = 1.0000
//   ...
//   --json           the same as one JSON object, every number in full (shortest round-trip)
//                    precision: {"value": 0.7071067811865476, "grad": {"x1": -1.4999999999999996, ...}}
//   --check          compares the gradients with central finite differences (gradcheck)
//   --dot FILE       writes the graph as Graphviz DOT text; --svg FILE draws it (needs Graphviz)
//   --precision N    digits after the decimal point, of the lines above and of the picture
//
// Exit status: 0 on success; 2 for bad input (the command line, the expression, --at, an --svg
// name that is not .svg), all checked before any file is written; 1 when something fails while
// running (Graphviz missing, a file that cannot be written, a gradcheck that fails).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <scalargrad/dot.hpp>
#include <scalargrad/gradcheck.hpp>
#include <scalargrad/value.hpp>

#include "cli/expression.hpp"
#include "support/options.hpp"     // examples/support: file_name(): an option's file name is not empty
#include "support/output.hpp"      // examples/support: finish_output(): stdout checked at the end
#include "support/write_file.hpp"  // examples/support: AtomicFile: a failed write leaves the old file as it was

namespace {

using scalargrad::Value;
namespace cli = scalargrad::cli;

constexpr int kFailure = 1;   // something failed while running
constexpr int kBadInput = 2;  // the command line, the expression or --at is wrong

using cli::cat;

// ---- 1. The command line ----------------------------------------------------------------------

/// What `scalargrad grad` was asked.
struct GradOptions {
  std::string expression;
  std::vector<std::string> at;  // each --at, "NAME=VALUE,..."
  std::string dot;              // --dot FILE ("": none)
  std::string svg;              // --svg FILE ("": none)
  bool check = false;
  bool json = false;
  int precision = 4;
  std::size_t max_nodes = scalargrad::DotOptions{}.max_nodes;  // --max-nodes
};

/// The help text's account of the language, made from the function table.
std::string language_help() {
  std::string text =
      "The expression: numbers (2, 0.5, 1e-3), variables ([A-Za-z_][A-Za-z0-9_]*), + - * / ^,\n"
      "unary - and +, parentheses, and the functions below. ^ is right-associative and binds\n"
      "tighter than unary minus: -x^2 = -(x^2), 2^3^2 = 2^9, x^-1 = 1/x.\n\n";
  std::size_t width = 0;
  for (const cli::Function& f : cli::functions()) width = std::max(width, f.signature.size());
  for (const cli::Function& f : cli::functions()) {
    text += "  ";
    text += f.signature;
    text.append(width + 2 - f.signature.size(), ' ');
    text += f.meaning;
    if (!f.constant_arg.empty()) {
      text += " (";
      text += f.constant_arg;
      text += ": a constant)";
    }
    text += '\n';
  }
  text +=
      "\nAn expression that starts with '-' goes last, after --:  scalargrad grad --at x=3 -- \"-x^2\"\n"
      "Exit status: 0 on success, 2 for bad input (nothing is written then), 1 when something fails\n"
      "while running (Graphviz missing, a file that cannot be written, a failed --check).";
  return text;
}

/// "scalargrad: message" on stderr (the engine's Error messages already start so).
void print_error(std::string_view message) {
  std::string line = message.starts_with("scalargrad: ") ? "" : "scalargrad: ";
  line += message;
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

/// The reason, then the expression (or --at) with a caret under the place.
void print_error(const cli::ExpressionError& error, const std::string& expression, const std::string& at) {
  std::string text = "scalargrad: ";
  text += error.what();
  text += '\n';
  text += error.source() == cli::Source::Expression ? cli::caret_lines(expression, error.position())
                                                     : cli::caret_lines(at, error.position(), "  --at ");
  std::fputs(text.c_str(), stderr);
}

/// Reads the command line into `options`. Returns the exit status to leave with at once (0 after
/// --help, kBadInput for a bad command line), or nothing to go on.
std::optional<int> read_command_line(int argc, char** argv, GradOptions& options) {
  CLI::App app{"Try expressions of the scalargrad autodiff engine without writing C++.", "scalargrad"};
  app.require_subcommand(1);
  app.footer("Run 'scalargrad grad --help' for the expression language.");
  CLI::App* grad = app.add_subcommand("grad", "Print the value of EXPR and d/dv for each of its variables v");
  grad->add_option("EXPR", options.expression, "The expression, e.g. \"tanh(x1*w1 + x2*w2 + b)\"")->required();
  grad->add_option("--at", options.at, "NAME=VALUE,...: the value of every variable (may be repeated)")
      ->type_name("NAME=VALUE,...")
      ->allow_extra_args(false);  // one value per --at: `--at x=3 -- "-x^2"` leaves "-x^2" to EXPR
  grad->add_option("--dot", options.dot, "Write the graph to FILE as Graphviz DOT text")
      ->check(scalargrad::support::file_name())
      ->type_name("FILE");
  grad->add_option("--svg", options.svg, "Draw the graph as SVG to FILE, a name ending in .svg (needs Graphviz)")
      ->check(scalargrad::support::file_name())
      ->type_name("FILE");
  grad->add_flag("--check", options.check,
                 "Compare the gradients with central finite differences (gradcheck); exit 1 if they differ");
  grad->add_flag("--json", options.json,
                 "Print {\"value\": ..., \"grad\": {\"NAME\": ..., ...}} with full precision (--check's report "
                 "goes to stderr)");
  grad->add_option("--precision", options.precision, "Digits after the decimal point (not for --json)")
      ->check(scalargrad::support::whole_number(0, 17))  // as text: "1.5", "+5", "0x5" are no whole numbers
      ->capture_default_str();
  // Checked as text: CLI11 2.1 reads "-5" into a size_t as 2^64 - 5.
  const CLI::Validator whole_number_from_1(
      [](std::string& text) {
        std::size_t n = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
        const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        return digits && error == std::errc() && end == text.data() + text.size() && n >= 1
                   ? std::string()
                   : cat({"'", text, "' is not a whole number >= 1 (at most ", std::to_string(std::numeric_limits<std::size_t>::max()), ")"});
      },
      "INT >= 1");
  grad->add_option("--max-nodes", options.max_nodes, "Largest graph --dot and --svg draw (values), a whole number >= 1")
      ->check(whole_number_from_1)
      ->capture_default_str();
  grad->footer(language_help());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes are not ours: --help exits 0, every bad command line 2.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::string message = e.what();
    if (message.find("EXPR is required") != std::string::npos) {
      message += " (an expression that starts with '-' goes last, after --: scalargrad grad --at x=3 -- \"-x^2\")";
    } else if (message.find("A subcommand is required") != std::string::npos) {
      // CLI11 names neither what it got nor what it wants.
      const bool got_word = argc > 1 && argv[1][0] != '-';
      message = got_word ? cat({"unknown command '", argv[1], "': the command is grad (scalargrad grad EXPR --at NAME=VALUE)"})
                         : std::string("a command is required: scalargrad grad EXPR --at NAME=VALUE");
    }
    print_error(message);
    print_error("run 'scalargrad grad --help' for the options and the expression language");
    return kBadInput;
  }
  return std::nullopt;
}

// ---- 2. Output ----------------------------------------------------------------------------------

/// x in shortest round-trip form, or null (JSON has no NaN or infinity).
std::string json_number(double x) {
  if (!std::isfinite(x)) return "null";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  return std::string(buffer, result.ptr);
}

/// {"value": ..., "grad": {"x1": ..., ...}}: one line, variables in expression order. (Names are
/// [A-Za-z_][A-Za-z0-9_]*: nothing to escape.)
std::string json_output(const Value& root, const cli::Expression& expression, std::span<const Value> leaves) {
  std::string text = "{\"value\": ";
  text += json_number(root.data());
  text += ", \"grad\": {";
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (i > 0) text += ", ";
    text += '"';
    text += expression.variables()[i].name;
    text += "\": ";
    text += json_number(leaves[i].grad());
  }
  text += "}}\n";
  return text;
}

/// "value = 0.7071" then "d/dx1 = -1.5000" per variable, the '=' signs aligned.
std::string text_output(const Value& root, const cli::Expression& expression, std::span<const Value> leaves,
                        int precision) {
  std::vector<std::pair<std::string, double>> rows{{"value", root.data()}};
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    std::string label = "d/d";
    label += expression.variables()[i].name;
    rows.emplace_back(std::move(label), leaves[i].grad());
  }
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string text;
  for (const auto& [label, x] : rows) {
    char number[512];  // %.17f of the largest double has 326 characters
    std::snprintf(number, sizeof number, "%.*f", precision, x);
    text += label;
    text.append(width - label.size(), ' ');
    text += " = ";
    text += number;
    text += '\n';
  }
  return text;
}

// ---- 3. grad ------------------------------------------------------------------------------------

int run_grad(const GradOptions& options) {
  // 1. Check all the input, before anything is computed or written.
  std::string at;  // every --at, joined by commas
  for (const std::string& item : options.at) {
    // A blank --at gives nothing, wherever it stands (`--at ""` alone: no variables).
    if (cli::is_blank(item)) continue;
    if (!at.empty()) at += ',';
    at += item;
  }
  std::optional<cli::Expression> expression;
  std::vector<double> inputs;
  try {
    expression = cli::parse(options.expression);
    inputs = cli::bind_variables(*expression, at);
  } catch (const cli::ExpressionError& e) {
    print_error(e, options.expression, at);
    return kBadInput;
  }
  if (const std::filesystem::path svg(options.svg); !options.svg.empty() && svg.extension() != ".svg") {
    // (".svg" alone is a hidden file without an extension, not an SVG with an empty name.)
    const bool name_missing = svg.filename() == ".svg";
    print_error(cat({"--svg: '", options.svg, name_missing ? "' has no name before .svg" : "' does not end in .svg"}));
    return kBadInput;
  }
  if (!options.dot.empty() && !options.svg.empty()) {
    bool same = false;
    try {
      namespace support = scalargrad::support;
      same = !support::probe_output(options.dot, "") && !support::probe_output(options.svg, "") &&
             support::same_file(options.dot, options.svg);
    } catch (const std::exception&) {
      // a path that cannot be written: reported when it is written, as without --svg
    }
    if (same) {
      print_error(cat({"--dot ", options.dot, " and --svg ", options.svg,
                       " name the same file, whose DOT text the picture would replace: give them different names"}));
      return kBadInput;
    }
  }
  if (!options.svg.empty() && scalargrad::render_backend().empty()) {
    print_error("--svg needs Graphviz, which is not installed (Debian: apt-get install graphviz)");
    return kFailure;
  }

  // 2. The value and the gradient: one leaf per variable, labelled with its name for the picture.
  std::vector<Value> leaves;
  leaves.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) leaves.emplace_back(inputs[i]).label(expression->variables()[i].name);
  const Value root = cli::evaluate(*expression, leaves);
  root.backward();
  const std::string result = options.json ? json_output(root, *expression, leaves)
                                          : text_output(root, *expression, leaves, options.precision);
  // A picture written to standard output (`--dot /dev/stdout | dot -Tsvg`) is all that goes there:
  // the result, and --check's report, go to standard error instead.
  namespace support = scalargrad::support;
  const bool picture_on_stdout = (!options.dot.empty() && support::is_standard_output(options.dot)) ||
                                 (!options.svg.empty() && support::is_standard_output(options.svg));
  std::fputs(result.c_str(), picture_on_stdout ? stderr : stdout);
  // Before --check's report on stderr; a failure is reported here, with its reason.
  if (!scalargrad::support::flush_output("scalargrad")) return kFailure;

  int status = 0;
  if (options.check) {
    const cli::Expression& e = *expression;
    const scalargrad::GradcheckFunction f = [&e](std::span<const Value> xs) { return cli::evaluate(e, xs); };
    std::vector<std::string> names;
    for (const cli::Variable& v : e.variables()) names.push_back(v.name);
    const scalargrad::GradcheckReport report = scalargrad::gradcheck(f, inputs, 1e-6, 1e-5, names);
    (options.json || picture_on_stdout ? std::cerr : std::cout) << report << std::flush;
    if (!report.passed) status = kFailure;
  }

  // 3. The pictures. to_dot() is called first, so that a graph it refuses writes no file.
  if (!options.dot.empty() || !options.svg.empty()) {
    scalargrad::DotOptions dot_options;
    dot_options.precision = options.precision;
    dot_options.max_nodes = options.max_nodes;
    // Checked here, so that the message names this command's option, not DotOptions::max_nodes.
    if (const std::size_t values = scalargrad::graph_of(root).nodes.size(); values > options.max_nodes) {
      print_error(cat({"the graph has ", std::to_string(values), " values, more than --max-nodes ",
                       std::to_string(options.max_nodes), "; raise --max-nodes to draw it anyway"}));
      return kFailure;
    }
    const std::string dot = scalargrad::to_dot(root, dot_options);
    if (!options.dot.empty()) {
      try {
        scalargrad::support::write_file(options.dot, dot);  // a temporary beside the file, then a rename
      } catch (const std::exception& e) {
        print_error(cat({"--dot: ", e.what()}));
        return kFailure;
      }
    }
    if (!options.svg.empty()) scalargrad::render(root, options.svg, dot_options);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  scalargrad::support::report_file_size_limit();
  GradOptions options;
  if (const std::optional<int> status = read_command_line(argc, argv, options)) {
    return scalargrad::support::finish_output("scalargrad", *status);  // --help, or a usage error
  }
  int status = kFailure;
  try {
    status = run_grad(options);
  } catch (const std::exception& e) {  // scalargrad::Error from to_dot() or render(), ...
    print_error(e.what());
  }
  return scalargrad::support::finish_output("scalargrad", status);
}
