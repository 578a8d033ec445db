// The System V backend's JavaScript binding: argument marshalling only. The
// system calls are in sysv_syscalls.cc, mapping ownership in
// <shm/mapping_registry.h>, error objects in <shm/error_codes.h> and
// <shm/system_error.h>.
// Follows shmdt(2) and shmctl(2) (IPC_RMID) for what a failed open leaves,
// and Node-API's external ArrayBuffers through the registry.
//
// Who owns each attachment: OpenSegment's attachment is this binding's only
// until it hands it to the thread's MappingRegistry (Adopt); a failure
// before that (noting a create in the ledger) detaches it here (shmdt), and
// Adopt detaches it itself when it fails. A segment this call created is
// removed again when its open fails: no caller ever saw it.
//
// Arguments were validated in TypeScript (src/index.ts); they are checked
// again here, cheaply, because this code never trusts its caller.
#include <napi.h>
#include <shm/addon_exports.h>
#include <shm/arguments.h>
#include <shm/created_ledger.h>
#include <shm/created_ledger_exports.h>
#include <shm/mapping_registry.h>
#include <shm/system_error.h>

#include <sys/shm.h>

#include <string>

#include "sysv_syscalls.h"

namespace shm::sysv {
namespace {

constexpr double kMaxKey = 4294967294.0;  // 2^32 - 2: (key_t)-1 is reserved

uint32_t KeyArgument(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<uint32_t>(IntegerArgument(info, index, 1, kMaxKey));
}

// Mappings are registered under "<key>#<shmid>": a key names whichever
// segment holds it now, so one thread may attach two segments of one key
// (the first removed, a newcomer made since), and each is detached on its own.
std::string SegmentName(uint32_t key, int64_t id) { return std::to_string(key) + "#" + std::to_string(id); }

// A shmid argument: -1 (act on the key's current segment) or 0 .. INT_MAX.
int64_t IdArgument(const Napi::CallbackInfo& info, size_t index) {
  return info[index].IsUndefined() ? -1 : static_cast<int64_t>(IntegerArgument(info, index, -1, 2147483647.0));
}

// The segments this addon created in this process, over every thread.
CreatedLedger& Created() {
  static CreatedLedger ledger;
  return ledger;
}

// open(key, bytes, create, mode, readonly, populate): [ArrayBuffer, shmid] | null
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
    throw CodedError(env, ErrorCode::kOutOfRange, "a new shm segment needs at least one byte");
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
  MappingRegistry& registry = MappingRegistry::Of(env);
  std::string segment = SegmentName(request.key, result.id);
  bool adopted = false;
  try {
    Napi::Array opened = Napi::Array::New(env, 2);
    opened.Set(1u, Napi::Number::New(env, result.id));
    if (request.create) {
      try {
        Created().Note({std::to_string(request.key), result.id, result.bytes, registry.Serial()});
      } catch (const std::bad_alloc&) {
        throw NoMemoryError(env);
      }
    }
    adopted = true;  // from here on Adopt releases the attachment if it fails
    opened.Set(0u, registry.Adopt(env, segment, result.base, result.bytes, 0, result.bytes,
                                  request.readonly ? Guard::kReadonly : Guard::kNone));
    return opened;
  } catch (...) {
    if (!adopted) shmdt(result.base);
    // A segment this call made goes too: no caller ever saw it.
    if (request.create) {
      const char* syscall = nullptr;
      int64_t id = result.id;
      RemoveSegment(request.key, &id, &syscall);
      Created().Forget(std::to_string(request.key), result.id);
    }
    throw;
  }
}

// unmap(key, id): how many of this thread's attachments of shmid `id` (under
// `key`) were neutered and detached
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t key = KeyArgument(info, 0);
  int64_t id = static_cast<int64_t>(IntegerArgument(info, 1, 0, 2147483647.0));
  return Napi::Number::New(env, static_cast<double>(MappingRegistry::Of(env).UnmapSegment(env, SegmentName(key, id))));
}

// attachCount(key, id?): the system-wide attach count of shmid `id` (of the
// key's current segment without it), or -1 if it does not exist
Napi::Value AttachCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t key = KeyArgument(info, 0);
  StatusResult status = SegmentStatus(key, IdArgument(info, 1));
  if (status.errnum != 0) throw SystemError(env, status.errnum, status.syscall, KeySubject(env, key));
  return Napi::Number::New(env, status.exists ? static_cast<double>(status.attachCount) : -1);
}

// remove(key, id?): true if shmid `id` (the key's current segment without
// it) was marked for removal, false if there was no such segment
Napi::Value Remove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t key = KeyArgument(info, 0);
  int64_t id = IdArgument(info, 1);
  const char* syscall = nullptr;
  int errnum = RemoveSegment(key, &id, &syscall);
  if (errnum == 0 || errnum == ENOENT) {
    if (id >= 0) Created().Forget(std::to_string(key), id);
  }
  if (errnum == ENOENT) return Napi::Boolean::New(env, false);
  if (errnum != 0) throw SystemError(env, errnum, syscall, KeySubject(env, key));
  return Napi::Boolean::New(env, true);
}

// An entry of createdSegments(): [key, shmid].
Napi::Value KeyAndIdOf(Napi::Env env, const CreatedLedger::Entry& entry) {
  Napi::Array segment = Napi::Array::New(env, 2);
  segment.Set(0u, Napi::Number::New(env, std::stod(entry.segment)));
  segment.Set(1u, Napi::Number::New(env, static_cast<double>(entry.id)));
  return segment;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  MappingRegistry::Install(env, exports);
  ExportFunctions(env, exports, {
      {"open", Open},
      {"unmap", Unmap},
      {"attachCount", AttachCount},
      {"remove", Remove},
      // the segments this process created (any thread) and has not removed
      {"createdSegments", CreatedEntries<Created, KeyAndIdOf>},
      // bytes of the segments this thread created and has not removed
      {"createdBytes", CreatedBytesOfThread<Created>},
  });
  return exports;
}

}  // namespace
}  // namespace shm::sysv

SHM_ADDON_MODULE(shm_sysv, shm::sysv::Init)
