// nn datasets: make_moons (scikit-learn's geometry, our deterministic generator) and CSV files
// (exact round trip; every malformed file rejected with file, line, column and reason).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <scalargrad/error.hpp>
#include <scalargrad/nn/data.hpp>

#include "support/test_support.hpp"

namespace {

using scalargrad::testing_support::ErrorMessage;

namespace fs = std::filesystem;
using scalargrad::nn::Dataset;
using scalargrad::nn::Labels;
using scalargrad::nn::load_csv;
using scalargrad::nn::make_moons;
using scalargrad::nn::save_csv;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// ---- make_moons -----------------------------------------------------------------------------
std::size_t Count(const Dataset& data, double label) {
  std::size_t count = 0;
  for (const double y : data.labels) count += y == label ? 1 : 0;
  return count;
}

TEST(MakeMoons, HasNPointsOfTwoCoordinates) {
  const Dataset data = make_moons(101, 0.1, 3);
  EXPECT_EQ(data.size(), 101u);
  ASSERT_EQ(data.inputs.size(), 101u);
  for (const std::vector<double>& point : data.inputs) EXPECT_EQ(point.size(), 2u);
}

TEST(MakeMoons, LabelsAreBalancedAsHalfAndRest) {
  for (const std::size_t n : {2u, 3u, 100u, 101u}) {
    const Dataset data = make_moons(n, 0.1, 1);
    EXPECT_EQ(Count(data, -1.0), n / 2) << "n = " << n;
    EXPECT_EQ(Count(data, 1.0), n - n / 2) << "n = " << n;
  }
}

TEST(MakeMoons, LabelStylesGiveTheirLabelSetsAndTheSamePoints) {
  const Dataset pm = make_moons(50, 0.1, 4, Labels::PlusMinusOne);
  const Dataset zo = make_moons(50, 0.1, 4, Labels::ZeroOne);
  EXPECT_EQ(Count(pm, -1.0) + Count(pm, 1.0), 50u);
  EXPECT_EQ(Count(zo, 0.0) + Count(zo, 1.0), 50u);
  EXPECT_EQ(Count(zo, 0.0), 25u);
  EXPECT_EQ(pm.inputs, zo.inputs);
  for (std::size_t i = 0; i < 50; ++i) EXPECT_EQ(zo.labels[i], (pm.labels[i] + 1.0) / 2.0);
}

TEST(MakeMoons, WithoutNoisePointsLieOnTheTwoHalfCircles) {
  const Dataset data = make_moons(200, 0.0, 5);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const double x = data.inputs[i][0], y = data.inputs[i][1];
    if (data.labels[i] == -1.0) {  // upper half of the unit circle
      EXPECT_NEAR(x * x + y * y, 1.0, 1e-12) << "point " << i;
      EXPECT_GE(y, 0.0) << "point " << i;
    } else {  // lower half of the unit circle centred at (1, 0.5)
      EXPECT_NEAR((x - 1.0) * (x - 1.0) + (y - 0.5) * (y - 0.5), 1.0, 1e-12) << "point " << i;
      EXPECT_LE(y, 0.5) << "point " << i;
    }
  }
}

TEST(MakeMoons, WithoutNoiseEndpointsOfBothArcsArePresent) {
  // linspace(0, pi, n) includes both ends: (1, 0) and (-1, 0) on the upper arc, (0, 0.5) and
  // (2, 0.5) on the lower one.
  const Dataset data = make_moons(10, 0.0, 6);
  const auto has = [&](double x, double y) {
    for (const std::vector<double>& p : data.inputs) {
      if (std::abs(p[0] - x) < 1e-15 && std::abs(p[1] - y) < 1e-15) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(1.0, 0.0));
  EXPECT_TRUE(has(-1.0, 0.0));
  EXPECT_TRUE(has(0.0, 0.5));
  EXPECT_TRUE(has(2.0, 0.5));
}

TEST(MakeMoons, IsShuffled) {
  // Unshuffled, the first half would all be label -1.
  const Dataset data = make_moons(100, 0.1, 1);
  EXPECT_NE(Count(Dataset{{data.inputs.begin(), data.inputs.begin() + 50},
                          {data.labels.begin(), data.labels.begin() + 50}},
                  -1.0),
            50u);
}

TEST(MakeMoons, SameSeedIsBitIdenticalAndAnotherSeedDiffers) {
  const Dataset a = make_moons(100, 0.1, 42);
  const Dataset b = make_moons(100, 0.1, 42);
  const Dataset c = make_moons(100, 0.1, 43);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(a.inputs, c.inputs);
}

TEST(MakeMoons, NoiseHasTheRequestedStandardDeviation) {
  // The same seed shuffles the same way and draws the same normals, so the difference of two
  // data sets that differ only in noise is noise * N(0, 1) per coordinate.
  const Dataset clean = make_moons(2000, 0.0, 8);
  const Dataset noisy = make_moons(2000, 0.25, 8);
  double sum_squares = 0.0;
  for (std::size_t i = 0; i < clean.size(); ++i) {
    for (std::size_t k = 0; k < 2; ++k) {
      const double d = noisy.inputs[i][k] - clean.inputs[i][k];
      sum_squares += d * d;
    }
  }
  EXPECT_EQ(noisy.labels, clean.labels);
  EXPECT_NEAR(std::sqrt(sum_squares / 4000.0), 0.25, 0.01);
}

TEST(MakeMoons, FirstThreePointsOfSeedOneArePinned) {
  // Computed independently (Python: the same xoshiro256**/splitmix64, Fisher-Yates with
  // below(), Box-Muller) for make_moons(100, 0.1, 1). Pins the result across compilers and
  // standard libraries: a change here changes every seeded data set.
  const Dataset data = make_moons(100, 0.1, 1);
  EXPECT_EQ(data.inputs[0], (std::vector<double>{0x1.8e266834664cfp-1, -0x1.dfae3d597ac88p-2}));
  EXPECT_EQ(data.inputs[1], (std::vector<double>{-0x1.116b26a9fdad6p-2, 0x1.0905c24992e1dp+0}));
  EXPECT_EQ(data.inputs[2], (std::vector<double>{0x1.52b16e581d59ep-1, -0x1.81877846a816ap-2}));
  EXPECT_EQ(data.labels[0], 1.0);
  EXPECT_EQ(data.labels[1], -1.0);
  EXPECT_EQ(data.labels[2], 1.0);
}

TEST(MakeMoons, RejectsFewerThanTwoPointsAndBadNoise) {
  EXPECT_THAT(ErrorMessage([] { (void)make_moons(1); }), HasSubstr("make_moons needs n >= 2"));
  EXPECT_THAT(ErrorMessage([] { (void)make_moons(0); }), HasSubstr("got 0"));
  // Regression: this threw std::length_error "vector::reserve", naming neither call nor number.
  EXPECT_THAT(ErrorMessage([] { (void)make_moons(std::size_t{1} << 62); }),
              HasSubstr("make_moons cannot make 4611686018427387904 points, more than the "));
  EXPECT_THAT(ErrorMessage([] { (void)make_moons(10, -0.1); }),
              HasSubstr("noise must be >= 0 and finite, got -0.1"));
  EXPECT_THAT(ErrorMessage([] { (void)make_moons(10, std::numeric_limits<double>::quiet_NaN()); }),
              HasSubstr("got nan"));
  // Regression: a finite noise near the largest double was taken, and gave inf coordinates.
  EXPECT_THAT(ErrorMessage([] { (void)make_moons(20, 1e308); }),
              MatchesRegex("scalargrad::nn: make_moons: noise 1e\\+308 makes a coordinate overflow to -?inf; use a "
                           "smaller noise"));
  EXPECT_EQ(make_moons(20, 1e300).size(), 20u);  // large, but every coordinate finite
}

// ---- CSV ------------------------------------------------------------------------------------
/// A fresh directory per test, removed afterwards (tests may run in parallel processes).
class CsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = fs::temp_directory_path() / ("scalargrad_data_test_" + test + "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  /// Writes `text` to a file named `name` in the test's directory and returns its path.
  fs::path Write(const std::string& name, const std::string& text) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string Read(const fs::path& path) const {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  /// load_csv's error message for a file holding `text`, with the directory stripped.
  std::string LoadError(const std::string& text) const {
    const fs::path path = Write("points.csv", text);
    std::string message = ErrorMessage([&] { (void)load_csv(path); });
    const std::string prefix = (dir_ / "").string();
    if (const std::size_t at = message.find(prefix); at != std::string::npos) message.erase(at, prefix.size());
    return message;
  }

  fs::path dir_;
};

// Regression: the message ended at the NUL byte ("...:3: column 2: '4"), its reason lost.
TEST_F(CsvTest, AFieldWithANulByteIsQuotedInFull) {
  const fs::path path = dir_ / "nul.csv";
  std::ofstream(path, std::ios::binary) << std::string("x1,x2,label\n1,2,1\n3,4\0,1\n", 25);
  EXPECT_THAT(ErrorMessage([&] { (void)load_csv(path); }), AllOf(HasSubstr(":3: column 2: '4\\0'"), HasSubstr("not a number")));
}

TEST_F(CsvTest, AFileLargerThan256MiBIsRefusedNamingIt) {
  const fs::path huge = dir_ / "huge.csv";
  std::ofstream(huge) << "x1,x2,label\n";
  fs::resize_file(huge, (std::size_t{256} << 20) + 1);  // sparse: no disk space used
  EXPECT_EQ(ErrorMessage([&] { (void)load_csv(huge); }),
            "scalargrad::nn: cannot read '" + huge.string() +
                "': it holds more than 268435456 bytes (256 MiB), the most nn reads from a file");
}

TEST_F(CsvTest, RoundTripGivesIdenticalDoubles) {
  Dataset data = make_moons(64, 0.3, 9);
  // and numbers whose shortest text is tricky: subnormal, extremes, thirds, negative zero
  data.inputs.push_back({std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max()});
  data.labels.push_back(-0.0);
  data.inputs.push_back({1.0 / 3.0, -std::numeric_limits<double>::min()});
  data.labels.push_back(0.1);
  const fs::path path = dir_ / "moons.csv";
  save_csv(data, path);
  const Dataset back = load_csv(path);
  EXPECT_EQ(back.inputs, data.inputs);
  EXPECT_EQ(back.labels, data.labels);
  EXPECT_TRUE(std::signbit(back.labels[64]));
}

TEST_F(CsvTest, SaveWritesHeaderAndShortestRoundTripNumbers) {
  const Dataset data{{{0.1, -2.0, 1e-300}, {3.0, 0.5, 0.0}}, {-1.0, 1.0}};
  const fs::path path = dir_ / "three.csv";
  save_csv(data, path);
  EXPECT_EQ(Read(path), "x1,x2,x3,label\n0.1,-2,1e-300,-1\n3,0.5,0,1\n");
}

TEST_F(CsvTest, LoadSkipsCommentsBlankLinesAndHeaderAndAcceptsCrlfSpacesAndPlusSign) {
  const fs::path path = Write("ok.csv",
                              "# two moons\r\n"
                              "x1, x2, label\r\n"
                              "\r\n"
                              "0.5, -1.25, +1\r\n"
                              "# a comment between rows\n"
                              "  -3e2,7,-1\n"
                              "1,2,0");  // no final newline
  const Dataset data = load_csv(path);
  EXPECT_EQ(data.inputs, (std::vector<std::vector<double>>{{0.5, -1.25}, {-300.0, 7.0}, {1.0, 2.0}}));
  EXPECT_EQ(data.labels, (std::vector<double>{1.0, -1.0, 0.0}));
}

TEST_F(CsvTest, LoadReadsLinesEndedByALoneCarriageReturnAndCountsThem) {
  // Regression: old Mac line ends (\r alone) made one line of the whole file.
  const fs::path path = Write("mac.csv", "x1,x2,label\r0.5,1,1\r\r2,3,-1\r");
  const Dataset data = load_csv(path);
  EXPECT_EQ(data.inputs, (std::vector<std::vector<double>>{{0.5, 1.0}, {2.0, 3.0}}));
  EXPECT_EQ(data.labels, (std::vector<double>{1.0, -1.0}));
  // Line numbers count \r\n once, and a lone \r once.
  EXPECT_THAT(LoadError("x1,x2,label\r\n1,2,1\r\n3,x,1\r\n"), HasSubstr("points.csv:3: column 2: 'x' is not a number"));
  EXPECT_THAT(LoadError("x1,x2,label\r1,2,1\r\r3,x,1\r"), HasSubstr("points.csv:4: column 2: 'x' is not a number"));
}

TEST_F(CsvTest, LoadWithoutHeaderReadsEveryRow) {
  const Dataset data = load_csv(Write("plain.csv", "1,2\n3,4\n"));
  EXPECT_EQ(data.inputs, (std::vector<std::vector<double>>{{1.0}, {3.0}}));
  EXPECT_EQ(data.labels, (std::vector<double>{2.0, 4.0}));
}

TEST_F(CsvTest, LoadSkipsAUtf8ByteOrderMark) {
  const Dataset data = load_csv(Write("bom.csv", "\xEF\xBB\xBF" "1,2\n"));
  EXPECT_EQ(data.inputs, (std::vector<std::vector<double>>{{1.0}}));
}

TEST_F(CsvTest, DirectoryIsNotAFile) {
  EXPECT_THAT(ErrorMessage([&] { (void)load_csv(dir_); }), HasSubstr(dir_.string() + "': Is a directory"));
}

TEST_F(CsvTest, MissingFileIsNamedWithTheReason) {
  const fs::path path = dir_ / "x.csv";
  EXPECT_THAT(ErrorMessage([&] { (void)load_csv(path); }),
              HasSubstr("cannot open '" + path.string() + "': No such file or directory"));
}

TEST_F(CsvTest, EmptyFileIsAnError) { EXPECT_THAT(LoadError(""), HasSubstr("points.csv: no data rows (the file is empty)")); }

TEST_F(CsvTest, FileWithoutDataRowsIsAnError) {
  EXPECT_THAT(LoadError("# only a comment\nx1,x2,label\n\n"), HasSubstr("points.csv: no data rows"));
}

TEST_F(CsvTest, NonNumberNamesLineAndColumn) {
  EXPECT_THAT(LoadError("x1,x2,label\n1,2,1\n# c\n3,abc,-1\n"), HasSubstr("points.csv:4: column 2: 'abc' is not a number"));
}

TEST_F(CsvTest, WholeFieldMustParse) {
  EXPECT_THAT(LoadError("1,2,1\n1.5x,2,1\n"), HasSubstr("points.csv:2: column 1: '1.5x' is not a number"));
  EXPECT_THAT(LoadError("1,2,1\n1,2,1 1\n"), HasSubstr("points.csv:2: column 3: '1 1' is not a number"));
  EXPECT_THAT(LoadError("1,2,1\n1,,1\n"), HasSubstr("points.csv:2: column 2: '' is not a number"));
  EXPECT_THAT(LoadError("1,2,1\n1,+-2,1\n"), HasSubstr("points.csv:2: column 2: '+-2' is not a number"));
  EXPECT_THAT(LoadError("1,2,1\n0x1p3,2,1\n"), HasSubstr("points.csv:2: column 1: '0x1p3' is not a number"));
}

TEST_F(CsvTest, NonFiniteAndOutOfRangeNumbersAreRejected) {
  EXPECT_THAT(LoadError("1,2,1\n1,inf,1\n"), HasSubstr("points.csv:2: column 2: 'inf' is not a finite number"));
  EXPECT_THAT(LoadError("1,2,1\n1,2,nan\n"), HasSubstr("points.csv:2: column 3: 'nan' is not a finite number"));
  EXPECT_THAT(LoadError("1,2,1\n1e999,2,1\n"),
              HasSubstr("points.csv:2: column 1: '1e999' is out of the range of a double"));
  // from_chars calls an underflow out of range too (strtod would round it to 0): said so.
  EXPECT_THAT(LoadError("x1,x2,label\n1e-400,2,1\n"),
              HasSubstr("points.csv:2: column 1: '1e-400' is out of the range of a double (magnitude above 1.8e308 "
                        "or below 4.9e-324)"));
}

TEST_F(CsvTest, WrongColumnCountNamesExpectedAndGot) {
  EXPECT_THAT(LoadError("x1,x2,label\n1,2,1\n3,4,0\n# c\n\n\n5,6\n"),
              HasSubstr("points.csv:7: column 3: missing; expected 3 columns, got 2"));
  EXPECT_THAT(LoadError("x1,x2,label\n1,2,3,4\n"), HasSubstr("points.csv:2: column 4: expected 3 columns, got 4"));
  EXPECT_THAT(LoadError("x1,x2,label\n1,2,1,\n"),
              HasSubstr("points.csv:2: column 4: expected 3 columns, got 4 (a trailing comma?)"));
  // Regression: a header with a trailing comma set 4 columns, and the first row was blamed.
  EXPECT_THAT(LoadError("x1,x2,label,\n1,2,1\n"),
              HasSubstr("points.csv:1: column 4: the header's name is empty (a trailing comma?)"));
  // pandas' to_csv() writes an unnamed index column first: it would be read as an input.
  EXPECT_THAT(LoadError(",x1,x2,label\n0,1,2,1\n"),
              HasSubstr("points.csv:1: column 1: the header's name is empty (an index column, as pandas writes one "
                        "unless index=False?)"));
}

TEST_F(CsvTest, SingleColumnIsAnError) {
  EXPECT_THAT(LoadError("1\n2\n"), HasSubstr("points.csv:1: expected at least 2 columns (x1,...,label), got 1"));
}

TEST_F(CsvTest, HeaderIsAcceptedOnlyAsFirstNonCommentLine) {
  EXPECT_THAT(LoadError("1,2,1\nx1,x2,label\n"), HasSubstr("points.csv:2: column 1: 'x1' is not a number"));
}

TEST_F(CsvTest, HeaderWithANumberIsADataRow) {
  EXPECT_THAT(LoadError("x1,2,label\n1,2,1\n"), HasSubstr("points.csv:1: column 1: 'x1' is not a number"));
}

TEST_F(CsvTest, SaveRejectsInconsistentRows) {
  const fs::path path = dir_ / "bad.csv";
  EXPECT_THAT(ErrorMessage([&] { save_csv(Dataset{{{1.0, 2.0}, {3.0}}, {1.0, -1.0}}, path); }),
              HasSubstr("inputs[1] has 1 values, inputs[0] has 2"));
  EXPECT_THAT(ErrorMessage([&] { save_csv(Dataset{{{1.0, 2.0}}, {1.0, -1.0}}, path); }),
              HasSubstr("1 rows of inputs but 2 labels"));
  EXPECT_THAT(ErrorMessage([&] { save_csv(Dataset{}, path); }), HasSubstr("no rows to write"));
  EXPECT_THAT(ErrorMessage([&] { save_csv(Dataset{{{}}, {1.0}}, path); }), HasSubstr("rows have no inputs"));
  EXPECT_FALSE(fs::exists(path));  // nothing written when the data is rejected
}

TEST_F(CsvTest, SaveRejectsNonFiniteNumbers) {
  const fs::path path = dir_ / "nan.csv";
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(ErrorMessage([&] { save_csv(Dataset{{{1.0, 2.0}, {3.0, nan}}, {1.0, -1.0}}, path); }),
              HasSubstr("inputs[1][1] is nan; only finite numbers can be written"));
  EXPECT_THAT(ErrorMessage([&] { save_csv(Dataset{{{1.0, 2.0}, {3.0, 4.0}}, {1.0, -nan}}, path); }),
              HasSubstr("labels[1] is nan; only finite numbers can be written"));
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(CsvTest, SaveToMissingDirectoryNamesThePathAndReasonAndCreatesNothing) {
  const fs::path path = dir_ / "no" / "such" / "dir.csv";
  const std::string message = ErrorMessage([&] { save_csv(make_moons(4, 0.0), path); });
  EXPECT_THAT(message, HasSubstr("scalargrad::nn: cannot save CSV to '" + path.string() + "': cannot create '" +
                                 path.string() + ".tmp-"));
  EXPECT_THAT(message, HasSubstr("': No such file or directory"));
  EXPECT_FALSE(fs::exists(dir_ / "no"));
}

/// The names in `dir`, sorted.
std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST_F(CsvTest, SaveReplacesAnExistingFileAndLeavesNoTemporaryFiles) {
  const fs::path path = dir_ / "points.csv";
  std::ofstream(path) << "old contents\n";
  save_csv(Dataset{{{1.0, 2.0}}, {1.0}}, path);
  EXPECT_EQ(Read(path), "x1,x2,label\n1,2,1\n");
  save_csv(Dataset{{{3.0}}, {-1.0}}, path);
  EXPECT_EQ(Read(path), "x1,label\n3,-1\n");
  EXPECT_EQ(Entries(dir_), std::vector<std::string>{"points.csv"});
}

TEST_F(CsvTest, SaveThroughASymbolicLinkReplacesTheFileItPointsTo) {
  const fs::path real = dir_ / "real.csv";
  std::ofstream(real) << "old contents\n";
  fs::create_symlink("real.csv", dir_ / "points.csv");
  save_csv(Dataset{{{1.0, 2.0}}, {1.0}}, dir_ / "points.csv");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "points.csv")));
  EXPECT_EQ(Read(real), "x1,x2,label\n1,2,1\n");
  EXPECT_EQ(Entries(dir_), (std::vector<std::string>{"points.csv", "real.csv"}));
}

TEST_F(CsvTest, RejectedDataKeepsTheOldFile) {
  const fs::path path = dir_ / "points.csv";
  save_csv(Dataset{{{1.0, 2.0}}, {1.0}}, path);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(ErrorMessage([&] { save_csv(Dataset{{{nan, 2.0}}, {1.0}}, path); }), HasSubstr("is nan"));
  EXPECT_EQ(Read(path), "x1,x2,label\n1,2,1\n");
  EXPECT_EQ(Entries(dir_), std::vector<std::string>{"points.csv"});
}

TEST_F(CsvTest, AFolderAtThePathIsRefusedBeforeAnythingIsWritten) {
  // A folder (not empty) at the path: refused up front (scalargrad::FileReplacement), nothing
  // written beside it. (The failed rename itself is tested in tests/autograd/file_test.cpp.)
  const fs::path path = dir_ / "points.csv";
  fs::create_directories(path / "inside");
  EXPECT_EQ(ErrorMessage([&] { save_csv(Dataset{{{1.0}}, {1.0}}, path); }),
            "scalargrad::nn: cannot save CSV to '" + path.string() + "': cannot replace '" + path.string() +
                "': Is a directory");
  EXPECT_EQ(Entries(dir_), std::vector<std::string>{"points.csv"});
  EXPECT_TRUE(fs::is_directory(path / "inside"));
}

}  // namespace
