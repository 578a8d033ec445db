// Ownership of the memory the shm backends map into a JavaScript thread.
//
// Contract:
//  - Every successful mmap / shmat is owned by exactly one Mapping record and
//    exposed to JavaScript through exactly one external ArrayBuffer. All the
//    views handed out (the TypedArray or Buffer, subarrays, Buffer.from(...))
//    share that ArrayBuffer.
//  - A mapping is unmapped exactly once, by whichever comes first:
//      * an explicit detach (UnmapSegment / UnmapAll): the ArrayBuffer is
//        neutered first (napi_detach_arraybuffer), so every view reads as
//        empty and no JavaScript can reach the unmapped pages;
//      * the ArrayBuffer's finalizer, after the garbage collector found it
//        unreachable (nothing can reach the pages any more);
//      * the registry's destruction at environment teardown (worker exit,
//        process exit), when no JavaScript of this thread runs any more.
//  - The record is freed by the ArrayBuffer's finalizer, which always runs
//    last for that buffer; the registry forgets a record as soon as it is
//    unmapped, so it holds only live mappings.
//  - Bytes are counted when mapped and uncounted when unmapped, so
//    MappedBytes() is exact at every moment, whatever the garbage collector
//    has or has not done yet.
//
// One registry exists per JavaScript environment (main thread or worker), as
// the addon's instance data: threads never see each other's mappings.
#pragma once

#include <napi.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace shm {

// Releases a mapping: munmap for POSIX objects, shmdt for System V segments.
// Returns 0 or -1 with errno set.
using UnmapFunction = int (*)(void* base, size_t length);

class MappingRegistry;

struct Mapping {
  std::string segment;        // the name or key this mapping attaches
  void* base;                 // what mmap / shmat returned
  size_t length;              // bytes mapped at base
  UnmapFunction unmap;
  napi_ref buffer;            // weak reference to the one ArrayBuffer
  bool mapped;
  MappingRegistry* registry;  // the registry that counts it; null once forgotten
  bool adopting;              // inside Adopt: a finalizer call leaves the cleanup to Adopt
  bool finalizedEarly;        // the finalizer ran while adopting (a failed creation)
};

// Gives the pages back to the kernel. Called exactly once per mapping.
inline void ReleasePages(Mapping* mapping) {
  mapping->unmap(mapping->base, mapping->length);
  mapping->mapped = false;
}

class MappingRegistry {
 public:
  explicit MappingRegistry(UnmapFunction unmap) : unmap_(unmap) {}

  MappingRegistry(const MappingRegistry&) = delete;
  MappingRegistry& operator=(const MappingRegistry&) = delete;

  // Environment teardown: no JavaScript of this thread runs any more, so the
  // pages can go without neutering; the records stay for their finalizers.
  ~MappingRegistry() {
    for (auto& entry : bySegment_) {
      ReleasePages(entry.second);
      entry.second->registry = nullptr;
    }
  }

  // Takes ownership of a fresh mapping and returns the ArrayBuffer over its
  // data bytes [base + dataOffset, base + dataOffset + dataLength). On
  // failure the mapping is released (now or by the finalizer) and the error
  // is thrown. `unmap` overrides the registry's unmap function for this one.
  Napi::ArrayBuffer Adopt(Napi::Env env, const std::string& segment, void* base,
                          size_t length, size_t dataOffset, size_t dataLength,
                          UnmapFunction unmap = nullptr) {
    Mapping* mapping = new Mapping{segment, base, length, unmap ? unmap : unmap_, nullptr,
                                   true, nullptr, true, false};
    napi_value buffer;
    // When creation fails, Node may already have called the finalizer (it
    // does when the length exceeds Buffer's limit), or may call it later for
    // a buffer it made before failing. While `adopting` is set the finalizer
    // only marks the record, so the pages are released here either way; the
    // record is freed here only if the finalizer has run, else it is left to
    // a finalizer that may still come (a few bytes, never a dangling hint).
    napi_status status = napi_create_external_arraybuffer(
        env, static_cast<char*>(base) + dataOffset, dataLength, Finalize, mapping, &buffer);
    mapping->adopting = false;
    if (status != napi_ok || mapping->finalizedEarly) {
      ReleasePages(mapping);
      if (mapping->finalizedEarly) delete mapping;
      NAPI_THROW_IF_FAILED(env, status == napi_ok ? napi_generic_failure : status,
                           Napi::ArrayBuffer());
    }
    // From here on the buffer's finalizer owns the record.
    NAPI_THROW_IF_FAILED(env, napi_create_reference(env, buffer, 0, &mapping->buffer),
                         Napi::ArrayBuffer());
    mapping->registry = this;
    bySegment_.emplace(segment, mapping);
    mappedBytes_ += length;
    return Napi::ArrayBuffer(env, buffer);
  }

  // Neuters and unmaps every mapping of one segment; returns how many.
  size_t UnmapSegment(Napi::Env env, const std::string& segment) {
    auto range = bySegment_.equal_range(segment);
    std::vector<Mapping*> doomed;
    for (auto it = range.first; it != range.second; ++it) doomed.push_back(it->second);
    for (Mapping* mapping : doomed) Release(env, mapping);
    return doomed.size();
  }

  // Neuters and unmaps every mapping of this environment; returns how many.
  size_t UnmapAll(Napi::Env env) {
    std::vector<Mapping*> doomed;
    for (auto& entry : bySegment_) doomed.push_back(entry.second);
    for (Mapping* mapping : doomed) Release(env, mapping);
    return doomed.size();
  }

  size_t MappedBytes() const { return mappedBytes_; }

  // This environment's registry (the addon's instance data).
  static MappingRegistry& Of(Napi::Env env) { return *env.GetInstanceData<MappingRegistry>(); }

  // Gives the environment its registry and exports the binding functions
  // that need nothing but the registry:
  //   unmapAll(): how many attachments of this thread were neutered and unmapped
  //   mappedBytes(): bytes this thread has mapped now
  static void Install(Napi::Env env, Napi::Object exports, UnmapFunction unmap) {
    env.SetInstanceData(new MappingRegistry(unmap));
    exports.Set("unmapAll", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
      Napi::Env env = info.Env();
      return Napi::Number::New(env, static_cast<double>(Of(env).UnmapAll(env)));
    }, "unmapAll"));
    exports.Set("mappedBytes", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
      return Napi::Number::New(info.Env(), static_cast<double>(Of(info.Env()).MappedBytes()));
    }, "mappedBytes"));
  }

 private:
  // Neuter first, then unmap: once napi_detach_arraybuffer succeeded no view
  // can reach the pages. If neutering fails the mapping stays (a leak is
  // better than a dangling pointer) and the error is thrown.
  void Release(Napi::Env env, Mapping* mapping) {
    napi_value buffer = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_reference_value(env, mapping->buffer, &buffer));
    if (buffer != nullptr) {
      NAPI_THROW_IF_FAILED_VOID(env, napi_detach_arraybuffer(env, buffer));
    }
    Forget(mapping);
    ReleasePages(mapping);
  }

  void Forget(Mapping* mapping) {
    auto range = bySegment_.equal_range(mapping->segment);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == mapping) {
        bySegment_.erase(it);
        break;
      }
    }
    mappedBytes_ -= mapping->length;
    mapping->registry = nullptr;
  }

  // Runs on the JavaScript thread once the ArrayBuffer is gone: collected,
  // neutered, or torn down with its environment.
  static void Finalize(napi_env env, void* /*data*/, void* hint) {
    Mapping* mapping = static_cast<Mapping*>(hint);
    if (mapping->adopting) {
      mapping->finalizedEarly = true;
      return;
    }
    if (mapping->mapped) {
      if (mapping->registry != nullptr) mapping->registry->Forget(mapping);
      ReleasePages(mapping);
    }
    if (mapping->buffer != nullptr) napi_delete_reference(env, mapping->buffer);
    delete mapping;
  }

  std::unordered_multimap<std::string, Mapping*> bySegment_;
  size_t mappedBytes_ = 0;
  UnmapFunction unmap_;
};

}  // namespace shm
