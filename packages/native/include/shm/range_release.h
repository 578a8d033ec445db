// Telling other addons of the process that a mapping's range no longer holds
// its segment.
// Follows dlopen(3) (Node loads every addon RTLD_LOCAL) and GCC's unique
// symbols for inline variables. Nothing here maps or unmaps memory: the
// watchers run right before a mapping record (<shm/mapping.h>), which owns
// the range, replaces or unmaps it.
//
// Contract: a mapping record (<shm/mapping.h>) announces its range right
// before its shared pages go (a detach swaps them for a placeholder, or
// the range is unmapped). Every watcher is called on the announcing thread,
// before the pages go, and must not block: @shm/sync uses it to end the
// waitAsync calls whose futex word lies in the range, which would otherwise
// wait on whatever the address holds next.
//
// The table is an inline variable: GCC emits it as a unique symbol, so every
// addon of the process (loaded with RTLD_LOCAL) shares one table. Watchers
// are plain functions of addons, which stay loaded for the life of the
// process (<shm/stay_loaded.h>): a watcher is never removed.
#pragma once

#include <cstdint>
#include <mutex>

#include "stay_loaded.h"

namespace shm {

using RangeReleaseWatcher = void (*)(uintptr_t begin, uintptr_t end);

struct RangeReleaseWatchers {
  static constexpr int kMax = 8;
  std::mutex mutex;
  RangeReleaseWatcher watchers[kMax] = {};
  int count = 0;
};

inline RangeReleaseWatchers rangeReleaseWatchers;

// Adds `watcher` once, however often it is asked, and keeps its addon
// loaded; false if the table is full or the addon cannot stay loaded.
inline bool WatchRangeReleases(RangeReleaseWatcher watcher) {
  if (!StayLoaded(reinterpret_cast<const void*>(watcher))) return false;
  std::lock_guard<std::mutex> lock(rangeReleaseWatchers.mutex);
  for (int i = 0; i < rangeReleaseWatchers.count; i++) {
    if (rangeReleaseWatchers.watchers[i] == watcher) return true;
  }
  if (rangeReleaseWatchers.count == RangeReleaseWatchers::kMax) return false;
  rangeReleaseWatchers.watchers[rangeReleaseWatchers.count++] = watcher;
  return true;
}

inline void AnnounceRangeRelease(const void* base, size_t length) {
  uintptr_t begin = reinterpret_cast<uintptr_t>(base);
  std::lock_guard<std::mutex> lock(rangeReleaseWatchers.mutex);
  for (int i = 0; i < rangeReleaseWatchers.count; i++) rangeReleaseWatchers.watchers[i](begin, begin + length);
}

}  // namespace shm
