// Faults in guarded mappings that must not end the process.
// Follows sigaction(2), signal-safety(7), mmap(2), mremap(2), shmat(2).
//
//  - A mapping of a POSIX object (kFile, shared or read-only private) whose
//    object another process shrinks
//    (ftruncate, `truncate -s`): a read or write past the new end raises
//    SIGBUS (BUS_ADRERR); so does a first write when /dev/shm has no room
//    for the page (an object created with reserve: false). The handler maps
//    a private zero page over the faulting page alone, in one
//    mmap(MAP_FIXED) (pages that are still there stay shared), marks the
//    range as having lost pages, and lets the access retry: reads there see
//    zeros, writes land in that page. A zero page next to the run of zero
//    pages the handler made last in that range joins it (no new mapping),
//    so a scan that runs forward or backward past a new end costs no budget
//    however long it is. A zero page elsewhere splits the mapping: once a
//    range has made kRangeSplitBudget such splits, or the process
//    kProcessSplitBudget in ranges still guarded, a loss zeroes every page
//    from the lowest one lost to the end of the range, in one mapping (a
//    split of its own, within the budgets): all of them are gone after a
//    truncation, which removes a tail, so the pages still there stay shared.
//    (A view keeps what it lost: pages an object grows back, or a full
//    /dev/shm did not give, may be zeroed with that tail.) Where no split is
//    left for the tail either, or vm.max_map_count leaves no room for it,
//    the whole range becomes zero pages (one mapping). Writes into zero pages
//    reach no one and may be zeroed again. The binding reports a loss at the
//    next call on that segment (TakeLostPages), once.
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
// Only faults the kernel raised are handled (si_code > 0): a SIGBUS or
// SIGSEGV sent with kill(2) goes on as if there were no guard. Every other
// fault goes on to the handler installed before (Node's, V8's) or to the
// default action. Register re-installs the handler if something replaced it
// since (the replacement is then chained to).
//
// The table is per addon (internal linkage: two addons, or two versions of
// one, never share a table whose layout may differ), each with its own
// handler chained to the previous one, and shared by the addon's threads;
// the handler reads it without locks. A slot is read under a sequence count
// (odd while being written), so a handler never acts on a start of one range
// and an end of another; and its state carries the registration's
// generation, so a handler that found a range which was unregistered (and
// the slot reused) meanwhile changes nothing of the new one.
//
// Contract with the mapping registry: a range is registered right after it
// is mapped and unregistered before its address can be given back (before the
// placeholder replaces it, or before munmap), so the handler never acts on a
// range that another mapping has taken over.
//
// Who owns the memory: every guarded range belongs to its mapping record
// (<shm/mapping.h>), which releases it. The handler only replaces pages
// inside a registered range (zero pages, or the private copy that mremap
// moves over the whole attachment), and what it puts there becomes part of
// the range, released with it. The one mapping it makes elsewhere, the
// copy's first place, is moved into the range or unmapped before it returns.
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

#include "stay_loaded.h"

namespace shm::fault {
namespace {  // internal linkage: see above

enum class Kind : uint32_t { kFile = 1, kReadonly = 2 };

// More than the mapping budget lets a process hold (see mapping_budget.h).
constexpr int kSlots = 1 << 16;

namespace detail {

// A slot's state: the registration's generation in the high 32 bits, then
// the splits its range made (kFile, 16 bits), then flags. One word, so that a
// split is counted to the registration that made it and to no later one.
constexpr uint64_t kLostPages = 1;  // kFile: pages were replaced by zeros, not reported yet
constexpr uint64_t kReported = 2;   // kFile: a loss was reported; later ones of this range are not
constexpr uint64_t kCopying = 4;    // kReadonly: a handler is making the private copy
constexpr uint64_t kCopied = 8;     // kReadonly: the range is a private copy now
constexpr int kSplitsShift = 16;
constexpr uint64_t kSplitsMask = uint64_t{0xffff} << kSplitsShift;

struct Slot {
  std::atomic<uint32_t> sequence{0};  // odd while start / end / kind are written
  std::atomic<uintptr_t> start{0};    // 0: free
  std::atomic<uintptr_t> end{0};
  std::atomic<uint32_t> kind{0};
  std::atomic<uint64_t> state{0};     // generation << 32 | splits << 16 | flags
  // kFile: the run of zero pages the handler made last, as page indexes in
  // the range, first << 32 | past-the-last; 0: none yet. Only a guide to
  // which faults need no split: an update lost to a race, or one a handler
  // still working on the range before makes, lets two splits at most go
  // uncounted (one on each side of the run), or counts one not needed.
  std::atomic<uint64_t> zeroRun{0};
  // kFile: the lowest page index zeroed, as the registration's generation
  // << 32 | index + 1; 0: none. Every page from it to the end was lost when
  // a peer truncated the object (a truncation removes a tail); the view
  // keeps that loss even if the object grows again.
  std::atomic<uint64_t> lowestLost{0};
  std::atomic<bool> claimed{false};
};

// How many times the handler may split mappings: by zeroing a lost page
// apart from the others, or a range's tail (each split adds up to two
// mappings). Past either budget a loss zeroes the range's tail from its
// lowest lost page instead: one mapping for all its zero pages, one split
// in all. So a peer that empties an object under sparse reads cannot drive
// the process to vm.max_map_count, where no mapping, zero pages included,
// can be made and V8 aborts. The process budget stays well inside the
// mapping budget's headroom (mapping_budget.h): at most 2,048 mappings. The
// range budget keeps one view from spending all of it. A range gives its
// splits back when it is unregistered.
constexpr int64_t kProcessSplitBudget = 1024;
constexpr uint64_t kRangeSplitBudget = 64;

Slot slots[kSlots];
std::atomic<uint64_t> lostEpoch{0};  // how many times pages were lost, ever
std::atomic<int64_t> processSplitsLeft{kProcessSplitBudget};
std::atomic<uint32_t> nextHint{0};
struct sigaction previousSegv;
struct sigaction previousBus;
std::once_flag installOnce;
uintptr_t pageSize = 4096;

uint64_t GenerationOf(uint64_t state) { return state >> 32; }

// Sets `set` in the slot's flags if it still holds generation `generation`;
// returns the state it saw (whose generation says whether it did).
uint64_t SetIfCurrent(Slot* slot, uint64_t generation, uint64_t set) {
  uint64_t state = slot->state.load(std::memory_order_acquire);
  while (GenerationOf(state) == generation &&
         !slot->state.compare_exchange_weak(state, state | set, std::memory_order_acq_rel)) {
  }
  return state;
}

// Clears `clear` in the slot's flags if it still holds generation `generation`.
void ClearIfCurrent(Slot* slot, uint64_t generation, uint64_t clear) {
  uint64_t state = slot->state.load(std::memory_order_acquire);
  while (GenerationOf(state) == generation &&
         !slot->state.compare_exchange_weak(state, state & ~clear, std::memory_order_acq_rel)) {
  }
}

uintptr_t PageDown(uintptr_t address) { return address & ~(pageSize - 1); }
uintptr_t PageUp(uintptr_t address) { return (address + pageSize - 1) & ~(pageSize - 1); }

// The slot whose live range holds `address`, or nullptr, with the range and
// its generation. Signal-safe.
Slot* Find(uintptr_t address, Kind kind, uintptr_t* start, uintptr_t* end, uint64_t* generation) {
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
      uint64_t g = GenerationOf(slot.state.load(std::memory_order_relaxed));
      std::atomic_thread_fence(std::memory_order_acquire);
      if (slot.sequence.load(std::memory_order_relaxed) != before) continue;
      if (s != 0 && k == static_cast<uint32_t>(kind) && address >= s && address < e) {
        *start = s;
        *end = e;
        *generation = g;
        return &slot;
      }
      break;
    }
  }
  return nullptr;
}

bool MapZeros(uintptr_t from, uintptr_t to) {
  return mmap(reinterpret_cast<void*>(from), to - from, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED;
}

uint64_t SplitsOf(uint64_t state) { return (state & kSplitsMask) >> kSplitsShift; }

// Counts one split to the range's registration `generation`, within both
// budgets; false if either is spent or the range was unregistered meanwhile.
bool TakeSplit(Slot* slot, uint64_t generation) {
  int64_t left = processSplitsLeft.load(std::memory_order_relaxed);
  do {
    if (left <= 0) return false;
  } while (!processSplitsLeft.compare_exchange_weak(left, left - 1, std::memory_order_relaxed));
  uint64_t state = slot->state.load(std::memory_order_acquire);
  while (GenerationOf(state) == generation && SplitsOf(state) < kRangeSplitBudget) {
    if (slot->state.compare_exchange_weak(state, state + (uint64_t{1} << kSplitsShift), std::memory_order_acq_rel)) return true;
  }
  processSplitsLeft.fetch_add(1, std::memory_order_relaxed);
  return false;
}

// Gives `count` of the range's splits back to the process budget, keeping
// at least `keep`, in one exchange (so two threads never give back the same
// splits), if the range is still registration `generation`.
constexpr uint64_t kAllSplits = UINT64_MAX;
void GiveBackSplits(Slot* slot, uint64_t generation, uint64_t count, uint64_t keep = 0) {
  uint64_t state = slot->state.load(std::memory_order_acquire);
  while (GenerationOf(state) == generation && SplitsOf(state) > keep && count > 0) {
    uint64_t given = count < SplitsOf(state) - keep ? count : SplitsOf(state) - keep;
    if (slot->state.compare_exchange_weak(state, state - (given << kSplitsShift), std::memory_order_acq_rel)) {
      processSplitsLeft.fetch_add(static_cast<int64_t>(given), std::memory_order_relaxed);
      return;
    }
  }
}

// Runs and low marks are page indexes of 32 bits: a range of more pages
// (16 TiB of 4 KiB pages) is not tracked, and loses pages one by one, then whole.
bool Tracked(uintptr_t start, uintptr_t end) { return (end - start) / pageSize < 0xffffffffu; }

// Records that page `index` of registration `generation` was lost, if it is
// the lowest so far. A value of an older registration is replaced; one of a
// newer registration (this handler is stale) is left alone.
void NoteLostPage(Slot* slot, uint64_t generation, uint64_t index) {
  uint64_t wanted = generation << 32 | (index + 1);
  uint64_t seen = slot->lowestLost.load(std::memory_order_acquire);
  while (seen == 0 || GenerationOf(seen) < generation || (GenerationOf(seen) == generation && (seen & 0xffffffffu) > index + 1)) {
    if (slot->lowestLost.compare_exchange_weak(seen, wanted, std::memory_order_acq_rel)) return;
  }
}

// The lost page alone: joined to the last run of zero pages when it is next
// to it (or in it: another thread zeroed it a moment ago), else as a split
// within both budgets. False if the budgets are spent or the kernel has no
// mapping left for a split.
bool ZeroPage(Slot* slot, uint64_t generation, uintptr_t page, uint64_t index, bool tracked) {
  uint64_t run = tracked ? slot->zeroRun.load(std::memory_order_relaxed) : 0;
  uint64_t first = run >> 32, last = run & 0xffffffffu;  // [first, last)
  if (run != 0 && index + 1 >= first && index <= last) {
    if (!MapZeros(page, page + pageSize)) return false;
    uint64_t grown = (index < first ? index : first) << 32 | (index + 1 > last ? index + 1 : last);
    slot->zeroRun.compare_exchange_strong(run, grown, std::memory_order_relaxed);
    return true;
  }
  if (!TakeSplit(slot, generation)) return false;
  if (!MapZeros(page, page + pageSize)) {
    GiveBackSplits(slot, generation, 1);  // not made
    return false;
  }
  if (tracked) slot->zeroRun.compare_exchange_strong(run, index << 32 | (index + 1), std::memory_order_relaxed);
  return true;
}

// Every page from the lowest lost one to the end, in one mapping: exactly
// what a truncation took, if the object did not grow again since. (Past the
// budgets, also the pages after it that a full /dev/shm did not give, and
// those that still exist.) It holds all of the range's zero pages (bar
// those other threads zero below it meanwhile), so their splits go back,
// less one: the tail itself splits the range. Where the range had no split
// to keep, the tail takes one from the process budget.
bool ZeroTail(Slot* slot, uint64_t generation, uintptr_t start, uintptr_t end) {
  uint64_t lowest = slot->lowestLost.load(std::memory_order_acquire);
  if (GenerationOf(lowest) != generation || (lowest & 0xffffffffu) == 0) return false;
  uint64_t index = (lowest & 0xffffffffu) - 1;
  if (index == 0) return false;  // the whole range: the caller's last resort, which needs no split
  bool kept = SplitsOf(slot->state.load(std::memory_order_acquire)) > 0;
  if (!kept && !TakeSplit(slot, generation)) return false;
  if (!MapZeros(start + index * pageSize, end)) {
    if (!kept) GiveBackSplits(slot, generation, 1);
    return false;
  }
  GiveBackSplits(slot, generation, kAllSplits, 1);  // all but the tail's
  slot->zeroRun.store(index << 32 | ((end - start) / pageSize), std::memory_order_relaxed);
  return true;
}

// A private zero page over the lost page; past the budgets, the tail from
// the lowest lost page; where even that needs a mapping the kernel has no
// room for, the whole range (which makes its mappings one, and gives its
// splits back).
bool ZeroLostPage(Slot* slot, uint64_t generation, uintptr_t address, uintptr_t start, uintptr_t end) {
  uintptr_t page = PageDown(address);
  uint64_t index = (page - start) / pageSize;
  bool tracked = Tracked(start, end);
  if (tracked) NoteLostPage(slot, generation, index);
  if (!ZeroPage(slot, generation, page, index, tracked) && !(tracked && ZeroTail(slot, generation, start, end))) {
    if (!MapZeros(start, end)) return false;
    GiveBackSplits(slot, generation, kAllSplits);
  }
  uint64_t state = slot->state.load(std::memory_order_acquire);
  if (!(state & kReported)) SetIfCurrent(slot, generation, kLostPages);
  lostEpoch.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

// The whole read-only range becomes a private, writable copy of its bytes.
bool CopyWhole(Slot* slot, uint64_t generation, uintptr_t start, uintptr_t end) {
  uint64_t state = SetIfCurrent(slot, generation, kCopying);
  if (GenerationOf(state) != generation) return true;  // unregistered meanwhile: retry, the range is another now
  if (state & kCopied) return true;                   // another thread finished: retry the write
  if (state & kCopying) {
    // Another thread is copying: wait until it has finished or given up.
    while (GenerationOf(state = slot->state.load(std::memory_order_acquire)) == generation &&
           (state & (kCopying | kCopied)) == kCopying) {
      sched_yield();
    }
    return GenerationOf(state) != generation || (state & kCopied) != 0;
  }
  size_t length = end - start;
  void* copy = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) {
    ClearIfCurrent(slot, generation, kCopying);
    return false;
  }
  std::memcpy(copy, reinterpret_cast<void*>(start), length);
  void* moved = mremap(copy, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(start));
  if (moved == MAP_FAILED) {
    munmap(copy, length);
    ClearIfCurrent(slot, generation, kCopying);
    return false;
  }
  // Unregistered meanwhile, the slot may hold another range now: its flags
  // are not this copy's to set. (The copy landed in this range's placeholder,
  // which a pending writer keeps reserved.)
  SetIfCurrent(slot, generation, kCopied);
  return true;
}

void Chain(const struct sigaction& previous, int signal, siginfo_t* info, void* context) {
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(signal, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(signal);
  } else if (previous.sa_handler == SIG_DFL) {
    // Not ours and nobody else's: the default action. A fault repeats by
    // itself once the handler is gone; a signal sent with kill(2) does not.
    struct sigaction fallback = {};
    fallback.sa_handler = SIG_DFL;
    sigaction(signal, &fallback, nullptr);
    if (info->si_code <= 0) raise(signal);
  }
}

void OnFault(int signal, siginfo_t* info, void* context);

struct sigaction OurAction() {
  struct sigaction action = {};
  action.sa_sigaction = OnFault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  return action;
}

void OnFault(int signal, siginfo_t* info, void* context) {
  int savedErrno = errno;
  uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  uintptr_t start = 0, end = 0;
  uint64_t generation = 0;
  bool handled = false;
  // si_code > 0: raised by the kernel for this access, not sent by anyone.
  if (signal == SIGBUS && info->si_code == BUS_ADRERR) {
    Slot* slot = Find(address, Kind::kFile, &start, &end, &generation);
    handled = slot != nullptr && ZeroLostPage(slot, generation, address, start, end);
  } else if (signal == SIGSEGV && info->si_code == SEGV_ACCERR) {
    Slot* slot = Find(address, Kind::kReadonly, &start, &end, &generation);
    handled = slot != nullptr && CopyWhole(slot, generation, start, end);
  }
  errno = savedErrno;
  if (handled) return;  // the access runs again, on the new pages
  Chain(signal == SIGBUS ? previousBus : previousSegv, signal, info, context);
}

void Install() {
  // Handlers installed later chain to OnFault: its code must stay mapped.
  StayLoaded(reinterpret_cast<const void*>(&OnFault));
  pageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  struct sigaction action = OurAction();
  sigaction(SIGSEGV, &action, &previousSegv);
  sigaction(SIGBUS, &action, &previousBus);
}

// Puts the handler back where something replaced it (a listener, another
// library), chaining to the replacement. Outside any handler, on the
// registering thread: sigaction is not racing a fault of this signal here.
void EnsureInstalled(int signal, struct sigaction* previous) {
  struct sigaction current;
  if (sigaction(signal, nullptr, &current) != 0 || (current.sa_flags & SA_SIGINFO && current.sa_sigaction == OnFault)) return;
  struct sigaction action = OurAction();
  sigaction(signal, &action, previous);
}

}  // namespace detail

// Guards [base, base + length); returns the slot, or -1 when every slot is taken.
int Register(void* base, size_t length, Kind kind) {
  using namespace detail;
  std::call_once(installOnce, Install);
  EnsureInstalled(kind == Kind::kFile ? SIGBUS : SIGSEGV, kind == Kind::kFile ? &previousBus : &previousSegv);
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
    uint64_t generation = GenerationOf(slot.state.load(std::memory_order_relaxed)) + 1;
    slot.state.store(generation << 32, std::memory_order_relaxed);  // a new generation, no splits, no flags
    slot.zeroRun.store(0, std::memory_order_relaxed);
    slot.lowestLost.store(0, std::memory_order_relaxed);
    slot.sequence.fetch_add(1, std::memory_order_release);  // even: readable
    nextHint.store(static_cast<uint32_t>(index + 1), std::memory_order_relaxed);
    return index;
  }
  return -1;
}

// Stops guarding the slot's range (before its address can be reused).
void Unregister(int index) {
  using namespace detail;
  if (index < 0) return;
  Slot& slot = slots[index];
  slot.sequence.fetch_add(1, std::memory_order_acq_rel);
  slot.start.store(0, std::memory_order_relaxed);
  slot.end.store(0, std::memory_order_relaxed);
  slot.kind.store(0, std::memory_order_relaxed);
  // A new generation: a handler still working on the old range now changes
  // nothing of the slot, and a split it takes after this goes back at once.
  // The splits the range made go back with it, counted in the same exchange.
  uint64_t generation = GenerationOf(slot.state.load(std::memory_order_relaxed)) + 1;
  uint64_t old = slot.state.exchange(generation << 32, std::memory_order_acq_rel);
  processSplitsLeft.fetch_add(static_cast<int64_t>(SplitsOf(old)), std::memory_order_relaxed);
  slot.zeroRun.store(0, std::memory_order_relaxed);
  slot.lowestLost.store(0, std::memory_order_relaxed);
  slot.sequence.fetch_add(1, std::memory_order_release);
  slot.claimed.store(false, std::memory_order_release);
  // The next search starts here: churn reuses a few slots (and pages of the
  // table) instead of walking all of them.
  nextHint.store(static_cast<uint32_t>(index), std::memory_order_relaxed);
}

// Changes whenever the handler replaces lost pages anywhere in the process:
// callers that saw the same value last time need not look at any slot.
uint64_t LostPagesEpoch() { return detail::lostEpoch.load(std::memory_order_acquire); }

// Whether the handler replaced lost pages of this slot's range since the last
// call; reports each loss once.
bool TakeLostPages(int index) {
  using namespace detail;
  if (index < 0) return false;
  uint64_t state = slots[index].state.load(std::memory_order_acquire);
  while ((state & kLostPages) &&
         !slots[index].state.compare_exchange_weak(state, (state & ~kLostPages) | kReported, std::memory_order_acq_rel)) {
  }
  return (state & kLostPages) != 0;
}

}  // namespace
}  // namespace shm::fault
