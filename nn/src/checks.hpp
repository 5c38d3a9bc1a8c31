// Argument checks shared by nn's sources (private: not installed).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <scalargrad/error.hpp>

namespace scalargrad::nn::detail {

/// Throws Error unless `v` can hold `n` elements: "scalargrad::nn: <what> <n> <items>, more than
/// the <max_size()> a vector can hold". reserve() of more throws std::length_error, whose
/// message ("vector::reserve") names neither the call nor the number. Counts that fit but need
/// more memory than there is still end in std::bad_alloc, as any allocation does.
template <typename T>
void check_vector_size(const std::vector<T>& v, std::size_t n, std::string_view what, std::string_view items) {
  if (n > v.max_size()) {
    throw Error("scalargrad::nn: " + std::string(what) + " " + std::to_string(n) + " " + std::string(items) +
                ", more than the " + std::to_string(v.max_size()) + " a vector can hold");
  }
}

/// Throws Error unless an MLP has layers: only a moved-from MLP has none.
inline void check_has_layers(std::size_t layers) {
  if (layers == 0) {
    throw Error("scalargrad::nn: this MLP was moved from and has no layers; assign a model to it before using it");
  }
}

}  // namespace scalargrad::nn::detail
