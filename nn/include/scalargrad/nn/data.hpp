// Datasets: the two-moons data built in, and points with labels from CSV files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace scalargrad::nn {

/// Points and their labels.
struct Dataset {
  std::vector<std::vector<double>> inputs;  ///< one row per point
  std::vector<double> labels;               ///< one label per point
  [[nodiscard]] std::size_t size() const { return labels.size(); }
};

/// How binary labels are written.
enum class Labels {
  PlusMinusOne,  ///< -1 / +1 (micrograd's hinge loss)
  ZeroOne,       ///< 0 / 1 (binary cross-entropy)
};

/// Two interleaving half circles, as scikit-learn's make_moons: n / 2 points on the upper
/// circle (label -1 or 0), the rest on the lower one (label +1 or 1), shuffled, with Gaussian
/// noise of standard deviation `noise` added to each coordinate. The same seed gives the same
/// points with the same C math library (the circles and the noise use cos, sin, log and sqrt,
/// whose last bit may differ between libraries); weights (nn::Rng::uniform) use none.
/// Throws Error if n < 2 or more than a vector can hold, if noise is negative or not finite, or
/// if it is so large (near the largest double) that a coordinate overflows.
Dataset make_moons(std::size_t n = 100, double noise = 0.1, std::uint64_t seed = 1,
                   Labels labels = Labels::PlusMinusOne);

/// Reads rows "x1,x2,...,label" (one header line of non-numbers and lines starting with '#'
/// are skipped; every row must have the same number of columns; lines end in \n, \r\n or a
/// lone \r; a UTF-8 byte order mark is skipped). Throws Error naming the file, the line, the
/// column and the reason for a bad row, and for a header with an empty name (a trailing comma;
/// the unnamed index column pandas writes unless index=False, which would be read as an input),
/// and for a file of more than 256 MiB (or a device that gives more).
Dataset load_csv(const std::filesystem::path& path);
/// Writes rows "x1,...,label" with a header, each number in the fewest digits that read back
/// to the same double. Checks the data first (as many labels as rows, every row the same
/// non-zero size, every number finite) and throws Error naming the element otherwise
/// ("inputs[1][0] is nan", "labels[3] is inf").
/// Replaces `path` through scalargrad::replace_file() (<scalargrad/file.hpp>: a temporary file
/// beside it, renamed over it; links followed, a device or FIFO written in place, a folder
/// refused), so that a failure (Error "scalargrad::nn: cannot save CSV to '<path>': " and the
/// step that failed) leaves the file that was there untouched.
void save_csv(const Dataset& data, const std::filesystem::path& path);

}  // namespace scalargrad::nn
