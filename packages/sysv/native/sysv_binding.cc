// The System V backend's JavaScript binding: argument marshalling only. The
// system calls are in sysv_syscalls.cc, mapping ownership in
// <shm/mapping_registry.h>, error objects in <shm/system_error.h>.
// Arguments were validated in TypeScript (src/index.ts); they are checked
// again here, cheaply, because this code never trusts its caller.
#include <napi.h>
#include <shm/arguments.h>
#include <shm/mapping_registry.h>
#include <shm/system_error.h>

#include <string>

#include "sysv_syscalls.h"

namespace shm::sysv {
namespace {

constexpr double kMaxKey = 4294967294.0;  // 2^32 - 2: (key_t)-1 is reserved

uint32_t KeyArgument(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<uint32_t>(IntegerArgument(info, index, 1, kMaxKey));
}

// Mappings are registered under the key's decimal text.
std::string SegmentName(uint32_t key) { return std::to_string(key); }

// open(key, bytes, create, mode, readonly, populate): ArrayBuffer | null
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenRequest request;
  request.key = KeyArgument(info, 0);
  request.bytes = static_cast<size_t>(IntegerArgument(info, 1, 0, kMaxSafeInteger));
  request.create = BooleanArgument(info, 2);
  request.mode = static_cast<mode_t>(IntegerArgument(info, 3, 0, 0777));
  request.readonly = BooleanArgument(info, 4);
  request.populate = BooleanArgument(info, 5);
  if (request.create && request.bytes == 0) {
    throw Napi::RangeError::New(env, "a new shm segment needs at least one byte");
  }

  CheckMappingBudget(env);
  OpenResult result = OpenSegment(request);
  switch (result.outcome) {
    case OpenOutcome::kExists:
    case OpenOutcome::kMissing:
      return env.Null();
    case OpenOutcome::kFailed:
      throw SystemError(env, result.errnum, result.syscall, KeySubject(env, request.key));
    case OpenOutcome::kMapped:
      break;
  }
  return MappingRegistry::Of(env).Adopt(env, SegmentName(request.key), result.base, result.bytes, 0,
                             result.bytes,
                                        request.readonly ? Guard::kReadonly : Guard::kNone);
}

// unmap(key): how many attachments of this thread were neutered and detached
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t key = KeyArgument(info, 0);
  return Napi::Number::New(env, static_cast<double>(MappingRegistry::Of(env).UnmapSegment(env, SegmentName(key))));
}

// attachCount(key): the segment's system-wide attach count, or -1 if it does not exist
Napi::Value AttachCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t key = KeyArgument(info, 0);
  StatusResult status = SegmentStatus(key);
  if (status.errnum != 0) throw SystemError(env, status.errnum, status.syscall, KeySubject(env, key));
  return Napi::Number::New(env, status.exists ? static_cast<double>(status.attachCount) : -1);
}

// remove(key): true if marked for removal, false if there was no such segment
Napi::Value Remove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t key = KeyArgument(info, 0);
  const char* syscall = nullptr;
  int errnum = RemoveSegment(key, &syscall);
  if (errnum == ENOENT) return Napi::Boolean::New(env, false);
  if (errnum != 0) throw SystemError(env, errnum, syscall, KeySubject(env, key));
  return Napi::Boolean::New(env, true);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  MappingRegistry::Install(env, exports);
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("attachCount", Napi::Function::New(env, AttachCount, "attachCount"));
  exports.Set("remove", Napi::Function::New(env, Remove, "remove"));
  return exports;
}

}  // namespace
}  // namespace shm::sysv

// NODE_API_MODULE wants a plain identifier.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return shm::sysv::Init(env, exports);
}

NODE_API_MODULE(shm_sysv, InitModule)
