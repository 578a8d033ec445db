// Futexes on shared memory, and the thread identity the Mutex records: the
// system calls, and nothing of JavaScript.
// Follows futex(2) (FUTEX_WAIT_BITSET, FUTEX_WAKE, without FUTEX_PRIVATE_FLAG
// so that waiters in every process mapping the word are reached),
// futex_waitv(2) (Linux 5.16) and clock_gettime(2).
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace shm::sync {

enum class WaitOutcome {
  kWoken,      // a wake on one of the words (from any process)
  kNotEqual,   // a word did not hold its expected value
  kTimedOut,
  kCancelled,  // the cancel word became nonzero (see FutexWaitAny)
  kStopped,    // the stop check said the thread is being terminated
  kFailed,     // errnum says why (EFAULT: the memory is not mapped)
};

struct WaitResult {
  WaitOutcome outcome;
  int errnum;
};

// An absolute CLOCK_MONOTONIC time in nanoseconds, or kNoDeadline. A timeout
// too long for the clock (from about 9.2e12 ms) is no deadline: it would
// overflow, and nothing waits that long.
constexpr int64_t kNoDeadline = -1;
int64_t DeadlineAfter(double timeoutMs);

// One 32-bit futex word and the value it must hold for the wait to sleep.
// Shared (no FUTEX_PRIVATE_FLAG): a wake from any process mapping it counts.
struct FutexWord {
  const uint32_t* word;
  uint32_t expected;
};

// The most words one wait watches: a 64-bit cell's two halves, or a Channel
// cursor and its closed word.
constexpr int kMaxWords = 2;

// Asked while a blocking wait sleeps, at least every kStopCheckNs: true when
// the calling thread is being terminated (worker.terminate(), process.exit()
// of the main thread), so that the wait ends as Atomics.wait would.
struct StopCheck {
  bool (*stopping)(void* context);
  void* context;
};
constexpr int64_t kStopCheckNs = 20 * 1000000;

// Sleeps until a wake on any of `words` (from any process), until one of them
// does not hold its expected value (checked by the kernel as the wait
// begins, atomically with the wake: futex_waitv(2)), until `deadline`, until
// `*cancel` becomes nonzero (when given; WakeCancel ends the sleep), or until
// `stop` says so (when given). Signals do not end it: EINTR is retried to the
// same deadline.
//
// On kernels before 5.16 (no futex_waitv) a wait on more than one word, or
// with a cancel word, sleeps on the first word in slices of at most 1 ms and
// looks at the others between them: a change of another word (and every wake
// of this library's protocols follows a change) is then seen up to 1 ms late.
WaitResult FutexWaitAny(const FutexWord* words, int count, int64_t deadline, const uint32_t* cancel,
                        const StopCheck* stop);
void WakeCancel(uint32_t* cancel, uint32_t reason);

// Wakes at most `count` waiters on the word; returns how many, or -errno.
int FutexWake(const uint32_t* word, int count);

}  // namespace shm::sync
