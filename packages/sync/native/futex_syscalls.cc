// Futexes on shared memory and thread identity: the system calls.
// See futex(2), futex_waitv(2), clock_gettime(2), gettid(2), proc(5).
#include "futex_syscalls.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace shm::sync {
namespace {

constexpr int64_t kNanosecondsPerSecond = 1000000000;

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

WaitResult FromErrno(int errnum) {
  switch (errnum) {
    case EAGAIN: return {WaitOutcome::kNotEqual, 0};
    case ETIMEDOUT: return {WaitOutcome::kTimedOut, 0};
    default: return {WaitOutcome::kFailed, errnum};
  }
}

// futex_waitv(2) appeared in Linux 5.16; older kernels answer ENOSYS and the
// cancellable wait falls back to waiting in slices.
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

constexpr int64_t kFallbackSliceNs = 50 * 1000000;  // how often a fallback wait looks at its cancel word

}  // namespace

int64_t DeadlineAfter(double timeoutMs) {
  if (!std::isfinite(timeoutMs)) return kNoDeadline;
  return Now() + static_cast<int64_t>(timeoutMs * 1e6);
}

WaitResult FutexWait(const uint32_t* word, uint32_t expected, int64_t deadline) {
  struct timespec absolute = ToTimespec(deadline);
  for (;;) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a retry
    // after a signal waits no longer than asked.
    long status = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected,
                          deadline == kNoDeadline ? nullptr : &absolute, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (status == 0) return {WaitOutcome::kWoken, 0};
    int errnum = errno;
    if (errnum != EINTR) return FromErrno(errnum);
  }
}

WaitResult FutexWaitCancellable(const uint32_t* word, uint32_t expected, const uint32_t* cancel,
                                int64_t deadline) {
  struct futex_waitv waiters[2] = {};
  waiters[0].val = expected;
  waiters[0].uaddr = reinterpret_cast<uintptr_t>(word);
  waiters[0].flags = FUTEX_32;  // shared: woken from any process
  waiters[1].val = 0;
  waiters[1].uaddr = reinterpret_cast<uintptr_t>(cancel);
  waiters[1].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
  struct timespec absolute = ToTimespec(deadline);
  for (;;) {
    if (__atomic_load_n(cancel, __ATOMIC_ACQUIRE) != 0) return {WaitOutcome::kWoken, 0};
    long status = syscall(SYS_futex_waitv, waiters, 2, 0, deadline == kNoDeadline ? nullptr : &absolute,
                          CLOCK_MONOTONIC);
    if (status >= 0) return {WaitOutcome::kWoken, 0};
    int errnum = errno;
    if (errnum == EINTR) continue;
    // The cancel word changed under the check above: that is the cancel.
    if (errnum == EAGAIN && __atomic_load_n(cancel, __ATOMIC_ACQUIRE) != 0) return {WaitOutcome::kWoken, 0};
    if (errnum != ENOSYS) return FromErrno(errnum);
    break;
  }
  // No futex_waitv: wait on the word in slices, looking at the cancel word between them.
  for (;;) {
    if (__atomic_load_n(cancel, __ATOMIC_ACQUIRE) != 0) return {WaitOutcome::kWoken, 0};
    int64_t slice = Now() + kFallbackSliceNs;
    bool last = deadline != kNoDeadline && deadline <= slice;
    WaitResult result = FutexWait(word, expected, last ? deadline : slice);
    if (result.outcome != WaitOutcome::kTimedOut || last) return result;
  }
}

void WakeCancel(uint32_t* cancel) {
  __atomic_store_n(cancel, 1, __ATOMIC_RELEASE);
  syscall(SYS_futex, cancel, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

int FutexWake(const uint32_t* word, int count) {
  long woken = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return woken == -1 ? -errno : static_cast<int>(woken);
}

pid_t ThreadId() { return static_cast<pid_t>(syscall(SYS_gettid)); }

uint32_t ThreadStartToken(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(tid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd == -1) return 0;
  char text[1024];
  ssize_t length = read(fd, text, sizeof text - 1);
  close(fd);
  if (length <= 0) return 0;
  text[length] = '\0';
  // Fields after the command name, which is in parentheses and may hold spaces:
  // 3 state, ... 22 starttime.
  const char* rest = std::strrchr(text, ')');
  if (rest == nullptr) return 0;
  char state = 0;
  unsigned long long startTime = 0;
  int matched = std::sscanf(rest + 1,
                            " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                            &state, &startTime);
  if (matched != 2 || state == 'Z' || state == 'X') return 0;
  uint32_t token = static_cast<uint32_t>(startTime);
  return token == 0 ? 1 : token;  // 0 means "gone"
}

}  // namespace shm::sync
