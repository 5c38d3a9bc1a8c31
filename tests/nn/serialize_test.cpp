// Model files (nn/serialize.hpp): the round trip is bit-exact for every activation; every kind of
// corrupt file is rejected with a message naming the file, the place and the problem, and leaves
// the model given to load_weights() untouched; save_model() replaces a file atomically.
//
// The reference for the format is the hand-written file kSmallModel below, not to_json().
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>       // mknod
#include <sys/sysmacros.h>  // makedev
#include <unistd.h>         // getpid

#include "scalargrad/nn/activation.hpp"
#include "scalargrad/nn/module.hpp"
#include "scalargrad/nn/serialize.hpp"

#include "support/test_support.hpp"

namespace {

using scalargrad::testing_support::Bits;

namespace fs = std::filesystem;
using scalargrad::Error;
using scalargrad::Value;
using scalargrad::nn::Activation;
using scalargrad::nn::from_json;
using scalargrad::nn::Init;
using scalargrad::nn::load_model;
using scalargrad::nn::load_weights;
using scalargrad::nn::MLP;
using scalargrad::nn::Parameter;
using scalargrad::nn::save_model;
using scalargrad::nn::to_json;
using ::testing::AllOf;
using ::testing::HasSubstr;

// ---- 1. Helpers ------------------------------------------------------------------------------

/// Every parameter's data and grad as bits, in parameters() order.
std::vector<std::uint64_t> State(const MLP& model) {
  std::vector<std::uint64_t> state;
  for (const Parameter* p : model.parameters()) {
    state.push_back(Bits(p->data));
    state.push_back(Bits(p->grad));
  }
  return state;
}

std::vector<std::uint64_t> DataBits(const MLP& model) {
  std::vector<std::uint64_t> bits;
  for (const Parameter* p : model.parameters()) bits.push_back(Bits(p->data));
  return bits;
}

/// The model's outputs on a few fixed inputs, as bits.
std::vector<std::uint64_t> Outputs(const MLP& model) {
  std::vector<std::uint64_t> bits;
  for (int k = 0; k < 5; ++k) {
    std::vector<double> x(model.nin());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.7 * k - 1.3 + 0.37 * static_cast<double>(i);
    for (const Value& y : model(x)) bits.push_back(Bits(y.data()));
  }
  return bits;
}

void WriteFile(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> DirectoryEntries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// `text` with its one occurrence of `from` replaced by `to` (fails the test if not exactly one).
std::string Edit(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' not in the text";
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "'" << from << "' more than once";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

/// The message of the Error that `f` throws ("" and a failure if it throws none).
template <typename F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no scalargrad::Error thrown";
  return "";
}

/// A fresh, empty directory per test, removed after it.
class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "." + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = fs::temp_directory_path() /
           ("scalargrad-serialize-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  fs::path dir_;
};

// A model file written by hand from the format's description: MLP(2, {2, 1}), tanh then linear.
constexpr std::string_view kSmallModel = R"({
  "format": "scalargrad-mlp",
  "version": 1,
  "nin": 2,
  "layers": [
    {"size": 2, "activation": "tanh", "neurons": [
      {"weights": [0.5, -0.25], "bias": 0.125},
      {"weights": [1.5, 2.0], "bias": -1.0}]},
    {"size": 1, "activation": "linear", "neurons": [
      {"weights": [0.75, -0.5], "bias": 0.0625}]}]
})";

/// A model of kSmallModel's architecture with other weights: the target of load_weights().
MLP SmallTarget() { return MLP(2, {2, 1}, Activation::tanh(), Activation::linear(), Init::Uniform, 7); }

// ---- 2. The format ---------------------------------------------------------------------------

TEST(ModelFormat, HandWrittenFileLoadsInMicrogradParameterOrder) {
  const MLP model = from_json(kSmallModel);
  EXPECT_EQ(model.nin(), 2u);
  ASSERT_EQ(model.layers().size(), 2u);
  EXPECT_EQ(model.layers()[0].activation(), Activation::tanh());
  EXPECT_EQ(model.layers()[1].activation(), Activation::linear());
  std::vector<double> data;
  for (const Parameter* p : model.parameters()) data.push_back(p->data);
  EXPECT_EQ(data, (std::vector<double>{0.5, -0.25, 0.125, 1.5, 2.0, -1.0, 0.75, -0.5, 0.0625}));

  // Independent reference: the same network by hand.
  const double x0 = 0.3, x1 = -0.7;
  const double h0 = std::tanh(0.5 * x0 - 0.25 * x1 + 0.125);
  const double h1 = std::tanh(1.5 * x0 + 2.0 * x1 - 1.0);
  const std::vector<double> x = {x0, x1};
  EXPECT_NEAR(model.score(x).data(), 0.75 * h0 - 0.5 * h1 + 0.0625, 1e-15);
}

TEST(ModelFormat, ToJsonWritesTheDocumentedFieldsInOrder) {
  const std::string text = to_json(from_json(kSmallModel));
  const auto at = [&](std::string_view key) { return text.find(key); };
  EXPECT_THAT(text, HasSubstr(R"("format": "scalargrad-mlp")"));
  EXPECT_THAT(text, HasSubstr(R"("version": 1)"));
  EXPECT_THAT(text, HasSubstr(R"("nin": 2)"));
  EXPECT_THAT(text, HasSubstr(R"("activation": "tanh")"));
  EXPECT_THAT(text, HasSubstr(R"("activation": "linear")"));
  EXPECT_EQ(text.find("\"slope\""), std::string::npos) << "slope is written for prelu only";
  EXPECT_LT(at("\"format\""), at("\"version\""));
  EXPECT_LT(at("\"version\""), at("\"nin\""));
  EXPECT_LT(at("\"nin\""), at("\"layers\""));
  EXPECT_LT(at("\"size\""), at("\"activation\""));
  EXPECT_LT(at("\"activation\""), at("\"neurons\""));
  EXPECT_LT(at("\"weights\""), at("\"bias\""));
}

TEST(ModelFormat, ToJsonIsStable) {
  const MLP model(3, {8, 8, 2}, Activation::gelu(), Activation::sigmoid(), Init::Xavier, 11);
  const std::string text = to_json(model);
  EXPECT_EQ(to_json(model), text) << "same model, same text";
  EXPECT_EQ(to_json(MLP(3, {8, 8, 2}, Activation::gelu(), Activation::sigmoid(), Init::Xavier, 11)), text)
      << "same seed, same text";
  EXPECT_EQ(to_json(from_json(text)), text) << "a loaded model writes the text it was read from";
  EXPECT_NE(to_json(MLP(3, {8, 8, 2}, Activation::gelu(), Activation::sigmoid(), Init::Xavier, 12)), text);
}

// Regression: a key holding an escaped NUL ended the message at that byte, and the reason was lost.
TEST(ModelFormat, AKeyWithANulIsNamedInFull) {
  EXPECT_THAT(ErrorOf([] { (void)from_json(R"({"format":"scalargrad-mlp","version":1,"nin":1,"la\u0000yers":[]})"); }),
              AllOf(HasSubstr("la\\0yers"), HasSubstr("unknown")));
}

TEST(ModelFormat, FromJsonNamesItsSourceInMessages) {
  EXPECT_THAT(ErrorOf([] { (void)from_json("[", "weights-from-the-cloud"); }), HasSubstr("weights-from-the-cloud"));
  EXPECT_THAT(ErrorOf([] { (void)from_json("["); }), HasSubstr("<json>"));
}

// ---- 3. Round trips --------------------------------------------------------------------------

TEST_F(ModelFileTest, SaveThenLoadIsBitExactInParametersAndOutputs) {
  MLP model(2, {16, 16, 1}, Activation::relu(), Activation::linear(), Init::He, 3);
  // Doubles that a printer with too few digits, or a parser that rounds, would change.
  const std::vector<double> awkward = {
      -0.0, 0.1, 1.0 / 3.0, std::nextafter(1.0, 2.0), std::numeric_limits<double>::denorm_min(),
      std::numeric_limits<double>::min(), std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
      std::numeric_limits<double>::epsilon(), 123456789.123456789, -2.5e-300, 1e300};
  const std::vector<Parameter*> params = model.parameters();
  for (std::size_t i = 0; i < awkward.size(); ++i) params[i * 7]->data = awkward[i];
  // (outputs are compared on a copy with ordinary weights: max() * max() overflows to inf)
  const MLP trained(2, {16, 16, 1}, Activation::relu(), Activation::linear(), Init::He, 3);

  const fs::path file = dir_ / "model.json";
  save_model(model, file);
  const MLP loaded = load_model(file);
  EXPECT_EQ(DataBits(loaded), DataBits(model));
  EXPECT_EQ(loaded.repr(), model.repr());

  save_model(trained, file);
  const MLP loaded_trained = load_model(file);
  EXPECT_EQ(DataBits(loaded_trained), DataBits(trained));
  EXPECT_EQ(Outputs(loaded_trained), Outputs(trained));
}

TEST(ModelFormat, RandomDoublesRoundTripBitExact) {
  // 10100 doubles from random bit patterns, every exponent and sign; non-finite ones are skipped.
  MLP model(100, {100}, Activation::linear(), Activation::linear());
  std::mt19937_64 random(2024);
  for (Parameter* p : model.parameters()) {
    double x = 0.0;
    do {
      x = std::bit_cast<double>(random());
    } while (!std::isfinite(x));
    p->data = x;
  }
  EXPECT_EQ(DataBits(from_json(to_json(model))), DataBits(model));
}

class RoundTripPerActivation : public ModelFileTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(RoundTripPerActivation, ParametersOutputsAndActivationsSurvive) {
  const Activation activation = Activation::parse(GetParam());
  MLP model(3, {4, 3, 2}, std::vector<Activation>{activation, activation, Activation::linear()}, Init::Xavier, 5);
  // Distinct values everywhere, so that a PReLU slope written in the wrong place shows.
  int k = 0;
  for (Parameter* p : model.parameters()) {
    p->data = (k % 2 == 0 ? 0.1 : -0.1) + 0.013 * k;
    ++k;
  }

  const fs::path file = dir_ / "model.json";
  save_model(model, file);
  const MLP loaded = load_model(file);
  ASSERT_EQ(loaded.layers().size(), 3u);
  EXPECT_EQ(loaded.layers()[0].activation(), activation);
  EXPECT_EQ(loaded.layers()[1].activation(), activation);
  EXPECT_EQ(loaded.layers()[0].activation().name(), activation.name());
  EXPECT_EQ(DataBits(loaded), DataBits(model));
  EXPECT_EQ(Outputs(loaded), Outputs(model));
  EXPECT_EQ(to_json(loaded), to_json(model));
  if (activation.has_parameter()) {
    const std::string text = ReadFile(file);
    EXPECT_THAT(text, HasSubstr("\"slope\""));
    EXPECT_EQ(Bits(loaded.layers()[1].neurons()[2].slope().data), Bits(model.layers()[1].neurons()[2].slope().data));
  }
}

std::vector<std::string> AllActivationNames() {
  std::vector<std::string> names;
  for (const std::string_view name : Activation::names()) names.emplace_back(name);
  for (const char* with_parameter : {"leaky_relu:0.001", "prelu:0.1", "elu:0.5"}) names.emplace_back(with_parameter);
  return names;
}

INSTANTIATE_TEST_SUITE_P(EveryActivation, RoundTripPerActivation, ::testing::ValuesIn(AllActivationNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == ':' || c == '.') c = '_';
                           }
                           return name;
                         });

// ---- 4. Corrupt files ------------------------------------------------------------------------

struct CorruptFile {
  std::string name;                   // test name
  std::string text;                   // file contents
  std::vector<std::string> expected;  // substrings of the message (besides the file name)
};

std::string SmallModel() { return std::string(kSmallModel); }

std::vector<CorruptFile> CorruptFiles() {
  const std::string valid = SmallModel();
  const std::string big = to_json(MLP(2, {16, 16, 1}));
  return {
      {"NotJson", "this is not a model", {"not JSON", "syntax error at byte 2"}},
      {"PythonNaN", Edit(valid, "0.5,", "NaN,"), {"not JSON", "byte"}},
      {"Truncated", big.substr(0, big.size() / 2), {"not JSON", "truncated", "ends at byte"}},
      {"Empty", "", {"not JSON", "empty"}},
      {"TrailingGarbage", valid + "}", {"not JSON", "byte"}},
      // nlohmann's parser takes a NUL byte for the end of the text: the garbage after it
      // would be ignored.
      {"GarbageAfterANulByte", valid + std::string("\0garbage", 8),
       {"not JSON: a NUL byte at byte " + std::to_string(valid.size() + 1)}},
      {"TopLevelArray", "[1, 2]", {"expected a JSON object at the top level"}},
      {"WrongFormat", Edit(valid, R"("scalargrad-mlp")", R"("keras-h5")"),
       {"format: not a scalargrad model file", "'keras-h5'"}},
      {"FormatNotAString", Edit(valid, R"("scalargrad-mlp")", "7"), {"format: expected a string"}},
      {"WrongVersion", Edit(valid, R"("version": 1)", R"("version": 2)"), {"version: unsupported version 2"}},
      {"VersionNotAnInteger", Edit(valid, R"("version": 1)", R"("version": "1")"),
       {"version: expected an integer, got a string"}},
      {"MissingFormat", Edit(valid, R"("format": "scalargrad-mlp",)", ""), {"format: missing field"}},
      {"MissingLayers",
       R"({"format": "scalargrad-mlp", "version": 1, "nin": 2})",
       {"layers: missing field"}},
      {"NoLayers", R"({"format": "scalargrad-mlp", "version": 1, "nin": 2, "layers": []})",
       {"layers: an MLP needs at least one layer"}},
      {"ZeroNin", Edit(valid, R"("nin": 2)", R"("nin": 0)"), {"nin: expected a positive integer, got 0"}},
      {"NegativeNin", Edit(valid, R"("nin": 2)", R"("nin": -2)"), {"nin: expected a positive integer, got -2"}},
      {"FractionalNin", Edit(valid, R"("nin": 2)", R"("nin": 2.5)"),
       {"nin: expected a positive integer, got the number 2.5"}},
      {"NinAsString", Edit(valid, R"("nin": 2)", R"("nin": "2")"), {"nin: expected a positive integer, got a string"}},
      {"ZeroSize", Edit(valid, R"("size": 1)", R"("size": 0)"), {"layers[1].size: expected a positive integer"}},
      {"MissingSize", Edit(valid, R"("size": 1, )", ""), {"layers[1].size: missing field"}},
      {"WeightsCountWrong", Edit(valid, "[0.75, -0.5]", "[0.75]"),
       {"layers[1].neurons[0].weights: has 1 weights, but the neurons of layers[1] have 2 inputs (the size of "
        "layers[0])"}},
      {"WeightsCountWrongFirstLayer", Edit(valid, "[0.5, -0.25]", "[0.5, -0.25, 1.0]"),
       {"layers[0].neurons[0].weights: has 3 weights, but the neurons of layers[0] have 2 inputs (nin)"}},
      {"NeuronsCountWrong", Edit(valid, R"("size": 2)", R"("size": 3)"),
       {"layers[0].neurons: has 2 neurons, but the layer's size is 3"}},
      {"WeightIsString", Edit(valid, "[0.5, -0.25]", R"(["0.5", -0.25])"),
       {"layers[0].neurons[0].weights[0]: expected a finite number, got a string"}},
      {"WeightIsNull", Edit(valid, "[1.5, 2.0]", "[1.5, null]"),
       {"layers[0].neurons[1].weights[1]: expected a finite number, got null"}},
      {"WeightIsNaNString", Edit(valid, "[1.5, 2.0]", R"([1.5, "NaN"])"),
       {"layers[0].neurons[1].weights[1]: expected a finite number, got a string"}},
      {"WeightOutOfDoubleRange", Edit(valid, "[0.5, -0.25]", "[0.5, 1e400]"),
       {"layers[0].neurons[0].weights[1]: number out of the range of double", "1e400"}},
      {"NegativeWeightOutOfDoubleRange", Edit(valid, "[0.75, -0.5]", "[0.75, -1e400]"),
       {"layers[1].neurons[0].weights[1]: number out of the range of double"}},
      {"BiasOutOfDoubleRange", Edit(valid, R"("bias": 0.0625)", R"("bias": 1e309)"),
       {"layers[1].neurons[0].bias: number out of the range of double"}},
      {"MissingBias", Edit(valid, R"(, "bias": -1.0)", ""), {"layers[0].neurons[1].bias: missing field"}},
      {"BiasIsBoolean", Edit(valid, R"("bias": -1.0)", R"("bias": true)"),
       {"layers[0].neurons[1].bias: expected a finite number, got a boolean"}},
      {"UnknownActivation", Edit(valid, R"("tanh")", R"("swish")"),
       {"layers[0].activation:", "unknown activation 'swish'", "valid: linear, relu"}},
      {"ActivationWithBadNumber", Edit(valid, R"("tanh")", R"("leaky_relu:abc")"),
       {"layers[0].activation:", "is not a finite number"}},
      {"UnknownField", Edit(valid, R"("bias": 0.125)", R"("bias": 0.125, "bias2": 1)"),
       {"layers[0].neurons[0].bias2: unknown field"}},
      {"SlopeOnANonPReLUNeuron", Edit(valid, R"("bias": 0.125)", R"("bias": 0.125, "slope": 0.25)"),
       {"layers[0].neurons[0].slope: unknown field"}},
      {"PReLUWithoutSlope", Edit(valid, R"("tanh")", R"("prelu")"), {"layers[0].neurons[0].slope: missing field"}},
      {"DuplicateKey", Edit(valid, R"("bias": 0.125)", R"("bias": 0.125, "bias": 7)"),
       {"layers[0].neurons[0].bias: duplicate key"}},
      {"NestedTooDeeply", std::string(100000, '[') + std::string(100000, ']'), {"nested more than 32 levels deep"}},
      {"NeuronNotAnObject", Edit(valid, R"({"weights": [0.75, -0.5], "bias": 0.0625})", "[0.75, -0.5, 0.0625]"),
       {"layers[1].neurons[0]: expected an object, got an array"}},
  };
}

class CorruptModelFile : public ModelFileTest, public ::testing::WithParamInterface<CorruptFile> {};

TEST_P(CorruptModelFile, IsRejectedWithItsMessageAndLeavesTheModelUntouched) {
  const CorruptFile& corrupt = GetParam();
  const fs::path file = dir_ / "corrupt-model.json";
  WriteFile(file, corrupt.text);

  const std::string message = ErrorOf([&] { (void)load_model(file); });
  EXPECT_THAT(message, HasSubstr(file.string()));
  for (const std::string& part : corrupt.expected) EXPECT_THAT(message, HasSubstr(part));

  MLP target = SmallTarget();
  (void)target.score(std::vector<double>{0.1, 0.2}).backward();  // some grads, to see them kept too
  const std::vector<std::uint64_t> before = State(target);
  const std::string weights_message = ErrorOf([&] { load_weights(target, file); });
  EXPECT_EQ(weights_message, message);
  EXPECT_EQ(State(target), before);
}

INSTANTIATE_TEST_SUITE_P(EveryKind, CorruptModelFile, ::testing::ValuesIn(CorruptFiles()),
                         [](const ::testing::TestParamInfo<CorruptFile>& info) { return info.param.name; });

// Regression: load_model("/dev/zero") read until memory ran out, then threw std::bad_alloc
// naming no file. A regular file is refused by its size, before anything is read.
TEST_F(ModelFileTest, AFileLargerThan256MiBIsRefusedNamingIt) {
  const fs::path huge = dir_ / "huge.json";
  std::ofstream(huge) << "{";
  fs::resize_file(huge, (std::size_t{256} << 20) + 1);  // sparse: no disk space used
  const std::string expected = "scalargrad::nn: cannot read model file '" + huge.string() +
                               "': it holds more than 268435456 bytes (256 MiB), the most nn reads from a file";
  MLP model = SmallTarget();
  const std::vector<std::uint64_t> before = State(model);
  EXPECT_EQ(ErrorOf([&] { (void)load_model(huge); }), expected);
  EXPECT_EQ(ErrorOf([&] { load_weights(model, huge); }), expected);
  EXPECT_EQ(State(model), before);
  // A device has no size: it is read up to the most, and refused there.
  if (fs::exists("/dev/zero")) {
    EXPECT_EQ(ErrorOf([] { (void)load_model("/dev/zero"); }),
              "scalargrad::nn: cannot read model file '/dev/zero': it holds more than 268435456 bytes (256 MiB), the "
              "most nn reads from a file");
  }
  // One byte less is read (and is not JSON).
  fs::resize_file(huge, std::size_t{256} << 20);
  EXPECT_THAT(ErrorOf([&] { (void)load_model(huge); }), HasSubstr("not JSON"));
}

TEST_F(ModelFileTest, TheCorruptFilesAreValidApartFromTheirDefect) {
  // The cases above edit this text: it must load, and into SmallTarget()'s architecture.
  const fs::path file = dir_ / "model.json";
  WriteFile(file, SmallModel());
  MLP target = SmallTarget();
  load_weights(target, file);
  EXPECT_EQ(DataBits(target), DataBits(from_json(kSmallModel)));
}

// ---- 5. load_weights -------------------------------------------------------------------------

TEST_F(ModelFileTest, LoadWeightsCopiesTheFilesWeightsIntoTheModel) {
  const MLP saved(2, {8, 1}, Activation::prelu(), Activation::linear(), Init::Uniform, 21);
  const fs::path file = dir_ / "model.json";
  save_model(saved, file);
  MLP model(2, {8, 1}, Activation::prelu(), Activation::linear(), Init::Uniform, 22);
  const std::vector<double> x = {0.4, -0.9};
  (void)model.score(x);  // the model has been used: its weights are leaves of a graph already
  ASSERT_NE(DataBits(model), DataBits(saved));

  load_weights(model, file);
  EXPECT_EQ(DataBits(model), DataBits(saved));
  EXPECT_EQ(Bits(model.score(x).data()), Bits(saved.score(x).data())) << "the next forward pass sees them";
}

TEST_F(ModelFileTest, LoadWeightsRejectsAnotherArchitectureNamingTheFirstDifference) {
  const fs::path file = dir_ / "model.json";
  save_model(MLP(2, {8, 1}), file);
  const auto expect_rejected = [&](MLP model, const std::string& difference) {
    const std::vector<std::uint64_t> before = State(model);
    EXPECT_THAT(ErrorOf([&] { load_weights(model, file); }),
                AllOf(HasSubstr(file.string()), HasSubstr("architecture"), HasSubstr(difference)));
    EXPECT_EQ(State(model), before);
  };
  expect_rejected(MLP(2, {16, 1}), "layers[0] has 8 neurons in the file, 16 in the model");
  expect_rejected(MLP(3, {8, 1}), "nin is 2 in the file, 3 in the model");
  expect_rejected(MLP(2, {8, 8, 1}), "2 layers in the file, 3 in the model");
  expect_rejected(MLP(2, {8, 1}, Activation::tanh()), "layers[0] has activation 'relu' in the file, 'tanh' in the model");
  expect_rejected(MLP(2, {8, 1}, Activation::relu(), Activation::sigmoid()),
                  "layers[1] has activation 'linear' in the file, 'sigmoid' in the model");
  expect_rejected(MLP(2, {8, 1}, Activation::leaky_relu(0.1)),
                  "layers[0] has activation 'relu' in the file, 'leaky_relu:0.1' in the model");
}

TEST_F(ModelFileTest, LoadWeightsTakesAPReLUsInitialSlopeAsArchitecture) {
  // The initial slope is part of the activation's name; each neuron's learnt slope is a weight.
  const fs::path file = dir_ / "prelu.json";
  MLP saved(2, {4, 1}, Activation::prelu(0.25), Activation::linear(), Init::Uniform, 5);
  Parameter& learnt = *saved.parameters()[3];  // neuron 0's slope, after its two weights and its bias
  ASSERT_EQ(learnt.data, 0.25);
  learnt.data = 0.75;
  save_model(saved, file);

  MLP other_slope(2, {4, 1}, Activation::prelu(0.1), Activation::linear(), Init::Uniform, 6);
  const std::vector<std::uint64_t> before = State(other_slope);
  EXPECT_THAT(ErrorOf([&] { load_weights(other_slope, file); }),
              HasSubstr("layers[0] has activation 'prelu:0.25' in the file, 'prelu:0.1' in the model"));
  EXPECT_EQ(State(other_slope), before);

  MLP same_slope(2, {4, 1}, Activation::prelu(0.25), Activation::linear(), Init::Uniform, 6);
  load_weights(same_slope, file);
  EXPECT_EQ(DataBits(same_slope), DataBits(saved)) << "the learnt slopes too";
}

TEST_F(ModelFileTest, MissingFileIsAnErrorNamingThePathAndTheReason) {
  const fs::path file = dir_ / "no-such-model.json";
  EXPECT_THAT(ErrorOf([&] { (void)load_model(file); }),
              AllOf(HasSubstr(file.string()), HasSubstr("No such file or directory")));
  MLP model = SmallTarget();
  const std::vector<std::uint64_t> before = State(model);
  EXPECT_THAT(ErrorOf([&] { load_weights(model, file); }), HasSubstr(file.string()));
  EXPECT_EQ(State(model), before);
}

TEST_F(ModelFileTest, ADirectoryIsNotAModelFile) {
  EXPECT_THAT(ErrorOf([&] { (void)load_model(dir_); }), AllOf(HasSubstr(dir_.string()), HasSubstr("directory")));
}

// ---- 6. save_model ---------------------------------------------------------------------------

TEST_F(ModelFileTest, SaveReplacesAnExistingFileAndLeavesNoTemporaryFiles) {
  const fs::path file = dir_ / "model.json";
  WriteFile(file, "an older file, not even a model");
  const MLP first(2, {4, 1}, Activation::relu(), Activation::linear(), Init::Uniform, 1);
  const MLP second(2, {6, 3}, Activation::tanh(), Activation::sigmoid(), Init::He, 2);

  save_model(first, file);
  EXPECT_EQ(ReadFile(file), to_json(first));
  save_model(second, file);
  EXPECT_EQ(ReadFile(file), to_json(second));
  const MLP loaded = load_model(file);
  EXPECT_EQ(loaded.repr(), second.repr());
  EXPECT_EQ(DataBits(loaded), DataBits(second));
  EXPECT_EQ(DirectoryEntries(dir_), std::vector<std::string>{"model.json"});
}

TEST_F(ModelFileTest, SaveIntoAMissingDirectoryFailsNamingItAndCreatesNothing) {
  const fs::path file = dir_ / "no-such-directory" / "model.json";
  EXPECT_THAT(ErrorOf([&] { save_model(MLP(2, {4, 1}), file); }),
              AllOf(HasSubstr("cannot save model to"), HasSubstr(file.string()),
                    HasSubstr("No such file or directory")));
  EXPECT_FALSE(fs::exists(file.parent_path()));
  EXPECT_TRUE(DirectoryEntries(dir_).empty());
}

TEST_F(ModelFileTest, SaveThroughASymbolicLinkReplacesTheFileItPointsToAndKeepsTheLink) {
  // Regression: the rename replaced the link itself by a file and left its target as it was.
  fs::create_directories(dir_ / "models");
  const fs::path real = dir_ / "models" / "real.json";
  WriteFile(real, "old");
  fs::create_symlink("models/real.json", dir_ / "middle.json");  // relative, through two links
  fs::create_symlink(dir_ / "middle.json", dir_ / "model.json");
  const MLP model(2, {3, 1});
  save_model(model, dir_ / "model.json");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "model.json")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "middle.json")));
  EXPECT_EQ(ReadFile(real), to_json(model));
  EXPECT_EQ(DirectoryEntries(dir_ / "models"), std::vector<std::string>{"real.json"});
  // A link to nothing yet: the file is made where it points.
  fs::create_symlink("models/new.json", dir_ / "dangling.json");
  save_model(model, dir_ / "dangling.json");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "dangling.json")));
  EXPECT_EQ(ReadFile(dir_ / "models" / "new.json"), to_json(model));
}

TEST_F(ModelFileTest, SaveThroughALoopOfLinksFailsAndKeepsTheLinks) {
  // Regression: after 40 hops the last link was taken for a new file and replaced by one.
  fs::create_symlink("b.json", dir_ / "a.json");
  fs::create_symlink("a.json", dir_ / "b.json");
  EXPECT_THAT(ErrorOf([&] { save_model(MLP(2, {3, 1}), dir_ / "a.json"); }),
              HasSubstr("cannot save model to '" + (dir_ / "a.json").string() + "': cannot follow the links of '" +
                        (dir_ / "a.json").string() + "': Too many levels of symbolic links"));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "a.json")));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir_ / "b.json")));
  EXPECT_EQ(DirectoryEntries(dir_), (std::vector<std::string>{"a.json", "b.json"}));
}

TEST_F(ModelFileTest, SaveKeepsTheOldFilesPermissionBits) {
  // Regression: a model kept private (chmod 600) came back readable by everyone (0644).
  const fs::path file = dir_ / "model.json";
  for (const fs::perms perms : {fs::perms::owner_read | fs::perms::owner_write,
                                fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read}) {
    WriteFile(file, "old");
    fs::permissions(file, perms, fs::perm_options::replace);
    save_model(MLP(2, {3, 1}), file);
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::mask, perms);
    EXPECT_EQ(ReadFile(file), to_json(MLP(2, {3, 1})));
  }
  EXPECT_EQ(DirectoryEntries(dir_), std::vector<std::string>{"model.json"});
}

TEST_F(ModelFileTest, SaveIntoADeviceWritesIntoItAndLeavesTheDevice) {
  // Regression: saving to a device (the audit used /dev/full) renamed a regular file over it.
  // A null device made here (c 1 3, only root may make one), never one of /dev.
  const fs::path device = dir_ / "null";
  if (::mknod(device.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
    GTEST_SKIP() << "cannot make a device node here (not root?)";
  }
  save_model(MLP(2, {3, 1}), device);
  EXPECT_TRUE(fs::is_character_file(fs::symlink_status(device)));
  EXPECT_EQ(DirectoryEntries(dir_), std::vector<std::string>{"null"});
  // A device that refuses the bytes (c 1 7, like /dev/full): the error names it and the reason.
  const fs::path full = dir_ / "full";
  ASSERT_EQ(::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)), 0);
  EXPECT_THAT(ErrorOf([&] { save_model(MLP(2, {3, 1}), full); }),
              HasSubstr("cannot save model to '" + full.string() + "': cannot write '" + full.string() +
                        "': No space left on device"));
  EXPECT_TRUE(fs::is_character_file(fs::symlink_status(full)));
}

TEST_F(ModelFileTest, ANonFiniteWeightIsNotWrittenAndTheOldFileIsKept) {
  // JSON has no NaN: nlohmann would write null, and the file would not load again.
  const fs::path file = dir_ / "model.json";
  const MLP good(2, {4, 1});
  save_model(good, file);
  MLP diverged(2, {4, 1}, Activation::prelu(), Activation::linear());
  const std::vector<Parameter*> params = diverged.parameters();
  params[2 * 4]->data = std::numeric_limits<double>::quiet_NaN();  // neuron 2's first weight (2 + bias + slope each)
  // The weight's index, and "nan" whatever the NaN's sign bit (0.0 / 0.0 has it set here).
  EXPECT_THAT(ErrorOf([&] { (void)to_json(diverged); }),
              HasSubstr("layers[0].neurons[2].weights[0] is nan (JSON has no NaN or infinity)"));
  params[2 * 4 + 1]->data = -std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(ErrorOf([&] { (void)to_json(diverged); }), HasSubstr("weights[0] is nan ("));
  params[2 * 4]->data = 0.5;
  EXPECT_THAT(ErrorOf([&] { (void)to_json(diverged); }), HasSubstr("layers[0].neurons[2].weights[1] is nan ("));
  params[2 * 4]->data = std::numeric_limits<double>::quiet_NaN();
  params[2 * 4 + 1]->data = 0.5;
  // Regression: save_model's message did not name the file.
  EXPECT_EQ(ErrorOf([&] { save_model(diverged, file); }),
            "scalargrad::nn: cannot save model to '" + file.string() +
                "': layers[0].neurons[2].weights[0] is nan (JSON has no NaN or infinity)");
  params[2 * 4]->data = 0.5;
  params[3]->data = -std::numeric_limits<double>::infinity();  // neuron 0's slope
  EXPECT_THAT(ErrorOf([&] { save_model(diverged, file); }),
              AllOf(HasSubstr("layers[0].neurons[0].slope"), HasSubstr("inf")));
  EXPECT_EQ(ReadFile(file), to_json(good));
  EXPECT_EQ(DirectoryEntries(dir_), std::vector<std::string>{"model.json"});
}

TEST_F(ModelFileTest, AMovedFromModelIsNotWrittenAndTheOldFileIsKept) {
  // Regression: it has no layers, and its file ("layers": []) would not load again.
  const fs::path file = dir_ / "model.json";
  MLP model(2, {4, 1});
  save_model(model, file);
  const MLP taken = std::move(model);
  EXPECT_EQ(ErrorOf([&] { save_model(model, file); }),  // NOLINT(bugprone-use-after-move): the point
            "scalargrad::nn: cannot save model to '" + file.string() + "': it has no layers (it was moved from)");
  EXPECT_EQ(ErrorOf([&] { (void)to_json(model); }),  // NOLINT(bugprone-use-after-move)
            "scalargrad::nn: cannot write the model: it has no layers (it was moved from)");
  EXPECT_EQ(ReadFile(file), to_json(taken));
}

TEST_F(ModelFileTest, AFolderAtThePathIsRefusedAndKeptAsItWas) {
  // Refused before anything is written beside it (the failed rename itself: tests/autograd/file_test.cpp).
  const fs::path target = dir_ / "model.json";
  fs::create_directories(target);
  WriteFile(target / "keep.txt", "kept");
  EXPECT_EQ(ErrorOf([&] { save_model(MLP(2, {4, 1}), target); }),
            "scalargrad::nn: cannot save model to '" + target.string() + "': cannot replace '" + target.string() +
                "': Is a directory");
  EXPECT_EQ(DirectoryEntries(dir_), std::vector<std::string>{"model.json"});
  EXPECT_EQ(ReadFile(target / "keep.txt"), "kept");
}

}  // namespace
