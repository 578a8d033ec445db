// Keeping an addon's code mapped for the life of the process.
// Follows dladdr(3) and dlopen(3) (RTLD_NOLOAD, RTLD_NODELETE). Nothing here
// maps or unmaps memory of a segment.
//
// Contract: once an addon has handed the address of its code to anything
// that outlives its environment, that code stays mapped until the process
// ends. Such addresses: a range watcher (<shm/range_release.h>), the fault
// handler (<shm/fault_guard.h>), which other addons of the process call;
// and an addon's own detached threads (@shm/sync's waitAsync). Node unloads
// an addon (dlclose) with the last environment that loaded it unless the
// main thread loaded it too (seen on Node 20: a worker that alone loaded
// @shm/sync ended, and the next detach called its watcher at an unmapped
// address); glibc keeps only the object that defined a shared unique
// symbol first. A second dlopen of a loaded object with RTLD_NODELETE only
// adds the flag, and finds it by the name Node opened it with; its handle
// is never closed (a reference per call, which NODELETE makes moot).
#pragma once

#include <dlfcn.h>

#include <string>

namespace shm {

// Keeps the object that holds `inObject` (any address of its code) loaded;
// false, with the reason in `*why` when given, if it cannot.
inline bool StayLoaded(const void* inObject, std::string* why = nullptr) {
  Dl_info info;
  if (dladdr(inObject, &info) == 0 || info.dli_fname == nullptr) {
    if (why) *why = "dladdr found no object";
    return false;
  }
  if (dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE) != nullptr) return true;
  const char* reason = dlerror();
  if (why) *why = reason ? reason : "dlopen failed";
  return false;
}

}  // namespace shm
