// Ownership of the memory the shm backends map into a JavaScript thread.
// Follows mmap(2) (MAP_FIXED replaces a range atomically), munmap(2), shmdt(2)
// (a System V attachment is one mapping: replacing or unmapping it detaches
// it), and Node-API's external ArrayBuffers and napi_add_finalizer.
//
// Two resources, released at different times:
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
// released when both have been finalized. Neither finalizer runs at GC time:
// Node runs both from the event loop, so a thread that drops many mappings in
// one synchronous loop holds them until the loop turns (mmap then fails with
// ENOMEM, reported as an error).
//
// Why no buffer is marked untransferable (worker_threads.markAsUntransferable):
// from Node 24 that sets a V8 detach key, and napi_detach_arraybuffer on such a
// buffer, and Node's own detach of external buffers at environment teardown,
// are fatal checks. Cross-thread transfer is refused by Node itself for
// external buffers from Node 22; see makeView in @shm/types for Node 20.
//
// One registry exists per JavaScript environment (main thread or worker), as
// the addon's instance data: threads never see each other's mappings. Every
// release is O(1): each segment's mappings form an intrusive list. No C++
// exception leaves this file: allocation failures become ERR_SHM_NO_MEMORY.
#pragma once

#include <napi.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "environment.h"
#include "fault_guard.h"
#include "range_release.h"
#include "error_codes.h"

namespace shm {

// Ranges the shm addons of this process hold (mapped, or held as a
// placeholder), counted for the mapping budget. An inline variable: the
// dynamic linker gives every addon of the process the same one.
inline std::atomic<long> liveRanges{0};
// How many times a range was taken or given back, ever: each changes the
// kernel's count of mappings by at most two (see CheckMappingBudget).
inline std::atomic<long> rangeChanges{0};

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
  bool keepAddress = false;   // never munmap: the memory may outlive this environment (see OnEnvTeardown)
  MappingRegistry* registry = nullptr;  // the registry that lists it; null once unlisted
  Mapping* previous = nullptr;          // this segment's other mappings in the registry
  Mapping* next = nullptr;
};

// ERR_SHM_NO_MEMORY: the process could not allocate a few bytes of bookkeeping.
inline Napi::Error NoMemoryError(Napi::Env env) {
  return CodedError(env, ErrorCode::kShmNoMemory, "out of memory for the bookkeeping of a shm mapping");
}

// ERR_SHM_MAPPING_LIMIT: the fault guard's table is full.
inline Napi::Error MappingLimitError(Napi::Env env) {
  return CodedError(env, ErrorCode::kShmMappingLimit,
                    "too many guarded shm mappings in this process (at most " + std::to_string(fault::kSlots) + ")");
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
  throw CodedError(env, ErrorCode::kShmMappingLimit,
                   "this process holds " + std::to_string(live) + " shm mappings, the most vm.max_map_count allows " +
                       "while leaving room for the rest of the process; detach some, or let the event loop turn " +
                       "so that dropped ones are released");
}

// ERR_SHM_TRUNCATED: the fault guard replaced pages of the segment's mappings.
inline Napi::Error LostPagesError(Napi::Env env, const std::string& segment) {
  Napi::Error error = CodedError(
      env, ErrorCode::kShmTruncated,
      "shm object '" + segment + "' lost pages while mapped here: another process truncated it, or /dev/shm had no " +
          "room for a page; reads past what remained saw zeros and writes there reached no one");
  error.Set("path", Napi::String::New(env, segment));
  return error;
}

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
  liveRanges.fetch_sub(1, std::memory_order_relaxed);
  rangeChanges.fetch_add(1, std::memory_order_relaxed);
}

class MappingRegistry {
 public:
  MappingRegistry() : serial_(nextSerial_.fetch_add(1, std::memory_order_relaxed) + 1) {}
  MappingRegistry(const MappingRegistry&) = delete;
  MappingRegistry& operator=(const MappingRegistry&) = delete;

  // Environment teardown: no JavaScript of this thread runs any more. The
  // ranges go now; the records stay for the finalizers Node still runs.
  ~MappingRegistry() {
    for (auto& entry : heads_) {
      for (Mapping* mapping = entry.second; mapping != nullptr; mapping = mapping->next) {
        ReleaseRange(mapping);
        mapping->registry = nullptr;
      }
    }
  }

  // Takes ownership of a fresh mapping of `length` bytes at `base`, guards
  // it, and returns the ArrayBuffer over its data bytes [base + dataOffset,
  // + dataLength). On failure the mapping is released and the error thrown.
  Napi::ArrayBuffer Adopt(Napi::Env env, const std::string& segment, void* base, size_t length,
                          size_t dataOffset, size_t dataLength, Guard guard) {
    Mapping* mapping = new (std::nothrow) Mapping{};
    if (mapping == nullptr) {
      munmap(base, length);
      throw NoMemoryError(env);
    }
    mapping->base = base;
    mapping->length = length;
    liveRanges.fetch_add(1, std::memory_order_relaxed);  // ReleaseRange counts it out
    rangeChanges.fetch_add(1, std::memory_order_relaxed);
    try {
      mapping->segment = segment;
    } catch (const std::bad_alloc&) {
      ReleaseRange(mapping);
      delete mapping;
      throw NoMemoryError(env);
    }
    if (guard != Guard::kNone) {
      mapping->guardSlot = fault::Register(base, length, guard == Guard::kFile ? fault::Kind::kFile : fault::Kind::kReadonly);
      if (mapping->guardSlot < 0) {
        ReleaseRange(mapping);
        delete mapping;
        throw MappingLimitError(env);
      }
    }

    napi_value buffer = nullptr;
    // When creation fails, Node may already have called the store finalizer
    // (it does when the length exceeds Buffer's limit), or call it later for
    // a buffer it made before failing; while `adopting` it only records itself.
    napi_status status = napi_create_external_arraybuffer(
        env, static_cast<char*>(base) + dataOffset, dataLength, StoreFinalized, mapping, &buffer);
    mapping->adopting = false;
    if (status != napi_ok || !mapping->storeAlive) {
      ReleaseRange(mapping);
      if (!mapping->storeAlive) delete mapping;  // else the store finalizer frees it
      NAPI_THROW_IF_FAILED(env, status == napi_ok ? napi_generic_failure : status, Napi::ArrayBuffer());
    }
    // From here on the store finalizer is an owner. The object's finalizer
    // comes with a weak reference to it, which detach uses to neuter it.
    status = napi_add_finalizer(env, buffer, mapping, ObjectFinalized, nullptr, &mapping->object);
    if (status == napi_ok) mapping->objectAlive = true;
    bool listed = status == napi_ok && List(mapping);
    if (!listed) {
      napi_detach_arraybuffer(env, buffer);  // no view may outlive the range released here
      ReleaseRange(mapping);
      if (status != napi_ok) NAPI_THROW_IF_FAILED(env, status, Napi::ArrayBuffer());
      throw NoMemoryError(env);
    }
    return Napi::ArrayBuffer(env, buffer);
  }

  // Neuters and detaches every mapping of one segment; returns how many.
  size_t UnmapSegment(Napi::Env env, const std::string& segment) {
    auto found = heads_.find(segment);
    return found == heads_.end() ? 0 : DetachList(env, found->second);
  }

  // Neuters and detaches the newest mapping of `segment`, the one Adopt made
  // last: a create that could not publish its name takes it back.
  void DetachNewest(Napi::Env env, const std::string& segment) {
    auto found = heads_.find(segment);
    if (found != heads_.end()) Detach(env, found->second);
  }

  // Neuters and detaches every mapping of this environment; returns how many.
  size_t UnmapAll(Napi::Env env) {
    size_t count = 0;
    for (auto it = heads_.begin(); it != heads_.end();) {
      Mapping* head = it->second;
      ++it;  // detaching the list may erase its entry, never another one
      count += DetachList(env, head);
    }
    return count;
  }

  // Throws ERR_SHM_TRUNCATED, once, if a mapping of `segment` (any segment
  // when null) lost pages to the fault guard, mapped now or detached since
  // the last report. The bindings call it before an open maps anything, and
  // after a detach has done all its work, as close(2) reports a deferred
  // write error after closing.
  // O(1) unless a fault lost pages since the last look: then every mapping
  // of this thread is looked at once.
  void ReportLostPages(Napi::Env env, const std::string* segment) {
    uint64_t epoch = fault::LostPagesEpoch();
    if (epoch != epochSeen_) {
      epochSeen_ = epoch;
      for (auto& entry : heads_) {
        for (Mapping* mapping = entry.second; mapping != nullptr; mapping = mapping->next) {
          if (fault::TakeLostPages(mapping->guardSlot)) NoteLost(mapping->segment);
        }
      }
    }
    if (lostSegments_.empty()) return;
    auto lost = segment == nullptr ? lostSegments_.begin() : lostSegments_.find(*segment);
    if (lost == lostSegments_.end()) return;
    Napi::Error error = LostPagesError(env, *lost);
    lostSegments_.erase(lost);
    throw error;
  }

  size_t MappedBytes() const { return mappedBytes_; }

  // This thread's number, never reused in the process (an ended worker's
  // environment address may be).
  uint64_t Serial() const { return serial_; }

  // This environment's registry (the addon's instance data).
  static MappingRegistry& Of(Napi::Env env) { return *env.GetInstanceData<MappingRegistry>(); }

  // Gives the environment its registry and exports the binding functions
  // that need nothing but the registry:
  //   unmapAll(): how many attachments of this thread were neutered and detached
  //   mappedBytes(): bytes of shared pages this thread has mapped now
  static void Install(Napi::Env env, Napi::Object exports) {
    MappingRegistry* registry = new (std::nothrow) MappingRegistry();
    if (registry == nullptr) throw NoMemoryError(env);
    registry->env_ = env;
    env.SetInstanceData(registry);
    // Registered before any buffer of this environment exists, so it runs
    // after Node's cleanup of each buffer (cleanup hooks run last first).
    if (napi_add_env_cleanup_hook(env, OnEnvTeardown, registry) != napi_ok) throw NoMemoryError(env);
    exports.Set("unmapAll", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
      Napi::Env env = info.Env();
      return Napi::Number::New(env, static_cast<double>(Of(env).UnmapAll(env)));
    }, "unmapAll"));
    exports.Set("mappedBytes", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
      return Napi::Number::New(info.Env(), static_cast<double>(Of(info.Env()).MappedBytes()));
    }, "mappedBytes"));
  }

 private:
  // Neuter first, so that no JavaScript view reaches the range; then swap the
  // shared pages for a placeholder. If the swap fails (the kernel found no
  // memory for the new mapping), the neutered mapping stays listed with its
  // shared pages, and a later detach, its owners' end or teardown releases
  // it: the address is held either way.
  void Detach(Napi::Env env, Mapping* mapping) {
    napi_value buffer = nullptr;
    if (napi_get_reference_value(env, mapping->object, &buffer) == napi_ok && buffer != nullptr) {
      NoteIfMoved(env, mapping, buffer);
      napi_detach_arraybuffer(env, buffer);
    }
    if (!ReplaceWithPlaceholder(mapping)) return;
    Unlist(mapping);
    if (!mapping->moved) return;
    try {
      movedPlaceholders_.insert(mapping);  // OnEnvTeardown must still see it
    } catch (const std::bad_alloc&) {
      mapping->keepAddress = true;  // without the note, assume the worst now
    }
  }

  // Detaches `head` and the mappings after it; returns how many. Lost pages
  // are noted for ReportLostPages before the guard forgets the range.
  size_t DetachList(Napi::Env env, Mapping* head) {
    size_t count = 0;
    for (Mapping* mapping = head; mapping != nullptr; count++) {
      Mapping* next = mapping->next;
      if (fault::TakeLostPages(mapping->guardSlot)) NoteLost(mapping->segment);
      Detach(env, mapping);
      mapping = next;
    }
    return count;
  }

  // Out of memory for the note, the report is lost; the detach still happens.
  void NoteLost(const std::string& segment) {
    try {
      lostSegments_.insert(segment);
    } catch (const std::bad_alloc&) {
    }
  }

  // Adds the mapping to its segment's list; false when out of memory.
  bool List(Mapping* mapping) {
    try {
      auto inserted = heads_.emplace(mapping->segment, mapping);
      if (!inserted.second) {
        Mapping* head = inserted.first->second;
        mapping->next = head;
        head->previous = mapping;
        inserted.first->second = mapping;
      }
    } catch (const std::bad_alloc&) {
      return false;
    }
    mapping->registry = this;
    mappedBytes_ += mapping->length;
    return true;
  }

  // O(1): the mapping knows its neighbours. Listed mappings are exactly the
  // ones holding shared pages, and their bytes are what MappedBytes() counts.
  void Unlist(Mapping* mapping) {
    if (mapping->registry == nullptr) return;
    if (mapping->previous != nullptr) {
      mapping->previous->next = mapping->next;
    } else if (mapping->next != nullptr) {
      heads_[mapping->segment] = mapping->next;  // the entry exists: no allocation
    } else {
      heads_.erase(mapping->segment);
    }
    if (mapping->next != nullptr) mapping->next->previous = mapping->previous;
    mapping->previous = mapping->next = nullptr;
    mapping->registry = nullptr;
    mappedBytes_ -= mapping->length;
  }

  // Already detached, and not by us: ArrayBuffer.prototype.transfer() moved
  // its memory to another ArrayBuffer, which may be posted to another thread.
  static void NoteIfMoved(napi_env env, Mapping* mapping, napi_value buffer) {
    bool detached = false;
    if (napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached) mapping->moved = true;
  }

  // Environment teardown (a worker ends). Node's own cleanup of each buffer
  // runs first, on every line (20 to 26): it detaches the ArrayBuffer and
  // calls the store finalizer even when transfer() moved the memory to a
  // buffer another thread still uses. So a mapping that still held shared
  // pages cannot be told apart from a moved one, and keeps its address for
  // good (address space, no memory). One this thread detached itself was
  // judged then (NoteIfMoved in Detach): a moved one keeps its address, the
  // others are released as usual.
  static void OnEnvTeardown(void* data) {
    MappingRegistry* registry = static_cast<MappingRegistry*>(data);
    for (Mapping* mapping : registry->movedPlaceholders_) mapping->keepAddress = true;
    napi_env env = registry->env_;
    for (auto& entry : registry->heads_) {
      for (Mapping* mapping = entry.second; mapping != nullptr; mapping = mapping->next) {
        napi_handle_scope scope;
        if (napi_open_handle_scope(env, &scope) != napi_ok) {
          mapping->keepAddress = true;
          continue;
        }
        napi_value buffer = nullptr;
        if (napi_get_reference_value(env, mapping->object, &buffer) == napi_ok && buffer != nullptr) {
          NoteIfMoved(env, mapping, buffer);
        } else if (mapping->storeAlive) {
          mapping->moved = true;  // the object went first: its memory may be elsewhere
        }
        napi_close_handle_scope(env, scope);
        if (mapping->moved) mapping->keepAddress = true;
      }
    }
  }

  // Both owners gone: nothing of this thread can reach the range any more.
  // At environment teardown Node calls the store finalizer even when the
  // memory moved to a buffer another thread still uses, so a moved mapping
  // finalized then keeps its address for good.
  static void OwnerGone(napi_env env, Mapping* mapping) {
    if (mapping->storeAlive || mapping->objectAlive) return;
    if (mapping->moved && EnvironmentStopping(env)) mapping->keepAddress = true;
    void* registry = nullptr;
    if (mapping->moved && napi_get_instance_data(env, &registry) == napi_ok && registry != nullptr) {
      static_cast<MappingRegistry*>(registry)->movedPlaceholders_.erase(mapping);
    }
    // A view dropped without detach may have lost pages: its segment reports it.
    if (mapping->registry != nullptr && fault::TakeLostPages(mapping->guardSlot)) {
      mapping->registry->NoteLost(mapping->segment);
    }
    if (mapping->registry != nullptr) mapping->registry->Unlist(mapping);
    ReleaseRange(mapping);
    if (mapping->object != nullptr) napi_delete_reference(env, mapping->object);
    delete mapping;
  }

  // V8 freed the backing store (Node calls this from the event loop, or at
  // environment teardown after detaching the buffer).
  static void StoreFinalized(napi_env env, void* /*data*/, void* hint) {
    Mapping* mapping = static_cast<Mapping*>(hint);
    mapping->storeAlive = false;
    if (mapping->adopting) return;
    OwnerGone(env, mapping);
  }

  // The ArrayBuffer object was collected: no view and no pending call holds
  // it. If V8's backing store lives on, something else holds the memory: a
  // buffer that transfer() made, possibly posted to another thread.
  static void ObjectFinalized(napi_env env, void* data, void* /*hint*/) {
    Mapping* mapping = static_cast<Mapping*>(data);
    mapping->objectAlive = false;
    if (mapping->storeAlive) mapping->moved = true;
    OwnerGone(env, mapping);
  }

  // Each segment's mappings, as a doubly linked list from its head.
  std::unordered_map<std::string, Mapping*> heads_;
  // Segments whose detached mappings lost pages, not reported yet.
  std::unordered_set<std::string> lostSegments_;
  // Mappings this thread detached after transfer() had moved their memory,
  // held as placeholders until both owners go (see OnEnvTeardown).
  std::unordered_set<Mapping*> movedPlaceholders_;
  napi_env env_ = nullptr;
  uint64_t epochSeen_ = 0;
  size_t mappedBytes_ = 0;
  uint64_t serial_;
  static inline std::atomic<uint64_t> nextSerial_{0};
};

}  // namespace shm
