// The POSIX backend's JavaScript binding: argument marshalling only. The
// system calls are in posix_syscalls.cc, mapping ownership in
// <shm/mapping_registry.h>, error objects in <shm/system_error.h>.
// Arguments were validated in TypeScript (src/index.ts); they are checked
// again here, cheaply, because this code never trusts its caller.
#include <napi.h>
#include <shm/arguments.h>
#include <shm/mapping_registry.h>
#include <shm/system_error.h>

#include <climits>
#include <string>

#include "posix_syscalls.h"

namespace shm::posix {
namespace {

// "/name": one leading slash, no other slash, no NUL, at most NAME_MAX after the slash.
std::string NameArgument(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (!info[index].IsString()) {
    throw Napi::TypeError::New(env, "shm name must be a string");
  }
  std::string name = info[index].As<Napi::String>().Utf8Value();
  bool valid = name.size() >= 2 && name.size() <= NAME_MAX + 1 && name[0] == '/' &&
               name.find('/', 1) == std::string::npos && name.find('\0') == std::string::npos;
  if (!valid) throw Napi::TypeError::New(env, "invalid shm name");
  return name;
}

// open(name, dataBytes, create, mode, readonly, prefixed, reserve, populate): ArrayBuffer | null
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenRequest request;
  request.name = NameArgument(info, 0);
  request.dataBytes = static_cast<size_t>(IntegerArgument(info, 1, 0, kMaxSafeInteger));
  request.create = BooleanArgument(info, 2);
  request.mode = static_cast<mode_t>(IntegerArgument(info, 3, 0, 0777));
  request.readonly = BooleanArgument(info, 4);
  request.prefixed = BooleanArgument(info, 5);
  request.reserve = BooleanArgument(info, 6);
  request.populate = BooleanArgument(info, 7);
  if (request.prefixed && request.dataBytes > kMaxSafeInteger - kPrefixBytes) {
    throw CodedError<Napi::RangeError>(env, "ERR_OUT_OF_RANGE", "the prefixed layout's header does not fit");
  }
  if (request.create && request.dataBytes == 0) {
    throw Napi::RangeError::New(env, "a new shm object needs at least one byte");
  }

  // A truncation a fault found in this thread's mappings of the name is
  // reported first, before anything new is mapped.
  MappingRegistry::Of(env).ReportLostPages(env, &request.name);
  CheckMappingBudget(env);
  OpenResult result = OpenObject(request);
  switch (result.outcome) {
    case OpenOutcome::kExists:
    case OpenOutcome::kMissing:
      return env.Null();
    case OpenOutcome::kBadLayout: {
      Napi::Error error = CodedError(env, "ERR_SHM_LAYOUT",
                                     "shm object '" + request.name + "' (" + std::to_string(result.objectBytes) +
                                         " bytes) does not hold the prefixed layout's length header");
      error.Set("path", Napi::String::New(env, request.name));
      throw error;
    }
    case OpenOutcome::kFailed:
      throw SystemError(env, result.errnum, result.syscall, PathSubject(env, request.name));
    case OpenOutcome::kMapped:
      break;
  }
  // Guarded: a peer that shrinks the object must not kill this process.
  return MappingRegistry::Of(env).Adopt(env, request.name, result.base, result.mapLength, result.dataOffset,
                                        result.dataLength, Guard::kFile);
}

// unmap(name): how many attachments of this thread were neutered and unmapped
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArgument(info, 0);
  return Napi::Number::New(env, static_cast<double>(MappingRegistry::Of(env).UnmapSegment(env, name)));
}

// reportLostPages(name?): throws ERR_SHM_TRUNCATED, once, if this thread's
// mappings of `name` (of any name when omitted) lost pages to a shrinking peer
Napi::Value ReportLostPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info[0].IsUndefined()) {
    MappingRegistry::Of(env).ReportLostPages(env, nullptr);
  } else {
    std::string name = NameArgument(info, 0);
    MappingRegistry::Of(env).ReportLostPages(env, &name);
  }
  return env.Undefined();
}

// unlink(name): true if removed, false if there was no such object
Napi::Value Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArgument(info, 0);
  int errnum = UnlinkObject(name);
  if (errnum == ENOENT) return Napi::Boolean::New(env, false);
  if (errnum != 0) throw SystemError(env, errnum, "shm_unlink", PathSubject(env, name));
  return Napi::Boolean::New(env, true);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  MappingRegistry::Install(env, exports);
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("unlink", Napi::Function::New(env, Unlink, "unlink"));
  exports.Set("reportLostPages", Napi::Function::New(env, ReportLostPages, "reportLostPages"));
  exports.Set("prefixBytes", Napi::Number::New(env, static_cast<double>(kPrefixBytes)));
  return exports;
}

}  // namespace
}  // namespace shm::posix

// NODE_API_MODULE wants a plain identifier.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return shm::posix::Init(env, exports);
}

NODE_API_MODULE(shm_posix, InitModule)
