#include <scalargrad/nn/data.hpp>

#include <charconv>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <scalargrad/error.hpp>
#include <scalargrad/file.hpp>
#include <scalargrad/nn/random.hpp>

#include "file.hpp"
#include "format.hpp"
#include "checks.hpp"

namespace scalargrad::nn {

namespace {

using detail::format_number;
using detail::quoted;

// numpy.linspace(0, pi, n): i * (pi / (n - 1)), the last point exactly pi.
double linspace_pi(std::size_t i, std::size_t n) {
  if (n == 1) return 0.0;
  if (i == n - 1) return std::numbers::pi;
  return static_cast<double>(i) * (std::numbers::pi / static_cast<double>(n - 1));
}

// ---- CSV fields -----------------------------------------------------------------------------
std::string_view trim(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  for (;;) {
    const std::size_t comma = line.find(',');
    fields.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) return fields;
    line.remove_prefix(comma + 1);
  }
}

// Why `field` is not a finite double, or nullopt (and `value` set) if it is one. std::from_chars
// does not depend on the locale (strtod reads "0,5" in a German one); a leading '+' ("+1", a
// label) is accepted as well.
std::optional<std::string> parse_number(std::string_view field, double& value) {
  std::string_view digits = field;
  if (digits.size() > 1 && digits.front() == '+' && digits[1] != '-' && digits[1] != '+') digits.remove_prefix(1);
  const char* const end = digits.data() + digits.size();
  const auto [ptr, error] = std::from_chars(digits.data(), end, value);
  // (Built by appending: GCC 12's -Wrestrict misfires on `"'" + std::string(...)`, bug 105651.)
  std::string quoted = "'";
  quoted.append(field).append("'");
  if (error == std::errc::result_out_of_range) {
    // (from_chars says so for an underflow too, where strtod would round to 0.)
    return quoted + " is out of the range of a double (magnitude above 1.8e308 or below 4.9e-324)";
  }
  if (error != std::errc() || ptr != end) return quoted + " is not a number";
  if (!std::isfinite(value)) return quoted + " is not a finite number";
  return std::nullopt;
}

}  // namespace

// ---- make_moons -----------------------------------------------------------------------------
Dataset make_moons(std::size_t n, double noise, std::uint64_t seed, Labels labels) {
  if (n < 2) throw Error("scalargrad::nn: make_moons needs n >= 2 (one point per moon), got " + std::to_string(n));
  if (!(noise >= 0.0) || !std::isfinite(noise)) {
    throw Error("scalargrad::nn: make_moons: noise must be >= 0 and finite, got " + format_number(noise));
  }
  const double outer_label = labels == Labels::PlusMinusOne ? -1.0 : 0.0;
  const double inner_label = 1.0;

  // scikit-learn's geometry: n / 2 points on the upper half of the unit circle, the rest on the
  // lower half of the unit circle centred at (1, 0.5).
  const std::size_t n_out = n / 2;
  const std::size_t n_in = n - n_out;
  Dataset data;
  detail::check_vector_size(data.inputs, n, "make_moons cannot make", "points");
  data.inputs.reserve(n);
  data.labels.reserve(n);
  for (std::size_t i = 0; i < n_out; ++i) {
    const double t = linspace_pi(i, n_out);
    data.inputs.push_back({std::cos(t), std::sin(t)});
    data.labels.push_back(outer_label);
  }
  for (std::size_t i = 0; i < n_in; ++i) {
    const double t = linspace_pi(i, n_in);
    data.inputs.push_back({1.0 - std::cos(t), 1.0 - std::sin(t) - 0.5});
    data.labels.push_back(inner_label);
  }

  // Shuffle (Fisher-Yates), then add noise to each coordinate of each point in turn, in
  // scikit-learn's order. The random numbers are our Rng's, not NumPy's: the geometry is
  // scikit-learn's, the points for a given seed are not.
  Rng rng(seed);
  for (std::size_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::size_t>(rng.below(i + 1));
    std::swap(data.inputs[i], data.inputs[j]);
    std::swap(data.labels[i], data.labels[j]);
  }
  for (std::vector<double>& point : data.inputs) {
    for (double& x : point) {
      x += noise * rng.normal();
      if (!std::isfinite(x)) {  // only a noise near the largest double gets here
        throw Error("scalargrad::nn: make_moons: noise " + format_number(noise) +
                    " makes a coordinate overflow to " + format_number(x) + "; use a smaller noise");
      }
    }
  }
  return data;
}

// ---- CSV ------------------------------------------------------------------------------------
Dataset load_csv(const std::filesystem::path& path) {
  const std::string text = detail::read_file(path, "");
  const std::string name = path.string();
  const auto fail = [&](std::size_t line, const std::string& what) {
    throw Error("scalargrad::nn: " + name + ":" + std::to_string(line) + ": " + what);
  };

  Dataset data;
  std::size_t columns = 0;  // of the header or the first row; 0 until one is read
  bool first = true;        // no header or row read yet
  std::size_t line_number = 0;
  std::string_view rest = text;
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // a UTF-8 byte order mark (spreadsheets write one)
  while (!rest.empty()) {
    // A line ends at \n, \r\n, or a lone \r (old Mac files; a spreadsheet may still write them).
    const std::size_t end = rest.find_first_of("\r\n");
    const std::string_view line = trim(rest.substr(0, end));
    if (end == std::string_view::npos) {
      rest = {};
    } else {
      rest.remove_prefix(end + (rest.substr(end, 2) == "\r\n" ? 2 : 1));
    }
    ++line_number;
    if (line.empty() || line.front() == '#') continue;

    const std::vector<std::string_view> fields = split_fields(line);
    std::vector<double> values(fields.size());
    std::optional<std::string> first_error;
    std::size_t error_column = 0;
    bool any_number = false;
    for (std::size_t c = 0; c < fields.size(); ++c) {
      std::optional<std::string> error = parse_number(fields[c], values[c]);
      if (!error) {
        any_number = true;
      } else if (!first_error) {
        first_error = std::move(error);
        error_column = c + 1;
      }
    }
    const bool header = first && !any_number;
    first = false;

    if (columns == 0) {
      if (fields.size() < 2) {
        fail(line_number, "expected at least 2 columns (x1,...,label), got " + std::to_string(fields.size()));
      }
      if (header) {
        // An empty name: most likely a trailing comma, which would make every row one short, or
        // pandas' index column, which would be read as an input.
        for (std::size_t c = 0; c < fields.size(); ++c) {
          if (!fields[c].empty()) continue;
          const std::string hint = c == 0 ? " (an index column, as pandas writes one unless index=False?)"
                                   : c + 1 == fields.size() ? " (a trailing comma?)"
                                                            : "";
          fail(line_number, "column " + std::to_string(c + 1) + ": the header's name is empty" + hint);
        }
      }
      columns = fields.size();
    } else if (fields.size() > columns) {
      const std::string_view extra = fields[columns];
      fail(line_number, "column " + std::to_string(columns + 1) + ": expected " + std::to_string(columns) +
                            " columns, got " + std::to_string(fields.size()) +
                            (extra.empty() && fields.size() == columns + 1 ? " (a trailing comma?)" : ""));
    } else if (fields.size() < columns) {
      fail(line_number, "column " + std::to_string(fields.size() + 1) + ": missing; expected " +
                            std::to_string(columns) + " columns, got " + std::to_string(fields.size()));
    }
    if (header) continue;
    if (first_error) fail(line_number, "column " + std::to_string(error_column) + ": " + *first_error);

    data.labels.push_back(values.back());
    values.pop_back();
    data.inputs.push_back(std::move(values));
  }
  if (data.size() == 0) {
    throw Error("scalargrad::nn: " + name + ": no data rows" + (text.empty() ? " (the file is empty)" : ""));
  }
  return data;
}

void save_csv(const Dataset& data, const std::filesystem::path& path) {
  const std::string name = path.string();
  const auto fail = [&](const std::string& what) {
    throw Error("scalargrad::nn: save_csv '" + name + "': " + what);
  };
  // Check everything before creating the file: what is written, load_csv() reads back.
  if (data.inputs.size() != data.labels.size()) {
    fail(std::to_string(data.inputs.size()) + " rows of inputs but " + std::to_string(data.labels.size()) +
         " labels");
  }
  if (data.size() == 0) fail("no rows to write");
  const std::size_t features = data.inputs.front().size();
  if (features == 0) fail("rows have no inputs");
  for (std::size_t r = 0; r < data.size(); ++r) {
    if (data.inputs[r].size() != features) {
      fail("inputs[" + std::to_string(r) + "] has " + std::to_string(data.inputs[r].size()) + " values, inputs[0] has " +
           std::to_string(features));
    }
    for (std::size_t c = 0; c <= features; ++c) {
      const double x = c < features ? data.inputs[r][c] : data.labels[r];
      if (!std::isfinite(x)) {
        const std::string where = c < features
                                      ? "inputs[" + std::to_string(r) + "][" + std::to_string(c) + "]"
                                      : "labels[" + std::to_string(r) + "]";
        fail(where + " is " + format_number(x) + "; only finite numbers can be written");
      }
    }
  }

  std::string text;
  for (std::size_t c = 1; c <= features; ++c) text.append("x").append(std::to_string(c)).append(",");
  text += "label\n";
  for (std::size_t r = 0; r < data.size(); ++r) {
    for (const double x : data.inputs[r]) text += format_number(x) + ",";  // shortest round trip
    text += format_number(data.labels[r]) + "\n";
  }

  scalargrad::replace_file(path, text, "scalargrad::nn: cannot save CSV to " + quoted(path));
}

}  // namespace scalargrad::nn
