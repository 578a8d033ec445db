// Which ArrayBuffers are segments' memory. Follows Node-API's object type
// tags (napi_type_tag_object, napi_check_object_type_tag).
//
// The mapping registry tags every ArrayBuffer it makes over a mapping
// (mapping_registry.h, Adopt). The memory under such a buffer stays mapped
// until the registry releases it, and a release ends the asynchronous waits
// on it (range_release.h). An ordinary ArrayBuffer gives no such word
// (transfer(), resize() or a transfer list free it under a pending wait),
// so @shm/sync's waitAsync takes only tagged buffers and SharedArrayBuffers
// (which V8 never frees while referenced). The buffer that transfer() makes
// of a tagged one is not tagged. The tag is a private property that only
// native code can set or read: no script can forge it, unlike a mark kept in
// JavaScript. Tags live in the thread's isolate, shared by every addon.
//
// The tag's value names this contract: an addon of another version checks
// for the same 128 bits, so a change of what "tagged" promises needs a new value.
#pragma once

#include <node_api.h>

namespace shm {
// Internal linkage: each addon has its own copy of the 128 bits, so no symbol
// is shared between addons (the shared-symbols test lists those).
namespace {

constexpr napi_type_tag kSegmentBufferTag = {0x73686d2d6d617070ull, 0x696e672d6275662dull};

// Marks `buffer` as a segment's memory.
inline napi_status TagSegmentBuffer(napi_env env, napi_value buffer) {
  return napi_type_tag_object(env, buffer, &kSegmentBufferTag);
}

// Whether `buffer` carries the segment tag.
inline bool IsSegmentBuffer(napi_env env, napi_value buffer) {
  bool tagged = false;
  return napi_check_object_type_tag(env, buffer, &kSegmentBufferTag, &tagged) == napi_ok && tagged;
}

}  // namespace
}  // namespace shm
