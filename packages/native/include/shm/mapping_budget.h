// The mapping budget: how many ranges the shm addons of a process may hold
// before vm.max_map_count is near, judged on the kernel's own count.
// Follows proc(5) (/proc/sys/vm/max_map_count, /proc/self/maps), open(2),
// read(2) and mmap(2) (ENOMEM once a process has max_map_count mappings).
//
// Nothing here maps or unmaps memory: the mapping records (<shm/mapping.h>)
// count each range in when their registry adopts it and out when it is
// released, and a backend asks CheckMappingBudget before it maps anything.
#pragma once

#include <napi.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "mapping_errors.h"

namespace shm {

// Ranges the shm addons of this process hold (mapped, or held as a
// placeholder), counted for the mapping budget. An inline variable: the
// dynamic linker gives every addon of the process the same one.
inline std::atomic<long> liveRanges{0};
// How many times a range was taken or given back, ever: each changes the
// kernel's count of mappings by at most two (see CheckMappingBudget).
inline std::atomic<long> rangeChanges{0};

// A range was taken (mapped, and adopted by a mapping record).
inline void CountRangeTaken() {
  liveRanges.fetch_add(1, std::memory_order_relaxed);
  rangeChanges.fetch_add(1, std::memory_order_relaxed);
}

// A range was given back (munmap).
inline void CountRangeGivenBack() {
  liveRanges.fetch_sub(1, std::memory_order_relaxed);
  rangeChanges.fetch_add(1, std::memory_order_relaxed);
}

// How many ranges the addons may hold: vm.max_map_count less headroom for
// everything else. At the kernel's limit V8 itself cannot map or decommit its
// heap and aborts the process (Node 26), so the addons refuse a new mapping
// with ERR_SHM_MAPPING_LIMIT before the process gets there.
constexpr long kMapHeadroom = 8192;
inline long MappingBudget() {
  static const long budget = [] {
    long limit = 65530;  // the kernel's default
    if (FILE* file = std::fopen("/proc/sys/vm/max_map_count", "r")) {
      if (std::fscanf(file, "%ld", &limit) != 1) limit = 65530;
      std::fclose(file);
    }
    return limit - kMapHeadroom;
  }();
  return budget;
}

// The process's mappings now, as the kernel counts them: the lines of
// /proc/self/maps, read in large blocks (a kernel walk of every mapping, so
// CheckMappingBudget reads it rarely). 0 when it cannot be read.
inline long ProcessMappings() {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  static thread_local char block[1 << 16];
  long lines = 0;
  for (;;) {
    ssize_t got = read(fd, block, sizeof block);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    for (const char* at = block; (at = static_cast<const char*>(std::memchr(at, '\n', block + got - at))); at++) {
      lines++;
    }
  }
  close(fd);
  return lines;
}

// The rangeChanges count at which CheckMappingBudget next reads the kernel's count.
inline std::atomic<long> nextMappingsCheck{0};

// ERR_SHM_MAPPING_LIMIT, before a mapping that would take the process too
// close to vm.max_map_count. The count of ranges is only the trigger: held
// placeholders often merge into one kernel mapping, and ranges kept at a
// worker's exit stay counted, so the refusal is decided on the kernel's own
// count. Taking or giving back a range adds at most two kernel mappings (a
// new one, a split when the fault guard replaces pages inside one, or a
// split of merged placeholders when one in the middle goes), so after a read
// finds `room` mappings left the next read can wait for room / 2 changes: a
// long synchronous run of mappings that the event loop has not yet released
// (their finalizers run from it) reads the count now and then, not once per
// mapping. The headroom is for the rest of the process meanwhile.
inline void CheckMappingBudget(Napi::Env env) {
  long live = liveRanges.load(std::memory_order_relaxed);
  if (live < MappingBudget()) return;
  long changes = rangeChanges.load(std::memory_order_relaxed);
  if (changes < nextMappingsCheck.load(std::memory_order_relaxed)) return;
  long room = MappingBudget() - ProcessMappings();
  if (room > 0) {
    nextMappingsCheck.store(changes + room / 2, std::memory_order_relaxed);
    return;
  }
  throw MappingBudgetError(env, live);
}

}  // namespace shm
