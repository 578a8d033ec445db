// Mappings whose memory ArrayBuffer.prototype.transfer() may have moved to
// another ArrayBuffer, possibly one posted to another thread: telling them
// apart, and keeping their address for good when they may be.
// Follows Node-API's napi_is_detached_arraybuffer, napi_get_reference_value,
// napi_open_handle_scope and napi_add_env_cleanup_hook (hooks run last
// registered first).
//
// Nothing here maps or unmaps memory: it only decides that a mapping's range
// keeps its address for good (Mapping::keepAddress), which ReleaseRange in
// <shm/mapping.h> honours by leaving a placeholder there instead of unmapping.
//
// Why no buffer is marked untransferable (worker_threads.markAsUntransferable):
// from Node 24 that sets a V8 detach key, and napi_detach_arraybuffer on such a
// buffer, and Node's own detach of external buffers at environment teardown,
// are fatal checks. Cross-thread transfer is refused by Node itself for
// external buffers from Node 22; see makeView in @shm/types for Node 20.
#pragma once

#include <node_api.h>

#include <new>
#include <unordered_set>

#include "environment.h"
#include "mapping.h"

namespace shm {

// Already detached, and not by us: ArrayBuffer.prototype.transfer() moved
// its memory to another ArrayBuffer, which may be posted to another thread.
inline void NoteIfMoved(napi_env env, Mapping* mapping, napi_value buffer) {
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached) mapping->moved = true;
}

// Environment teardown (a worker ends), for a mapping that still held shared
// pages. Node's own cleanup of each buffer runs first, on every line (20 to
// 26): it detaches the ArrayBuffer and calls the store finalizer even when
// transfer() moved the memory to a buffer another thread still uses. So such
// a mapping cannot be told apart from a moved one when its buffer is already
// detached, and keeps its address for good (address space, no memory).
inline void KeepAddressIfMovedAtTeardown(napi_env env, Mapping* mapping) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    mapping->keepAddress = true;
    return;
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

// Both owners of a moved mapping gone: at environment teardown Node calls the
// store finalizer even when the memory moved to a buffer another thread still
// uses, so a moved mapping finalized then keeps its address for good.
inline void KeepAddressIfMovedWhileStopping(napi_env env, Mapping* mapping) {
  if (mapping->moved && EnvironmentStopping(env)) mapping->keepAddress = true;
}

// The mappings one thread detached after transfer() had moved their memory,
// held as placeholders until both owners go. One that this thread detached
// itself was judged then (NoteIfMoved before the detach): at teardown a moved
// one keeps its address, the others are released as usual.
class MovedPlaceholders {
 public:
  // Notes a mapping just detached, if it was moved. Out of memory for the
  // note, it keeps its address now: the worst is assumed.
  void Hold(Mapping* mapping) {
    if (!mapping->moved) return;
    try {
      held_.insert(mapping);
    } catch (const std::bad_alloc&) {
      mapping->keepAddress = true;
    }
  }

  // Both owners are gone: the mapping is no longer held here.
  void Forget(Mapping* mapping) { held_.erase(mapping); }

  // Environment teardown: every held mapping keeps its address for good.
  void KeepAddresses() {
    for (Mapping* mapping : held_) mapping->keepAddress = true;
  }

 private:
  std::unordered_set<Mapping*> held_;
};

}  // namespace shm
