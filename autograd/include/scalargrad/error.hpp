#pragma once

#include <stdexcept>

namespace scalargrad {

/// Thrown for every misuse of the library; the message says what was wrong and what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace scalargrad
