// Optimizers: SGD (momentum, weight decay) and Adam, and micrograd's learning-rate schedule.
#pragma once

#include <cstddef>
#include <vector>

#include <scalargrad/nn/parameter.hpp>

namespace scalargrad::nn {

/// Updates parameters from their grad. The parameters must outlive the optimizer.
/// Every constructor throws Error, naming the argument and its value, for a learning rate that
/// is not > 0 and finite, a null parameter, or a parameter listed more than once.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// One update of every parameter's data from its grad.
  virtual void step() = 0;
  /// Sets every parameter's grad to 0.
  void zero_grad();
  [[nodiscard]] double learning_rate() const { return learning_rate_; }
  /// Throws Error unless rate > 0 and finite.
  void set_learning_rate(double rate);
  [[nodiscard]] const std::vector<Parameter*>& parameters() const { return parameters_; }

 protected:
  Optimizer(std::vector<Parameter*> parameters, double learning_rate);
  std::vector<Parameter*> parameters_;
  double learning_rate_;
};

/// Stochastic gradient descent: v = momentum v + (grad + weight_decay data);
/// data -= learning_rate v. With momentum 0 and no decay: micrograd's `p.data -= lr * p.grad`.
/// Throws Error unless momentum is in [0, 1) and weight_decay >= 0 and finite.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Parameter*> parameters, double learning_rate, double momentum = 0.0,
      double weight_decay = 0.0);
  void step() override;

 private:
  double momentum_;
  double weight_decay_;
  std::vector<double> velocity_;  // per parameter
};

/// Adam (Kingma & Ba, 2015), with bias correction; weight decay added to the gradient.
/// Throws Error unless beta1 and beta2 are in [0, 1), epsilon > 0 and finite, and weight_decay
/// >= 0 and finite.
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Parameter*> parameters, double learning_rate = 1e-3, double beta1 = 0.9,
                double beta2 = 0.999, double epsilon = 1e-8, double weight_decay = 0.0);
  void step() override;

 private:
  double beta1_, beta2_, epsilon_, weight_decay_;
  std::size_t steps_ = 0;
  std::vector<double> m_;  // first moment per parameter
  std::vector<double> v_;  // second moment per parameter
};

/// micrograd's schedule: start - (start - end) * step / steps (1.0 - 0.9 * k / 100 by default),
/// and the rate of step `steps` (`end`, up to rounding) for any later step: training past the
/// schedule keeps its last rate, as with PyTorch's LinearLR, instead of going on down to
/// negative rates. Throws Error if steps is 0 or if start or end is not finite.
double linear_decay(std::size_t step, std::size_t steps, double start = 1.0, double end = 0.1);

}  // namespace scalargrad::nn
