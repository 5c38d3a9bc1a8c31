// Misuse throws scalargrad::Error, whose message says what was wrong and what to do (DESIGN.md
// section 4); IEEE domain results are values, not errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "scalargrad/value.hpp"

#include "support/test_support.hpp"

namespace {

using scalargrad::testing_support::ErrorMessage;
using scalargrad::testing_support::OnFreshTape;

using scalargrad::NoGradGuard;
using scalargrad::Value;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

static_assert(std::is_base_of_v<std::runtime_error, scalargrad::Error>);

/// Runs `f` on a new thread and returns what ErrorMessage gives there.
std::string ErrorMessageOnAnotherThread(const std::function<void()>& f) {
  std::string message;
  std::thread other([&] { message = ErrorMessage(f); });
  other.join();
  return message;
}

const auto kMovedFrom = AllOf(HasSubstr("moved from"), HasSubstr("assign it a new Value"));
const auto kOtherThread = AllOf(HasSubstr("thread other than the one that recorded it"),
                                HasSubstr("pass its data() to the other thread"));

// ---- 1. Moved-from Values ----------------------------------------------------------------------

// Regression: what() is a C string, so a message quoting user input that held a NUL byte ended
// there ("...: column 2: '4", the reason lost).
TEST(Errors, ANulByteInAMessageIsWrittenAsBackslashZero) {
  using namespace std::string_literals;
  const scalargrad::Error error("field '4\0' is not a number, nor '\0\0'"s);
  EXPECT_STREQ(error.what(), "field '4\\0' is not a number, nor '\\0\\0'");
  EXPECT_STREQ(scalargrad::Error("no NUL here").what(), "no NUL here");
  EXPECT_STREQ(scalargrad::Error(std::string("at the end\0", 11)).what(), "at the end\\0");
}

TEST(Errors, MovedFromLeafThrowsOnEveryUse) {
  Value x = 2.0;
  const Value y = std::move(x);
  EXPECT_EQ(y.data(), 2.0);
  EXPECT_THAT(ErrorMessage([&] { (void)x.data(); }), kMovedFrom);  // NOLINT(bugprone-use-after-move)
  EXPECT_THAT(ErrorMessage([&] { (void)x.grad(); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { x.zero_grad(); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { (void)(x + 1.0); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { (void)(y * x); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { (void)(x * y); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { (void)x.tanh(); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { x.backward(); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { x.set_data(1.0); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { (void)x.is_leaf(); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { (void)scalargrad::topological_order(x); }), kMovedFrom);
  const std::vector<Value> xs{y, x};  // copying a moved-from Value copies nothing
  EXPECT_THAT(ErrorMessage([&] { (void)scalargrad::sum(xs); }), kMovedFrom);
}

TEST(Errors, MovedFromOpResultThrowsOnEveryUse) {
  Value x = 2.0;
  Value y = x * x;
  const Value z = std::move(y);
  EXPECT_EQ(z.data(), 4.0);
  EXPECT_THAT(ErrorMessage([&] { (void)y.data(); }), kMovedFrom);  // NOLINT(bugprone-use-after-move)
  EXPECT_THAT(ErrorMessage([&] { (void)(y - x); }), kMovedFrom);
  EXPECT_THAT(ErrorMessage([&] { y.backward(); }), kMovedFrom);
  {
    const NoGradGuard no_grad;  // the no-grad path checks too
    EXPECT_THAT(ErrorMessage([&] { (void)(y * 2.0); }), kMovedFrom);
    EXPECT_THAT(ErrorMessage([&] { (void)(x / y); }), kMovedFrom);
  }
  y = x + 1.0;  // assigning makes it usable again, as the message says
  EXPECT_EQ(y.data(), 3.0);
}

// The fast path compares a Value's 8-byte key with the open segment's key, and a tape with no
// open segment has a key of its own: a moved-from Value must still be caught in that state (a
// tape that has recorded nothing yet, on a fresh thread), by every op and compound assignment.
TEST(Errors, MovedFromThrowsWhenNoSegmentIsOpen) {
  OnFreshTape([] {
    Value x = 2.0;  // a leaf: opens no segment
    Value moved = 3.0;
    const Value keep = std::move(moved);
    ASSERT_EQ(scalargrad::tape_stats().segments, 0U);
    EXPECT_THAT(ErrorMessage([&] { (void)(moved + 1.0); }), kMovedFrom);  // NOLINT(bugprone-use-after-move)
    EXPECT_THAT(ErrorMessage([&] { (void)(moved * x); }), kMovedFrom);
    EXPECT_THAT(ErrorMessage([&] { (void)(x * moved); }), kMovedFrom);
    EXPECT_THAT(ErrorMessage([&] { (void)moved.relu(); }), kMovedFrom);
    EXPECT_THAT(ErrorMessage([&] { moved += x; }), kMovedFrom);
    EXPECT_THAT(ErrorMessage([&] { moved *= 2.0; }), kMovedFrom);
    const Value copy = moved;  // copies nothing, counts nothing
    EXPECT_THAT(ErrorMessage([&] { (void)copy.data(); }), kMovedFrom);
    EXPECT_EQ(keep.data(), 3.0);
    EXPECT_EQ((x * keep).data(), 6.0);
  });
}

// ---- 2. Values on another thread ---------------------------------------------------------------

TEST(Errors, LeafUsedOnAnotherThreadThrows) {
  Value x = 2.0;
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)x.data(); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)(x + 1.0); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)(x * x); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { const Value copy(x); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { x.backward(); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { x.set_data(3.0); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)x.grad(); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { x.zero_grad(); }), kOtherThread);
  EXPECT_EQ(x.data(), 2.0);  // untouched, and still fine here
  EXPECT_EQ((x * x).data(), 4.0);
}

TEST(Errors, LeafGradOnAThreadWhoseOwnTapeHasTheSameLeafSlotThrows) {
  // grad() and zero_grad() of a leaf take a fast path on the leaf's key: a leaf of another
  // thread, in the same slot of that thread's own tape, must still be told apart.
  OnFreshTape([] {
    Value x = 2.0;
    (x * x).backward();
    std::string grad_on_other;
    std::string zero_on_other;
    std::thread other([&] {
      Value u = 5.0;  // leaf slot 0 of this thread's tape, as x is of the first's
      (u * 3.0).backward();
      grad_on_other = ErrorMessage([&] { (void)x.grad(); });
      zero_on_other = ErrorMessage([&] { x.zero_grad(); });
      EXPECT_EQ(u.grad(), 3.0);
    });
    other.join();
    EXPECT_THAT(grad_on_other, kOtherThread);
    EXPECT_THAT(zero_on_other, kOtherThread);
    EXPECT_EQ(x.grad(), 4.0);  // untouched
    x.zero_grad();
    EXPECT_EQ(x.grad(), 0.0);
  });
}

TEST(Errors, OpResultUsedOnAnotherThreadThrows) {
  Value x = 2.0;
  const Value y = x * 3.0;
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)y.data(); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)y.grad(); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)(y + 1.0); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)y.exp(); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { const Value copy(y); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] {
                Value copy;
                copy = y;
              }),
              kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { y.backward(); }), kOtherThread);
  EXPECT_THAT(ErrorMessageOnAnotherThread([&] { (void)scalargrad::topological_order(y); }), kOtherThread);
  y.backward();  // still fine here
  EXPECT_EQ(x.grad(), 3.0);
}

TEST(Errors, OpResultUsedOnAThreadWhoseOwnTapeHasTheSameSlotsThrows) {
  // Both threads start from empty tapes: a's segment slot and offset exist on the second thread
  // too, so only the tape's identity can tell them apart.
  OnFreshTape([] {
    Value x = 2.0;
    const Value a = x * 3.0;
    std::string on_other;
    std::string copy_on_other;
    std::thread other([&] {
      Value u = 5.0;
      const Value b = u * 7.0;  // same slot and offset as a, on this thread's tape
      on_other = ErrorMessage([&] { (void)(a + b); });
      copy_on_other = ErrorMessage([&] { const Value copy(a); });
      EXPECT_EQ(b.data(), 35.0);
    });
    other.join();
    EXPECT_THAT(on_other, kOtherThread);
    EXPECT_THAT(copy_on_other, kOtherThread);
    EXPECT_EQ(a.data(), 6.0);
  });
}

TEST(Errors, DestroyingAValueOnAnotherThreadDoesNotCrash) {
  Value x = 2.0;
  std::optional<Value> leaf = x;
  std::optional<Value> result = x * x;
  std::thread without_tape([&] { leaf.reset(); });  // this thread never made a tape
  without_tape.join();
  std::thread with_tape([&] {
    const Value here = Value(1.0) * 2.0;  // this thread has a tape, with slot 0 in use
    result.reset();
    EXPECT_EQ(here.data(), 2.0);
  });
  with_tape.join();
  // A Value moved into a thread's lambda, destroyed when the thread ends.
  std::thread moved_in([v = x * 5.0] { (void)&v; });
  moved_in.join();
  // The main thread carries on.
  const Value y = x * x * x;
  y.backward();
  EXPECT_EQ(x.grad(), 12.0);
}

TEST(Errors, DestroyingAValueAfterItsThreadEndedDoesNotCrash) {
  std::optional<Value> orphan;
  std::thread maker([&] { orphan = Value(2.0) * 3.0; });
  maker.join();  // that thread's tape is gone
  EXPECT_THAT(ErrorMessage([&] { (void)orphan->data(); }), kOtherThread);
  orphan.reset();
}

// Note [Handle state] (tape.hpp): ~Value finds the open segment's key and handle count in
// thread-local storage, not behind the tape pointer. A thread_local constructed before its
// thread's tape is destroyed after it, at thread exit: its Value must then find no open
// segment there (not decrement the count of a freed one; ASan in CI checks this).
TEST(Errors, ThreadLocalValueDestroyedAfterItsThreadsTapeDoesNotCrash) {
  double seen = 0.0;
  std::thread worker([&] {
    thread_local std::optional<Value> outlives_tape;  // constructed first: destroyed last
    Value x = 2.0;                                     // the thread's tape is made here
    outlives_tape = x * 3.0;  // a handle into the segment still open at thread exit
    seen = outlives_tape->data();
  });
  worker.join();
  EXPECT_EQ(seen, 6.0);
  const Value y = Value(2.0) * 3.0;  // this thread's tape is untouched
  EXPECT_EQ(y.data(), 6.0);
}

/// Holds Values in a thread_local made before its thread's tape, so destroyed after it at
/// thread exit, and uses them there.
struct UsesValuesAfterTheTapeIsGone {
  std::optional<Value> leaf;
  std::optional<Value> node;
  std::string* leaf_message = nullptr;
  std::string* node_message = nullptr;
  std::string* nary_message = nullptr;
  ~UsesValuesAfterTheTapeIsGone() {
    if (!leaf || !node) return;
    *leaf_message = ErrorMessage([&] { (void)(*leaf * 2.0); });
    *node_message = ErrorMessage([&] { (void)(*node + *leaf); });
    const std::span<const Value> one_leaf(&*leaf, 1);
    const std::span<const Value> one_node(&*node, 1);
    *nary_message = ErrorMessage([&] { (void)scalargrad::sum(one_node); }) + " / " +
                    ErrorMessage([&] { (void)scalargrad::dot(one_leaf, one_node); });
  }
};

// Once a thread's tape is gone, its keys (Note [Handle state]) must match no Value: an op on a
// leaf or node of that tape then throws, instead of taking the fast path to a tape that is not
// there. And no tape is made for it (one made at thread exit would never be freed: the
// sanitizer build in CI reports leaks).
TEST(Errors, OpsOnValuesWhoseThreadsTapeIsGoneThrowAndMakeNoTape) {
  std::string leaf_message;
  std::string node_message;
  std::string nary_message;
  std::thread worker([&] {
    thread_local UsesValuesAfterTheTapeIsGone late;  // constructed first: destroyed last
    late.leaf_message = &leaf_message;
    late.node_message = &node_message;
    late.nary_message = &nary_message;
    late.leaf = Value(2.0);  // the thread's tape is made here
    late.node = *late.leaf * 3.0;
  });
  worker.join();
  EXPECT_THAT(leaf_message, kOtherThread);
  EXPECT_THAT(node_message, kOtherThread);
  EXPECT_THAT(nary_message, AllOf(StartsWith("scalargrad: a Value was used on a thread other"),
                                  HasSubstr(" / scalargrad: a Value was used on a thread other")));
}

// ---- 3. backward() under NoGradGuard -------------------------------------------------------------

TEST(Errors, BackwardUnderNoGradGuardThrows) {
  Value x = 2.0;
  const Value y = x * x;
  {
    const NoGradGuard no_grad;
    EXPECT_THAT(ErrorMessage([&] { y.backward(); }),
                AllOf(HasSubstr("backward() called under NoGradGuard"), HasSubstr("after the guard's scope ends")));
    EXPECT_THAT(ErrorMessage([&] { x.backward(); }), HasSubstr("NoGradGuard"));
  }
  y.backward();  // as the message says
  EXPECT_EQ(x.grad(), 4.0);
}

// ---- 4. set_data() on an op result -------------------------------------------------------------

TEST(Errors, SetDataOnAnOpResultThrowsNamingTheOp) {
  Value x = 2.0;
  Value product = x * x;
  Value hyperbolic = x.tanh();
  const auto says_what_to_do = AllOf(HasSubstr("set_data() on the result of an op"), HasSubstr("only leaves"),
                                     HasSubstr("Value(x)"), HasSubstr("detach()"));
  const std::string on_product = ErrorMessage([&] { product.set_data(1.0); });
  EXPECT_THAT(on_product, says_what_to_do);
  EXPECT_THAT(on_product, HasSubstr("'*'"));
  EXPECT_THAT(ErrorMessage([&] { hyperbolic.set_data(1.0); }), AllOf(says_what_to_do, HasSubstr("'tanh'")));
  EXPECT_EQ(product.data(), 4.0);  // unchanged
  Value leaf = product.detach();   // the way out the message gives
  leaf.set_data(1.0);
  EXPECT_EQ(leaf.data(), 1.0);
}

// ---- 5. dot() with mismatched lengths ----------------------------------------------------------

TEST(Errors, DotWithMismatchedLengthsThrowsGivingBothLengths) {
  const std::vector<Value> a{1.0, 2.0};
  const std::vector<Value> b{3.0, 4.0, 5.0};
  const auto message = AllOf(HasSubstr("dot() needs two spans of the same length"), HasSubstr("2 and 3"));
  EXPECT_THAT(ErrorMessage([&] { (void)scalargrad::dot(a, b); }), message);
  {
    const NoGradGuard no_grad;
    EXPECT_THAT(ErrorMessage([&] { (void)scalargrad::dot(a, b); }), message);
  }
  EXPECT_THAT(ErrorMessage([&] { (void)scalargrad::dot(b, std::vector<Value>{}); }), HasSubstr("3 and 0"));
  EXPECT_EQ(scalargrad::dot(a, a).data(), 5.0);
}

// ---- 6. IEEE domain results are values -----------------------------------------------------------

TEST(Errors, DomainErrorsGiveIeeeValuesNotExceptions) {
  Value minus_one = -1.0;
  Value zero = 0.0;
  Value y;
  EXPECT_NO_THROW(y = log(minus_one));
  EXPECT_TRUE(std::isnan(y.data()));
  EXPECT_NO_THROW(y.backward());
  EXPECT_EQ(minus_one.grad(), -1.0);  // d(ln x)/dx = 1/x, finite at -1
  EXPECT_NO_THROW(y = log(zero));
  EXPECT_EQ(y.data(), -INFINITY);
  EXPECT_NO_THROW(y = sqrt(minus_one));
  EXPECT_TRUE(std::isnan(y.data()));
  EXPECT_NO_THROW(y = 1.0 / zero);
  EXPECT_EQ(y.data(), INFINITY);
  EXPECT_NO_THROW(y = pow(Value(-8.0), 1.0 / 3.0));
  EXPECT_TRUE(std::isnan(y.data()));
  EXPECT_NO_THROW(y = log(minus_one) * 0.0 + zero.sqrt());
  EXPECT_NO_THROW(y.backward());
  EXPECT_TRUE(std::isnan(y.data()));
}

}  // namespace
