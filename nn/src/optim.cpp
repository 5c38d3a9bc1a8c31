#include <scalargrad/nn/optim.hpp>

#include <algorithm>
#include <charconv>
#include <functional>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include <scalargrad/error.hpp>

#include "format.hpp"

namespace scalargrad::nn {

namespace {

using detail::format_number;

[[noreturn]] void bad_argument(std::string_view who, std::string_view name, std::string_view must, double got) {
  throw Error("scalargrad::nn: " + std::string(who) + ": " + std::string(name) + " must be " + std::string(must) +
              ", got " + format_number(got));
}

void check_learning_rate(std::string_view who, double rate) {
  if (!(rate > 0.0) || !std::isfinite(rate)) bad_argument(who, "learning_rate", "> 0 and finite", rate);
}

// A rate of decay of a running average: in [0, 1).
void check_beta(std::string_view who, std::string_view name, double beta) {
  if (!(beta >= 0.0 && beta < 1.0)) bad_argument(who, name, "in [0, 1)", beta);
}

void check_weight_decay(std::string_view who, double weight_decay) {
  if (!(weight_decay >= 0.0) || !std::isfinite(weight_decay)) {
    bad_argument(who, "weight_decay", ">= 0 and finite", weight_decay);
  }
}

}  // namespace

// ---- Optimizer ------------------------------------------------------------------------------------
Optimizer::Optimizer(std::vector<Parameter*> parameters, double learning_rate)
    : parameters_(std::move(parameters)), learning_rate_(learning_rate) {
  check_learning_rate("optimizer", learning_rate);
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (parameters_[i] == nullptr) {
      throw Error("scalargrad::nn: optimizer: parameter " + std::to_string(i) + " of " +
                  std::to_string(parameters_.size()) + " is a null pointer");
    }
  }
  // A parameter listed twice would be updated twice per step (a model's parameters() appended
  // to itself, or two models sharing one): refuse rather than train it twice as fast.
  std::vector<const Parameter*> sorted(parameters_.begin(), parameters_.end());
  std::sort(sorted.begin(), sorted.end(), std::less<>());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw Error("scalargrad::nn: optimizer: a parameter is listed more than once; pass each "
                "parameter once");
  }
}

void Optimizer::zero_grad() {
  for (Parameter* p : parameters_) p->grad = 0.0;
}

void Optimizer::set_learning_rate(double rate) {
  check_learning_rate("set_learning_rate", rate);
  learning_rate_ = rate;
}

// ---- SGD ------------------------------------------------------------------------------------------
SGD::SGD(std::vector<Parameter*> parameters, double learning_rate, double momentum, double weight_decay)
    : Optimizer(std::move(parameters), learning_rate), momentum_(momentum), weight_decay_(weight_decay) {
  check_beta("SGD", "momentum", momentum);
  check_weight_decay("SGD", weight_decay);
  velocity_.assign(parameters_.size(), 0.0);
}

void SGD::step() {
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Parameter& p = *parameters_[i];
    double& v = velocity_[i];
    v = momentum_ * v + (p.grad + weight_decay_ * p.data);  // momentum 0, no decay: v = grad
    p.data -= learning_rate_ * v;
  }
}

// ---- Adam -----------------------------------------------------------------------------------------
Adam::Adam(std::vector<Parameter*> parameters, double learning_rate, double beta1, double beta2, double epsilon,
           double weight_decay)
    : Optimizer(std::move(parameters), learning_rate),
      beta1_(beta1),
      beta2_(beta2),
      epsilon_(epsilon),
      weight_decay_(weight_decay) {
  check_beta("Adam", "beta1", beta1);
  check_beta("Adam", "beta2", beta2);
  if (!(epsilon > 0.0) || !std::isfinite(epsilon)) bad_argument("Adam", "epsilon", "> 0 and finite", epsilon);
  check_weight_decay("Adam", weight_decay);
  m_.assign(parameters_.size(), 0.0);
  v_.assign(parameters_.size(), 0.0);
}

void Adam::step() {
  // Kingma & Ba (2015), Algorithm 1, with L2 weight decay added to the gradient.
  ++steps_;
  const double t = static_cast<double>(steps_);
  const double correction1 = 1.0 - std::pow(beta1_, t);  // m_t / (1 - beta1^t) is unbiased
  const double correction2 = 1.0 - std::pow(beta2_, t);
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Parameter& p = *parameters_[i];
    const double g = p.grad + weight_decay_ * p.data;
    m_[i] = beta1_ * m_[i] + (1.0 - beta1_) * g;
    v_[i] = beta2_ * v_[i] + (1.0 - beta2_) * g * g;
    const double m_hat = m_[i] / correction1;
    const double v_hat = v_[i] / correction2;
    p.data -= learning_rate_ * m_hat / (std::sqrt(v_hat) + epsilon_);
  }
}

// ---- Schedule -------------------------------------------------------------------------------------
double linear_decay(std::size_t step, std::size_t steps, double start, double end) {
  if (steps == 0) throw Error("scalargrad::nn: linear_decay: steps must be > 0, got 0");
  if (!std::isfinite(start)) bad_argument("linear_decay", "start", "finite", start);
  if (!std::isfinite(end)) bad_argument("linear_decay", "end", "finite", end);
  // Past the last step the rate stays at that of step `steps` (about `end`, as PyTorch's LinearLR
  // stays at its end) rather than going on down: 1.0 - 0.9 * 150 / 100 would be negative.
  step = std::min(step, steps);
  // Evaluated left to right as micrograd's `1.0 - 0.9*k/100`, so that the defaults agree bit for bit.
  const double rate = start - (start - end) * static_cast<double>(step) / static_cast<double>(steps);
  if (!std::isfinite(rate)) [[unlikely]] {
    // Ends near +-DBL_MAX, where start - end, or its product with step, overflows: the same
    // line, weighted (a mean of two finite numbers, so finite).
    const double fraction = static_cast<double>(step) / static_cast<double>(steps);
    return start * (1.0 - fraction) + end * fraction;
  }
  return rate;
}

}  // namespace scalargrad::nn
