// libFuzzer target for the expression language of the scalargrad command (tools/cli/fuzz.sh runs
// it; tools/cli/fuzz_replay.cpp replays its corpus as a test with any compiler).
//
// An input is an expression, optionally followed by '|' and --at assignments for it (the byte
// '|' is in neither language). It is parsed; if that fails, the error must point inside the
// text and format. Otherwise it is printed (to_string), and a short one must parse back to the
// same print; its assignments are bound; and it is evaluated (with the bound values, or 0.5
// for every variable) and differentiated. Crashes, sanitizer reports and std::abort() on a
// broken property are what the fuzzer looks for; ExpressionError is the expected outcome of
// most inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <scalargrad/value.hpp>

#include "cli/expression.hpp"

namespace {

using scalargrad::Value;
namespace cli = scalargrad::cli;

constexpr std::size_t kMaxEvaluatedVariables = 16;  // evaluate only expressions with few inputs
constexpr std::size_t kMaxRoundTripSize = 256;      // printed nesting stays below kMaxDepth

void require(bool property) {
  if (!property) std::abort();
}

/// The error points inside `text` (or at its end) and formats as two lines.
void check_error(const cli::ExpressionError& error, std::string_view text) {
  require(error.position() <= text.size());
  require(std::string_view(error.what()).find('\n') == std::string_view::npos);  // one line
  const std::string lines = cli::caret_lines(text, error.position());
  require(!lines.empty() && lines.back() == '\n');
}

/// The structure promised by Expression: operands before their node, indices in range.
void check_structure(const cli::Expression& e) {
  require(!e.nodes().empty());
  for (std::size_t i = 0; i < e.nodes().size(); ++i) {
    const cli::Node& node = e.nodes()[i];
    require(node.position < e.text().size());
    for (const std::size_t operand : node.operands) require(operand < i);
    if (node.kind == cli::NodeKind::Variable) require(node.index < e.variables().size());
    if (node.kind == cli::NodeKind::Call) require(node.index < cli::functions().size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t bar = input.find('|');
  const std::string_view text = input.substr(0, bar);
  const std::string_view assignments = bar == std::string_view::npos ? std::string_view() : input.substr(bar + 1);

  std::vector<double> inputs;
  try {
    const cli::Expression expression = cli::parse(text);
    check_structure(expression);
    const std::string printed = cli::to_string(expression);
    if (size < kMaxRoundTripSize) require(cli::to_string(cli::parse(printed)) == printed);

    inputs.assign(expression.variables().size(), 0.5);
    if (bar != std::string_view::npos) {
      try {
        inputs = cli::bind_variables(expression, assignments);
      } catch (const cli::ExpressionError& error) {
        check_error(error, error.source() == cli::Source::Expression ? text : assignments);
      }
    }
    if (inputs.size() <= kMaxEvaluatedVariables) {
      std::vector<Value> leaves(inputs.begin(), inputs.end());  // one leaf per variable
      const Value root = cli::evaluate(expression, leaves);
      root.backward();
    }
  } catch (const cli::ExpressionError& error) {
    require(error.source() == cli::Source::Expression);
    check_error(error, text);
  }
  return 0;
}
