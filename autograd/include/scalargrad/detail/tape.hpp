// The tape: where this thread's Values record their nodes. Implementation detail; the picture is
// in docs/architecture.md.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "scalargrad/detail/ops.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define SCALARGRAD_TLS_INITIAL_EXEC __attribute__((tls_model("initial-exec")))
#define SCALARGRAD_NOINLINE __attribute__((noinline))
#define SCALARGRAD_ALWAYS_INLINE inline __attribute__((always_inline))
#define SCALARGRAD_RESTRICT __restrict__
#define SCALARGRAD_INLINE_LAMBDA __attribute__((always_inline))
#else
#define SCALARGRAD_INLINE_LAMBDA
#define SCALARGRAD_RESTRICT
#define SCALARGRAD_ALWAYS_INLINE inline
#define SCALARGRAD_TLS_INITIAL_EXEC
#define SCALARGRAD_NOINLINE
#endif

namespace scalargrad {
class Value;
class LeafBlock;
struct DenseLayer;
}

namespace scalargrad::detail {

inline constexpr std::uint32_t kLeafOwner = 0xFFFFFFFEu;  // Value::owner() of a leaf
inline constexpr std::uint32_t kNoOwner = 0xFFFFFFFFu;    // moved-from Value; no open segment
inline constexpr std::uint32_t kFirstSegmentCapacity = 1u << 10;  // nodes
inline constexpr std::uint32_t kMaxSegmentCapacity = 1u << 20;    // nodes
inline constexpr std::size_t kMaxNaryOperands = 1u << 16;  // larger sum()/dot() nest partial nodes
inline constexpr std::size_t kMaxLayerRoom = 1u << 16;     // larger dot(rows, x) go row by row
inline constexpr std::size_t kMaxPooledBuffers = 8;        // recycled segment storages kept

/// Storage of one segment's nodes: struct of arrays, all of `capacity` entries. A node is
/// 25 bytes: value, grad, two operand fields and the op code (see Segment).
///
/// Note [Staggered arrays]: the five arrays share one allocation, each starting at its own
/// offset modulo 4 KiB (576 bytes, nine cache lines, apart). Allocated one by one, two arrays
/// of the same power-of-two size often started at the same offset in their pages (large ones
/// always: glibc maps them), so that value[k] and grad[k] had the same low 12 address bits. The
/// core then takes a load of one for a store to the other (4K aliasing) and makes it wait: the
/// same code ran up to 1.4x slower or faster depending on where malloc had put the arrays
/// (docs/performance.md section 8).
struct NodeBuffers {
  double* value = nullptr;       // forward value
  double* grad = nullptr;        // adjoint d(root)/d(node)
  std::uint32_t* a = nullptr;    // first operand offset (or leaf slot, import index, list start)
  std::uint32_t* b = nullptr;    // second operand offset (or constant index, list length)
  Op* op = nullptr;              // op code
  std::uint32_t capacity = 0;

  explicit NodeBuffers(std::uint32_t capacity = 0);
  NodeBuffers(NodeBuffers&& other) noexcept { *this = std::move(other); }
  NodeBuffers& operator=(NodeBuffers&& other) noexcept;
  NodeBuffers(const NodeBuffers&) = delete;
  NodeBuffers& operator=(const NodeBuffers&) = delete;
  ~NodeBuffers() = default;
  /// Bytes held, padding included.
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

 private:
  std::unique_ptr<std::byte[]> storage_;  // the five arrays
  std::size_t bytes_ = 0;
};

/// Note [Range dot]: a neuron's dot node reads two runs of consecutive nodes. Its weights' leaves
/// are imported one after the other the first time its LeafBlock is used in a segment, and a
/// layer (nn::Layer) records its activations one after the other, so the next layer's inputs
/// are consecutive too. Such a node is recorded as DotRange: the two first offsets instead of
/// 2n operand offsets, so that neither the forward nor the backward sweep reads or writes an
/// operand list (with one, the demo's forward spent more on copying the lists than on the
/// products). It is the Dot node whose operand lists would be first_w + k and first_x + k, with
/// the same value and the same gradients to the bit; the graph walks see the same operands.
/// AffineRange is the same for an affine node (a neuron's w . x + b, its LeafBlock holding the
/// weights then the bias): the bias is the node just after the last weight, first_w + n.
inline constexpr std::uint32_t kNoRun = 0xFFFFFFFFu;  // offsets that do not count up by one

/// First element of offsets[0, n) if they count up by one, else (or if n is 0) kNoRun.
inline std::uint32_t first_of_run(const std::uint32_t* offsets, std::size_t n) {
  if (n == 0) return kNoRun;
  std::uint32_t mismatch = 0;
  for (std::size_t k = 1; k < n; ++k) mismatch |= offsets[k] ^ (offsets[0] + static_cast<std::uint32_t>(k));
  return mismatch == 0 ? offsets[0] : kNoRun;
}

/// a[0] * b[0] + a[1] * b[1] + ... + a[n-1] * b[n-1], added from the left: the bits of
/// `for (i < n) total += a[i] * b[i]`. Note [Dot in order]: GCC neither unrolls that loop nor
/// may it reorder the sum (IEEE addition is not associative), so each product cost six
/// instructions, four of them the loop's own (the demo's forward: 6.4 instructions a product,
/// 30% of its Engine::train()). Four products an iteration, each added in turn, are the same
/// operations in the same order.
SCALARGRAD_ALWAYS_INLINE double dot_in_order(const double* SCALARGRAD_RESTRICT a, const double* SCALARGRAD_RESTRICT b,
                                             std::size_t n) {
  double total = 0.0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    total += a[i] * b[i];
    total += a[i + 1] * b[i + 1];
    total += a[i + 2] * b[i + 2];
    total += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

/// A growable array of a trivially copyable T whose new elements are left uninitialised, for
/// the operand lists of n-ary nodes: std::vector::resize would zero-fill every operand slot
/// just before it is written (1.6% of the demo's instructions).
template <typename T>
class UninitBuffer {
 public:
  [[nodiscard]] T* data() noexcept { return data_.get(); }
  [[nodiscard]] const T* data() const noexcept { return data_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  void clear() noexcept { size_ = 0; }
  /// Appends `count` uninitialised elements and returns the first; the caller writes them all.
  SCALARGRAD_ALWAYS_INLINE T* extend(std::size_t count) {
    if (count > capacity_ - size_) [[unlikely]] grow(size_ + count);
    T* const first = data_.get() + size_;
    size_ += count;
    return first;
  }

 private:
  SCALARGRAD_NOINLINE void grow(std::size_t needed) {
    const std::size_t capacity = std::max({needed, 2 * capacity_, std::size_t{64}});
    auto fresh = std::make_unique_for_overwrite<T[]>(capacity);
    std::copy_n(data_.get(), size_, fresh.get());
    data_ = std::move(fresh);
    capacity_ = capacity;
  }

  std::unique_ptr<T[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// A node of an older segment, imported into a younger one.
struct SegmentRef {
  std::uint32_t segment;  // segment slot
  std::uint32_t offset;   // node offset in it
};

/// Where an external leaf (Value::external) reads its data and adds its gradient.
struct External {
  const double* data = nullptr;  // the owner's data; nullptr once unbound
  double* grad = nullptr;        // the owner's grad; nullptr once unbound
  std::uint32_t leaf = 0;        // leaf slot
};

/// a and b are the same double, bit for bit (-0.0 is not 0.0; a NaN equals itself).
inline bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

/// Where a leaf was last imported, one entry per leaf slot: the fast path reads one entry.
struct LeafImport {
  std::uint64_t serial = 0;      // serial of the segment it was last imported into (0: none)
  const double* data = nullptr;  // an external leaf's bound data (Value::external), else nullptr
  double imported = 0.0;         // the value that Import node holds (a copy: no load through offset)
  std::uint32_t offset = 0;      // offset of that Import node

  /// The leaf's Import node in the segment with this serial can be used as is: the leaf was
  /// imported there, and an external leaf's owner still has the data it had then.
  [[nodiscard]] bool valid_in(std::uint64_t segment_serial) const {
    return serial == segment_serial && (data == nullptr || same_bits(*data, imported));
  }
};

/// The key of a Value (Note [Typed key] in value.hpp): its owner in the low half, its tape's id
/// in the high half. A Value of the open segment has Tape::open_key(), a leaf of this thread
/// Tape::leaf_key(): one comparison checks both the thread and the segment.
constexpr std::uint64_t handle_key(std::uint32_t owner, std::uint32_t tape) noexcept {
  return (std::uint64_t{tape} << 32) | owner;
}

/// The key of a moved-from Value: owner kNoOwner, and a tape id no tape has (so that it never
/// equals Tape::open_key(), which is kIdleKey while no segment is open).
inline constexpr std::uint64_t kMovedFromKey = (std::uint64_t{kNoOwner} << 32) | kNoOwner;

/// Tape::open_key() while no segment is open, or before this thread has a tape: owner kNoOwner
/// and tape id 0, which no Value has (ids start at 1; a moved-from Value has kMovedFromKey).
inline constexpr std::uint64_t kIdleKey = handle_key(kNoOwner, 0);

/// Tape::leaf_key() before this thread has a tape: no Value has tape id 0.
inline constexpr std::uint64_t kNoLeafKey = handle_key(kLeafOwner, 0);

/// Note [Handle state]: the keys that every op and every copy and destruction of a Value compare
/// with, and the open segment's handle count, kept in thread-local storage itself rather than
/// behind `tls_tape`. ~Value is then one compare with `open_key` and a decrement of
/// `open_count`, with no load of the tape pointer; and no fast path tests "this thread has no
/// tape yet": before it has one, the keys are kIdleKey and kNoLeafKey, which no Value has, so
/// an operand whose key matches proves that `tls_tape` is set. Written only by the tape
/// (Tape::set_current(), its constructor, adopt()), by Value's copies and destructions, and
/// when the tape goes away. Trivially destructible and constant-initialised, like `tls_tape`,
/// and read with the initial-exec TLS model.
///
/// The count itself lives here while its segment is open (Segment::handles holds it while the
/// segment is closed; set_current() moves it): at a fixed address, not behind a pointer. When a
/// temporary's decrement went through a pointer loaded from here and the next op's increment
/// through `tls_tape->open`, W1's counted copy ran 1.2 to 1.5 times the uncounted one in some
/// builds, with the same instructions; since, 1.04 to 1.14 (docs/performance.md section 8).
/// Our reading: the core learned late that the two addresses were one counter.
struct HandleState {
  std::uint64_t open_key = kIdleKey;    // the open segment's handle_key(slot, tape id)
  std::uint64_t leaf_key = kNoLeafKey;  // handle_key(kLeafOwner, tape id)
  std::uint32_t open_count = 0;         // live Values into the open segment (0 if none is open)
};
extern constinit thread_local HandleState tls_handles SCALARGRAD_TLS_INITIAL_EXEC;

/// Tape::leaf_external of a plain leaf.
inline constexpr std::uint32_t kNoExternal = 0xFFFFFFFFu;

/// An older segment that a segment imports from, and the largest offset it imports: backward()
/// sweeps the older segment from there down, not from its end.
struct ImportedSegment {
  std::uint32_t segment;      // segment slot
  std::uint32_t last_offset;  // largest imported node offset
};

/// A contiguous run of tape nodes, recorded in creation order.
///
/// Invariant (the one backward() relies on): a node is appended after all of its operands, and
/// its operands live in the same segment at smaller offsets. Values from elsewhere (leaves, and
/// nodes of older segments) enter a segment through an Import / ImportSegment node. So creation
/// order is a topological order: one reverse sweep over a segment, then over the older segments
/// it imports from (in decreasing serial), visits every node after all nodes that use it.
struct Segment {
  // ---- 1. Nodes ----
  NodeBuffers nodes;       // node arrays
  std::uint32_t size = 0;  // nodes recorded
  // Node fields by op: unary: a = operand, b unused; unary with constant: b = index in consts;
  // binary: a, b operands; Import: a = leaf slot; ImportSegment: a = index in imports;
  // Sum: a = first index in operand_list, b = count; Dot: operand_list[a, a+b) and [a+b, a+2b);
  // Affine: the same, and the bias at operand_list[a+2b]; DotRange: b = count, operand_list[a]
  // and [a+1] the first offsets of the two runs; AffineRange: the same, and the bias at offset
  // operand_list[a] + b (just after the weights).
  std::vector<double> consts;               // op constants (exponent, slope, c in x*c ...)
  UninitBuffer<std::uint32_t> operand_list;  // operands of n-ary nodes
  std::vector<SegmentRef> imports;          // sources of ImportSegment nodes

  // ---- 2. Lifetime (Note [Lifetime] in docs/architecture.md) ----
  std::uint32_t handles = 0;    // live Values into this segment, while closed (Note [Handle state])
  std::uint32_t importers = 0;  // live younger segments that import from this one
  std::uint64_t serial = 0;     // creation order; 0 for a free slot
  std::uint64_t last_importer = 0;  // serial of the last segment that counted itself an importer
  std::uint32_t last_importer_entry = 0;  // ... and the index of this segment in its list
  std::uint64_t visit_mark = 0;     // scratch for backward(): in the closure of the root
  std::uint32_t sweep_last = 0;     // scratch for backward(): last node to sweep
  bool grads_dirty = false;         // a backward() swept it: grads must be zeroed before the next
  bool release_pending = false;     // queued in Tape::pending_release
  std::vector<std::uint32_t> imported_leaves;    // leaf slots this segment holds a reference on
  std::vector<ImportedSegment> imported_segments;  // segments this one counts itself an importer of
  std::unordered_map<std::uint64_t, std::uint32_t> import_index;  // (segment, offset) -> node

  // ---- 3. Teaching ----
  std::unordered_map<std::uint32_t, std::string> labels;  // node offset -> label
};

struct Tape;

/// Appends nodes to a segment whose room is ensured, with its size and five arrays read once:
/// a node's stores (uint32 and byte stores) may alias those fields, so code that went through
/// the segment at each node would reload them all after every node. Tape::append() writes one
/// node with it; loops that append many (a layer's range nodes, relu_() and the like) keep one
/// for the loop. done() stores the new size.
class NodeWriter {
 public:
  explicit NodeWriter(Segment& s) noexcept
      : segment_(s), next_(s.size), value_(s.nodes.value), grad_(s.nodes.grad), a_(s.nodes.a), b_(s.nodes.b),
        op_(s.nodes.op) {}
  /// Writes the next node (gradient 0) and returns its offset.
  SCALARGRAD_ALWAYS_INLINE std::uint32_t put(Op op, std::uint32_t a, std::uint32_t b, double value) noexcept {
    value_[next_] = value;
    grad_[next_] = 0.0;
    a_[next_] = a;
    b_[next_] = b;
    op_[next_] = op;
    return next_++;
  }
  void done() noexcept { segment_.size = next_; }

 private:
  Segment& segment_;
  std::uint32_t next_;
  double* const value_;
  double* const grad_;
  std::uint32_t* const a_;
  std::uint32_t* const b_;
  Op* const op_;
};

/// Resolves Values to operand offsets in the open segment, with the segment's fields held in
/// locals: the loops of sum() and dot() resolve thousands of operands per node. Valid until the
/// next ensure_room() (which may open another segment).
struct OperandResolver {
  explicit OperandResolver(Tape& t);
  /// As Tape::operand(v).
  std::uint32_t operator()(const Value& v) const;
  /// The same, testing the leaf cache first: for operands that are mostly leaves already
  /// imported into this segment (a neuron's weights).
  std::uint32_t leaf_first(const Value& v) const;

  Tape& tape;
  std::uint64_t open_key;         // Tape::open_key()
  std::uint64_t leaf_key;         // Tape::leaf_key()
  const LeafImport* leaf_import;  // Tape::leaf_import
  std::uint64_t serial;           // the open segment's serial
  const double* values;           // its node values (imports do not reallocate them)
};

/// Calls f(offset) for each operand of node `i` of `s` (none for imports and leaves).
template <typename F>
void for_each_operand(const Segment& s, std::uint32_t i, F f) {
  const std::uint32_t a = s.nodes.a[i];
  const std::uint32_t b = s.nodes.b[i];
  switch (s.nodes.op[i]) {
#define SCALARGRAD_ONE_OPERAND(op_) case Op::op_:
    SCALARGRAD_UNARY_OPS(SCALARGRAD_ONE_OPERAND)
    SCALARGRAD_UNARY_CONST_OPS(SCALARGRAD_ONE_OPERAND)
#undef SCALARGRAD_ONE_OPERAND
    f(a);
    break;
#define SCALARGRAD_TWO_OPERANDS(op_) case Op::op_:
    SCALARGRAD_BINARY_OPS(SCALARGRAD_TWO_OPERANDS)
#undef SCALARGRAD_TWO_OPERANDS
    f(a);
    f(b);
    break;
    case Op::Sum:
    case Op::Dot: {
      const std::uint32_t count = s.nodes.op[i] == Op::Sum ? b : 2 * b;
      for (std::uint32_t k = a; k < a + count; ++k) f(s.operand_list[k]);
      break;
    }
    case Op::Affine:  // the weights, the inputs, then the bias
      for (std::uint32_t k = a; k < a + 2 * b + 1; ++k) f(s.operand_list[k]);
      break;
    case Op::DotRange:
    case Op::AffineRange: {
      const std::uint32_t first[2] = {s.operand_list[a], s.operand_list[a + 1]};
      for (const std::uint32_t run : first) {
        for (std::uint32_t k = run; k < run + b; ++k) f(k);
      }
      if (s.nodes.op[i] == Op::AffineRange) f(first[0] + b);  // the bias
      break;
    }
    case Op::Import:
    case Op::ImportExternal:
    case Op::ImportSegment:
    case Op::Released:
    case Op::Input:
      break;
  }
}

/// All autodiff state of one thread: the segments of the tape and the leaves.
/// Reached through `tls_tape` (Note [Thread-local tape] in docs/architecture.md).
struct Tape {
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // ---- 1. Identity and mode ----
  std::uint32_t id;           // unique over the process: Values carry it to detect other threads
  bool grad_enabled = true;   // false under NoGradGuard
  bool anomaly = false;       // true under AnomalyGuard
  bool plain = true;          // grad_enabled && !anomaly: ops may take the fast path
  // gradcheck() is evaluating its function at shifted inputs, under its own NoGradGuard: a
  // backward() there is the function's, and its error says so (gradcheck.cpp).
  std::uint32_t in_gradcheck_differences = 0;
  void set_mode(bool grad, bool check) {
    grad_enabled = grad;
    anomaly = check;
    plain = grad && !check;
    refresh_limit();
  }
  std::uint32_t current = kNoOwner;  // slot of the open segment (the one appended to), or none

  // ---- Hot path state (Note [Fast path] in value_impl.hpp) ----
  Segment* open = &idle;        // &segments[current], or &idle when no segment is open
  std::uint32_t limit = 0;      // fast-path ops fill the open segment up to this size: its
                                // capacity when plain, 0 when none is open or not plain
  Segment idle;                 // stands for "no open segment": size 0, capacity 0
  /// Makes `slot` (or kNoOwner) the open segment and updates the hot path state.
  /// (A tape is only ever used on its own thread: this thread's HandleState is its own.)
  void set_current(std::uint32_t slot) {
    if (current != kNoOwner) segments[current].handles = tls_handles.open_count;  // it closes
    current = slot;
    open = slot == kNoOwner ? &idle : &segments[slot];
    tls_handles.open_key = slot == kNoOwner ? kIdleKey : handle_key(slot, id);
    tls_handles.open_count = slot == kNoOwner ? 0 : segments[slot].handles;
    refresh_limit();
  }
  /// The live handle count of segment `slot`: in tls_handles while it is the open one.
  std::uint32_t& handles_of(std::uint32_t slot) {
    return slot == current ? tls_handles.open_count : segments[slot].handles;
  }
  /// handle_key(current, id), the key of every Value of the open segment; kIdleKey when none is.
  [[nodiscard]] static std::uint64_t open_key() noexcept { return tls_handles.open_key; }
  /// handle_key(kLeafOwner, id), the key of every leaf of this thread.
  [[nodiscard]] static std::uint64_t leaf_key() noexcept { return tls_handles.leaf_key; }
  void refresh_limit() { limit = plain ? open->nodes.capacity : 0; }

  // ---- 2. Segments ----
  std::vector<Segment> segments;            // by slot
  std::vector<std::uint32_t> free_slots;    // unused segment slots
  std::vector<NodeBuffers> pool;            // recycled node storage
  std::uint64_t next_serial = 1;            // serial of the next segment opened or reset
  std::uint64_t next_mark = 1;              // for Segment::visit_mark
  // Closed segments whose last Value went while younger ones still import from them:
  // release_pending() runs release_unreachable_imports() on them.
  struct PendingRelease {
    std::uint32_t slot;
    std::uint64_t serial;  // the segment's serial when queued (the slot may be reused since)
  };
  std::vector<PendingRelease> pending_release;

  // ---- 3. Leaves (outside the tape: never pinned by, nor pinning, a segment) ----
  std::vector<double> leaf_value;
  std::vector<double> leaf_grad;
  std::vector<std::uint32_t> leaf_refs;           // Values + segments that imported it
  std::vector<LeafImport> leaf_import;            // where it was last imported, its bound data
  std::vector<std::uint32_t> leaf_external;       // index in externals, or kNoExternal
  std::vector<std::uint32_t> free_leaves;
  std::unordered_map<std::uint32_t, std::string> leaf_labels;
  std::vector<External> externals;                   // by index (ImportExternal's a)
  std::vector<std::uint32_t> free_externals;
  // Bumped whenever a leaf's data may change other than through an external leaf's owner
  // (set_data(), rebind(), unbind()): LeafBlock's cache is valid only in the epoch it was made.
  std::uint64_t leaf_epoch = 1;

  // ---- 4. Scratch of dot() through LeafBlocks (resolve_inputs()) ----
  UninitBuffer<std::uint32_t> input_offsets;  // the inputs' offsets in the open segment
  UninitBuffer<double> input_values;          // ... and their values
  std::uint32_t inputs_first = kNoRun;        // input_offsets[0] if they count up by one
  const double* inputs_values_at = nullptr;   // their values: input_values, or a run's in the segment
  UninitBuffer<std::uint32_t> row_nodes;      // record_dots(): the node of each row
  UninitBuffer<std::uint32_t> layer_nodes[2];  // record_dense(): a layer's inputs and outputs
  UninitBuffer<double> layer_columns;         // record_dense(): a layer's weights by input (Note [Layer by columns])
  UninitBuffer<double> layer_sums;            // ... and the sums of one point
  UninitBuffer<std::uint32_t> layer_row_firsts;  // ... and the first offset of each row's leaves

  // ---- 5. Statistics ----
  std::size_t closed_nodes = 0;  // nodes in live segments other than the open one
  std::size_t storage_bytes = 0;  // node storage held, live and pooled
  std::size_t high_water_nodes = 0;
  std::size_t high_water_bytes = 0;

  // ---- Hot path (inline) ----
  /// Makes sure the open segment has room for `count` more nodes (opening one if needed).
  void ensure_room(std::uint32_t count) {
    if (open->size + count > open->nodes.capacity) [[unlikely]] {
      make_room(count);
    }
  }
  /// The fast path's operand lookup: `k` = v's offset in the open segment and `x` its value if
  /// v is one of its nodes or a leaf already imported into it (and true; this thread's tape then exists), else
  /// false (the slow path imports it, or throws). Note [Fast path] in value_impl.hpp.
  static inline bool fast_operand(const Value& v, std::uint32_t& k, double& x);
  /// Offset in the open segment at which `v` can be used as an operand (importing it if it is
  /// a leaf or lives in an older segment). Call ensure_room() first.
  inline std::uint32_t operand(const Value& v);
  /// Appends a node to the open segment (room ensured) and returns a Value for it.
  inline Value emit(Op op, std::uint32_t a, std::uint32_t b, double value);
  /// A counted Value for node n of the open segment, whose value is `value`.
  inline Value adopt(std::uint32_t n, double value);
  /// The fast path may append a node to the open segment (Tape::limit).
  [[nodiscard]] bool fast_room() const { return open->size < limit; }
  /// xs[i] = op(xs[i]), or op(xs[i]; c) if kConstant, for each i, in place (relu_() and the
  /// others): Note [In place over a span] in value.cpp.
  template <Op op, bool kConstant>
  static void record_each(std::span<Value> xs, double c);
  /// Appends a node without creating a handle for it.
  SCALARGRAD_ALWAYS_INLINE std::uint32_t append(Op op, std::uint32_t a, std::uint32_t b, double value) {
    NodeWriter nodes(*open);
    const std::uint32_t n = nodes.put(op, a, b, value);
    nodes.done();
    return n;
  }
  [[nodiscard]] double value_at(std::uint32_t offset) const { return open->nodes.value[offset]; }
  std::uint32_t add_constant(double c) {
    std::vector<double>& consts = open->consts;
    consts.push_back(c);
    return static_cast<std::uint32_t>(consts.size() - 1);
  }

  // ---- Slow paths (tape.cpp) ----
  SCALARGRAD_NOINLINE void make_room(std::uint32_t count);
  SCALARGRAD_NOINLINE std::uint32_t operand_slow(const Value& v);
  /// The node of leaf slot `leaf` in `s`, the open segment (room for one node ensured): its
  /// Import node, made now unless the leaf's LeafImport entry says it is there and still valid.
  inline std::uint32_t import_leaf(Segment& s, std::uint32_t leaf);
  SCALARGRAD_NOINLINE void segment_unreferenced(std::uint32_t slot);
  SCALARGRAD_NOINLINE void leaf_unreferenced(std::uint32_t slot);
  std::uint32_t new_leaf(double value);
  /// The External of an external leaf, or nullptr for a plain leaf.
  External* external_of_leaf(std::uint32_t slot) {
    return leaf_external[slot] == kNoExternal ? nullptr : &externals[leaf_external[slot]];
  }
  [[nodiscard]] double leaf_data(std::uint32_t slot);
  /// Where a leaf's gradient is: its owner's (an external leaf bound to one), else leaf_grad.
  double& leaf_grad_ref(std::uint32_t slot) {
    External* e = external_of_leaf(slot);
    return (e != nullptr && e->grad != nullptr) ? *e->grad : leaf_grad[slot];
  }
  void close_current();
  void free_segments_from(std::uint32_t slot);
  void release_imports(Segment& s);
  void backward(const Value& root);
  /// Applies the chain rule to nodes last..0 of `s`; only to those with mask[i] != 0 if kMasked
  /// (else `mask` is not read). kCheck: anomaly mode. Out of line: inlined into backward(), GCC
  /// kept the node index in a stack slot (`subl $1, mem` then a load, a store-to-load round
  /// trip at every node: 8% of W1's fused step in perf); on its own it keeps it in a register
  /// (W2's backward 735 M -> 714 M instructions).
  template <bool kCheck, bool kMasked>
  SCALARGRAD_NOINLINE void sweep(std::uint32_t slot, std::uint32_t last, const std::uint8_t* mask);
  // Anomaly mode: throws AnomalyError if `y`, the value of `op` on `operands` (and the
  // constant c, if any), is not finite.
  void check_value(Op op, double y, std::span<const Value> operands, const double* c);
  // Anomaly mode: throws AnomalyError for node i of segment `slot`, whose gradient made that
  // of its operand at `offset` non-finite.
  [[noreturn]] void throw_gradient_anomaly(std::uint32_t slot, std::uint32_t i, std::uint32_t offset);
  // Anomaly mode: throws AnomalyError if adding `g`, the gradient of import node i of segment
  // `slot`, to `total`, the gradient of what it imports (a leaf, or a node of an older segment),
  // would turn a finite total non-finite. Such a total adds up uses in several segments, or
  // across backward() calls, which no node's own check sees.
  void check_accumulation(std::uint32_t slot, std::uint32_t i, double total, double g);
  /// mask[i] = 1 for each node of s[0..last] that one of `seeds` depends on (or is).
  static std::vector<std::uint8_t> reachable(const Segment& s, std::uint32_t last,
                                             const std::vector<std::uint32_t>& seeds);
  /// The offsets of segment `slot` that live segments other than itself import.
  std::vector<std::uint32_t> imported_offsets(std::uint32_t slot) const;
  /// Drops the imports of closed segment `slot` that nothing live reaches any more (called
  /// when its last Value goes while younger segments still import from it).
  void release_unreachable_imports(std::uint32_t slot);
  /// Runs release_unreachable_imports() on the queued segments that still need it (called
  /// before a new segment is opened).
  void release_pending();
  void update_high_water();
  /// Only with SCALARGRAD_UNCOUNTED_HANDLES (bench/): frees every segment and the leaves made
  /// after the first `leaves_kept`, as counting would have.
  void reset_for_benchmark(std::size_t leaves_kept);

  // ---- Handles (value.cpp) ----
  /// Value's copy constructor and destructor for every handle but one of the open segment.
  SCALARGRAD_NOINLINE static void retain_slow(const Value& v);
  SCALARGRAD_NOINLINE static void release_slow(const Value& v) noexcept;
  /// The tape of `v` (this thread's), after checking `v` is usable here.
  static Tape& checked(const Value& v);
  /// A counted handle to node `offset` of segment `slot`, or to the leaf or older node it
  /// imports (so users see their own leaves, never Import nodes).
  Value handle_to(std::uint32_t slot, std::uint32_t offset);
  /// The operands of node `offset` of segment `slot`, as handles.
  std::vector<Value> operands_of(std::uint32_t slot, std::uint32_t offset);
  /// Records sum(xs) / dot(x, y) / affine(x, y, *bias) (bias not null) as n-ary nodes.
  Value record_sum(std::span<const Value> xs);
  Value record_dot(std::span<const Value> x, std::span<const Value> y, const Value* bias = nullptr);
  /// dot(w, x), or affine(w, x) if `affine` (w's last leaf the bias), for a LeafBlock: the node
  /// record_dot(...) records for w.values(), with w's nodes taken from its cache when still valid.
  Value record_dot(const LeafBlock& w, std::span<const Value> x, bool affine);
  /// record_dot(w, x, affine) for each w of `rows`, with x's operands found once for all of them.
  std::vector<Value> record_dots(std::span<const LeafBlock> rows, std::span<const Value> x, bool affine);
  /// record_dots(rows, x, affine) for each of `points` inputs x, stored one after the other in xs.
  std::vector<Value> record_dots(std::span<const LeafBlock> rows, std::span<const Value> xs, std::size_t points,
                                 bool affine);
  /// The room record_dots() reserves for `rows` rows of n inputs: the worst case, every leaf and
  /// input imported, then a node per row.
  static std::size_t rows_room(std::size_t rows, std::size_t n, bool affine);
  /// Throws Error naming the first of `rows` that is not n leaves long (n + 1 if `affine`).
  static void check_rows(std::span<const LeafBlock> rows, std::size_t n, bool affine);
  /// Where a batch's rows had their caches checked (append_rows()), and what it found.
  struct RowsChecked {
    std::uint64_t serial = 0;  // the segment they were checked in (0: not yet)
    bool runs = false;         // every row's leaves are a run of nodes there (LeafBlock::first_)
    // The rows' weights by input, then their biases (record_dense() sets them once the rows are
    // checked), for append_range_rows() to sum by columns: Note [Layer by columns]. Or nullptr.
    const double* columns = nullptr;
  };
  /// The range nodes of `rows` (each one a run of n + affine leaves, all checked in this segment)
  /// and the inputs resolve_inputs() left (a run of n): Note [Rows of ranges] in value.cpp.
  void append_range_rows(std::span<const LeafBlock> rows, std::size_t n, bool affine, const double* columns,
                         std::uint32_t* nodes);
  /// The nodes of record_dots(rows, x, affine) (room ensured, the rows' lengths checked), their
  /// handles appended to `out`; the rows' caches checked unless `checked` says they were in this
  /// segment (a batch: no user code runs between its points), and `checked` updated. A row of
  /// another thread throws before anything is recorded.
  void append_rows(std::span<const LeafBlock> rows, std::span<const Value> x, const OperandResolver& resolve,
                   bool affine, RowsChecked& checked, std::vector<Value>& out);
  /// Handles to `count` nodes of the open segment, appended to `out`, all counted at once.
  void adopt_nodes(const std::uint32_t* nodes, std::size_t count, std::vector<Value>& out);
  /// The row nodes of append_rows() without their handles, their offsets written to `nodes`
  /// (rows.size() of them), the inputs found by resolve_inputs_fn() (which sets inputs_first
  /// and inputs_values_at, and fills input_offsets unless they are a run and the rows too).
  template <typename ResolveInputs>
  void append_row_nodes(std::span<const LeafBlock> rows, std::size_t n, ResolveInputs resolve_inputs_fn,
                        const OperandResolver& resolve, bool affine, RowsChecked& checked, std::uint32_t* nodes);
  /// dense(layers, xs, points) (value.hpp), of Values or of doubles: Note [Dense layers] in
  /// value.cpp.
  template <typename Input>
  std::vector<Value> record_dense(std::span<const DenseLayer> layers, std::span<const Input> xs, std::size_t points);
  /// The weights and biases of `rows` (each n + 1 leaves, checked in this segment, each a run)
  /// by input, in layer_columns, and each row's first offset in layer_row_firsts: Note [Layer by
  /// columns] in value.cpp.
  const double* layer_by_columns(std::span<const LeafBlock> rows, std::size_t n);
  /// Rows from which record_dense() sums a layer by columns: fewer gain nothing over one row's
  /// unrolled sum.
  static constexpr std::size_t kMinColumnRows = 4;
  /// resolve_inputs() for inputs that are nodes of the open segment, given by their offsets.
  void inputs_from_nodes(const std::uint32_t* nodes, std::size_t n, const double* values);
  /// f(node) appended for each of `count` nodes of the open segment (room ensured), each
  /// offset replaced by its new node's: what record_each<op, kConstant>() records for their
  /// handles.
  template <Op op, bool kConstant>
  void activate_nodes(std::uint32_t* nodes, std::size_t count, double c);
  /// The nodes of w's leaves in the open segment (room for w.size() imports ensured; w not
  /// empty): checks w's cache (LeafBlock) and finds them again if it no longer holds. Returns
  /// the values those nodes hold; their offsets are then in w.offsets_.
  const double* block_nodes(const LeafBlock& w, const OperandResolver& resolve);
  /// w's cache holds in the open segment (w not empty); throws Error if w is another thread's.
  bool block_valid(const LeafBlock& w, const OperandResolver& resolve) const;
  /// block_nodes()'s rare path: finds w's nodes again (importing its leaves as needed).
  SCALARGRAD_NOINLINE void refill_block(const LeafBlock& w, const OperandResolver& resolve);
  /// Resolves x's operands (room ensured) into input_offsets and their values into input_values.
  void resolve_inputs(std::span<const Value> x, const OperandResolver& resolve);
  /// Appends the dot node of w and the inputs resolve_inputs() left (as long as w), or the
  /// affine node if `affine` (w one leaf longer: the bias), without a handle; returns its offset.
  /// `seen`: the values of w's nodes (block_nodes()).
  std::uint32_t append_block_dot(const LeafBlock& w, const double* seen, bool affine);
  /// Everything `root` depends on, operands before results (iterative depth-first search).
  Graph graph_of(const Value& root);
};

/// A batch's inputs per point: inputs / points; throws Error unless inputs is a multiple of
/// points (none for 0 points). `affine` names the caller in the message.
std::size_t batch_inputs(std::size_t inputs, std::size_t points, bool affine);

/// This thread's tape, or nullptr before first use and after the thread's tape is destroyed.
/// A trivially destructible, constant-initialised pointer, so that reaching it costs one load
/// with the initial-exec TLS model (no __tls_get_addr, no guard).
extern constinit thread_local Tape* tls_tape SCALARGRAD_TLS_INITIAL_EXEC;

/// Creates this thread's tape (first use on a thread).
SCALARGRAD_NOINLINE Tape& create_tape();

/// This thread's tape, created on first use.
inline Tape& this_thread_tape() {
  Tape* t = tls_tape;
  if (t == nullptr) [[unlikely]] {
    return create_tape();
  }
  return *t;
}

[[noreturn]] void throw_moved_from();
[[noreturn]] void throw_other_thread();

/// The tape an op's slow path records on, given its first operand. A thread without a tape
/// holds no Value of its own, so `x` is then moved from or another thread's (or its thread's
/// tape is gone, at thread exit): Tape::checked(x) throws the error that says which, and no
/// tape is made (one made at thread exit would never be freed).
inline Tape& tape_for_op(const Value& x) {
  Tape* t = tls_tape;
  if (t == nullptr) [[unlikely]] return Tape::checked(x);  // throws
  return *t;
}

/// The same for sum() and dot(), given one of their spans: an empty span needs a tape only for
/// its result (a leaf 0.0), so one is made then.
inline Tape& tape_for_nary(std::span<const Value> xs) {
  return xs.empty() ? this_thread_tape() : tape_for_op(xs.front());
}

}  // namespace scalargrad::detail
