// Read-only System V attachments: see readonly_pages.h for why and how.
// See sigaction(2), mmap(2), mremap(2), munmap(2).
#include "readonly_pages.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace shm::sysv {
namespace {

// Lock-free so that the signal handler may read it while any thread of the
// process registers or unregisters. A slot's start is 0 when free, 1 while
// being filled.
struct ReadonlyRange {
  std::atomic<uintptr_t> start{0};
  std::atomic<uintptr_t> end{0};
};

constexpr uintptr_t kFree = 0;
constexpr uintptr_t kClaimed = 1;

ReadonlyRange ranges[kMaxReadonlyAttachments];
struct sigaction previousAction;
std::once_flag installOnce;
uintptr_t pageSize = 4096;

bool IsReadonlyAddress(uintptr_t address) {
  for (ReadonlyRange& range : ranges) {
    uintptr_t start = range.start.load(std::memory_order_acquire);
    if (start > kClaimed && address >= start && address < range.end.load(std::memory_order_acquire)) {
      return true;
    }
  }
  return false;
}

// Swaps the page for a private, writable copy of its current bytes.
bool GivePrivateCopy(uintptr_t page) {
  void* copy = mmap(nullptr, pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) return false;
  std::memcpy(copy, reinterpret_cast<void*>(page), pageSize);
  void* moved = mremap(copy, pageSize, pageSize, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(page));
  if (moved == MAP_FAILED) {
    munmap(copy, pageSize);
    return false;
  }
  return true;
}

void OnSegmentationFault(int signal, siginfo_t* info, void* context) {
  int savedErrno = errno;
  uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  if (info->si_code == SEGV_ACCERR && IsReadonlyAddress(address) &&
      GivePrivateCopy(address & ~(pageSize - 1))) {
    errno = savedErrno;
    return;  // the faulting write runs again, on the copy
  }
  errno = savedErrno;
  if (previousAction.sa_flags & SA_SIGINFO) {
    previousAction.sa_sigaction(signal, info, context);
  } else if (previousAction.sa_handler != SIG_DFL && previousAction.sa_handler != SIG_IGN) {
    previousAction.sa_handler(signal);
  } else {
    // Not ours and nobody else's: the fault repeats with the default action.
    struct sigaction fallback = {};
    fallback.sa_handler = SIG_DFL;
    sigaction(SIGSEGV, &fallback, nullptr);
  }
}

void InstallHandler() {
  pageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  struct sigaction action = {};
  action.sa_sigaction = OnSegmentationFault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &previousAction);
}

size_t RoundToPages(size_t length) { return (length + pageSize - 1) & ~(pageSize - 1); }

}  // namespace

bool RegisterReadonly(void* base, size_t length) {
  std::call_once(installOnce, InstallHandler);
  uintptr_t start = reinterpret_cast<uintptr_t>(base);
  for (ReadonlyRange& range : ranges) {
    uintptr_t expected = kFree;
    if (range.start.compare_exchange_strong(expected, kClaimed, std::memory_order_acq_rel)) {
      range.end.store(start + RoundToPages(length), std::memory_order_release);
      range.start.store(start, std::memory_order_release);
      return true;
    }
  }
  return false;
}

void UnregisterReadonly(void* base) {
  uintptr_t start = reinterpret_cast<uintptr_t>(base);
  for (ReadonlyRange& range : ranges) {
    if (range.start.load(std::memory_order_acquire) == start) {
      range.start.store(kFree, std::memory_order_release);
      break;
    }
  }
}

}  // namespace shm::sysv
