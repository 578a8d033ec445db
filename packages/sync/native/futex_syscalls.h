// Futexes on shared memory, and the thread identity the Mutex records: the
// system calls, and nothing of JavaScript.
// Follows futex(2) (FUTEX_WAIT_BITSET, FUTEX_WAKE, without FUTEX_PRIVATE_FLAG
// so that waiters in every process mapping the word are reached),
// futex_waitv(2) (Linux 5.16), clock_gettime(2), gettid(2) and proc(5)
// (/proc/<tid>/stat).
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace shm::sync {

enum class WaitOutcome {
  kWoken,      // a wake on the word (from any process), or a cancel
  kNotEqual,   // the word did not hold the expected value
  kTimedOut,
  kFailed,     // errnum says why (EFAULT: the memory is not mapped)
};

struct WaitResult {
  WaitOutcome outcome;
  int errnum;
};

// An absolute CLOCK_MONOTONIC time in nanoseconds, or kNoDeadline.
constexpr int64_t kNoDeadline = -1;
int64_t DeadlineAfter(double timeoutMs);

// Blocks until the word is woken, does not hold `expected`, or the deadline
// passes. Signals do not end the wait (EINTR is retried to the same deadline).
WaitResult FutexWait(const uint32_t* word, uint32_t expected, int64_t deadline);

// As FutexWait, but also ends (kWoken) once `*cancel` is nonzero and
// WakeCancel(cancel) is called: how a pending asynchronous wait is ended when
// its JavaScript environment goes away. `cancel` is private to this process.
WaitResult FutexWaitCancellable(const uint32_t* word, uint32_t expected, const uint32_t* cancel,
                                int64_t deadline);
void WakeCancel(uint32_t* cancel);

// Wakes at most `count` waiters on the word; returns how many, or -errno.
int FutexWake(const uint32_t* word, int count);

// The calling thread's id (gettid), unique among the machine's live threads.
pid_t ThreadId();

// The low 32 bits of a thread's start time (clock ticks after boot,
// /proc/<tid>/stat field 22): with the thread id, it tells a live thread from
// a later one that was given the same id. 0 if the thread does not exist or
// is a zombie.
uint32_t ThreadStartToken(pid_t tid);

}  // namespace shm::sync
