// Faults in guarded mappings that must not end the process.
// Follows sigaction(2), signal-safety(7), mmap(2), mremap(2), shmat(2).
//
//  - A mapping of a POSIX object (kFile, shared or read-only private) whose
//    object another process shrinks
//    (ftruncate, `truncate -s`): a read or write past the new end raises
//    SIGBUS (BUS_ADRERR); so does a first write when /dev/shm has no room
//    for the page (an object created with reserve: false). The handler maps
//    private zero pages over the rest of the mapping from the faulting page,
//    in one mmap(MAP_FIXED), marks the range as having lost pages, and lets
//    the access retry: reads there see zeros, writes land in those pages.
//    The binding reports it at the next call on that segment (TakeLostPages).
//  - A read-only System V attachment (kReadonly, shmat SHM_RDONLY): a write
//    raises SIGSEGV (SEGV_ACCERR). The kernel offers no private writable view
//    of a System V segment, so the handler replaces the whole attachment, in
//    one mremap(MAP_FIXED), by a private copy of its current bytes, and lets
//    the write retry on the copy. The segment never changes; the view stops
//    following it (its attachment is gone, so attach counts drop by one); and
//    it stays one mapping however many pages are written afterwards, so no
//    number of writes can exhaust vm.max_map_count. A thread that faults while
//    another copies waits for the copy and then retries: no write is lost.
//
// Every other fault goes on to the handler installed before (Node's, V8's) or
// to the default action. The table is process-wide (each addon that includes
// this header has its own, with its own handler chained to the previous one)
// and shared by all threads; the handler reads it without locks. A slot is
// read under a sequence count (odd while being written), so a handler never
// acts on a start of one range and an end of another.
//
// Contract with the mapping registry: a range is registered right after it
// is mapped and unregistered before its address can be given back (before the
// placeholder replaces it, or before munmap), so the handler never acts on a
// range that another mapping has taken over.
#pragma once

#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace shm::fault {

enum class Kind : uint32_t { kFile = 1, kReadonly = 2 };

// Enough for every mapping a process can hold (vm.max_map_count is 65,530 by default).
constexpr int kSlots = 1 << 16;

namespace detail {

constexpr uint32_t kLostPages = 1;  // kFile: pages past the end were replaced by zeros
constexpr uint32_t kCopying = 2;    // kReadonly: a handler is making the private copy
constexpr uint32_t kCopied = 4;     // kReadonly: the range is a private copy now

struct Slot {
  std::atomic<uint32_t> sequence{0};  // odd while start / end / kind are written
  std::atomic<uintptr_t> start{0};    // 0: free
  std::atomic<uintptr_t> end{0};
  std::atomic<uint32_t> kind{0};
  std::atomic<uint32_t> state{0};
  std::atomic<bool> claimed{false};
};

inline Slot slots[kSlots];
inline std::atomic<uint64_t> lostEpoch{0};  // how many times pages were lost, ever
inline std::atomic<uint32_t> nextHint{0};
inline struct sigaction previousSegv;
inline struct sigaction previousBus;
inline std::once_flag installOnce;
inline uintptr_t pageSize = 4096;

inline uintptr_t PageDown(uintptr_t address) { return address & ~(pageSize - 1); }
inline uintptr_t PageUp(uintptr_t address) { return (address + pageSize - 1) & ~(pageSize - 1); }

// The slot whose live range holds `address`, or nullptr. Signal-safe.
inline Slot* Find(uintptr_t address, Kind kind, uintptr_t* start, uintptr_t* end) {
  for (Slot& slot : slots) {
    for (;;) {
      uint32_t before = slot.sequence.load(std::memory_order_acquire);
      if (before & 1) {
        sched_yield();
        continue;
      }
      uintptr_t s = slot.start.load(std::memory_order_relaxed);
      uintptr_t e = slot.end.load(std::memory_order_relaxed);
      uint32_t k = slot.kind.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (slot.sequence.load(std::memory_order_relaxed) != before) continue;
      if (s != 0 && k == static_cast<uint32_t>(kind) && address >= s && address < e) {
        *start = s;
        *end = e;
        return &slot;
      }
      break;
    }
  }
  return nullptr;
}

// Private zero pages over [page of address, end): the shrunk object's lost tail.
inline bool ZeroTail(Slot* slot, uintptr_t address, uintptr_t end) {
  uintptr_t from = PageDown(address);
  void* zeros = mmap(reinterpret_cast<void*>(from), end - from, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (zeros == MAP_FAILED) return false;
  slot->state.fetch_or(kLostPages, std::memory_order_acq_rel);
  lostEpoch.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

// The whole read-only range becomes a private, writable copy of its bytes.
inline bool CopyWhole(Slot* slot, uintptr_t start, uintptr_t end) {
  uint32_t state = slot->state.load(std::memory_order_acquire);
  if (state & kCopied) return true;  // another thread finished: retry the write
  if (slot->state.fetch_or(kCopying, std::memory_order_acq_rel) & kCopying) {
    // Another thread is copying: wait until it has finished or given up.
    while (((state = slot->state.load(std::memory_order_acquire)) & (kCopying | kCopied)) == kCopying) sched_yield();
    return (state & kCopied) != 0;
  }
  size_t length = end - start;
  void* copy = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) {
    slot->state.fetch_and(~kCopying, std::memory_order_acq_rel);
    return false;
  }
  std::memcpy(copy, reinterpret_cast<void*>(start), length);
  void* moved = mremap(copy, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(start));
  if (moved == MAP_FAILED) {
    munmap(copy, length);
    slot->state.fetch_and(~kCopying, std::memory_order_acq_rel);
    return false;
  }
  slot->state.fetch_or(kCopied, std::memory_order_acq_rel);
  return true;
}

inline void Chain(const struct sigaction& previous, int signal, siginfo_t* info, void* context) {
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(signal, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(signal);
  } else {
    // Not ours and nobody else's: the fault repeats with the default action.
    struct sigaction fallback = {};
    fallback.sa_handler = SIG_DFL;
    sigaction(signal, &fallback, nullptr);
  }
}

inline void OnFault(int signal, siginfo_t* info, void* context) {
  int savedErrno = errno;
  uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  uintptr_t start = 0, end = 0;
  bool handled = false;
  if (signal == SIGBUS && info->si_code == BUS_ADRERR) {
    Slot* slot = Find(address, Kind::kFile, &start, &end);
    handled = slot != nullptr && ZeroTail(slot, address, end);
  } else if (signal == SIGSEGV && info->si_code == SEGV_ACCERR) {
    Slot* slot = Find(address, Kind::kReadonly, &start, &end);
    handled = slot != nullptr && CopyWhole(slot, start, end);
  }
  errno = savedErrno;
  if (handled) return;  // the access runs again, on the new pages
  Chain(signal == SIGBUS ? previousBus : previousSegv, signal, info, context);
}

inline void Install() {
  pageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  struct sigaction action = {};
  action.sa_sigaction = OnFault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &previousSegv);
  sigaction(SIGBUS, &action, &previousBus);
}

}  // namespace detail

// Guards [base, base + length); returns the slot, or -1 when every slot is taken.
inline int Register(void* base, size_t length, Kind kind) {
  using namespace detail;
  std::call_once(installOnce, Install);
  uint32_t hint = nextHint.load(std::memory_order_relaxed);
  for (int probe = 0; probe < kSlots; probe++) {
    int index = static_cast<int>((hint + probe) % kSlots);
    Slot& slot = slots[index];
    bool expected = false;
    if (!slot.claimed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) continue;
    uintptr_t start = reinterpret_cast<uintptr_t>(base);
    slot.sequence.fetch_add(1, std::memory_order_acq_rel);  // odd: being written
    slot.start.store(start, std::memory_order_relaxed);
    slot.end.store(PageUp(start + length), std::memory_order_relaxed);
    slot.kind.store(static_cast<uint32_t>(kind), std::memory_order_relaxed);
    slot.state.store(0, std::memory_order_relaxed);
    slot.sequence.fetch_add(1, std::memory_order_release);  // even: readable
    nextHint.store(static_cast<uint32_t>(index + 1), std::memory_order_relaxed);
    return index;
  }
  return -1;
}

// Stops guarding the slot's range (before its address can be reused).
inline void Unregister(int index) {
  using namespace detail;
  if (index < 0) return;
  Slot& slot = slots[index];
  slot.sequence.fetch_add(1, std::memory_order_acq_rel);
  slot.start.store(0, std::memory_order_relaxed);
  slot.end.store(0, std::memory_order_relaxed);
  slot.kind.store(0, std::memory_order_relaxed);
  slot.sequence.fetch_add(1, std::memory_order_release);
  slot.claimed.store(false, std::memory_order_release);
  // The next search starts here: churn reuses a few slots (and pages of the
  // table) instead of walking all of them.
  nextHint.store(static_cast<uint32_t>(index), std::memory_order_relaxed);
}

// Changes whenever the handler replaces lost pages anywhere in the process:
// callers that saw the same value last time need not look at any slot.
inline uint64_t LostPagesEpoch() { return detail::lostEpoch.load(std::memory_order_acquire); }

// Whether the handler replaced lost pages of this slot's range since the last
// call; reports each loss once.
inline bool TakeLostPages(int index) {
  if (index < 0) return false;
  return detail::slots[index].state.fetch_and(~detail::kLostPages, std::memory_order_acq_rel) & detail::kLostPages;
}

}  // namespace shm::fault
