// The mappings of one JavaScript thread: the registry that adopts each fresh
// mapping, hands JavaScript its ArrayBuffer, detaches it on request, and
// releases it when its owners are gone or the environment ends.
// Follows mmap(2) and munmap(2) (through <shm/mapping.h>), and Node-API's
// napi_create_external_arraybuffer, napi_add_finalizer,
// napi_detach_arraybuffer, napi_set_instance_data and
// napi_add_env_cleanup_hook.
//
// Who owns each mapping: the backend that mapped it until it calls Adopt;
// from then on its Mapping record (<shm/mapping.h>), which this registry
// lists while it holds shared pages. Adopt unmaps it itself when it fails.
// The shared pages are released at detach (UnmapSegment, UnmapAll), when
// both owners (the ArrayBuffer object and V8's backing store) have been
// finalized, or at environment teardown; the address as <shm/mapping.h> and
// <shm/moved_mappings.h> say. Neither finalizer runs at GC time: Node runs
// both from the event loop, so a thread that drops many mappings in one
// synchronous loop holds them until the loop turns (mmap then fails with
// ENOMEM, reported as an error; <shm/mapping_budget.h> refuses first).
//
// One registry exists per JavaScript environment (main thread or worker), as
// the addon's instance data: threads never see each other's mappings. Every
// release is O(1): each segment's mappings form an intrusive list. No C++
// exception leaves this file: allocation failures become ERR_SHM_NO_MEMORY.
#pragma once

#include <napi.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "fault_guard.h"
#include "mapping.h"
#include "mapping_budget.h"
#include "mapping_errors.h"
#include "moved_mappings.h"
#include "segment_tag.h"

namespace shm {

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
    CountRangeTaken();  // ReleaseRange counts it out
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
    if (status == napi_ok) {
      mapping->objectAlive = true;
      status = TagSegmentBuffer(env, buffer);  // before any script sees it (segment_tag.h)
    }
    bool listed = status == napi_ok && List(mapping);
    if (!listed) {
      // Neuters the buffer (no view may outlive the range) and releases the
      // range as the error unwinds: after the error was built, since a
      // Node-API call would reset the last error it reads.
      struct GiveBack {
        napi_env env;
        napi_value buffer;
        Mapping* mapping;
        ~GiveBack() {
          napi_detach_arraybuffer(env, buffer);
          ReleaseRange(mapping);
        }
      } giveBack{env, buffer, mapping};
      NAPI_THROW_IF_FAILED(env, status, Napi::ArrayBuffer());
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
    movedPlaceholders_.Hold(mapping);  // OnEnvTeardown must still see it
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

  // Environment teardown (a worker ends): each mapping that may have moved
  // keeps its address for good (see <shm/moved_mappings.h>); ~MappingRegistry
  // releases the ranges, honouring that.
  static void OnEnvTeardown(void* data) {
    MappingRegistry* registry = static_cast<MappingRegistry*>(data);
    registry->movedPlaceholders_.KeepAddresses();
    for (auto& entry : registry->heads_) {
      for (Mapping* mapping = entry.second; mapping != nullptr; mapping = mapping->next) {
        KeepAddressIfMovedAtTeardown(registry->env_, mapping);
      }
    }
  }

  // Both owners gone: nothing of this thread can reach the range any more.
  static void OwnerGone(napi_env env, Mapping* mapping) {
    if (mapping->storeAlive || mapping->objectAlive) return;
    KeepAddressIfMovedWhileStopping(env, mapping);
    void* registry = nullptr;
    if (mapping->moved && napi_get_instance_data(env, &registry) == napi_ok && registry != nullptr) {
      static_cast<MappingRegistry*>(registry)->movedPlaceholders_.Forget(mapping);
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
  MovedPlaceholders movedPlaceholders_;
  napi_env env_ = nullptr;
  uint64_t epochSeen_ = 0;
  size_t mappedBytes_ = 0;
  uint64_t serial_;
  static inline std::atomic<uint64_t> nextSerial_{0};
};

}  // namespace shm
