#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace scalargrad {

/// Thrown for every misuse of the library; the message says what was wrong and what to do.
class Error : public std::runtime_error {
 public:
  /// The message, each NUL byte in it written as the two characters "\0": what() is a C string,
  /// which would end at the first (a CSV field, a JSON key or a name quoted from a user's input).
  explicit Error(const std::string& message) : std::runtime_error(without_nul(message)) {}
  explicit Error(const char* message) : std::runtime_error(message) {}

 private:
  static std::string without_nul(std::string message) {
    for (std::size_t i = message.find('\0'); i != std::string::npos; i = message.find('\0', i + 2)) {
      message.replace(i, 1, "\\0");
    }
    return message;
  }
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
