// Model files: to_json/from_json and the file functions built on them.
//
// Reading is in three steps, so that nothing is built from a file that is wrong anywhere:
//   1. parse: the text becomes a JSON tree (a SAX handler that remembers where it is, so that even
//      a syntax error or a number out of double range is reported with its JSON path);
//   2. validate: the tree becomes a ModelSpec (nin, sizes, activations, parameters in micrograd
//      order), every field checked, or Error naming the source, the JSON path and the problem;
//   3. build: MLP(nin, sizes, activations), then each parameter's data from the spec.
// load_weights() builds a fresh MLP the same way and copies into the caller's model last, so the
// caller's model is untouched whenever anything throws.
#include <scalargrad/nn/serialize.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <scalargrad/error.hpp>
#include <scalargrad/file.hpp>

#include "file.hpp"
#include "format.hpp"

namespace scalargrad::nn {

using detail::format_number;
using detail::quoted;

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;  // to_json keeps the documented key order

constexpr std::string_view kFormat = "scalargrad-mlp";
constexpr std::uint64_t kVersion = 1;

[[noreturn]] void fail(std::string_view source, std::string_view where, const std::string& problem) {
  std::string message = "scalargrad::nn: ";
  message += source;
  message += ": ";
  if (!where.empty()) {
    message += where;
    message += ": ";
  }
  message += problem;
  throw Error(message);
}

/// The JSON path of element `index` of the array at `path`. (Appends rather than writing
/// "[" + ... + "]", which trips GCC 12's false -Wrestrict warning, PR 105329.)
std::string element(std::string path, std::size_t index) {
  path += '[';
  path += std::to_string(index);
  path += ']';
  return path;
}

/// The JSON path of `key` in the object at `path` ("" is the top level).
std::string member(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// ---- 1. Parsing -----------------------------------------------------------------------------

/// One open container of the tree being built: the JSON value and, for an object, the last key
/// read and whether its value is still to come.
struct Open {
  Json* container;
  std::string key;
  bool key_pending = false;
};

/// Builds the tree from nlohmann's SAX events (as nlohmann's own DOM parser does) and keeps the
/// path of open containers, so that errors say where they happened. Duplicate keys are
/// rejected (nlohmann would keep the last one silently).
class TreeBuilder : public nlohmann::json_sax<Json> {
 public:
  TreeBuilder(std::string_view source, std::string_view text) : source_(source), text_(text) {}

  Json& root() { return root_; }

  bool null() override { return add(nullptr); }
  bool boolean(bool value) override { return add(value); }
  bool number_integer(number_integer_t value) override { return add(value); }
  bool number_unsigned(number_unsigned_t value) override { return add(value); }
  bool number_float(number_float_t value, const string_t& /*text*/) override { return add(value); }
  bool string(string_t& value) override { return add(std::move(value)); }
  bool binary(binary_t& value) override { return add(Json::binary(std::move(value))); }

  bool start_object(std::size_t /*elements*/) override {
    check_depth();
    open_.push_back(Open{add_container(Json::object()), {}, false});
    return true;
  }
  bool key(string_t& key) override {
    Open& top = open_.back();
    if (top.container->contains(key)) fail(source_, member(path(), key), "duplicate key");
    top.key = std::move(key);
    top.key_pending = true;
    return true;
  }
  bool end_object() override {
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override {
    check_depth();
    open_.push_back(Open{add_container(Json::array()), {}, false});
    return true;
  }
  bool end_array() override {
    open_.pop_back();
    return true;
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::json::exception& error) override {
    // `position` counts bytes from 1 and is one past the end when the input ran out. nlohmann's
    // message adds line and column; the byte offset finds the place in any editor.
    std::string problem;
    if (text_.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      problem = "not JSON: the text is empty";
    } else if (error.id == 406) {  // out_of_range.406: a number beyond double's range
      problem = "number out of the range of double at byte " + std::to_string(position) + " (" + error.what() + ")";
    } else if (position > text_.size()) {
      problem = "not JSON: the text ends at byte " + std::to_string(text_.size()) +
                " before the JSON is complete (truncated file?) (" + error.what() + ")";
    } else {
      problem = "not JSON: syntax error at byte " + std::to_string(position) + " (" + error.what() + ")";
    }
    fail(source_, pending_path(), problem);
  }

 private:
  // A model file nests 6 levels deep; far deeper text is not one (and would make long paths).
  static constexpr std::size_t kMaxDepth = 32;
  void check_depth() const {
    if (open_.size() >= kMaxDepth) {
      fail(source_, pending_path(),
           "nested more than " + std::to_string(kMaxDepth) + " levels deep (a model file has 6)");
    }
  }

  // Adds a scalar where the parser is: the root, the next array element, or the current key's value.
  template <typename T>
  bool add(T&& value) {
    slot() = Json(std::forward<T>(value));
    return true;
  }
  Json* add_container(Json&& empty) {
    Json& s = slot();
    s = std::move(empty);
    return &s;
  }
  Json& slot() {
    if (open_.empty()) return root_;
    Open& top = open_.back();
    if (top.container->is_array()) {
      top.container->push_back(nullptr);
      return top.container->back();
    }
    top.key_pending = false;
    return (*top.container)[top.key];
  }

  // Path of the innermost open container: every level's element is the last one added.
  std::string path() const {
    std::string p;
    for (std::size_t i = 0; i + 1 < open_.size(); ++i) {
      const Open& level = open_[i];
      if (level.container->is_array()) {
        p = element(p, level.container->size() - 1);
      } else {
        p = member(p, level.key);
      }
    }
    return p;
  }
  // Path of the value being read when the parser stopped: the next element of an array, the
  // value of a key just read, or else the innermost open container.
  std::string pending_path() const {
    if (open_.empty()) return "";
    std::string p = path();
    const Open& top = open_.back();
    if (top.container->is_array()) {
      p = element(p, top.container->size());
    } else if (top.key_pending) {
      p = member(p, top.key);
    }
    return p;
  }

  std::string_view source_;
  std::string_view text_;
  Json root_;
  std::vector<Open> open_;  // containers being filled, outermost first
};

Json parse(std::string_view text, std::string_view source) {
  // nlohmann's parser stops at a NUL byte as at the end of the text: what follows would be
  // ignored, not refused (a model followed by garbage would load).
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    fail(source, "", "not JSON: a NUL byte at byte " + std::to_string(nul + 1));
  }
  TreeBuilder builder(source, text);
  Json::sax_parse(text.data(), text.data() + text.size(), &builder);  // strict: nothing after the JSON
  return std::move(builder.root());
}

// ---- 2. Validation --------------------------------------------------------------------------

/// Everything a model file says, checked.
struct ModelSpec {
  std::size_t nin = 0;
  std::vector<std::size_t> sizes;
  std::vector<Activation> activations;
  std::vector<double> parameters;  // micrograd's order, as MLP::parameters()
};

std::string describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "the number " + value.dump();
    default: return std::string("a ") + value.type_name();
  }
}

/// Checks one tree against the format; each method names the path it checks.
class Validator {
 public:
  explicit Validator(std::string_view source) : source_(source) {}

  ModelSpec model(const Json& root) {
    ModelSpec spec;
    if (!root.is_object()) fail(source_, "", "expected a JSON object at the top level, got " + describe(root));
    only_keys(root, "", {"format", "version", "nin", "layers"});

    const Json& format = field(root, "", "format");
    if (!format.is_string()) fail(source_, "format", "expected a string, got " + describe(format));
    if (format.get_ref<const std::string&>() != kFormat) {
      fail(source_, "format",
           "not a scalargrad model file: format is '" + format.get<std::string>() + "', expected '" +
               std::string(kFormat) + "'");
    }
    const Json& version = field(root, "", "version");
    if (!version.is_number_integer()) fail(source_, "version", "expected an integer, got " + describe(version));
    if (!version.is_number_unsigned() || version.get<std::uint64_t>() != kVersion) {
      fail(source_, "version",
           "unsupported version " + version.dump() + " (this build reads version " + std::to_string(kVersion) + ")");
    }
    spec.nin = size(field(root, "", "nin"), "nin");

    const Json& layers = field(root, "", "layers");
    if (!layers.is_array()) fail(source_, "layers", "expected an array, got " + describe(layers));
    if (layers.empty()) fail(source_, "layers", "an MLP needs at least one layer, got none");
    std::size_t fan_in = spec.nin;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      layer(layers[i], element("layers", i), i, fan_in, spec);
      fan_in = spec.sizes.back();
    }
    return spec;
  }

 private:
  void layer(const Json& json, const std::string& path, std::size_t index, std::size_t fan_in, ModelSpec& spec) {
    if (!json.is_object()) fail(source_, path, "expected an object, got " + describe(json));
    only_keys(json, path, {"size", "activation", "neurons"});
    const std::size_t nout = size(field(json, path, "size"), path + ".size");

    const Json& name = field(json, path, "activation");
    if (!name.is_string()) fail(source_, path + ".activation", "expected a string, got " + describe(name));
    Activation activation = Activation::linear();
    try {
      activation = Activation::parse(name.get_ref<const std::string&>());
    } catch (const Error& e) {
      std::string_view message = e.what();
      constexpr std::string_view kPrefix = "scalargrad::nn: ";
      if (message.starts_with(kPrefix)) message.remove_prefix(kPrefix.size());
      fail(source_, path + ".activation", std::string(message));
    }

    const Json& neurons = field(json, path, "neurons");
    const std::string neurons_path = path + ".neurons";
    if (!neurons.is_array()) fail(source_, neurons_path, "expected an array, got " + describe(neurons));
    if (neurons.size() != nout) {
      fail(source_, neurons_path,
           "has " + std::to_string(neurons.size()) + " neurons, but the layer's size is " + std::to_string(nout));
    }
    for (std::size_t j = 0; j < nout; ++j) {
      neuron(neurons[j], element(neurons_path, j), index, fan_in, activation, spec);
    }
    spec.sizes.push_back(nout);
    spec.activations.push_back(activation);
  }

  void neuron(const Json& json, const std::string& path, std::size_t layer, std::size_t fan_in,
              const Activation& activation, ModelSpec& spec) {
    if (!json.is_object()) fail(source_, path, "expected an object, got " + describe(json));
    if (activation.has_parameter()) {
      only_keys(json, path, {"weights", "bias", "slope"});
    } else {
      only_keys(json, path, {"weights", "bias"});
    }
    const Json& weights = field(json, path, "weights");
    const std::string weights_path = path + ".weights";
    if (!weights.is_array()) fail(source_, weights_path, "expected an array, got " + describe(weights));
    if (weights.size() != fan_in) {
      fail(source_, weights_path,
           "has " + std::to_string(weights.size()) + " weights, but the neurons of " + element("layers", layer) +
               " have " + std::to_string(fan_in) + " inputs (" +
               (layer == 0 ? std::string("nin") : "the size of " + element("layers", layer - 1)) + ")");
    }
    for (std::size_t k = 0; k < fan_in; ++k) {
      spec.parameters.push_back(number(weights[k], element(weights_path, k)));
    }
    spec.parameters.push_back(number(field(json, path, "bias"), path + ".bias"));
    if (activation.has_parameter()) {
      spec.parameters.push_back(number(field(json, path, "slope"), path + ".slope"));
    }
  }

  const Json& field(const Json& object, const std::string& path, const char* key) const {
    const auto it = object.find(key);
    if (it == object.end()) {
      fail(source_, member(path, key), "missing field");
    }
    return *it;
  }

  void only_keys(const Json& object, const std::string& path, std::initializer_list<std::string_view> keys) const {
    for (const auto& item : object.items()) {
      bool known = false;
      for (const std::string_view key : keys) known = known || item.key() == key;
      if (!known) {
        std::string valid;
        for (const std::string_view key : keys) valid += (valid.empty() ? "" : ", ") + std::string(key);
        fail(source_, member(path, item.key()), "unknown field (valid here: " + valid + ")");
      }
    }
  }

  // A count of at least 1 (nin, a layer's size).
  std::size_t size(const Json& json, const std::string& path) const {
    if (!json.is_number_integer()) fail(source_, path, "expected a positive integer, got " + describe(json));
    if (!json.is_number_unsigned() || json.get<std::uint64_t>() == 0) {
      fail(source_, path, "expected a positive integer, got " + json.dump());
    }
    const auto value = json.get<std::uint64_t>();
    if constexpr (sizeof(std::size_t) < sizeof(std::uint64_t)) {
      if (value > std::numeric_limits<std::size_t>::max()) fail(source_, path, "too large: " + json.dump());
    }
    return static_cast<std::size_t>(value);
  }

  // A finite double (JSON has no NaN or infinity; the parser rejects numbers beyond double).
  double number(const Json& json, const std::string& path) const {
    if (!json.is_number()) {
      fail(source_, path, "expected a finite number, got " + describe(json));
    }
    const auto value = json.get<double>();
    if (!std::isfinite(value)) fail(source_, path, "expected a finite number, got " + json.dump());
    return value;
  }

  std::string_view source_;
};

// ---- 3. Building ----------------------------------------------------------------------------

MLP build(const ModelSpec& spec) {
  MLP model(spec.nin, spec.sizes, spec.activations);
  const std::vector<Parameter*> params = model.parameters();
  if (params.size() != spec.parameters.size()) {  // the validator counts as MLP does: a bug if not
    throw Error("scalargrad::nn: internal error: the model file has " + std::to_string(spec.parameters.size()) +
                " parameters, the MLP " + std::to_string(params.size()));
  }
  for (std::size_t i = 0; i < params.size(); ++i) params[i]->data = spec.parameters[i];
  return model;
}

// ---- 4. Files -------------------------------------------------------------------------------

/// Throws Error "<context>: <where> is nan (...)" if a parameter is NaN or infinite: JSON cannot
/// hold it (nlohmann would write null, and the file would not load).
void check_finite(double x, std::size_t layer, std::size_t neuron, std::string_view field, std::string_view context) {
  if (std::isfinite(x)) return;
  throw Error(std::string(context) + ": " + element(element("layers", layer) + ".neurons", neuron) + "." +
              std::string(field) + " is " + format_number(x) + " (JSON has no NaN or infinity)");
}

/// to_json(), whose errors start with `context` (to_json()'s own, or save_model()'s naming the file).
std::string model_json(const MLP& model, std::string_view context) {
  if (model.layers().empty()) {  // a moved-from MLP: its file would not load
    throw Error(std::string(context) + ": it has no layers (it was moved from)");
  }
  OrderedJson layers = OrderedJson::array();
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const Layer& layer = model.layers()[i];
    OrderedJson neurons = OrderedJson::array();
    for (std::size_t j = 0; j < layer.neurons().size(); ++j) {
      const Neuron& neuron = layer.neurons()[j];
      OrderedJson weights = OrderedJson::array();
      for (std::size_t k = 0; k < neuron.weights().size(); ++k) {
        const double w = neuron.weights()[k].data;
        check_finite(w, i, j, element("weights", k), context);
        weights.push_back(w);
      }
      check_finite(neuron.bias().data, i, j, "bias", context);
      OrderedJson item = {{"weights", std::move(weights)}, {"bias", neuron.bias().data}};
      if (neuron.activation().has_parameter()) {
        check_finite(neuron.slope().data, i, j, "slope", context);
        item["slope"] = neuron.slope().data;
      }
      neurons.push_back(std::move(item));
    }
    layers.push_back(
        {{"size", layer.nout()}, {"activation", layer.activation().name()}, {"neurons", std::move(neurons)}});
  }
  const OrderedJson root = {
      {"format", kFormat}, {"version", kVersion}, {"nin", model.nin()}, {"layers", std::move(layers)}};
  // nlohmann writes each double with the fewest digits that read back to the same bits.
  return root.dump(2) + "\n";
}

}  // namespace

std::string to_json(const MLP& model) { return model_json(model, "scalargrad::nn: cannot write the model"); }

MLP from_json(std::string_view text, std::string_view source) {
  const Json root = parse(text, source);
  return build(Validator(source).model(root));
}

void save_model(const MLP& model, const std::filesystem::path& path) {
  const std::string context = "scalargrad::nn: cannot save model to " + quoted(path);
  scalargrad::replace_file(path, model_json(model, context), context);  // a NaN weight names the file too
}

MLP load_model(const std::filesystem::path& path) {
  return from_json(detail::read_file(path, "model file "), path.string());
}

void load_weights(MLP& model, const std::filesystem::path& path) {
  const std::string source = path.string();
  const MLP loaded = from_json(detail::read_file(path, "model file "), source);

  // The architecture must be the model's: name the first difference.
  const auto mismatch = [&](const std::string& what) {
    throw Error("scalargrad::nn: " + source + ": the file's architecture differs from the model's: " + what);
  };
  if (loaded.nin() != model.nin()) {
    mismatch("nin is " + std::to_string(loaded.nin()) + " in the file, " + std::to_string(model.nin()) +
             " in the model");
  }
  if (loaded.layers().size() != model.layers().size()) {
    mismatch(std::to_string(loaded.layers().size()) + " layers in the file, " +
             std::to_string(model.layers().size()) + " in the model");
  }
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const Layer& file_layer = loaded.layers()[i];
    const Layer& model_layer = model.layers()[i];
    if (file_layer.nout() != model_layer.nout()) {
      mismatch(element("layers", i) + " has " + std::to_string(file_layer.nout()) + " neurons in the file, " +
               std::to_string(model_layer.nout()) + " in the model");
    }
    if (!(file_layer.activation() == model_layer.activation())) {
      mismatch(element("layers", i) + " has activation '" + file_layer.activation().name() +
               "' in the file, '" + model_layer.activation().name() + "' in the model");
    }
  }

  // Nothing can fail from here on.
  const std::vector<const Parameter*> from = loaded.parameters();
  const std::vector<Parameter*> to = model.parameters();
  for (std::size_t i = 0; i < to.size(); ++i) to[i]->data = from[i]->data;
}

}  // namespace scalargrad::nn
