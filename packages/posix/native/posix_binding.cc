// The POSIX backend's JavaScript binding: argument marshalling only. The
// system calls are in posix_syscalls.cc, mapping ownership in
// <shm/mapping_registry.h>, error objects in <shm/system_error.h>.
// Arguments were validated in TypeScript (src/validate.ts); they are checked
// again here, cheaply, because this code never trusts its caller.
#include <napi.h>
#include <shm/mapping_registry.h>
#include <shm/system_error.h>

#include <climits>
#include <cmath>
#include <string>

#include "posix_syscalls.h"

namespace shm::posix {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

MappingRegistry& Registry(Napi::Env env) { return *env.GetInstanceData<MappingRegistry>(); }

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

double NumberArgument(const Napi::CallbackInfo& info, size_t index, double max) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), "expected a number");
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= 0 && value <= max && std::floor(value) == value)) {
    throw Napi::RangeError::New(info.Env(), "number out of range");
  }
  return value;
}

bool BooleanArgument(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsBoolean()) throw Napi::TypeError::New(info.Env(), "expected a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

// open(name, dataBytes, create, mode, readonly, prefixed): ArrayBuffer | null
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenRequest request;
  request.name = NameArgument(info, 0);
  request.dataBytes = static_cast<size_t>(NumberArgument(info, 1, kMaxSafeInteger - kPrefixBytes));
  request.create = BooleanArgument(info, 2);
  request.mode = static_cast<mode_t>(NumberArgument(info, 3, 0777));
  request.readonly = BooleanArgument(info, 4);
  request.prefixed = BooleanArgument(info, 5);
  if (request.create && request.dataBytes == 0) {
    throw Napi::RangeError::New(env, "a new shm object needs at least one byte");
  }

  OpenResult result = OpenObject(request);
  switch (result.outcome) {
    case OpenOutcome::kExists:
    case OpenOutcome::kMissing:
      return env.Null();
    case OpenOutcome::kBadLayout: {
      Napi::Error error = Napi::Error::New(
          env, "shm object '" + request.name + "' (" + std::to_string(result.objectBytes) +
                   " bytes) does not hold the prefixed layout's length header");
      error.Set("code", Napi::String::New(env, "ERR_SHM_LAYOUT"));
      error.Set("path", Napi::String::New(env, request.name));
      throw error;
    }
    case OpenOutcome::kFailed:
      throw SystemError(env, result.errnum, result.syscall, PathSubject(env, request.name));
    case OpenOutcome::kMapped:
      break;
  }
  return Registry(env).Adopt(env, request.name, result.base, result.mapLength,
                             result.dataOffset, result.dataLength);
}

// unmap(name): how many attachments of this thread were neutered and unmapped
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArgument(info, 0);
  return Napi::Number::New(env, static_cast<double>(Registry(env).UnmapSegment(env, name)));
}

// unmapAll(): how many attachments of this thread were neutered and unmapped
Napi::Value UnmapAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, static_cast<double>(Registry(env).UnmapAll(env)));
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

// mappedBytes(): bytes this thread has mapped now
Napi::Value MappedBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Registry(info.Env()).MappedBytes()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new MappingRegistry(UnmapObject));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("unmapAll", Napi::Function::New(env, UnmapAll, "unmapAll"));
  exports.Set("unlink", Napi::Function::New(env, Unlink, "unlink"));
  exports.Set("mappedBytes", Napi::Function::New(env, MappedBytes, "mappedBytes"));
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
