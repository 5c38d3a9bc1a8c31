// options.hpp: checks for the examples' CLI11 options, with plain messages that name the
// allowed range.
//
// CLI11 2.1 reads "-5" into an unsigned option as 2^64 - 5, saturates a number too large for
// its type, and lets "nan" and "inf" past CLI::Range and CLI::PositiveNumber (every comparison
// with NaN is false). So these checks read the option's text themselves, before CLI11
// converts it: a whole number is digits only and fits its range, a number is finite and in its
// range, a list has no empty item. CLI11 puts the option's name in front of the message:
//   --steps: '-5' is not a whole number from 0 to 1000000
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>

namespace scalargrad::support {

/// Parses the command line, then runs `then` (checks that need several options, which throw
/// CLI::ParseError such as CLI::ValidationError). Returns the status main() exits with when the
/// program stops here: 0 after --help (printed), 2 after a bad command line (CLI11's message
/// and the usage hint on stderr, whatever exit code CLI11 would give); nothing to go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                             const std::function<void()>& then = {}) {
  try {
    app.parse(argc, argv);
    if (then) then();
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

/// "0.0001", "10", "1e+06": a bound as a person writes it.
inline std::string bound_text(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

/// The whole number `text` stands for, if it is digits only and fits in 64 bits.
inline bool read_whole_number(std::string_view text, std::uint64_t& value) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

/// The number `text` stands for, if it is one and is finite.
inline bool read_finite_number(std::string_view text, double& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && error == std::errc() && end == text.data() + text.size() && std::isfinite(value);
}

/// A whole number from `min` to `max`: "'50.5' is not a whole number from 2 to 100000".
inline CLI::Validator whole_number(std::uint64_t min, std::uint64_t max) {
  const std::string range = "from " + std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [=](std::string& text) {
        std::uint64_t value = 0;
        return read_whole_number(text, value) && value >= min && value <= max
                   ? std::string()
                   : "'" + text + "' is not a whole number " + range;
      },
      "INT in [" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

/// "A" or "A-B" with A <= B: the first and last whole numbers of the range it stands for.
inline bool read_whole_range(std::string_view text, std::uint64_t& first, std::uint64_t& last) {
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!read_whole_number(text, first)) return false;
    last = first;
    return true;
  }
  return read_whole_number(text.substr(0, dash), first) && read_whole_number(text.substr(dash + 1), last) &&
         first <= last;
}

/// A whole number, or a range of them such as "2-30", from `min` to `max`: "'30-2' is not a
/// whole number from 2 to 1000, nor a range A-B of them with A <= B".
inline CLI::Validator whole_number_or_range(std::uint64_t min, std::uint64_t max) {
  const std::string range = "from " + std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [=](std::string& text) {
        std::uint64_t first = 0;
        std::uint64_t last = 0;
        return read_whole_range(text, first, last) && first >= min && last <= max
                   ? std::string()
                   : "'" + text + "' is not a whole number " + range + ", nor a range A-B of them with A <= B";
      },
      "INT or A-B in [" + std::to_string(min) + " - " + std::to_string(max) + "]");
}

/// Any whole number that fits in 64 bits (a seed).
inline CLI::Validator any_whole_number() { return whole_number(0, std::numeric_limits<std::uint64_t>::max()); }

/// A finite number > 0: "'inf' is not a finite number > 0".
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) {
        double value = 0.0;
        return read_finite_number(text, value) && value > 0.0 ? std::string()
                                                               : "'" + text + "' is not a finite number > 0";
      },
      "NUMBER > 0");
}

/// A finite number from `min` to `max`: "'nan' is not a number from 0 to 10".
inline CLI::Validator number_in(double min, double max) {
  const std::string range = "from " + bound_text(min) + " to " + bound_text(max);
  return CLI::Validator(
      [=](std::string& text) {
        double value = 0.0;
        return read_finite_number(text, value) && value >= min && value <= max
                   ? std::string()
                   : "'" + text + "' is not a number " + range;
      },
      "NUMBER in [" + bound_text(min) + " - " + bound_text(max) + "]");
}

/// A file name, not empty: "an empty file name" (an empty value would otherwise mean
/// "no file" without saying so, and the option would be ignored).
inline CLI::Validator file_name() {
  // (No description: CLI11 would append it to the option's type name in --help, "FILE:FILE".)
  return CLI::Validator([](std::string& text) { return text.empty() ? std::string("an empty file name") : std::string(); },
                        "");
}

/// A comma list whose every item passes `item`: "2,10,20". An empty item ("2,,3", "2,")
/// is an error, not a zero.
inline CLI::Validator list_of(const CLI::Validator& item) {
  return CLI::Validator(
      [item](std::string& text) {
        std::string_view rest = text;
        while (true) {
          const std::size_t comma = rest.find(',');
          std::string one(rest.substr(0, comma));
          if (one.empty()) return "'" + text + "' has an empty item (expected a comma list such as 2,10,20)";
          if (std::string error = item(one); !error.empty()) return error;
          if (comma == std::string_view::npos) return std::string();
          rest.remove_prefix(comma + 1);
        }
      },
      "LIST");
}

/// f(item) for each item of a comma list, in order ("2,,3" has an empty second item).
template <typename F>
void for_each_item(std::string_view text, F f) {
  while (true) {
    const std::size_t comma = text.find(',');
    f(text.substr(0, comma));
    if (comma == std::string_view::npos) return;
    text.remove_prefix(comma + 1);
  }
}

/// The items of a comma list that list_of() accepted, read with `read` (read_whole_number or
/// read_finite_number).
template <typename T, typename Read>
std::vector<T> split_list(std::string_view text, Read read) {
  std::vector<T> items;
  for_each_item(text, [&](std::string_view item) {
    T value{};
    read(item, value);
    items.push_back(value);
  });
  return items;
}

/// The whole numbers of a comma list of numbers and ranges that list_of(whole_number_or_range())
/// accepted, in order, each range counted up: "2-4,10" gives 2, 3, 4, 10.
inline std::vector<std::uint64_t> split_ranges(std::string_view text) {
  std::vector<std::uint64_t> items;
  for_each_item(text, [&](std::string_view item) {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    read_whole_range(item, first, last);
    for (std::uint64_t k = first; k <= last; ++k) items.push_back(k);
  });
  return items;
}

/// The most neuron outputs (points times neurons) one step's graph may hold. Each costs about 100
/// bytes of tape (68 to 110 measured on the demo), so this is about 1 GB; beyond it a run would
/// end in std::bad_alloc, or in the system's out-of-memory killer, after minutes of work.
inline constexpr std::uint64_t kMaxNeuronOutputs = 10'000'000;

/// Why `points` points through a network of `neurons` neurons are too many for one step's graph
/// ("one step's graph would hold 60100000 neuron outputs (100000 points through 601 neurons,
/// about 6.0 GB at ~100 bytes each), more than the limit of 10000000: <fix>"); nothing if they
/// are not.
inline std::optional<std::string> graph_too_large(std::uint64_t points, std::uint64_t neurons, std::string_view fix) {
  if (neurons == 0 || points <= kMaxNeuronOutputs / neurons) return std::nullopt;
  const double outputs = static_cast<double>(points) * static_cast<double>(neurons);
  char text[32];
  std::string message = "one step's graph would hold ";
  if (points <= std::numeric_limits<std::uint64_t>::max() / neurons) {
    message += std::to_string(points * neurons);
  } else {
    std::snprintf(text, sizeof text, "%.3g", outputs);
    message += text;
  }
  std::snprintf(text, sizeof text, "%.1f", outputs * 100.0 / 1e9);
  message += " neuron outputs (" + std::to_string(points) + " points through " + std::to_string(neurons) +
             " neurons, about ";
  message += text;
  message += " GB at ~100 bytes each), more than the limit of " + std::to_string(kMaxNeuronOutputs) + ": ";
  message += fix;
  return message;
}

}  // namespace scalargrad::support
