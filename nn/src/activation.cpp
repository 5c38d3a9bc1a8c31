#include <scalargrad/nn/activation.hpp>

#include <charconv>
#include <cmath>
#include <string>

#include <scalargrad/error.hpp>

#include "format.hpp"

namespace scalargrad::nn {

namespace {

using detail::format_number;

struct Entry {
  std::string_view name;     // parse() name
  std::string_view display;  // micrograd-style repr name
  Activation::Kind kind;
  bool takes_parameter;
};

constexpr Entry kEntries[] = {
    {"linear", "Linear", Activation::Kind::Linear, false},
    {"relu", "ReLU", Activation::Kind::ReLU, false},
    {"leaky_relu", "LeakyReLU", Activation::Kind::LeakyReLU, true},
    {"prelu", "PReLU", Activation::Kind::PReLU, true},
    {"tanh", "Tanh", Activation::Kind::Tanh, false},
    {"sigmoid", "Sigmoid", Activation::Kind::Sigmoid, false},
    {"elu", "ELU", Activation::Kind::ELU, true},
    {"gelu", "GELU", Activation::Kind::GELU, false},
    {"silu", "SiLU", Activation::Kind::SiLU, false},
    {"softplus", "Softplus", Activation::Kind::Softplus, false},
};

const Entry& entry_of(Activation::Kind kind) {
  for (const Entry& e : kEntries) {
    if (e.kind == kind) return e;
  }
  return kEntries[0];
}

std::string all_names() {
  std::string names;
  for (const Entry& e : kEntries) {
    if (!names.empty()) names += ", ";
    names += e.name;
  }
  return names;
}

}  // namespace

Activation::Activation(Kind kind, double parameter) : kind_(kind), parameter_(parameter) {
  if (!std::isfinite(parameter)) {
    const Entry& e = entry_of(kind);
    const std::string_view what = kind == Kind::ELU ? "alpha" : kind == Kind::PReLU ? "initial slope" : "slope";
    throw Error("scalargrad::nn: " + std::string(e.name) + "'s " + std::string(what) + " must be a finite number, got " +
                format_number(parameter));
  }
}

Activation Activation::parse(std::string_view text) {
  const std::size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  for (const Entry& e : kEntries) {
    if (e.name != name) continue;
    Activation result = [&] {
      switch (e.kind) {
        case Kind::LeakyReLU: return leaky_relu();
        case Kind::PReLU: return prelu();
        case Kind::ELU: return elu();
        default: return Activation(e.kind, 0.0);
      }
    }();
    if (colon == std::string_view::npos) return result;
    const std::string_view number = text.substr(colon + 1);
    if (!e.takes_parameter) {
      throw Error("scalargrad::nn: activation '" + std::string(name) + "' takes no parameter, got '" +
                  std::string(text) + "'");
    }
    double value = 0.0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (error == std::errc::result_out_of_range && end == number.data() + number.size()) {
      throw Error("scalargrad::nn: activation '" + std::string(text) + "': '" + std::string(number) +
                  "' is out of the range of a double (magnitude above 1.8e308 or below 4.9e-324)");
    }
    if (error != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) {
      throw Error("scalargrad::nn: activation '" + std::string(text) + "': '" + std::string(number) +
                  "' is not a finite number");
    }
    result.parameter_ = value;
    return result;
  }
  throw Error("scalargrad::nn: unknown activation '" + std::string(text) + "'; valid: " + all_names() +
              " (leaky_relu, prelu and elu take an optional ':number')");
}

std::vector<std::string_view> Activation::names() {
  std::vector<std::string_view> names;
  for (const Entry& e : kEntries) names.push_back(e.name);
  return names;
}

std::string Activation::name() const {
  const Entry& e = entry_of(kind_);
  std::string name(e.name);
  if (e.takes_parameter) {
    name += ':';
    name += format_number(parameter_);
  }
  return name;
}

std::string_view Activation::display_name() const { return entry_of(kind_).display; }

Value Activation::operator()(const Value& x, const Value* slope) const {
  if (kind_ == Kind::PReLU && slope != nullptr) {
    // x for x > 0, a x otherwise: the branch taken by x's value, as the graph is recorded while
    // it runs. d/dx = 1 or a, d/da = 0 or x. (A formula without a branch, relu(x) + a (x -
    // relu(x)), gave NaN for x = +inf: inf - inf.)
    return x.data() > 0.0 ? x : *slope * x;
  }
  Value y = x;
  apply(std::span<Value>(&y, 1));
  return y;
}

void Activation::apply(std::span<Value> xs) const {
  // The engine's in-place forms: a layer's activations recorded one after the other, faster
  // than a loop of x = f(x) (Note [In place over a span] in the engine's value.cpp).
  const double c = parameter_;
  switch (kind_) {
    case Kind::Linear: return;
    case Kind::ReLU: return relu_(xs);
    case Kind::LeakyReLU:
    case Kind::PReLU: return leaky_relu_(xs, c);
    case Kind::Tanh: return tanh_(xs);
    case Kind::Sigmoid: return sigmoid_(xs);
    case Kind::ELU: return elu_(xs, c);
    case Kind::GELU: return gelu_(xs);
    case Kind::SiLU: return silu_(xs);
    case Kind::Softplus: return softplus_(xs);
  }
}

}  // namespace scalargrad::nn
