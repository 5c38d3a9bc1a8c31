// Losses and metrics over a batch of model outputs.
#pragma once

#include <span>

#include <scalargrad/nn/module.hpp>
#include <scalargrad/value.hpp>

namespace scalargrad::nn {

// Each loss and accuracy() throws Error if there are not as many labels as outputs, or none;
// the losses with labels in a fixed set also if a label is outside it (naming its index).

/// micrograd's max-margin loss: mean over i of relu(1 - y_i s_i), labels y_i in {-1, +1}.
Value hinge_loss(std::span<const Value> scores, std::span<const double> labels);
/// mean over i of (p_i - t_i)^2. Throws Error naming the first target that is not finite.
Value mse_loss(std::span<const Value> predictions, std::span<const double> targets);
/// Binary cross-entropy on logits z_i with labels y_i in {0, 1}: mean of
/// softplus(z) - y z = -[y log s(z) + (1 - y) log(1 - s(z))], stable for any |z|.
Value bce_with_logits_loss(std::span<const Value> logits, std::span<const double> labels);
/// alpha * sum of p^2 over the model's parameters (micrograd's "reg_loss" with alpha = 1e-4):
/// alpha times one dot node of the parameters with themselves, in parameters() order (through
/// the module's LeafBlock if it keeps one: Module::parameter_block()). Throws Error unless
/// alpha >= 0 and finite.
Value l2_penalty(const Module& model, double alpha);
/// Fraction of i with (s_i > 0) == (y_i > 0): for ±1 labels with scores, and for 0/1 labels
/// with logits. A NaN score counts as wrong. Throws Error naming the first label that is not
/// -1, 0 or 1.
double accuracy(std::span<const Value> scores, std::span<const double> labels);

}  // namespace scalargrad::nn
