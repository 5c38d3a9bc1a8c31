#include <scalargrad/nn/loss.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <scalargrad/error.hpp>

#include "format.hpp"

namespace scalargrad::nn {

namespace {

using detail::format_number;

// A batch needs one label per output, and at least one of each.
void check_batch(std::string_view who, std::string_view outputs, std::size_t n_outputs, std::size_t n_labels) {
  if (n_outputs != n_labels || n_outputs == 0) {
    throw Error("scalargrad::nn: " + std::string(who) + " needs as many labels as " + std::string(outputs) +
                " and at least one of each, got " + std::to_string(n_outputs) + " " + std::string(outputs) +
                " and " + std::to_string(n_labels) + " labels");
  }
}

void check_label(std::string_view who, std::size_t index, double label, double a, double b) {
  if (label != a && label != b) {
    throw Error("scalargrad::nn: " + std::string(who) + ": label " + std::to_string(index) + " is " +
                format_number(label) + "; labels must be " + format_number(a) + " or " + format_number(b));
  }
}

// The mean of per-point terms: one fused sum node, then micrograd's `* (1.0 / n)` (which keeps
// results bit-identical to micrograd's demo).
Value mean(const std::vector<Value>& terms) {
  return sum(terms) * (1.0 / static_cast<double>(terms.size()));
}

}  // namespace

Value hinge_loss(std::span<const Value> scores, std::span<const double> labels) {
  check_batch("hinge_loss", "scores", scores.size(), labels.size());
  std::vector<Value> terms;
  terms.reserve(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) {
    check_label("hinge_loss", i, labels[i], -1.0, 1.0);
    terms.push_back(relu(1.0 - labels[i] * scores[i]));  // micrograd: (1 + -yi*scorei).relu()
  }
  return mean(terms);
}

Value mse_loss(std::span<const Value> predictions, std::span<const double> targets) {
  check_batch("mse_loss", "predictions", predictions.size(), targets.size());
  std::vector<Value> terms;
  terms.reserve(predictions.size());
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    if (!std::isfinite(targets[i])) {
      throw Error("scalargrad::nn: mse_loss: target " + std::to_string(i) + " is " + format_number(targets[i]) +
                  "; targets must be finite");
    }
    const Value error = predictions[i] - targets[i];
    terms.push_back(error * error);  // one variable used twice: d/dp = 2 (p - t)
  }
  return mean(terms);
}

Value bce_with_logits_loss(std::span<const Value> logits, std::span<const double> labels) {
  check_batch("bce_with_logits_loss", "logits", logits.size(), labels.size());
  std::vector<Value> terms;
  terms.reserve(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    check_label("bce_with_logits_loss", i, labels[i], 0.0, 1.0);
    // -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z; softplus is stable for any z,
    // where log(sigmoid(z)) would give -inf once sigmoid(z) rounds to 0. d/dz = s(z) - y.
    const Value& z = logits[i];
    terms.push_back(labels[i] == 1.0 ? softplus(z) - z : softplus(z));
  }
  return mean(terms);
}

Value l2_penalty(const Module& model, double alpha) {
  if (!(alpha >= 0.0) || !std::isfinite(alpha)) {
    throw Error("scalargrad::nn: l2_penalty: alpha must be >= 0 and finite, got " + format_number(alpha));
  }
  // One dot node of every parameter with itself, in parameters() order: d/dp = 2 alpha p (dot
  // adds both partials). Through the module's LeafBlock when it keeps one: the same node, with
  // the same value to the bit (Module::parameter_block()).
  if (const LeafBlock* block = model.parameter_block()) return alpha * dot(*block, block->values());
  const std::vector<Value> leaves = model.parameter_leaves();
  return alpha * dot(leaves, leaves);
}

double accuracy(std::span<const Value> scores, std::span<const double> labels) {
  check_batch("accuracy", "scores", scores.size(), labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != -1.0 && labels[i] != 0.0 && labels[i] != 1.0) {
      throw Error("scalargrad::nn: accuracy: label " + std::to_string(i) + " is " + format_number(labels[i]) +
                  "; labels must be -1 or 1 (with scores), or 0 or 1 (with logits)");
    }
  }
  std::size_t correct = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    // A NaN score is on neither side: wrong whatever the label (a diverged model scores 0).
    const double s = scores[i].data();
    if (!std::isnan(s) && (s > 0.0) == (labels[i] > 0.0)) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(scores.size());
}

}  // namespace scalargrad::nn
