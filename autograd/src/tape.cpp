// The tape's slow paths: opening and recycling segments, imports, and the backward sweep.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "scalargrad/value.hpp"
#include "text.hpp"

namespace scalargrad::detail {

// Note [Thread-local tape]: the hot path reads only `tls_tape` and `tls_handles` (Note [Handle
// state] in tape.hpp), trivially destructible and constant-initialised (one load each with the
// initial-exec TLS model). The tape itself is owned by `tls_tape_owner`, whose destructor runs
// at thread exit and first clears both, so that Values destroyed later on that thread touch
// nothing.
constinit thread_local Tape* tls_tape SCALARGRAD_TLS_INITIAL_EXEC = nullptr;
constinit thread_local HandleState tls_handles SCALARGRAD_TLS_INITIAL_EXEC{};

namespace {

struct TapeOwner {
  std::unique_ptr<Tape> tape;
  ~TapeOwner() {
    tls_tape = nullptr;
    tls_handles = HandleState{};  // kIdleKey: Values destroyed later take the slow path
  }
};
thread_local TapeOwner tls_tape_owner;

// Ids of tapes, unique over the process, so that a Value used on another thread is caught even
// when that thread's tape happens to sit at the same address. The only global mutable state.
std::atomic<std::uint32_t> next_tape_id{1};

/// A new tape id, never 0: Note [Handle state] relies on no tape having id 0 (kIdleKey and
/// kNoLeafKey carry it), also after the 32-bit counter wraps.
std::uint32_t new_tape_id() {
  std::uint32_t id = next_tape_id.fetch_add(1, std::memory_order_relaxed);
  while (id == 0) id = next_tape_id.fetch_add(1, std::memory_order_relaxed);
  return id;
}

}  // namespace

Tape& create_tape() {
  tls_tape_owner.tape = std::make_unique<Tape>();
  tls_tape = tls_tape_owner.tape.get();
  return *tls_tape;
}

void throw_moved_from() {
  throw Error(
      "scalargrad: this Value was moved from and holds nothing; assign it a new Value before "
      "using it");
}

void throw_other_thread() {
  throw Error(
      "scalargrad: a Value was used on a thread other than the one that recorded it; Values never "
      "cross threads: pass its data() to the other thread and make a new Value there");
}

// ---- NodeBuffers ---------------------------------------------------------------------------------
NodeBuffers::NodeBuffers(std::uint32_t capacity_) : capacity(capacity_) {
  if (capacity == 0) return;
  // Note [Staggered arrays] (tape.hpp): each array starts on a cache line, 576 bytes further
  // modulo 4 KiB than the one before.
  constexpr std::size_t kLine = 64;
  constexpr std::size_t kStagger = 9 * kLine;
  const auto line_up = [](std::size_t n) { return (n + kLine - 1) / kLine * kLine; };
  const std::size_t n = capacity;
  const std::size_t sizes[5] = {n * sizeof(double), n * sizeof(double), n * sizeof(std::uint32_t),
                                n * sizeof(std::uint32_t), n * sizeof(Op)};
  std::size_t starts[5];
  std::size_t end = 0;
  for (std::size_t k = 0; k < 5; ++k) {
    // The first start at or after `end` whose offset modulo 4 KiB is k * kStagger.
    const std::size_t page = end / 4096 * 4096;
    std::size_t start = page + k * kStagger;
    if (start < end) start += 4096;
    starts[k] = start;
    end = line_up(start + sizes[k]);
  }
  bytes_ = end + kLine;  // and room to put the first array on a cache line
  storage_ = std::make_unique_for_overwrite<std::byte[]>(bytes_);
  const auto address = reinterpret_cast<std::uintptr_t>(storage_.get());
  std::byte* const base = storage_.get() + (line_up(address) - address);
  value = reinterpret_cast<double*>(base + starts[0]);
  grad = reinterpret_cast<double*>(base + starts[1]);
  a = reinterpret_cast<std::uint32_t*>(base + starts[2]);
  b = reinterpret_cast<std::uint32_t*>(base + starts[3]);
  op = reinterpret_cast<Op*>(base + starts[4]);
}

NodeBuffers& NodeBuffers::operator=(NodeBuffers&& other) noexcept {
  if (this != &other) {
    storage_ = std::move(other.storage_);
    value = std::exchange(other.value, nullptr);
    grad = std::exchange(other.grad, nullptr);
    a = std::exchange(other.a, nullptr);
    b = std::exchange(other.b, nullptr);
    op = std::exchange(other.op, nullptr);
    capacity = std::exchange(other.capacity, 0);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

// ---- Tape ----------------------------------------------------------------------------------------
Tape::Tape() : id(new_tape_id()) {
  tls_handles.leaf_key = handle_key(kLeafOwner, id);  // (set_current() sets the rest)
  set_current(kNoOwner);
}

Tape::~Tape() = default;  // plain arrays: no recursion, whatever the depth of the graphs

void Tape::update_high_water() {
  const std::size_t live = closed_nodes + (current == kNoOwner ? 0 : segments[current].size);
  high_water_nodes = std::max(high_water_nodes, live);
  high_water_bytes = std::max(high_water_bytes, storage_bytes);
}

void Tape::make_room(std::uint32_t count) {
  // Before the tape grows, let go of what dead segments no longer need.
  if (!pending_release.empty()) release_pending();
  // Grow the open segment while it is below the maximum capacity: few, short graphs stay small.
  if (current != kNoOwner) {
    Segment& s = segments[current];
    const std::uint64_t needed = std::uint64_t{s.size} + count;
    if (needed <= kMaxSegmentCapacity) {
      std::uint32_t capacity = std::max(s.nodes.capacity, kFirstSegmentCapacity);
      while (capacity < needed) capacity *= 2;
      NodeBuffers bigger(capacity);
      std::memcpy(bigger.value, s.nodes.value, s.size * sizeof(double));
      std::memcpy(bigger.grad, s.nodes.grad, s.size * sizeof(double));
      std::memcpy(bigger.a, s.nodes.a, s.size * sizeof(std::uint32_t));
      std::memcpy(bigger.b, s.nodes.b, s.size * sizeof(std::uint32_t));
      std::memcpy(bigger.op, s.nodes.op, s.size * sizeof(Op));
      storage_bytes += bigger.bytes();
      storage_bytes -= s.nodes.bytes();
      s.nodes = std::move(bigger);
      refresh_limit();
      update_high_water();
      return;
    }
    close_current();  // full: the next nodes go to a new segment that imports from this one
  }

  // Open a new segment, on recycled storage when there is some.
  std::uint32_t slot;
  if (!free_slots.empty()) {
    slot = free_slots.back();
    free_slots.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(segments.size());
    segments.emplace_back();
  }
  Segment& s = segments[slot];
  if (!pool.empty() && pool.back().capacity >= count) {
    s.nodes = std::move(pool.back());
    pool.pop_back();
  } else {
    std::uint32_t capacity = kFirstSegmentCapacity;
    while (capacity < count) capacity *= 2;
    s.nodes = NodeBuffers(capacity);
    storage_bytes += s.nodes.bytes();
  }
  s.size = 0;
  s.serial = next_serial++;
  s.handles = 0;
  s.importers = 0;
  s.grads_dirty = false;
  s.release_pending = false;
  set_current(slot);
  update_high_water();
}

void Tape::close_current() {
  if (current == kNoOwner) return;
  const std::uint32_t slot = current;
  set_current(kNoOwner);
  closed_nodes += segments[slot].size;
  update_high_water();
  // (Without handle counting, a bench/ build, counts are always 0: nothing is freed here.)
  if (!SCALARGRAD_UNCOUNTED_HANDLES && segments[slot].handles == 0) free_segments_from(slot);
}

std::uint32_t Tape::operand_slow(const Value& v) {
  if (v.owner() == kNoOwner) throw_moved_from();
  if (v.tape() != id) throw_other_thread();
  Segment& s = segments[current];

  if (v.owner() == kLeafOwner) {
    return import_leaf(s, v.ref_);
  }

  // A node of an older segment: imported once per segment; the older segment then stays alive
  // as long as this one does.
  const std::uint64_t key = (std::uint64_t{v.owner()} << 32) | v.ref_;
  if (const auto it = s.import_index.find(key); it != s.import_index.end()) return it->second;
  Segment& source = segments[v.owner()];
  const auto index = static_cast<std::uint32_t>(s.imports.size());
  s.imports.push_back(SegmentRef{v.owner(), v.ref_});
  const std::uint32_t n = append(Op::ImportSegment, index, 0, source.nodes.value[v.ref_]);
  s.import_index.emplace(key, n);
  if (source.last_importer != s.serial) {
    source.last_importer = s.serial;
    source.last_importer_entry = static_cast<std::uint32_t>(s.imported_segments.size());
    ++source.importers;
    s.imported_segments.push_back(ImportedSegment{v.owner(), v.ref_});
  } else {
    std::uint32_t& last = s.imported_segments[source.last_importer_entry].last_offset;
    last = std::max(last, v.ref_);
  }
  return n;
}

void Tape::release_imports(Segment& s) {
  for (const std::uint32_t leaf : s.imported_leaves) {
    if (--leaf_refs[leaf] == 0) leaf_unreferenced(leaf);
  }
  s.imported_leaves.clear();
  s.consts.clear();
  s.operand_list.clear();
  s.imports.clear();
  s.import_index.clear();
  s.labels.clear();
  // imported_segments is released by the caller, which may have to free them in turn.
}

void Tape::segment_unreferenced(std::uint32_t slot) {
  Segment& s = segments[slot];
  if (s.importers != 0) {
    // A younger segment still reads some of its nodes; the older segments it imports from may
    // no longer be reachable (an evaluation loop whose graphs straddle segment boundaries
    // would otherwise keep a chain of dead segments alive). Finding out walks the whole
    // segment, so it waits until the tape needs another segment (release_pending()): a long
    // graph that is still alive, W2's chain for one, never pays for it.
    if (!s.imported_segments.empty() && !s.release_pending) {
      s.release_pending = true;
      pending_release.push_back(PendingRelease{slot, s.serial});
    }
    return;
  }
  if (slot == current) {
    // Nothing refers to the open segment any more: start it again from empty, in O(1) plus its
    // imports. It gets a new serial, so that cached leaf imports into it are forgotten.
    std::vector<ImportedSegment> older = std::move(s.imported_segments);
    s.imported_segments.clear();
    release_imports(s);
    s.size = 0;
    s.serial = next_serial++;
    s.grads_dirty = false;
    for (const auto [j, last] : older) {
      if (--segments[j].importers == 0 && segments[j].handles == 0) free_segments_from(j);
    }
    return;
  }
  free_segments_from(slot);
}

void Tape::free_segments_from(std::uint32_t first) {
  // Iterative: freeing one segment can free the older ones it imported from, in a chain as long
  // as the graph (a 10-million-op chain spans ten segments, a user's graphs may span more).
  std::vector<std::uint32_t> work{first};
  while (!work.empty()) {
    const std::uint32_t slot = work.back();
    work.pop_back();
    Segment& s = segments[slot];
    release_imports(s);
    for (const auto [j, last] : s.imported_segments) {
      if (--segments[j].importers == 0 && segments[j].handles == 0 && j != current) work.push_back(j);
    }
    s.imported_segments.clear();
    closed_nodes -= s.size;
    s.size = 0;
    s.serial = 0;
    if (pool.size() < kMaxPooledBuffers) {
      pool.push_back(std::move(s.nodes));
      // Keep the largest buffer at the back, where make_room() looks first.
      if (pool.size() > 1 && pool[pool.size() - 2].capacity > pool.back().capacity) {
        std::swap(pool[pool.size() - 2], pool.back());
      }
    } else {
      storage_bytes -= s.nodes.bytes();
    }
    s.nodes = NodeBuffers();
    free_slots.push_back(slot);
  }
}

std::uint32_t Tape::new_leaf(double value) {
  std::uint32_t slot;
  if (!free_leaves.empty()) {
    slot = free_leaves.back();
    free_leaves.pop_back();
    leaf_value[slot] = value;
    leaf_grad[slot] = 0.0;
    leaf_refs[slot] = 1;
    leaf_import[slot] = LeafImport{};
    leaf_external[slot] = kNoExternal;
  } else {
    slot = static_cast<std::uint32_t>(leaf_value.size());
    leaf_value.push_back(value);
    leaf_grad.push_back(0.0);
    leaf_refs.push_back(1);
    leaf_import.emplace_back();
    leaf_external.push_back(kNoExternal);
  }
  return slot;
}

void Tape::leaf_unreferenced(std::uint32_t slot) {
  if (!leaf_labels.empty()) leaf_labels.erase(slot);
  if (leaf_external[slot] != kNoExternal) {
    externals[leaf_external[slot]] = External{};
    free_externals.push_back(leaf_external[slot]);
  }
  free_leaves.push_back(slot);
}

double Tape::leaf_data(std::uint32_t slot) {
  const double* data = leaf_import[slot].data;
  return data != nullptr ? *data : leaf_value[slot];
}

void Tape::reset_for_benchmark(std::size_t leaves_kept) {
  set_current(kNoOwner);
  for (std::uint32_t slot = 0; slot < segments.size(); ++slot) {
    Segment& s = segments[slot];
    if (s.serial == 0) continue;
    s.handles = 0;
    s.importers = 0;
    s.imported_segments.clear();
    closed_nodes += s.size;  // free_segments_from() takes it off again
    free_segments_from(slot);
  }
  closed_nodes = 0;
  leaf_value.resize(leaves_kept);
  leaf_grad.resize(leaves_kept);
  leaf_refs.resize(leaves_kept);
  leaf_import.resize(leaves_kept);
  leaf_external.resize(leaves_kept);
  free_leaves.clear();
}

std::vector<std::uint8_t> Tape::reachable(const Segment& s, std::uint32_t last,
                                          const std::vector<std::uint32_t>& seeds) {
  std::vector<std::uint8_t> mask(std::size_t{last} + 1, 0);
  for (const std::uint32_t k : seeds) {
    if (k <= last) mask[k] = 1;
  }
  // Operands sit at smaller offsets: one reverse pass marks everything the seeds depend on.
  for (std::uint32_t i = last + 1; i-- > 0;) {
    if (mask[i] != 0) for_each_operand(s, i, [&mask](std::uint32_t k) { mask[k] = 1; });
  }
  return mask;
}

std::vector<std::uint32_t> Tape::imported_offsets(std::uint32_t slot) const {
  std::vector<std::uint32_t> offsets;
  for (std::uint32_t j = 0; j < segments.size(); ++j) {
    if (j == slot || segments[j].serial == 0) continue;
    for (const SegmentRef& r : segments[j].imports) {
      if (r.segment == slot) offsets.push_back(r.offset);
    }
  }
  return offsets;
}

void Tape::release_pending() {
  for (const auto [slot, serial] : std::exchange(pending_release, {})) {
    Segment& s = segments[slot];
    if (s.serial != serial) continue;  // freed, and maybe reused, since
    s.release_pending = false;
    // A Value may point into it again (handle_to()): then it is queued again when that goes.
    if (s.handles == 0 && s.importers != 0 && !s.imported_segments.empty()) release_unreachable_imports(slot);
  }
}

void Tape::release_unreachable_imports(std::uint32_t slot) {
  Segment& s = segments[slot];
  if (s.size == 0) return;
  // No Value points into s, so what younger segments import is all that is live in it; no
  // new import can appear (that would need a Value).
  const std::vector<std::uint8_t> live = reachable(s, s.size - 1, imported_offsets(slot));
  std::vector<std::uint32_t> needed;
  for (std::uint32_t i = 0; i < s.size; ++i) {
    if (live[i] != 0 && s.nodes.op[i] == Op::ImportSegment) needed.push_back(s.imports[s.nodes.a[i]].segment);
  }
  std::vector<std::uint32_t> released;
  std::erase_if(s.imported_segments, [&](const ImportedSegment& entry) {
    if (std::find(needed.begin(), needed.end(), entry.segment) != needed.end()) return false;
    released.push_back(entry.segment);
    return true;
  });
  if (released.empty()) return;
  // The dead import nodes keep their value but no longer name their source.
  for (std::uint32_t i = 0; i < s.size; ++i) {
    if (s.nodes.op[i] == Op::ImportSegment &&
        std::find(released.begin(), released.end(), s.imports[s.nodes.a[i]].segment) != released.end()) {
      s.nodes.op[i] = Op::Released;
    }
  }
  for (const std::uint32_t j : released) {
    if (--segments[j].importers == 0 && segments[j].handles == 0 && j != current) free_segments_from(j);
  }
}

// ---- backward ------------------------------------------------------------------------------------
void Tape::backward(const Value& root) {
  if (!grad_enabled) {
    if (in_gradcheck_differences != 0) {
      throw Error(
          "scalargrad: gradcheck: the function called backward(), which gradcheck calls itself; it evaluates "
          "the function again at shifted inputs under NoGradGuard for the finite differences, where "
          "backward() cannot run: let the function only compute and return its output");
    }
    throw Error(
        "scalargrad: backward() called under NoGradGuard, where no graph is recorded; call "
        "backward() after the guard's scope ends");
  }
  if (root.owner() == kNoOwner) throw_moved_from();
  if (root.tape() != id) throw_other_thread();

  // A new generation of nodes starts after each backward(): the next forward pass records into
  // a fresh segment, so this graph can be recycled as soon as its Values are gone.
  close_current();

  if (root.owner() == kLeafOwner) {  // d(x)/d(x) = 1
    leaf_grad_ref(root.ref_) += 1.0;  // an external leaf's is its owner's
    return;
  }

  // 1. The segments the root depends on: its own and, transitively, those it imports from.
  const std::uint64_t mark = next_mark++;
  std::vector<std::uint32_t> order{root.owner()};
  segments[root.owner()].visit_mark = mark;
  segments[root.owner()].sweep_last = root.ref_;
  for (std::size_t i = 0; i < order.size(); ++i) {
    for (const auto [j, last] : segments[order[i]].imported_segments) {
      if (segments[j].visit_mark != mark) {
        segments[j].visit_mark = mark;
        segments[j].sweep_last = 0;
        order.push_back(j);
      }
    }
  }
  // Older segments only import from older ones, so decreasing serial is a topological order.
  std::sort(order.begin(), order.end(),
            [this](std::uint32_t x, std::uint32_t y) { return segments[x].serial > segments[y].serial; });
  // Each segment is swept from the last node that the root can reach: the root itself, or the
  // largest offset a younger segment imports (so a long-lived constant in an old segment costs
  // a few nodes per backward(), not the whole old graph).
  for (const std::uint32_t slot : order) {
    for (const auto [j, last] : segments[slot].imported_segments) {
      segments[j].sweep_last = std::max(segments[j].sweep_last, last);
    }
  }

  // 2. Intermediate gradients are recomputed by each backward(): zero them first. A segment
  // never swept since it was recorded has all gradients 0 already (a training step's graph).
  // One swept before may hold the gradients of another graph recorded in it: then only the
  // nodes this backward() reaches are zeroed and swept, and the other graph keeps its
  // gradients. Reachability flows from the root through the import nodes it reaches, so it is
  // computed for every segment down to the oldest such one.
  std::size_t masked = 0;  // segments order[0, masked) get a reachability mask
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (segments[order[k]].grads_dirty) masked = k + 1;
  }
  std::vector<std::vector<std::uint8_t>> masks(order.size());
  std::vector<std::vector<std::uint32_t>> seeds(masked);
  if (masked > 0) seeds[0].push_back(root.ref_);
  for (std::size_t k = 0; k < masked; ++k) {
    Segment& s = segments[order[k]];
    masks[k] = reachable(s, s.sweep_last, seeds[k]);
    for (std::uint32_t i = 0; i <= s.sweep_last; ++i) {
      if (masks[k][i] == 0) continue;
      if (s.grads_dirty) s.nodes.grad[i] = 0.0;
      if (s.nodes.op[i] == Op::ImportSegment) {
        const SegmentRef r = s.imports[s.nodes.a[i]];
        const auto older = static_cast<std::size_t>(std::find(order.begin(), order.end(), r.segment) - order.begin());
        if (older < masked) seeds[older].push_back(r.offset);
      }
    }
  }
  for (const std::uint32_t slot : order) segments[slot].grads_dirty = true;

  // 3. Seed d(root)/d(root) = 1 and sweep each segment from its last reachable node down to 0.
  segments[root.owner()].nodes.grad[root.ref_] = 1.0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::uint32_t slot = order[k];
    const std::uint8_t* mask = masks[k].empty() ? nullptr : masks[k].data();
    if (anomaly) {
      if (mask != nullptr) {
        sweep<true, true>(slot, segments[slot].sweep_last, mask);
      } else {
        sweep<true, false>(slot, segments[slot].sweep_last, nullptr);
      }
    } else if (mask != nullptr) {
      sweep<false, true>(slot, segments[slot].sweep_last, mask);
    } else {
      sweep<false, false>(slot, segments[slot].sweep_last, nullptr);
    }
  }
}

namespace {

// The gradients a DotRange node with adjoint g passes to its two runs when they do not
// overlap: gw[k] += g vx[k], gx[k] += g vw[k]. Written through restrict pointers (the runs are
// disjoint, and gradients and values are separate arrays), so that the compiler may do two or
// four at a time: the same operations on each element, so the same bits. Out of line: inlined
// into the sweep, the same instructions ran slower in W1's counted scalar-ops copy
// (docs/performance.md section 8).
SCALARGRAD_NOINLINE void add_range_dot_gradients(double* SCALARGRAD_RESTRICT gw, double* SCALARGRAD_RESTRICT gx,
                                                 const double* SCALARGRAD_RESTRICT vw,
                                                 const double* SCALARGRAD_RESTRICT vx, std::uint32_t n, double g) {
  for (std::uint32_t k = 0; k < n; ++k) {
    gw[k] += g * vx[k];
    gx[k] += g * vw[k];
  }
}

// Note [Zero runs]: most of a sweep's nodes can have a zero adjoint: a hinge loss is 0 for
// every point beyond its margin, and then so is every node of that point's forward pass, and a
// dead ReLU cuts off everything below it. The sweep skips such a node after loading, adding and
// storing its adjoint; a run of them cost about ten instructions a node (the demo's backward:
// 750,000 nodes swept in 100 steps, 16,000 of its 336,000 affine nodes with an adjoint). Below
// a node with a zero adjoint nothing is carried (`carry` is -0.0), so the nodes under it whose
// stored adjoints are zero too would each store back what they hold and skip: they are jumped
// over, four at a time, with one test of their bits (+0.0 and -0.0 both count as zero, as
// `g == 0.0` counts them). The nodes swept and the bits stored are those of the plain loop, in
// the default rounding mode as Note [Carried adjoint] says (rounding downward, the plain loop
// would store -0.0 = +0.0 + -0.0 into a +0.0 adjoint that the jump leaves as it is).
/// The smallest i' <= i, going down four at a time, such that gr[i', i) are all +0.0 or -0.0:
/// the sweep goes on at node i' - 1. Out of line, and the sweep's loop a `while` that counts i
/// down itself: with this loop inlined into a `for (i = last + 1; i-- > 0;)`, GCC laid out the
/// sweep so that W2, which has no zero adjoints, swept with 7.7% more instructions (callgrind;
/// out of line, 3.8%; now 1%) and ran ~3% slower.
SCALARGRAD_NOINLINE std::uint32_t zero_run_below(const double* gr, std::uint32_t i) {
  while (i >= 4) {
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(gr[i - 1]) | std::bit_cast<std::uint64_t>(gr[i - 2]) |
                               std::bit_cast<std::uint64_t>(gr[i - 3]) | std::bit_cast<std::uint64_t>(gr[i - 4]);
    if ((bits << 1) != 0) break;  // one of them is neither +0.0 nor -0.0
    i -= 4;
  }
  return i;
}

}  // namespace

// kCheck (anomaly mode): after each node, the gradient of each of its operands must still be
// finite if it was before; the first node that breaks this is named in an AnomalyError.
//
// Note [Carried adjoint]: in a chain (y = tanh(a*y + b), an activation after its neuron's
// affine node) a node's operand is often the node just below it, the next one swept. Adding
// into gr[i - 1] in memory and reading it back one iteration later put a store-to-load round
// trip (~7 cycles here) on the sweep's dependency chain at every node: the sweep ran at the
// speed of store forwarding, not of the arithmetic. So a contribution to node i - 1 is kept
// in a register (`carry`) and added when node i - 1 is reached: gr[i - 1] + carry, the same
// additions in the same order as before (node i is the last node to add into gr[i - 1]), so
// the same bits, given two things: no FMA contraction (the memory path's gr[k] += g * df could
// be fused, the carried one cannot; the project compiles with -ffp-contract=off, see the top
// CMakeLists.txt), and the default rounding mode (below). A binary node whose two operands are
// one node (x * x) adds both in memory, in order. Only unary and binary ops carry; n-ary ones
// and anomaly mode add in memory. With no test of whether anything was carried (-0.0 stands
// for nothing) and no node index to keep, the loop is short enough: W2's backward went from
// 0.56 to 0.28 of the plain forward.
template <bool kCheck, bool kMasked>
void Tape::sweep(std::uint32_t slot, std::uint32_t last, const std::uint8_t* mask) {
  Segment& s = segments[slot];
  const double* v = s.nodes.value;
  double* gr = s.nodes.grad;
  const std::uint32_t* A = s.nodes.a;
  const std::uint32_t* B = s.nodes.b;
  const Op* op = s.nodes.op;
  const double* c = s.consts.data();
  const std::uint32_t* list = s.operand_list.data();
  double* leaf_gr = leaf_grad.data();
  std::vector<bool> finite_before;  // kCheck: per operand of the current node

  // Node i + 1's contribution to node i, or -0.0 if none: x + -0.0 is x, bit for bit (also for
  // x = +0.0 and -0.0), so the addition needs no test of whether something was carried. That
  // holds in the default rounding mode (round to nearest), which C++ code runs in unless it
  // calls std::fesetround: rounding downward, +0.0 + -0.0 is -0.0, so a +0.0 gradient could
  // read as -0.0 (equal to it under ==, and nothing flows from either).
  double carry = -0.0;
  std::uint32_t i = last + 1;
  while (i > 0) {
    --i;
    const double g = gr[i] + carry;
    gr[i] = g;
    carry = -0.0;
    if (g == 0.0) {  // nothing flows from a zero adjoint: skipping it is a large speed-up
      i = zero_run_below(gr, i);  // and so is skipping the zeros below it (Note [Zero runs])
      continue;
    }
    if (kMasked && mask[i] == 0) continue;  // another graph's node (see backward())
    const std::uint32_t a = A[i];
    const std::uint32_t b = B[i];
    // gr[k] += x for an operand k of a unary or binary node (Note [Carried adjoint]); `binary`
    // for both operands of a binary node, which, if they are one node (x * x), adds in memory,
    // in order. Always inlined: called out of line (GCC's choice once the sweep had four
    // instances), the lambda made W2's backward 1.6 times slower.
    const auto add = [&](std::uint32_t k, double x) SCALARGRAD_INLINE_LAMBDA {
      if (kCheck || k + 1 != i) {
        gr[k] += x;
      } else {
        carry = x;
      }
    };
    const auto binary = [&](double xa, double xb) SCALARGRAD_INLINE_LAMBDA {
      if (a == b) [[unlikely]] {
        gr[a] += xa;
        gr[a] += xb;
      } else {
        add(a, xa);
        add(b, xb);
      }
    };
    if constexpr (kCheck) {
      finite_before.clear();
      for_each_operand(s, i, [&](std::uint32_t k) { finite_before.push_back(std::isfinite(gr[k])); });
    }
    switch (op[i]) {
#define SCALARGRAD_UNARY_CASE(op_) \
  case Op::op_:                    \
    add(a, g * Rule<Op::op_>::df(v[a], v[i])); \
    break;
      SCALARGRAD_UNARY_OPS(SCALARGRAD_UNARY_CASE)
#undef SCALARGRAD_UNARY_CASE
#define SCALARGRAD_UNARY_CONST_CASE(op_) \
  case Op::op_:                          \
    add(a, g * Rule<Op::op_>::df(v[a], v[i], c[b])); \
    break;
      SCALARGRAD_UNARY_CONST_OPS(SCALARGRAD_UNARY_CONST_CASE)
#undef SCALARGRAD_UNARY_CONST_CASE
      case Op::Add:  // d(x+y)/dx = 1, d(x+y)/dy = 1
        binary(g, g);
        break;
      case Op::Sub:  // d(x-y)/dx = 1, d(x-y)/dy = -1
        binary(g, -g);
        break;
      case Op::Mul:  // d(xy)/dx = y, d(xy)/dy = x
        binary(g * v[b], g * v[a]);
        break;
      case Op::Div:  // d(x/y)/dx = 1/y, d(x/y)/dy = -x/y^2 = -(x/y)/y
        binary(g / v[b], -(g * v[i] / v[b]));
        break;
      case Op::Pow: {  // d(x^y)/dx = y x^(y-1), d(x^y)/dy = x^y ln x (0 at x = 0, y >= 0)
        const double x = v[a];
        const double y = v[b];
        binary(g * pow_dx(x, v[i], y), g * ((x == 0.0 && y >= 0.0) ? 0.0 : v[i] * std::log(x)));
        break;
      }
      case Op::Import: {  // a leaf: accumulate into it
        double& total = leaf_gr[a];
        if constexpr (kCheck) check_accumulation(slot, i, total, g);
        total += g;
        break;
      }
      case Op::ImportExternal: {  // an external leaf: accumulate into its owner's grad
        const External& e = externals[a];
        double& total = e.grad != nullptr ? *e.grad : leaf_gr[e.leaf];
        if constexpr (kCheck) check_accumulation(slot, i, total, g);
        total += g;
        break;
      }
      case Op::ImportSegment: {  // a node of an older segment, swept after this one
        const SegmentRef r = s.imports[a];
        double& total = segments[r.segment].nodes.grad[r.offset];
        if constexpr (kCheck) check_accumulation(slot, i, total, g);
        total += g;
        break;
      }
      case Op::Released:  // nothing live reaches it (release_unreachable_imports())
      case Op::Input:     // a double given to dense(): its adjoint is all there is to it
        break;
      case Op::Sum:  // d(sum x_k)/dx_k = 1
        for (std::uint32_t k = a; k < a + b; ++k) gr[list[k]] += g;
        break;
      case Op::Affine:  // Dot plus a bias c, the last operand: d(... + c)/dc = 1
        gr[list[a + 2 * b]] += g;
        [[fallthrough]];
      case Op::Dot:  // d(sum x_k y_k)/dx_k = y_k, d/dy_k = x_k
        for (std::uint32_t k = a; k < a + b; ++k) {
          const std::uint32_t x = list[k];
          const std::uint32_t y = list[k + b];
          gr[x] += g * v[y];
          gr[y] += g * v[x];
        }
        break;
      case Op::AffineRange:  // DotRange plus the bias w + b, the node after the weights
        gr[list[a] + b] += g;
        [[fallthrough]];
      case Op::DotRange: {  // Dot with operands w + k and x + k (Note [Range dot])
        const std::uint32_t w = list[a];
        const std::uint32_t x = list[a + 1];
        if (w + b <= x || x + b <= w) {
          add_range_dot_gradients(gr + w, gr + x, v + w, v + x, b, g);
        } else {  // overlapping runs (w . w): one operand at a time, as a list's
          for (std::uint32_t k = 0; k < b; ++k) {
            gr[w + k] += g * v[x + k];
            gr[x + k] += g * v[w + k];
          }
        }
        break;
      }
    }
    if constexpr (kCheck) {
      std::size_t n = 0;
      for_each_operand(s, i, [&](std::uint32_t k) {
        if (finite_before[n++] && !std::isfinite(gr[k])) throw_gradient_anomaly(slot, i, k);
      });
    }
  }
}

// ---- Anomaly mode ---------------------------------------------------------------------------------
namespace {

// "0 (label 'x')", or "0" for an unlabelled value.
std::string describe(const Value& v) {
  std::string text = shortest(v.data());
  if (const std::string name = v.label(); !name.empty()) {
    text += " (label '";
    text += name;
    text += "')";
  }
  return text;
}

std::string describe_operands(std::span<const Value> operands, const double* c) {
  std::string text;
  const std::size_t shown = std::min<std::size_t>(operands.size(), 8);
  for (std::size_t k = 0; k < shown; ++k) {
    text += k == 0 ? "" : ", ";
    text += describe(operands[k]);
  }
  if (shown < operands.size()) {
    text += ", ... (";
    text += std::to_string(operands.size());
    text += " operands)";
  }
  if (c != nullptr) {
    text += "; constant ";
    text += shortest(*c);
  }
  return text;
}

}  // namespace

void Tape::check_value(Op op, double y, std::span<const Value> operands, const double* c) {
  if (std::isfinite(y)) return;
  const std::string name(op_name(op));
  std::string message = "scalargrad: anomaly: ";
  message += name;
  message += " returned ";
  message += shortest(y);
  message += "; operands: ";
  message += describe_operands(operands, c);
  throw AnomalyError(message, name);
}

void Tape::throw_gradient_anomaly(std::uint32_t slot, std::uint32_t i, std::uint32_t offset) {
  const Segment& s = segments[slot];
  const std::string name(op_name(s.nodes.op[i]));
  const Value result = handle_to(slot, i);
  const Value target = handle_to(slot, offset);
  std::vector<Value> operands = operands_of(slot, i);
  const bool has_constant = result.constant().has_value();
  const double c = result.constant().value_or(0.0);
  std::string message = "scalargrad: anomaly: backward through ";
  message += name;
  message += " (value ";
  message += describe(result);
  message += ", gradient ";
  message += shortest(s.nodes.grad[i]);
  message += ") made the gradient of its operand ";
  message += describe(target);
  message += " ";
  message += shortest(s.nodes.grad[offset]);
  message += "; operands: ";
  message += describe_operands(operands, has_constant ? &c : nullptr);
  throw AnomalyError(message, name);
}

void Tape::check_accumulation(std::uint32_t slot, std::uint32_t i, double total, double g) {
  if (!std::isfinite(total) || std::isfinite(total + g)) return;
  const Value target = handle_to(slot, i);  // the leaf or older node that node i stands for
  const std::string name(target.op());
  std::string message = "scalargrad: anomaly: backward made the gradient of ";
  message += describe(target);
  message += " ";
  message += shortest(total + g);
  message += ": adding ";
  message += shortest(g);
  message += " to the ";
  message += shortest(total);
  message += segments[slot].nodes.op[i] == Op::ImportSegment
                 ? " it had from its other uses"
                 : " it had from its other uses, or from an earlier backward() or set_grad() (a leaf's "
                   "gradient adds up until zero_grad())";
  throw AnomalyError(message, name);
}

}  // namespace scalargrad::detail
