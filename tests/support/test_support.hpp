// Helpers shared by the test suites (tests/<suite>/*_test.cpp include it as
// "support/test_support.hpp").
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <scalargrad/error.hpp>
#include <scalargrad/value.hpp>  // with detail/tape.hpp, which the white-box helpers read

namespace scalargrad::testing_support {

/// The bits of x: compares doubles exactly (-0.0 is not 0.0; a NaN equals itself).
inline std::uint64_t Bits(double x) { return std::bit_cast<std::uint64_t>(x); }

/// The two doubles an external leaf mirrors (Value::external), as an nn::Parameter's.
struct Owner {
  double data;
  double grad;
};

/// The message of the scalargrad::Error that `f` throws, or a note saying what happened instead.
inline std::string ErrorMessage(const std::function<void()>& f) {
  try {
    f();
  } catch (const scalargrad::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not scalargrad::Error: ") + e.what() + ">";
  } catch (...) {
    return "<not a std::exception>";
  }
  return "<no exception>";
}

/// The label of each Value, in order.
inline std::vector<std::string> Labels(const std::vector<Value>& values) {
  std::vector<std::string> labels;
  for (const Value& v : values) labels.push_back(v.label());
  return labels;
}

/// n leaves with values drawn from [-2, 2).
inline std::vector<Value> RandomLeaves(std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(-2.0, 2.0);
  std::vector<Value> leaves;
  for (std::size_t i = 0; i < n; ++i) leaves.emplace_back(uniform(rng));
  return leaves;
}

/// m LeafBlocks of n random leaves each; `weights` receives the leaves, row by row.
inline std::vector<LeafBlock> RandomBlocks(std::size_t m, std::size_t n, std::mt19937_64& rng,
                                           std::vector<std::vector<Value>>& weights) {
  std::vector<LeafBlock> blocks;
  for (std::size_t j = 0; j < m; ++j) {
    weights.push_back(RandomLeaves(n, rng));
    blocks.emplace_back(weights.back());
  }
  return blocks;
}

/// sum_j (1 + j) outputs[j]: a root through which every output gets its own weight, so that a
/// gradient that reached the wrong output shows.
inline Value WeightedSum(const std::vector<Value>& outputs) {
  Value total = 0.0;
  for (std::size_t j = 0; j < outputs.size(); ++j) total = total + outputs[j] * (1.0 + static_cast<double>(j));
  return total;
}

/// tanh(v / 2) of each of `leaves`, recorded one after the other: the leaves enter the segment
/// (and are halved) first, so that no Import node falls between two tanh nodes: inputs that
/// are a run of consecutive nodes, as a layer's activations are (Note [Range dot]).
inline std::vector<Value> ConsecutiveNodes(const std::vector<Value>& leaves) {
  std::vector<Value> nodes;
  for (const Value& v : leaves) nodes.push_back(v * 0.5);
  for (Value& v : nodes) v = v.tanh();
  return nodes;
}

/// The op code of the node this thread's open segment recorded last (white box: whether a dot
/// or an affine node was recorded as a range, Note [Range dot] in scalargrad/detail/tape.hpp).
inline detail::Op LastOp() {
  const detail::Segment& s = *detail::tls_tape->open;
  return s.nodes.op[s.size - 1];
}

/// Entries in the open segment's operand list (white box).
inline std::size_t ListSize() { return detail::tls_tape->open->operand_list.size(); }

/// Runs `body` on a new thread, whose tape starts empty, so that tape_stats() counts only what
/// `body` made; rethrows what it throws. GoogleTest's EXPECT_* are thread-safe on this
/// platform; an ASSERT_* ends `body`.
inline void OnFreshTape(const std::function<void()>& body) {
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      body();
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace scalargrad::testing_support
