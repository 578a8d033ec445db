// One mapping of a segment into a JavaScript thread: its record, its states,
// and the two steps that give its memory back.
// Follows mmap(2) (MAP_FIXED replaces a range atomically), munmap(2), shmdt(2)
// (a System V attachment is one mapping: replacing or unmapping it detaches
// it), and Node-API's external ArrayBuffers and napi_add_finalizer.
//
// Who owns the memory: from the moment its registry adopts it
// (MappingRegistry::Adopt in <shm/mapping_registry.h>), the range belongs to
// its Mapping record, and only the functions here replace or unmap it. Two
// resources, released at different times:
//  - the shared pages: released at detach (other processes' attach counts and
//    `ipcs` see it at once), or when nothing in this thread can reach them;
//  - the address range: reserved until nothing anywhere can write to it, so a
//    later mapping (another segment) never appears where a stale writer still
//    points.
//
// A Mapping's states (one record per successful mmap / shmat):
//
//   kShared ──detach──▶ kPlaceholder ──both owners gone──▶ kReleased
//      │                                                      ▲
//      └──────────── both owners gone / env teardown ─────────┘
//
//  - kShared: the segment's pages are mapped at [base, base + length), and
//    the fault guard (fault_guard.h) watches the range when the backend asks:
//    a POSIX object's mapping (a peer may shrink it), a read-only System V
//    attachment (a write must not kill the process). The guard forgets the
//    range before it leaves this state.
//  - kPlaceholder: the ArrayBuffer was neutered (every view reads as empty)
//    and the range was replaced, in one mmap(MAP_FIXED) call, by private
//    anonymous memory: a late writer (a pending fs.read, a buffer moved out
//    with ArrayBuffer.prototype.transfer()) lands in harmless zero pages of
//    its own, never in another segment. Untouched, it costs no memory.
//  - kReleased: munmap; the address may be reused.
//
// Two owners keep the address: the JavaScript ArrayBuffer object (a pending
// asynchronous call holds it until that call completes; its finalizer is
// napi_add_finalizer's) and V8's backing store (which transfer() can move to
// another ArrayBuffer; its finalizer is the external buffer's). The range is
// released when both have been finalized.
#pragma once

#include <node_api.h>
#include <sys/mman.h>

#include <cstddef>
#include <string>

#include "fault_guard.h"
#include "mapping_budget.h"
#include "range_release.h"

namespace shm {

// Which faults of a mapping must not end the process (see fault_guard.h).
enum class Guard { kNone, kFile, kReadonly };

class MappingRegistry;

struct Mapping {
  enum class State { kShared, kPlaceholder, kReleased };

  std::string segment;        // the name or key this mapping attaches
  void* base;                 // what mmap / shmat returned
  size_t length;              // bytes mapped at base
  int guardSlot = -1;         // its slot in the fault guard's table, while guarded
  State state = State::kShared;
  napi_ref object = nullptr;  // weak reference to the one ArrayBuffer (napi_add_finalizer's), for neutering
  bool storeAlive = true;     // V8's backing store not yet finalized
  bool objectAlive = false;   // the ArrayBuffer object not yet finalized
  bool adopting = true;       // inside Adopt: the store finalizer only records itself
  bool moved = false;         // the buffer was detached by someone else (transfer()): its memory may live on elsewhere
  bool keepAddress = false;   // never munmap: the memory may outlive this environment (see moved_mappings.h)
  MappingRegistry* registry = nullptr;  // the registry that lists it; null once unlisted
  Mapping* previous = nullptr;          // this segment's other mappings in the registry
  Mapping* next = nullptr;
};

// The shared pages go, the address stays: one mmap(MAP_FIXED) call, so no
// other thread can map anything into the range in between.
// Writable, so that a late writer's bytes land somewhere harmless; where the
// kernel charges writable private memory up front (vm.overcommit_memory=2)
// and finds no room, read-only zero pages, which it never charges.
inline bool ReplaceWithPlaceholder(Mapping* mapping) {
  AnnounceRangeRelease(mapping->base, mapping->length);
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED;
  void* placeholder = mmap(mapping->base, mapping->length, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (placeholder == MAP_FAILED) placeholder = mmap(mapping->base, mapping->length, PROT_READ, flags, -1, 0);
  if (placeholder == MAP_FAILED) return false;
  fault::Unregister(mapping->guardSlot);
  mapping->guardSlot = -1;
  mapping->state = Mapping::State::kPlaceholder;
  return true;
}

// Gives the range back (munmap also detaches a System V segment still attached).
// Called once no writer can be left: the fault guard forgets the range first,
// so it never mistakes a later mapping at this address for it. A range whose
// memory may outlive this environment keeps its address for good, as a
// placeholder: address space, no memory.
inline void ReleaseRange(Mapping* mapping) {
  if (mapping->state == Mapping::State::kReleased) return;
  if (mapping->keepAddress) {
    if (mapping->state == Mapping::State::kShared) ReplaceWithPlaceholder(mapping);
    mapping->state = Mapping::State::kReleased;
    return;
  }
  if (mapping->state == Mapping::State::kShared) AnnounceRangeRelease(mapping->base, mapping->length);
  fault::Unregister(mapping->guardSlot);
  mapping->guardSlot = -1;
  munmap(mapping->base, mapping->length);
  mapping->state = Mapping::State::kReleased;
  CountRangeGivenBack();
}

}  // namespace shm
