// Futexes on shared memory: the system calls.
// Follows futex(2) (FUTEX_WAIT_BITSET, FUTEX_WAKE), futex_waitv(2),
// syscall(2) and clock_gettime(2). Maps nothing: the words live in memory
// the caller keeps mapped for the call.
#include "futex_syscalls.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

namespace shm::sync {
namespace {

constexpr int64_t kNanosecondsPerSecond = 1000000000;
constexpr int64_t kFallbackSliceNs = 1000000;  // without futex_waitv: how often the other words are looked at

int64_t Now() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * kNanosecondsPerSecond + now.tv_nsec;
}

struct timespec ToTimespec(int64_t nanoseconds) {
  struct timespec value;
  value.tv_sec = nanoseconds / kNanosecondsPerSecond;
  value.tv_nsec = nanoseconds % kNanosecondsPerSecond;
  return value;
}

// futex_waitv(2) appeared in Linux 5.16; older kernels answer ENOSYS.
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
struct futex_waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t __reserved;
};
#endif

bool Cancelled(const uint32_t* cancel) { return cancel != nullptr && __atomic_load_n(cancel, __ATOMIC_ACQUIRE) != 0; }

// One sleep of the kernel, to `until` (kNoDeadline: no end): 0 when woken,
// else the errno (EAGAIN, ETIMEDOUT, EINTR, ENOSYS, EFAULT...).
int SleepOnce(const FutexWord* words, int count, const uint32_t* cancel, int64_t until) {
  struct timespec absolute = ToTimespec(until);
  const struct timespec* timeout = until == kNoDeadline ? nullptr : &absolute;
  long status;
  if (count == 1 && cancel == nullptr) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a retry
    // after a signal waits no longer than asked; it needs no futex_waitv.
    status = syscall(SYS_futex, words[0].word, FUTEX_WAIT_BITSET, words[0].expected, timeout, nullptr,
                     FUTEX_BITSET_MATCH_ANY);
  } else {
    struct futex_waitv waiters[kMaxWords + 1] = {};
    int n = 0;
    for (; n < count; n++) {
      waiters[n].val = words[n].expected;
      waiters[n].uaddr = reinterpret_cast<uintptr_t>(words[n].word);
      waiters[n].flags = FUTEX_32;  // shared: woken from any process
    }
    if (cancel != nullptr) {
      waiters[n].val = 0;
      waiters[n].uaddr = reinterpret_cast<uintptr_t>(cancel);
      waiters[n].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
      n++;
    }
    status = syscall(SYS_futex_waitv, waiters, n, 0, timeout, CLOCK_MONOTONIC);
  }
  return status >= 0 ? 0 : errno;
}

// Without futex_waitv: sleep on the first word in short slices, and look at
// the others (and the cancel word) between them.
int SleepSliced(const FutexWord* words, int count, const uint32_t* cancel, int64_t until) {
  for (bool firstSlice = true;;) {
    // The words it does not sleep on are compared before every slice, the
    // first included: a 64-bit cell whose high half already differs is
    // not-equal (EAGAIN), as futex_waitv answers, not a wake after a slice.
    for (int i = 1; i < count; i++) {
      if (__atomic_load_n(words[i].word, __ATOMIC_SEQ_CST) != words[i].expected) return firstSlice ? EAGAIN : 0;
    }
    int64_t slice = Now() + kFallbackSliceNs;
    bool last = until != kNoDeadline && until <= slice;
    int errnum = SleepOnce(words, 1, nullptr, last ? until : slice);
    if (errnum == EAGAIN && !firstSlice) return 0;  // changed while this wait went on: as a wake
    if (errnum != ETIMEDOUT || last) return errnum;
    firstSlice = false;
    if (Cancelled(cancel)) return 0;
  }
}

// Until the kernel says ENOSYS. SHM_SYNC_NO_FUTEX_WAITV (any value) makes a
// process start without it, as on Linux before 5.16: how the tests reach the
// sliced fallback on a kernel that has futex_waitv.
std::atomic<bool> haveWaitv{std::getenv("SHM_SYNC_NO_FUTEX_WAITV") == nullptr};

}  // namespace

int64_t DeadlineAfter(double timeoutMs) {
  if (!std::isfinite(timeoutMs)) return kNoDeadline;
  int64_t now = Now();
  double nanoseconds = timeoutMs * 1e6;
  if (nanoseconds >= static_cast<double>(INT64_MAX - now)) return kNoDeadline;
  return now + static_cast<int64_t>(nanoseconds);
}

WaitResult FutexWaitAny(const FutexWord* words, int count, int64_t deadline, const uint32_t* cancel,
                        const StopCheck* stop) {
  bool first = true;  // no sleep has ended yet
  for (;;) {
    if (Cancelled(cancel)) return {WaitOutcome::kCancelled, 0};
    // A wait that may have to notice its thread's termination sleeps in
    // slices; between two, the stop check runs. (A notify that comes between
    // two slices finds no sleeper, as one that comes before a wait begins;
    // the wait goes on as long as its word holds the expected value, so every
    // wake that follows a change of the word is still seen.)
    int64_t until = deadline;
    if (stop != nullptr) {
      int64_t sliceEnd = Now() + kStopCheckNs;
      if (until == kNoDeadline || sliceEnd < until) until = sliceEnd;
    }
    bool direct = haveWaitv.load(std::memory_order_relaxed) || (count == 1 && cancel == nullptr);
    int errnum = direct ? SleepOnce(words, count, cancel, until) : SleepSliced(words, count, cancel, until);
    // No futex_waitv: an old kernel (ENOSYS), or a seccomp profile older than
    // it (EPERM).
    if ((errnum == ENOSYS || (errnum == EPERM && (count > 1 || cancel != nullptr))) && direct) {
      haveWaitv.store(false, std::memory_order_relaxed);
      continue;
    }
    if (Cancelled(cancel)) return {WaitOutcome::kCancelled, 0};
    switch (errnum) {
      case 0: return {WaitOutcome::kWoken, 0};
      // Changed since the call began (between two slices): as a wake, since
      // the change is what a notify follows.
      case EAGAIN: return {first ? WaitOutcome::kNotEqual : WaitOutcome::kWoken, 0};
      case EINTR:
        first = false;
        continue;
      case ETIMEDOUT:
        if (until == deadline) return {WaitOutcome::kTimedOut, 0};
        if (stop->stopping(stop->context)) return {WaitOutcome::kStopped, 0};
        first = false;
        continue;
      default: return {WaitOutcome::kFailed, errnum};
    }
  }
}

void WakeCancel(uint32_t* cancel, uint32_t reason) {
  uint32_t none = 0;
  if (!__atomic_compare_exchange_n(cancel, &none, reason, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return;
  syscall(SYS_futex, cancel, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

int FutexWake(const uint32_t* word, int count) {
  long woken = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return woken == -1 ? -errno : static_cast<int>(woken);
}

}  // namespace shm::sync
