#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace scalargrad {

/// Thrown for every misuse of the library; the message says what was wrong and what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown under AnomalyGuard by the first op whose value, or whose gradient flowing back to an
/// operand, is NaN or infinite; the message names the op and its operands' values and labels.
/// Also thrown when the gradients a value's uses pass back add up to a non-finite one where no
/// op checks the sum (a leaf, or a value used again in a later tape segment: after a
/// backward(), or after 2^20 more nodes); the message names the value and the two numbers.
class AnomalyError : public Error {
 public:
  AnomalyError(const std::string& message, std::string op) : Error(message), op_(std::move(op)) {}
  /// The op's name, as Value::op() gives it: "log", "/", "dot", ...; when the gradients that a
  /// value's uses pass back add up to a non-finite one, that value's op ("" for a leaf).
  [[nodiscard]] const std::string& op() const { return op_; }

 private:
  std::string op_;
};

}  // namespace scalargrad
