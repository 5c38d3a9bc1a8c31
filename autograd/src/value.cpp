// Value's out-of-line members, n-ary ops, the graph walk and the guards.
#include <algorithm>
#include <bit>
#include <ostream>
#include <string>
#include <cstdint>
#include <type_traits>
#include <limits>
#include <unordered_map>
#include <utility>

#include "scalargrad/value.hpp"
#include "text.hpp"

namespace scalargrad {

namespace detail {

Tape& Tape::checked(const Value& v) {
  if (v.owner() == kNoOwner) throw_moved_from();
  Tape* t = tls_tape;
  if (t == nullptr || t->id != v.tape()) throw_other_thread();
  return *t;
}

void Tape::retain_slow(const Value& v) {
  Tape* t = tls_tape;
  if (t == nullptr || t->id != v.tape()) throw_other_thread();
  if (v.owner() == kLeafOwner) {
    ++t->leaf_refs[v.ref_];
  } else {
    ++t->handles_of(v.owner());
  }
}

void Tape::release_slow(const Value& v) noexcept {
  Tape* t = tls_tape;
  // On another thread (misuse) or after this thread's tape is gone: touch nothing. The
  // segment is then never recycled, which is safe.
  if (t == nullptr || t->id != v.tape()) return;
  if (v.owner() == kLeafOwner) {
    if (--t->leaf_refs[v.ref_] == 0) t->leaf_unreferenced(v.ref_);
  } else {
    if (--t->handles_of(v.owner()) == 0) t->segment_unreferenced(v.owner());
  }
}

Value Tape::handle_to(std::uint32_t slot, std::uint32_t offset) {
  for (;;) {
    const Segment& s = segments[slot];
    const Op op = s.nodes.op[offset];
    if (op == Op::Import || op == Op::ImportExternal) {
      const std::uint32_t a = s.nodes.a[offset];
      const std::uint32_t leaf = op == Op::Import ? a : externals[a].leaf;
      ++leaf_refs[leaf];
      return Value(Value::Adopt{}, leaf, leaf_key(), 0.0);
    }
    if (op != Op::ImportSegment) break;
    const SegmentRef r = s.imports[s.nodes.a[offset]];
    slot = r.segment;
    offset = r.offset;
  }
  ++handles_of(slot);
  return Value(Value::Adopt{}, offset, handle_key(slot, id), segments[slot].nodes.value[offset]);
}

std::vector<Value> Tape::operands_of(std::uint32_t slot, std::uint32_t offset) {
  // (Handles never point at import nodes: handle_to() resolves them.)
  std::vector<Value> result;
  for_each_operand(segments[slot], offset, [&](std::uint32_t k) { result.push_back(handle_to(slot, k)); });
  return result;
}

Value Tape::record_sum(std::span<const Value> xs) {
  if (xs.empty()) return Value(0.0);
  if (xs.size() > kMaxNaryOperands) {
    // One node has at most kMaxNaryOperands operands: sum blocks, then the block sums.
    std::vector<Value> partial;
    for (std::size_t i = 0; i < xs.size(); i += kMaxNaryOperands) {
      partial.push_back(record_sum(xs.subspan(i, std::min(kMaxNaryOperands, xs.size() - i))));
    }
    return record_sum(partial);
  }
  if (!plain) {  // NoGradGuard or AnomalyGuard
    double total = 0.0;
    for (const Value& x : xs) total += x.data();
    if (anomaly) check_value(Op::Sum, total, xs, nullptr);
    if (!grad_enabled) return Value(total);
  }
  const auto n = static_cast<std::uint32_t>(xs.size());
  ensure_room(n + 1);
  UninitBuffer<std::uint32_t>& list = open->operand_list;
  const auto start = static_cast<std::uint32_t>(list.size());
  std::uint32_t* const out = list.extend(n);
  const OperandResolver resolve(*this);
  double total = 0.0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t k = resolve(xs[i]);
    out[i] = k;
    total += resolve.values[k];
  }
  return emit(Op::Sum, start, n, total);
}

Value Tape::record_dot(std::span<const Value> x, std::span<const Value> y, const Value* bias) {
  if (x.size() != y.size()) {
    throw Error(std::string(bias == nullptr ? "scalargrad: dot() needs two spans of the same length, got "
                                            : "scalargrad: affine() needs as many weights as inputs, got ") +
                std::to_string(x.size()) + " and " + std::to_string(y.size()));
  }
  if (bias != nullptr) checked(*bias);  // a moved-from or another thread's bias throws here
  if (x.empty() && bias == nullptr) return Value(0.0);
  if (x.size() > kMaxNaryOperands) {
    std::vector<Value> partial;
    for (std::size_t i = 0; i < x.size(); i += kMaxNaryOperands) {
      const std::size_t len = std::min(kMaxNaryOperands, x.size() - i);
      partial.push_back(record_dot(x.subspan(i, len), y.subspan(i, len)));
    }
    return bias == nullptr ? record_sum(partial) : record_sum(partial) + *bias;
  }
  const Op op = bias == nullptr ? Op::Dot : Op::Affine;
  if (!plain) {  // NoGradGuard or AnomalyGuard
    double total = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) total += x[i].data() * y[i].data();
    if (bias != nullptr) total += bias->data();
    if (anomaly) {
      std::vector<Value> operands(x.begin(), x.end());
      operands.insert(operands.end(), y.begin(), y.end());
      if (bias != nullptr) operands.push_back(*bias);
      check_value(op, total, operands, nullptr);
    }
    if (!grad_enabled) return Value(total);
  }
  const auto n = static_cast<std::uint32_t>(x.size());
  const std::uint32_t listed = 2 * n + (bias != nullptr ? 1 : 0);  // operand list entries
  ensure_room(listed + 1);
  UninitBuffer<std::uint32_t>& list = open->operand_list;
  const auto start = static_cast<std::uint32_t>(list.size());
  std::uint32_t* const px = list.extend(listed);
  std::uint32_t* const py = px + n;
  const OperandResolver resolve(*this);
  // x is a neuron's weights (leaves already imported into this segment), y its inputs (nodes
  // of this segment). One loop over both measured faster than one loop per span: 308 M against
  // 318 M instructions on the demo, and less time on W1.
  double total = 0.0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t p = resolve.leaf_first(x[i]);
    const std::uint32_t q = resolve(y[i]);
    px[i] = p;
    py[i] = q;
    total += resolve.values[p] * resolve.values[q];
  }
  if (bias != nullptr) {  // then the bias: the value of dot(x, y) + bias, to the bit
    const std::uint32_t k = resolve.leaf_first(*bias);
    py[n] = k;
    total += resolve.values[k];
  }
  return emit(op, start, n, total);
}

SCALARGRAD_ALWAYS_INLINE bool Tape::block_valid(const LeafBlock& w, const OperandResolver& resolve) const {
  // The cache holds if it was made in this segment of this thread's tape (the first leaf is
  // this thread's, checked below: all are, the constructor checked), no leaf got new data
  // since but through an external leaf's owner, and no owner's data changed: one load and
  // compare per leaf.
  if (w.leaves_.front().key() != resolve.leaf_key) [[unlikely]] {
    checked(w.leaves_.front());  // another thread's block: throws before touching its cache
  }
  bool valid = w.serial_ == resolve.serial && w.epoch_ == leaf_epoch;
  if (valid && w.external_) {
    const double* const* const sources = w.sources_.data();
    const double* const seen = w.seen_.data();
    const std::size_t n = w.leaves_.size();
    std::uint64_t changed = 0;
    for (std::size_t k = 0; k < n; ++k) {
      changed |= std::bit_cast<std::uint64_t>(*sources[k]) ^ std::bit_cast<std::uint64_t>(seen[k]);
    }
    valid = changed == 0;
  }
  return valid;
}

SCALARGRAD_ALWAYS_INLINE const double* Tape::block_nodes(const LeafBlock& w, const OperandResolver& resolve) {
  if (!block_valid(w, resolve)) [[unlikely]] refill_block(w, resolve);
  return w.seen_.data();
}

void Tape::refill_block(const LeafBlock& w, const OperandResolver& resolve) {
  const std::span<const Value> weights = w.values();
  const auto n = static_cast<std::uint32_t>(weights.size());
  w.serial_ = 0;  // until every entry is written (resolving may throw)
  w.offsets_.resize(n);
  w.seen_.resize(n);
  w.sources_.resize(n);
  w.external_ = false;
  Segment& s = *open;
  for (std::uint32_t k = 0; k < n; ++k) {
    // A leaf of this thread's tape, as all are: the constructor checked that they are its
    // thread's, block_nodes() that this is that thread and tape.
    const std::uint32_t leaf = weights[k].ref_;
    const std::uint32_t offset = import_leaf(s, leaf);  // imports it if needed
    const double* const owner = leaf_import[leaf].data;  // nullptr: plain leaf
    w.offsets_[k] = offset;
    w.seen_[k] = resolve.values[offset];
    w.sources_[k] = owner != nullptr ? owner : &w.seen_[k];
    w.external_ = w.external_ || owner != nullptr;
  }
  w.first_ = first_of_run(w.offsets_.data(), n);
  w.serial_ = resolve.serial;
  w.epoch_ = leaf_epoch;
}

SCALARGRAD_ALWAYS_INLINE void Tape::resolve_inputs(std::span<const Value> x, const OperandResolver& resolve) {
  input_offsets.clear();  // (left full by a call that threw)
  input_values.clear();
  std::uint32_t* const inputs = input_offsets.extend(x.size());
  double* const xv = input_values.extend(x.size());
  inputs_values_at = xv;
  if (x.empty()) {
    inputs_first = kNoRun;
    return;
  }
  // first_of_run(inputs, n), found in the same loop.
  const std::uint32_t first = resolve(x[0]);
  inputs[0] = first;
  xv[0] = resolve.values[first];
  std::uint32_t mismatch = 0;
  for (std::size_t i = 1; i < x.size(); ++i) {
    const std::uint32_t k = resolve(x[i]);
    inputs[i] = k;
    xv[i] = resolve.values[k];
    mismatch |= k ^ (first + static_cast<std::uint32_t>(i));
  }
  inputs_first = mismatch == 0 ? first : kNoRun;
}

SCALARGRAD_ALWAYS_INLINE std::uint32_t Tape::append_block_dot(const LeafBlock& w, const double* seen, bool affine) {
  const std::size_t n = input_offsets.size();
  const std::uint32_t* const inputs = input_offsets.data();
  const double* const xv = inputs_values_at;
  UninitBuffer<std::uint32_t>& list = open->operand_list;
  const auto start = static_cast<std::uint32_t>(list.size());
  double total = 0.0;  // in the order of record_dot(w.values(), x): the same bits
  if (w.first_ != kNoRun && inputs_first != kNoRun) {
    std::uint32_t* const first = list.extend(2);  // Note [Range dot]
    first[0] = w.first_;
    first[1] = inputs_first;
    total = dot_in_order(seen, xv, n);
    if (affine) total += seen[n];  // the bias, node w.first_ + n
    return append(affine ? Op::AffineRange : Op::DotRange, start, static_cast<std::uint32_t>(n), total);
  }
  std::uint32_t* const pw = list.extend(2 * n + (affine ? 1 : 0));
  const std::uint32_t* const offsets = w.offsets_.data();
  for (std::size_t i = 0; i < n; ++i) {
    total += seen[i] * xv[i];
    pw[i] = offsets[i];     // the node's operands: its weights,
    pw[n + i] = inputs[i];  // then the inputs (copied here: a memmove call costs more)
  }
  if (affine) {  // then the bias
    pw[2 * n] = offsets[n];
    total += seen[n];
  }
  return append(affine ? Op::Affine : Op::Dot, start, static_cast<std::uint32_t>(n), total);
}

Value Tape::record_dot(const LeafBlock& w, std::span<const Value> x, bool affine) {
  const std::span<const Value> leaves = w.values();
  if (affine && leaves.size() != x.size() + 1) {
    throw Error("scalargrad: affine() of a LeafBlock needs one leaf more than the inputs (the weights then the "
                "bias), but the block has " + detail::counted(leaves.size(), "leaf", "leaves") + " and " +
                detail::there_are(x.size(), "input", "inputs"));
  }
  if (leaves.size() != x.size() + (affine ? 1 : 0) || x.empty() || x.size() > kMaxNaryOperands || !plain) {
    // The span form's errors, modes and partial nodes.
    return affine ? record_dot(leaves.first(x.size()), x, &leaves.back()) : record_dot(leaves, x);
  }
  // May open a segment: the block's cache is checked against the open one.
  ensure_room(static_cast<std::uint32_t>(2 * x.size() + 2));
  const OperandResolver resolve(*this);
  resolve_inputs(x, resolve);
  const std::uint32_t n = append_block_dot(w, block_nodes(w, resolve), affine);
  return adopt(n, open->nodes.value[n]);
}

std::size_t batch_inputs(std::size_t inputs, std::size_t points, bool affine) {
  const char* const who = affine ? "scalargrad: affine() of a batch of " : "scalargrad: dot() of a batch of ";
  if (points == 0) {
    if (inputs == 0) return 0;
    throw Error(who + std::string("0 points takes no inputs, but there are ") + std::to_string(inputs));
  }
  if (inputs % points != 0) {
    throw Error(who + std::to_string(points) + " points needs as many inputs for each, but there are " +
                std::to_string(inputs) + " inputs in all");
  }
  return inputs / points;
}

std::size_t Tape::rows_room(std::size_t rows, std::size_t n, bool affine) {
  return rows * (n + (affine ? 2 : 1)) + n;
}

void Tape::check_rows(std::span<const LeafBlock> rows, std::size_t n, bool affine) {
  const std::size_t leaves = n + (affine ? 1 : 0);  // of each row
  for (std::size_t j = 0; j < rows.size(); ++j) {
    if (rows[j].size() != leaves) {
      throw Error(std::string(affine ? "scalargrad: affine() of LeafBlocks needs each block one leaf longer than "
                                       "the inputs (the weights then the bias), but block "
                                     : "scalargrad: dot() of LeafBlocks needs each block as long as the inputs, "
                                       "but block ") +
                  std::to_string(j) + " has " + detail::counted(rows[j].size(), "leaf", "leaves") + " and " +
                  detail::there_are(n, "input", "inputs"));
    }
  }
}

// Note [Rows of ranges]: a layer whose weights and inputs are all runs (the usual case: Note
// [Range dot]) appends one range node per row. Appending them one at a time through append()
// reloaded the segment's size and its five arrays after each node (a byte store, the op code,
// may alias anything); here they stay in registers, and the rows' operand entries are reserved
// at once. Same nodes, in the same order, with the same values: the demo's Engine::train() ran
// 100.1 M -> 90.8 M instructions (callgrind).
//
// Note [Layer by columns]: each row's sum is a chain of additions, one product after the other
// (dot_in_order()), and a row's chain cannot start before the last one's products are loaded.
// With the layer's weights laid out by input (column i: every row's weight i; then the biases),
// the sums of all rows grow together: sums[j] += column_i[j] * x[i] for i = 0, 1, ..., then
// sums[j] += bias[j]. Each row gets the same products, added in the same order from 0.0, so the
// same bits; the compiler may do two rows per instruction, and no chain waits on another.
// record_dense() lays the columns out once per layer (the rows do not change between points).
SCALARGRAD_ALWAYS_INLINE void layer_sums_by_columns(const double* SCALARGRAD_RESTRICT columns,
                                                    const double* SCALARGRAD_RESTRICT x, std::size_t n,
                                                    std::size_t rows, bool affine, double* SCALARGRAD_RESTRICT sums) {
  constexpr std::size_t kBlock = 8;  // rows summed together, in registers
  std::size_t j0 = 0;
  for (; j0 + kBlock <= rows; j0 += kBlock) {
    double acc[kBlock] = {};
    for (std::size_t i = 0; i < n; ++i) {
      const double xi = x[i];
      const double* const column = columns + i * rows + j0;
      for (std::size_t k = 0; k < kBlock; ++k) acc[k] += column[k] * xi;
    }
    if (affine) {
      const double* const bias = columns + n * rows + j0;
      for (std::size_t k = 0; k < kBlock; ++k) acc[k] += bias[k];
    }
    for (std::size_t k = 0; k < kBlock; ++k) sums[j0 + k] = acc[k];
  }
  for (std::size_t j = j0; j < rows; ++j) {
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) total += columns[i * rows + j] * x[i];
    if (affine) total += columns[n * rows + j];
    sums[j] = total;
  }
}

/// The m range nodes of a layer summed by columns (Note [Layer by columns]), written array by
/// array from `next` on (Note [Activations of a run]): out of line, where the caller's many
/// locals had the loop reload six of them from the stack for each node.
SCALARGRAD_NOINLINE void put_column_rows(const double* SCALARGRAD_RESTRICT sums,
                                         const std::uint32_t* SCALARGRAD_RESTRICT row_firsts,
                                         const NodeBuffers& buffers, std::uint32_t next,
                                         std::uint32_t* SCALARGRAD_RESTRICT firsts, std::uint32_t start,
                                         std::uint32_t first_input, std::uint32_t n, Op op, std::size_t m,
                                         std::uint32_t* SCALARGRAD_RESTRICT nodes) {
  double* SCALARGRAD_RESTRICT const value = buffers.value + next;
  double* SCALARGRAD_RESTRICT const grad = buffers.grad + next;
  std::uint32_t* SCALARGRAD_RESTRICT const a = buffers.a + next;
  std::uint32_t* SCALARGRAD_RESTRICT const b = buffers.b + next;
  Op* SCALARGRAD_RESTRICT const ops = buffers.op + next;
  for (std::size_t j = 0; j < m; ++j) {
    const auto k = static_cast<std::uint32_t>(j);
    value[j] = sums[j];
    grad[j] = 0.0;
    a[j] = start + 2 * k;
    b[j] = n;
    ops[j] = op;
    firsts[2 * j] = row_firsts[j];
    firsts[2 * j + 1] = first_input;
    nodes[j] = next + k;
  }
}

SCALARGRAD_ALWAYS_INLINE void Tape::append_range_rows(std::span<const LeafBlock> rows, std::size_t n, bool affine,
                                                      const double* columns, std::uint32_t* nodes) {
  const double* const xv = inputs_values_at;
  UninitBuffer<std::uint32_t>& list = open->operand_list;
  const auto start = static_cast<std::uint32_t>(list.size());
  std::uint32_t* const firsts = list.extend(2 * rows.size());
  const Op op = affine ? Op::AffineRange : Op::DotRange;
  const std::uint32_t first_input = inputs_first;
  if (columns != nullptr) {  // (layer_by_columns() laid out the rows' first offsets too)
    layer_sums.clear();
    double* const sums = layer_sums.extend(rows.size());
    layer_sums_by_columns(columns, xv, n, rows.size(), affine, sums);
    const std::uint32_t next = open->size;
    put_column_rows(sums, layer_row_firsts.data(), open->nodes, next, firsts, start, first_input,
                    static_cast<std::uint32_t>(n), op, rows.size(), nodes);
    open->size = next + static_cast<std::uint32_t>(rows.size());
    return;
  }
  NodeWriter writer(*open);
  for (std::size_t j = 0; j < rows.size(); ++j) {
    const double* const seen = rows[j].seen_.data();
    double total = dot_in_order(seen, xv, n);  // in the order of record_dot(w.values(), x): the same bits
    if (affine) total += seen[n];              // the bias, node first_ + n
    firsts[2 * j] = rows[j].first_;
    firsts[2 * j + 1] = first_input;
    nodes[j] = writer.put(op, start + static_cast<std::uint32_t>(2 * j), static_cast<std::uint32_t>(n), total);
  }
  writer.done();
}

template <typename ResolveInputs>
SCALARGRAD_ALWAYS_INLINE void Tape::append_row_nodes(std::span<const LeafBlock> rows, std::size_t n,
                                                    ResolveInputs resolve_inputs_fn, const OperandResolver& resolve,
                                                    bool affine, RowsChecked& checked, std::uint32_t* nodes) {
  if (checked.serial == resolve.serial) {
    resolve_inputs_fn();  // once for all rows
  } else {
    // Before anything is recorded, in one pass, whether each row's cache holds (a row of another
    // thread throws here; the callers checked the rows' lengths before making room). Then the
    // inputs, then the rows' nodes found again where a cache no longer holds (in that order:
    // the import nodes of a loop of record_dot()).
    checked.serial = 0;  // until all are checked (finding a row's nodes again may throw)
    bool valid = true;
    bool runs = true;
    for (const LeafBlock& w : rows) {
      valid = block_valid(w, resolve) && valid;
      runs = runs && w.first_ != kNoRun;
    }
    resolve_inputs_fn();
    if (!valid) [[unlikely]] {
      runs = true;
      for (const LeafBlock& w : rows) {
        (void)block_nodes(w, resolve);
        runs = runs && w.first_ != kNoRun;
      }
    }
    checked = {resolve.serial, runs};
  }
  if (checked.runs && inputs_first != kNoRun) {
    append_range_rows(rows, n, affine, checked.columns, nodes);
  } else {
    for (std::size_t j = 0; j < rows.size(); ++j) nodes[j] = append_block_dot(rows[j], rows[j].seen_.data(), affine);
  }
}

SCALARGRAD_ALWAYS_INLINE void Tape::adopt_nodes(const std::uint32_t* nodes, std::size_t count,
                                                std::vector<Value>& out) {
  // Counted at once: one read-modify-write of the count instead of one per node (a chain
  // through memory that bounded W1's fused step). The room is reserved first, so that nothing
  // can throw between counting the handles and making them.
  out.reserve(out.size() + count);
  if constexpr (!SCALARGRAD_UNCOUNTED_HANDLES) tls_handles.open_count += static_cast<std::uint32_t>(count);
  const std::uint64_t key = open_key();
  const double* const values = open->nodes.value;
  for (std::size_t k = 0; k < count; ++k) out.emplace_back(Value::Adopt{}, nodes[k], key, values[nodes[k]]);
}

SCALARGRAD_ALWAYS_INLINE void Tape::append_rows(std::span<const LeafBlock> rows, std::span<const Value> x,
                                                const OperandResolver& resolve, bool affine,
                                                RowsChecked& checked, std::vector<Value>& out) {
  row_nodes.clear();  // (left full by a call that threw)
  std::uint32_t* const nodes = row_nodes.extend(rows.size());
  append_row_nodes(rows, x.size(), [&] { resolve_inputs(x, resolve); }, resolve, affine, checked, nodes);
  adopt_nodes(nodes, rows.size(), out);
  row_nodes.clear();
}

std::vector<Value> Tape::record_dots(std::span<const LeafBlock> rows, std::span<const Value> x, bool affine) {
  // Before anything changes: not even room is made (which may open a segment) for a wrong row.
  check_rows(rows, x.size(), affine);
  std::vector<Value> out;
  out.reserve(rows.size());
  const std::size_t n = x.size();
  // Beyond kMaxLayerRoom, one row at a time, so that a large layer does not grow a segment far
  // beyond what it uses.
  const std::size_t room = rows_room(rows.size(), n, affine);
  if (!plain || n == 0 || room > kMaxLayerRoom) {
    for (const LeafBlock& w : rows) out.push_back(record_dot(w, x, affine));  // equivalent nodes, one at a time
    return out;
  }
  ensure_room(static_cast<std::uint32_t>(room));
  RowsChecked checked;
  append_rows(rows, x, OperandResolver(*this), affine, checked, out);
  return out;
}

std::vector<Value> Tape::record_dots(std::span<const LeafBlock> rows, std::span<const Value> xs, std::size_t points,
                                     bool affine) {
  const std::size_t n = batch_inputs(xs.size(), points, affine);
  if (points == 0 || rows.empty()) return {};  // (the rows' lengths say nothing without points)
  check_rows(rows, n, affine);
  std::vector<Value> out;
  out.reserve(rows.size() * points);
  const std::size_t room = rows_room(rows.size(), n, affine);
  if (!plain || n == 0 || room > kMaxLayerRoom) {
    for (std::size_t p = 0; p < points; ++p) {
      for (Value& v : record_dots(rows, xs.subspan(p * n, n), affine)) out.push_back(std::move(v));
    }
    return out;
  }
  // Nothing but this loop runs between two points, so no leaf or Parameter can change: the
  // rows' caches are checked once per segment (append_rows() checks them again when the points
  // reach a new one), not once per point.
  RowsChecked checked;
  for (std::size_t p = 0; p < points; ++p) {
    ensure_room(static_cast<std::uint32_t>(room));
    append_rows(rows, xs.subspan(p * n, n), OperandResolver(*this), affine, checked, out);
  }
  return out;
}

// Note [In place over a span]: `for (Value& x : xs) x = x.relu();` makes a temporary per
// element, moves it into x and releases x's old handle, and checks the room per node, reloading
// the segment's fields after each node's stores (which may alias them). A layer's activations
// are nodes of the open segment, one after the other: for them the room is made once per chunk
// (never more than a full-sized segment has left, so that where a segment fills up the nodes
// are still the loop's), each node written, and its handle re-pointed at it, as a compound
// assignment does (both nodes in the open segment: the count does not change). An op with a
// constant stores it once per chunk, shared by the chunk's nodes. Anything else (a leaf, a node
// of an older segment, a moved-from or foreign Value, another mode than the plain one) goes
// through the op itself.
constexpr std::size_t kInPlaceChunk = 4096;  // record_each(): nodes per ensure_room() and constant

template <Op op, bool kConstant>
void Tape::record_each(std::span<Value> xs, double c) {
  constexpr std::size_t kChunk = kInPlaceChunk;
  const auto f = [c](double x) {
    if constexpr (kConstant) {
      return Rule<op>::f(x, c);
    } else {
      (void)c;  // (clang warns of an unused capture)
      return Rule<op>::f(x);
    }
  };
  std::size_t i = 0;
  while (i < xs.size()) {
    Tape* const t = tls_tape;
    if (xs[i].key() != open_key() || !t->plain) {  // (a key matches only once the tape exists)
      if constexpr (kConstant) {
        xs[i] = record_unary<op>(xs[i], c);
      } else {
        xs[i] = record_unary<op>(xs[i]);
      }
      ++i;
      continue;
    }
    std::size_t count = std::min(xs.size() - i, kChunk);
    // A full-sized segment is filled to its end before the next opens, as the loop fills it.
    const std::uint32_t size = t->open->size;
    const std::uint32_t left = size < kMaxSegmentCapacity ? kMaxSegmentCapacity - size : 0;
    if (left != 0) count = std::min<std::size_t>(count, left);
    const std::size_t end = i + count;
    t->ensure_room(static_cast<std::uint32_t>(count));
    const std::uint64_t key = open_key();
    if (xs[i].key() != key) continue;  // ensure_room() opened a segment: the slow path imports
    const std::uint32_t b = kConstant ? t->add_constant(c) : 0;
    NodeWriter writer(*t->open);
    for (; i < end && xs[i].key() == key; ++i) {
      Value& x = xs[i];
      const double y = f(x.value_);
      x.ref_ = writer.put(op, x.ref_, b, y);
      x.value_ = y;
    }
    writer.done();
  }
}

// Note [Dense layers]: a stack of layers over a batch, as nn::MLP::batch() records it through
// affine(rows, xs, points) and relu_() and the like, but with no handle for the outputs of
// every layer but the last. Through those calls each hidden value gets a handle: made by its
// layer, re-pointed by its activation, looked up by the next layer, destroyed with its vector
// (the demo's Engine::train(): 78.4 M instructions through the calls, 71.2 M with this). Here a
// layer's outputs are the offsets of its nodes in the open segment (layer_nodes), which the
// activation replaces by its own nodes' and the next layer reads as its inputs. That needs
// every node of the stack in one segment: room for all of them is made first (at most
// kMaxLayerRoom for the batch's nodes, plus the rows' leaves; a larger stack, another mode than
// the plain one, or a layer without rows or inputs goes through the calls themselves). Then the
// nodes are those of the calls, in their order: for each point, its imports and the layer's row
// nodes (append_row_nodes(), as append_rows()); then the activation's nodes, one per output,
// with a constant per kInPlaceChunk of them (as record_each()).
void Tape::inputs_from_nodes(const std::uint32_t* nodes, std::size_t n, const double* values) {
  input_offsets.clear();
  input_values.clear();
  std::uint32_t* const inputs = input_offsets.extend(n);
  double* const xv = input_values.extend(n);
  inputs_values_at = xv;
  std::uint32_t mismatch = 0;
  for (std::size_t i = 0; i < n; ++i) {
    inputs[i] = nodes[i];
    xv[i] = values[nodes[i]];
    mismatch |= nodes[i] ^ (nodes[0] + static_cast<std::uint32_t>(i));
  }
  inputs_first = n != 0 && mismatch == 0 ? nodes[0] : kNoRun;
}

const double* Tape::layer_by_columns(std::span<const LeafBlock> rows, std::size_t n) {
  const std::size_t m = rows.size();
  layer_columns.clear();
  double* const columns = layer_columns.extend((n + 1) * m);
  layer_row_firsts.clear();
  std::uint32_t* const firsts = layer_row_firsts.extend(m);
  for (std::size_t j = 0; j < m; ++j) {
    const double* const seen = rows[j].seen_.data();  // checked: the values of the row's nodes
    for (std::size_t i = 0; i <= n; ++i) columns[i * m + j] = seen[i];
    firsts[j] = rows[j].first_;  // (runs: checked.runs)
  }
  return columns;
}

// Note [Activations of a run]: a layer's row nodes are one run when its inputs are (past the
// first layer, and in the first one of doubles: no import comes between two points' rows), and
// the activation's nodes after them are one too. Over a run the nodes are written array by
// array, with no offset looked up per node, and the compiler may write several per instruction:
// the demo's two ReLU layers took 12.8% of its time node by node. ReLU and Leaky ReLU are
// written there as the ternary, which GCC makes a vector mask in such a loop (and a jump in a
// scalar one: Note [Branchless kinks]); ReluOp's tests pin the two to the same bits.
template <Op op, bool kConstant>
SCALARGRAD_NOINLINE void put_activations(const double* SCALARGRAD_RESTRICT x, double* SCALARGRAD_RESTRICT value,
                                         double* SCALARGRAD_RESTRICT grad, std::uint32_t* SCALARGRAD_RESTRICT a,
                                         std::uint32_t* SCALARGRAD_RESTRICT bs, Op* SCALARGRAD_RESTRICT ops,
                                         std::uint32_t from, std::uint32_t count, std::uint32_t b, double c) {
  for (std::uint32_t k = 0; k < count; ++k) {
    if constexpr (op == Op::Relu) {
      value[k] = x[k] > 0.0 ? x[k] : 0.0;
    } else if constexpr (op == Op::LeakyRelu) {
      value[k] = x[k] > 0.0 ? x[k] : c * x[k];
    } else if constexpr (kConstant) {
      value[k] = Rule<op>::f(x[k], c);
    } else {
      value[k] = Rule<op>::f(x[k]);
    }
    grad[k] = 0.0;
    a[k] = from + k;
    bs[k] = b;
    ops[k] = op;
  }
}

template <Op op, bool kConstant>
void Tape::activate_nodes(std::uint32_t* nodes, std::size_t count, double c) {
  for (std::size_t first = 0; first < count; first += kInPlaceChunk) {
    const std::size_t end = std::min(count, first + kInPlaceChunk);
    const std::uint32_t b = kConstant ? add_constant(c) : 0;  // (add_constant() does not move the nodes)
    const auto length = static_cast<std::uint32_t>(end - first);
    if (const std::uint32_t from = first_of_run(nodes + first, length); from != kNoRun) {
      const std::uint32_t to = open->size;
      const NodeBuffers& n = open->nodes;
      put_activations<op, kConstant>(n.value + from, n.value + to, n.grad + to, n.a + to, n.b + to, n.op + to, from,
                                     length, b, c);
      for (std::uint32_t k = 0; k < length; ++k) nodes[first + k] = to + k;
      open->size = to + length;
      continue;
    }
    const double* const v = open->nodes.value;
    NodeWriter writer(*open);
    for (std::size_t k = first; k < end; ++k) {
      double y;
      if constexpr (kConstant) {
        y = Rule<op>::f(v[nodes[k]], c);
      } else {
        y = Rule<op>::f(v[nodes[k]]);
      }
      nodes[k] = writer.put(op, nodes[k], b, y);
    }
    writer.done();
  }
}

namespace {

[[noreturn]] void throw_bad_activation(std::size_t layer, LayerActivation activation) {
  throw Error("scalargrad: dense() got activation " + std::to_string(static_cast<int>(activation)) + " for layer " +
              std::to_string(layer) + ", which is none of LayerActivation's");
}

/// f.template operator()<op, kConstant>() for the tape op of `activation` (checked), nothing
/// for Linear: the one table from LayerActivation to the ops of relu_() and the like.
template <typename F>
void with_activation_op(LayerActivation activation, F f) {
  switch (activation) {
    case LayerActivation::Linear: return;
    case LayerActivation::Relu: return f.template operator()<Op::Relu, false>();
    case LayerActivation::LeakyRelu: return f.template operator()<Op::LeakyRelu, true>();
    case LayerActivation::Tanh: return f.template operator()<Op::Tanh, false>();
    case LayerActivation::Sigmoid: return f.template operator()<Op::Sigmoid, false>();
    case LayerActivation::Elu: return f.template operator()<Op::Elu, true>();
    case LayerActivation::Gelu: return f.template operator()<Op::Gelu, false>();
    case LayerActivation::Silu: return f.template operator()<Op::Silu, false>();
    case LayerActivation::Softplus: return f.template operator()<Op::Softplus, false>();
  }
}

}  // namespace

template <typename Input>
std::vector<Value> Tape::record_dense(std::span<const DenseLayer> layers, std::span<const Input> xs,
                                     std::size_t points) {
  constexpr bool kDoubles = std::is_same_v<Input, double>;
  // 1. What the calls would reject, before anything is recorded.
  if (points == 0 && !xs.empty()) {
    throw Error("scalargrad: dense() of a batch of 0 points takes no inputs, but there are " +
                std::to_string(xs.size()));
  }
  if (points != 0 && xs.size() % points != 0) {
    throw Error("scalargrad: dense() of a batch of " + std::to_string(points) +
                " points needs as many inputs for each, but there are " + std::to_string(xs.size()) +
                " inputs in all");
  }
  if (points == 0) return {};  // (as the calls: the rows' lengths say nothing without points)
  const std::size_t n = xs.size() / points;
  std::size_t width = n;  // the inputs of each point at layer l
  // Every node of the stack, at most: each leaf of the rows imported once into the segment
  // (LeafBlock's cache and import_leaf() reuse its node), then each input once, the row nodes
  // and the activations' nodes of each point. The leaves count apart: a model's weights may
  // take more room than a batch's nodes, whose limit is a layer's (kMaxLayerRoom).
  std::size_t leaf_room = 0;
  std::size_t room = points * n;
  bool fast = plain && n != 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& layer = layers[l];
    if (static_cast<std::uint8_t>(layer.activation) > static_cast<std::uint8_t>(LayerActivation::Softplus)) {
      throw_bad_activation(l, layer.activation);
    }
    for (std::size_t j = 0; j < layer.rows.size(); ++j) {
      if (layer.rows[j].size() != width + 1) {
        throw Error("scalargrad: dense() needs each row of layer " + std::to_string(l) +
                    " one leaf longer than the layer's inputs (the weights then the bias), but row " +
                    std::to_string(j) + " has " + detail::counted(layer.rows[j].size(), "leaf", "leaves") + " and " +
                    detail::there_are(width, "input", "inputs"));
      }
      // Another thread's row throws here too (as append_rows() would, but before any layer).
      const Value& first = layer.rows[j].values().front();
      if (first.key() != tls_handles.leaf_key) (void)checked(first);
    }
    fast = fast && !layer.rows.empty() && width <= kMaxNaryOperands;
    const std::size_t activations = layer.activation == LayerActivation::Linear ? 0 : layer.rows.size();
    leaf_room += layer.rows.size() * (width + 1);
    room += points * (layer.rows.size() + activations);
    width = layer.rows.size();
  }
  if (layers.empty()) return std::vector<Value>(xs.begin(), xs.end());

  // 2. Through the calls themselves.
  if (!fast || room > kMaxLayerRoom || leaf_room > kMaxSegmentCapacity / 2) {
    std::vector<Value> out(xs.begin(), xs.end());
    for (const DenseLayer& layer : layers) {
      out = record_dots(layer.rows, out, points, true);
      with_activation_op(layer.activation,
                         [&]<Op op, bool kConstant>() { record_each<op, kConstant>(out, layer.constant); });
    }
    return out;
  }

  // 3. In one segment, the hidden layers' outputs as offsets (Note [Dense layers]).
  ensure_room(static_cast<std::uint32_t>(leaf_room + room));
  // Doubles enter as Input nodes, one run of them all, which the first layer reads as a later
  // layer reads its inputs.
  std::uint32_t inputs_run = kNoRun;
  if constexpr (kDoubles) {
    NodeWriter writer(*open);
    inputs_run = open->size;
    for (const double x : xs) writer.put(Op::Input, 0, 0, x);
    writer.done();
  }
  const OperandResolver resolve(*this);
  UninitBuffer<std::uint32_t>* in = &layer_nodes[0];
  UninitBuffer<std::uint32_t>* out = &layer_nodes[1];
  width = n;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& layer = layers[l];
    const std::size_t nout = layer.rows.size();
    out->clear();
    std::uint32_t* const outputs = out->extend(nout * points);
    RowsChecked checked;
    // The inputs of a later layer are usually one run of nodes (its activation's, appended one
    // after the other): then each point's are the run's next `width`, read where they are, and
    // their offsets are written only where the rows are not runs (append_block_dot()).
    const std::uint32_t run = l == 0 ? inputs_run : first_of_run(in->data(), in->size());
    for (std::size_t p = 0; p < points; ++p) {
      std::uint32_t* const nodes = outputs + p * nout;
      if (l == 0 && run == kNoRun) {  // Values, resolved as affine(rows, x) resolves them
        if constexpr (!kDoubles) {
          append_row_nodes(
              layer.rows, width, [&] { resolve_inputs(xs.subspan(p * width, width), resolve); }, resolve, true,
              checked, nodes);
        }
      } else if (run != kNoRun) {
        const auto first = run + static_cast<std::uint32_t>(p * width);
        const auto from_run = [&] {
          inputs_first = first;
          inputs_values_at = resolve.values + first;
          input_offsets.clear();
          if (checked.serial != resolve.serial || !checked.runs) {  // (not yet known at the first point)
            std::uint32_t* const inputs = input_offsets.extend(width);
            for (std::size_t i = 0; i < width; ++i) inputs[i] = first + static_cast<std::uint32_t>(i);
          }
        };
        append_row_nodes(layer.rows, width, from_run, resolve, true, checked, nodes);
      } else {
        const std::uint32_t* const x = in->data() + p * width;
        append_row_nodes(
            layer.rows, width, [&] { inputs_from_nodes(x, width, resolve.values); }, resolve, true, checked, nodes);
      }
      if (p == 0 && checked.runs && nout >= kMinColumnRows) checked.columns = layer_by_columns(layer.rows, width);
    }
    with_activation_op(layer.activation, [&]<Op op, bool kConstant>() {
      activate_nodes<op, kConstant>(outputs, nout * points, layer.constant);
    });
    std::swap(in, out);
    width = nout;
  }
  std::vector<Value> result;  // the last layer's outputs
  adopt_nodes(in->data(), in->size(), result);
  return result;
}

Graph Tape::graph_of(const Value& root) {
  // Iterative post-order depth-first search: a node is output once all its operands are.
  const auto key = [](const Value& v) { return (std::uint64_t{v.owner()} << 32) | v.ref_; };
  constexpr std::size_t kNotYetPlaced = std::numeric_limits<std::size_t>::max();  // on the stack
  Graph graph;
  std::unordered_map<std::uint64_t, std::size_t> position;  // node -> index in graph.nodes
  struct Frame {
    Value node;
    std::vector<Value> operands;
    std::size_t next = 0;
  };
  std::vector<Frame> stack;
  const auto push = [&](const Value& v) {
    position.emplace(key(v), kNotYetPlaced);
    std::vector<Value> ops = v.owner() == kLeafOwner ? std::vector<Value>{} : operands_of(v.owner(), v.ref_);
    stack.push_back(Frame{v, std::move(ops), 0});
  };
  push(root);
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.next < top.operands.size()) {
      const Value& child = top.operands[top.next++];
      if (!position.contains(key(child))) push(Value(child));
      continue;
    }
    // Every operand was placed before this node: creation order is a topological order, so
    // no operand can be an ancestor still on the stack.
    std::vector<std::size_t>& edges = graph.operands.emplace_back();
    edges.reserve(top.operands.size());
    for (const Value& operand : top.operands) edges.push_back(position.at(key(operand)));
    position[key(top.node)] = graph.nodes.size();
    graph.nodes.push_back(std::move(top.node));
    stack.pop_back();
  }
  return graph;
}

}  // namespace detail

using detail::kLeafOwner;
using detail::Tape;

Value::Value(double data) {
  Tape& t = detail::this_thread_tape();
  ref_ = t.new_leaf(data);
  set_key(t.leaf_key());
}

double Value::data() const {
  Tape& t = Tape::checked(*this);
  return owner() == kLeafOwner ? t.leaf_data(ref_) : t.segments[owner()].nodes.value[ref_];
}

double Value::grad() const {
  // This thread's leaf: its key proves that the tape exists and is this thread's (Note [Handle
  // state]), so nothing else is checked (an optimizer reads every weight's gradient each step).
  if (key() == detail::tls_handles.leaf_key) [[likely]] return detail::tls_tape->leaf_grad_ref(ref_);
  Tape& t = Tape::checked(*this);
  return owner() == kLeafOwner ? t.leaf_grad_ref(ref_) : t.segments[owner()].nodes.grad[ref_];
}

// ---- LeafBlock ------------------------------------------------------------------------------
LeafBlock::LeafBlock(std::vector<Value> leaves) : leaves_(std::move(leaves)) {
  for (std::size_t k = 0; k < leaves_.size(); ++k) {
    if (!leaves_[k].is_leaf()) {
      throw Error("scalargrad: a LeafBlock holds leaves only, but element " + std::to_string(k) +
                  " is the result of '" + std::string(leaves_[k].op()) +
                  "'; use the leaves themselves, or detach() for a constant");
    }
  }
}

LeafBlock& LeafBlock::operator=(const LeafBlock& other) {
  if (this != &other) {
    serial_ = 0;  // other leaves: find their nodes again
    leaves_ = other.leaves_;
  }
  return *this;
}

Value Value::external(const double& data, double& grad) {
  Value leaf(data);
  Tape& t = *detail::tls_tape;
  std::uint32_t index;
  if (!t.free_externals.empty()) {
    index = t.free_externals.back();
    t.free_externals.pop_back();
  } else {
    index = static_cast<std::uint32_t>(t.externals.size());
    t.externals.emplace_back();
  }
  t.externals[index] = detail::External{&data, &grad, leaf.ref_};
  t.leaf_external[leaf.ref_] = index;
  t.leaf_import[leaf.ref_].data = &data;
  return leaf;
}

void Value::rebind(const double& data, double& grad) {
  Tape& t = Tape::checked(*this);
  detail::External* e = owner() == kLeafOwner ? t.external_of_leaf(ref_) : nullptr;
  if (e == nullptr) {
    throw Error("scalargrad: rebind() on a Value that is not an external leaf; only Values made by "
                "Value::external() mirror outside storage");
  }
  e->data = &data;
  e->grad = &grad;
  t.leaf_import[ref_].data = &data;
  ++t.leaf_epoch;  // LeafBlocks holding it read its data elsewhere now
}

void Value::unbind() noexcept {
  Tape* const current = detail::tls_tape;
  if (owner() != kLeafOwner || current == nullptr || current->id != tape()) return;
  Tape& t = *current;
  detail::External* e = owner() == kLeafOwner ? t.external_of_leaf(ref_) : nullptr;
  if (e == nullptr || e->data == nullptr) return;
  t.leaf_value[ref_] = *e->data;
  t.leaf_grad[ref_] = *e->grad;
  e->data = nullptr;
  e->grad = nullptr;
  t.leaf_import[ref_].data = nullptr;
  t.leaf_import[ref_].serial = 0;  // its last import may hold older data than leaf_value now
  ++t.leaf_epoch;                  // LeafBlocks holding it must stop reading the owner's data
}

void Value::set_data(double data) {
  Tape& t = Tape::checked(*this);
  if (owner() != kLeafOwner) {
    if (op() == "input") {  // dense() of doubles: a node, but made by no op
      throw Error("scalargrad: set_data() on an input of dense() (given as a double); only leaves can change "
                  "their data: pass the inputs as Values made with Value(x) to change them");
    }
    throw Error("scalargrad: set_data() on the result of an op ('" + std::string(op()) +
                "'); only leaves can change their data: make a leaf with Value(x), or use detach()");
  }
  if (const detail::External* e = t.external_of_leaf(ref_); e != nullptr && e->data != nullptr) {
    throw Error("scalargrad: set_data() on an external leaf (such as an nn::Parameter's); change "
                "the owner's data instead, which the leaf reads each time it enters a graph");
  }
  t.leaf_value[ref_] = data;
  t.leaf_import[ref_].serial = 0;  // ops recorded from now on import the new value
  ++t.leaf_epoch;                  // and so do dot()s through a LeafBlock
}

void Value::zero_grad() {
  if (key() == detail::tls_handles.leaf_key) [[likely]] {  // as grad()
    detail::tls_tape->leaf_grad_ref(ref_) = 0.0;
    return;
  }
  Tape& t = Tape::checked(*this);
  if (owner() == kLeafOwner) {
    t.leaf_grad_ref(ref_) = 0.0;
  } else {
    t.segments[owner()].nodes.grad[ref_] = 0.0;
  }
}

void Value::set_grad(double grad) {
  Tape& t = Tape::checked(*this);
  if (owner() == kLeafOwner) {
    t.leaf_grad_ref(ref_) = grad;
  } else if (grad == 0.0) {
    t.segments[owner()].nodes.grad[ref_] = 0.0;
  } else {
    throw Error("scalargrad: the grad of an op result (or of an input that dense() took as a double) is set by "
                "backward(); it can only be set to 0 (a leaf's grad can be set to any number)");
  }
}

bool Value::is_leaf() const {
  Tape::checked(*this);
  return owner() == kLeafOwner;
}

void Value::backward() const {
  if (owner() == detail::kNoOwner) detail::throw_moved_from();
  detail::this_thread_tape().backward(*this);
}

Value Value::detach() const { return Value(data()); }

Value& Value::label(std::string_view name) {
  Tape& t = Tape::checked(*this);
  if (owner() == kLeafOwner) {
    t.leaf_labels[ref_] = std::string(name);
  } else {
    t.segments[owner()].labels[ref_] = std::string(name);
  }
  return *this;
}

std::string Value::label() const {
  const Tape& t = Tape::checked(*this);
  const auto& labels = owner() == kLeafOwner ? t.leaf_labels : t.segments[owner()].labels;
  const auto it = labels.find(ref_);
  return it == labels.end() ? std::string() : it->second;
}

std::string_view Value::op() const {
  const Tape& t = Tape::checked(*this);
  return owner() == kLeafOwner ? std::string_view() : detail::op_name(t.segments[owner()].nodes.op[ref_]);
}

std::vector<Value> Value::operands() const {
  Tape& t = Tape::checked(*this);
  return owner() == kLeafOwner ? std::vector<Value>{} : t.operands_of(owner(), ref_);
}

std::optional<double> Value::constant() const {
  const Tape& t = Tape::checked(*this);
  if (owner() == kLeafOwner) return std::nullopt;
  const detail::Segment& s = t.segments[owner()];
  switch (s.nodes.op[ref_]) {
#define SCALARGRAD_CONSTANT_CASE(op_) case detail::Op::op_:
    SCALARGRAD_UNARY_CONST_OPS(SCALARGRAD_CONSTANT_CASE)
#undef SCALARGRAD_CONSTANT_CASE
    return s.consts[s.nodes.b[ref_]];
    default:
      return std::nullopt;
  }
}

bool Value::constant_on_left() const {
  const Tape& t = Tape::checked(*this);
  if (owner() == kLeafOwner) return false;
  const detail::Op op = t.segments[owner()].nodes.op[ref_];
  return op == detail::Op::RSubC || op == detail::Op::RDivC || op == detail::Op::RPowC;
}

std::partial_ordering operator<=>(const Value& x, const Value& y) { return x.data() <=> y.data(); }
std::partial_ordering operator<=>(const Value& x, double y) { return x.data() <=> y; }
bool operator==(const Value& x, const Value& y) { return x.data() == y.data(); }
bool operator==(const Value& x, double y) { return x.data() == y; }

std::ostream& operator<<(std::ostream& out, const Value& x) {
  // Both read first: a Value that throws (moved from, another thread's) writes nothing.
  const double data = x.data();
  const double grad = x.grad();
  return out << "Value(data=" << data << ", grad=" << grad << ")";
}

Value sum(std::initializer_list<Value> xs) { return sum(std::span<const Value>(xs.begin(), xs.size())); }

std::vector<Value> topological_order(const Value& root) { return Tape::checked(root).graph_of(root).nodes; }

Graph graph_of(const Value& root) { return Tape::checked(root).graph_of(root); }

std::vector<Value> dense(std::span<const DenseLayer> layers, std::span<const Value> xs, std::size_t points) {
  return detail::this_thread_tape().record_dense(layers, xs, points);
}

std::vector<Value> dense(std::span<const DenseLayer> layers, std::span<const double> xs, std::size_t points) {
  return detail::this_thread_tape().record_dense(layers, xs, points);
}

void relu_(std::span<Value> xs) { Tape::record_each<detail::Op::Relu, false>(xs, 0.0); }
void leaky_relu_(std::span<Value> xs, double slope) { Tape::record_each<detail::Op::LeakyRelu, true>(xs, slope); }
void tanh_(std::span<Value> xs) { Tape::record_each<detail::Op::Tanh, false>(xs, 0.0); }
void sigmoid_(std::span<Value> xs) { Tape::record_each<detail::Op::Sigmoid, false>(xs, 0.0); }
void elu_(std::span<Value> xs, double alpha) { Tape::record_each<detail::Op::Elu, true>(xs, alpha); }
void gelu_(std::span<Value> xs) { Tape::record_each<detail::Op::Gelu, false>(xs, 0.0); }
void silu_(std::span<Value> xs) { Tape::record_each<detail::Op::Silu, false>(xs, 0.0); }
void softplus_(std::span<Value> xs) { Tape::record_each<detail::Op::Softplus, false>(xs, 0.0); }

NoGradGuard::NoGradGuard() : previous_(detail::this_thread_tape().grad_enabled) {
  Tape& t = detail::this_thread_tape();
  t.set_mode(false, t.anomaly);
}

NoGradGuard::~NoGradGuard() {
  if (Tape* t = detail::tls_tape; t != nullptr) t->set_mode(previous_, t->anomaly);
}

bool is_grad_enabled() { return detail::this_thread_tape().grad_enabled; }

AnomalyGuard::AnomalyGuard() : previous_(detail::this_thread_tape().anomaly) {
  Tape& t = detail::this_thread_tape();
  t.set_mode(t.grad_enabled, true);
}

AnomalyGuard::~AnomalyGuard() {
  if (Tape* t = detail::tls_tape; t != nullptr) t->set_mode(t->grad_enabled, previous_);
}

bool is_anomaly_enabled() { return detail::this_thread_tape().anomaly; }

TapeStats tape_stats() {
  Tape& t = detail::this_thread_tape();
  t.update_high_water();
  TapeStats stats;
  std::size_t side_bytes = 0;
  for (const detail::Segment& s : t.segments) {
    side_bytes += s.consts.capacity() * sizeof(double) + s.operand_list.capacity() * sizeof(std::uint32_t) +
                  s.imports.capacity() * sizeof(detail::SegmentRef);
    if (s.serial == 0) continue;
    stats.nodes += s.size;
    ++stats.segments;
  }
  const std::size_t leaf_bytes = t.leaf_value.capacity() * (2 * sizeof(double) + sizeof(std::uint64_t) +
                                                            2 * sizeof(std::uint32_t));
  stats.leaves = t.leaf_value.size() - t.free_leaves.size();
  stats.bytes = t.storage_bytes + side_bytes + leaf_bytes;
  stats.high_water_nodes = t.high_water_nodes;
  stats.high_water_bytes = std::max(t.high_water_bytes, stats.bytes);
  return stats;
}

}  // namespace scalargrad
