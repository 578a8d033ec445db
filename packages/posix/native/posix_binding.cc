// The POSIX backend's JavaScript binding: argument marshalling only. The
// system calls are in posix_syscalls.cc, mapping ownership in
// <shm/mapping_registry.h>, error objects in <shm/error_codes.h> and
// <shm/system_error.h>.
// Follows shm_open(3) (what makes a valid name), Node-API's strings
// (napi_get_value_string_utf16) and, through the registry, its external
// ArrayBuffers.
//
// Who owns each mapping: OpenObject's mapping is this binding's only until
// it hands it to the thread's MappingRegistry (Adopt), at once; the one step
// before that which can fail (noting a create in the ledger) unmaps it here,
// and Adopt unmaps it itself when it fails. A create that then cannot publish
// its name or populate its pages detaches the mapping it just adopted
// (DetachNewest), through the registry.
//
// Arguments were validated in TypeScript (src/index.ts); they are checked
// again here, cheaply, because this code never trusts its caller.
#include <napi.h>
#include <shm/addon_exports.h>
#include <shm/arguments.h>
#include <shm/created_ledger.h>
#include <shm/created_ledger_exports.h>
#include <shm/error_codes.h>
#include <shm/mapping_registry.h>
#include <shm/populate.h>
#include <shm/system_error.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <climits>
#include <string>

#include "posix_syscalls.h"

namespace shm::posix {
namespace {

// Whether the UTF-16 text has no lone surrogate: converted to UTF-8, a lone
// surrogate becomes U+FFFD, and two distinct names would open one object.
bool IsWellFormed(const char16_t* text, size_t length) {
  for (size_t i = 0; i < length; i++) {
    char16_t unit = text[i];
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      if (i + 1 == length || text[i + 1] < 0xDC00 || text[i + 1] > 0xDFFF) return false;
      i++;
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return false;
    }
  }
  return true;
}

// "/name": one leading slash, no other slash, no NUL, not "." or "..", not
// glibc's "sem." prefix, well-formed Unicode, at most NAME_MAX bytes after
// the slash. The same rules as normalizeName in src/index.ts.
std::string NameArgument(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (!info[index].IsString()) {
    throw CodedError(env, ErrorCode::kInvalidArgType, "shm name must be a string");
  }
  char16_t units[NAME_MAX + 2];
  size_t length = 0;
  napi_status status = napi_get_value_string_utf16(env, info[index], nullptr, 0, &length);
  bool valid = status == napi_ok && length >= 2 && length <= NAME_MAX + 1 &&
               napi_get_value_string_utf16(env, info[index], units, sizeof units / sizeof units[0], &length) == napi_ok &&
               IsWellFormed(units, length);
  std::string name = valid ? info[index].As<Napi::String>().Utf8Value() : std::string();
  valid = valid && name.size() <= NAME_MAX + 1 && name[0] == '/' && name.find('/', 1) == std::string::npos &&
          name.find('\0') == std::string::npos && name != "/." && name != "/.." && name.compare(1, 4, "sem.") != 0;
  if (!valid) throw CodedError(env, ErrorCode::kInvalidArgValue, "invalid shm name");
  return name;
}

// The segments this addon created in this process, over every thread.
CreatedLedger& Created() {
  static CreatedLedger ledger;
  return ledger;
}

const char* FileTypeName(mode_t type) {
  switch (type) {
    case S_IFIFO: return "a FIFO";
    case S_IFDIR: return "a directory";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    default: return "not a regular file";
  }
}

Napi::Value OpenWith(Napi::Env env, const OpenRequest& request);
Napi::Value Publish(Napi::Env env, MappingRegistry& registry, const OpenRequest& request, const OpenResult& result);

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
    throw CodedError(env, ErrorCode::kOutOfRange, "the prefixed layout's header does not fit");
  }
  if (request.create && request.dataBytes == 0) {
    throw CodedError(env, ErrorCode::kOutOfRange, "a new shm object needs at least one byte");
  }
  return OpenWith(env, request);
}

Napi::Value OpenWith(Napi::Env env, const OpenRequest& request) {
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
      Napi::Error error = CodedError(env, ErrorCode::kShmLayout,
                                     "shm object '" + request.name + "' (" + std::to_string(result.objectBytes) +
                                         " bytes) does not hold the prefixed layout's length header");
      error.Set("path", Napi::String::New(env, request.name));
      throw error;
    }
    case OpenOutcome::kNotRegularFile: {
      Napi::Error error = CodedError(env, ErrorCode::kShmNotRegularFile,
                                     "'" + request.name + "' under /dev/shm is " + FileTypeName(result.fileType) +
                                         ", not a shared memory object");
      error.Set("path", Napi::String::New(env, request.name));
      throw error;
    }
    case OpenOutcome::kFailed:
      throw SystemError(env, result.errnum, result.syscall, PathSubject(env, request.name));
    case OpenOutcome::kMapped:
      break;
  }
  MappingRegistry& registry = MappingRegistry::Of(env);
  // Guarded: a peer that shrinks the object must not kill this process.
  if (!request.create) {
    return registry.Adopt(env, request.name, result.base, result.mapLength, result.dataOffset, result.dataLength,
                          Guard::kFile);
  }
  return Publish(env, registry, request, result);
}

// A create's last steps, in the order that leaves nothing behind on failure:
// note it in the ledger and adopt its mapping while the file has no name,
// then publish the name, then populate. (An object named first, where
// unnamed files cannot be linked, is unlinked by name if these fail.)
Napi::Value Publish(Napi::Env env, MappingRegistry& registry, const OpenRequest& request, const OpenResult& result) {
  int fd = result.pendingFd;
  auto abandon = [&](bool published) {
    Created().Forget(request.name, -1);
    if (fd == -1) UnlinkObject(request.name);  // named first, by this call
    else if (published) UnlinkIfSame(request.name, fd);
    if (fd != -1) CloseUnpublished(fd);
  };
  try {
    Created().Note({request.name, -1, result.mapLength, registry.Serial()});
  } catch (const std::bad_alloc&) {
    munmap(result.base, result.mapLength);
    abandon(false);
    throw NoMemoryError(env);
  }
  Napi::ArrayBuffer buffer;
  try {
    buffer = registry.Adopt(env, request.name, result.base, result.mapLength, result.dataOffset, result.dataLength,
                            Guard::kFile);
  } catch (...) {
    abandon(false);  // Adopt has unmapped it
    throw;
  }
  if (fd != -1) {
    int errnum = PublishObject(request.name, fd);
    if (errnum != 0) {
      registry.DetachNewest(env, request.name);  // the mapping just adopted
      abandon(false);
      if (errnum == EEXIST) return env.Null();
      if (errnum == ENOTSUP) return OpenWith(env, request);  // no /proc: once more, named first
      throw SystemError(env, errnum, "linkat", PathSubject(env, request.name));
    }
  }
  if (request.populate) {
    if (int errnum = PopulateMapping(result.base, result.mapLength); errnum != 0) {
      registry.DetachNewest(env, request.name);
      abandon(true);
      throw SystemError(env, errnum, "madvise", PathSubject(env, request.name));
    }
  }
  if (fd != -1) CloseUnpublished(fd);
  return buffer;
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
  if (errnum == 0 || errnum == ENOENT) Created().Forget(name, -1);
  if (errnum == ENOENT) return Napi::Boolean::New(env, false);
  if (errnum != 0) throw SystemError(env, errnum, "shm_unlink", PathSubject(env, name));
  return Napi::Boolean::New(env, true);
}

// An entry of createdNames(): the object's name.
Napi::Value NameOf(Napi::Env env, const CreatedLedger::Entry& entry) { return Napi::String::New(env, entry.segment); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  MappingRegistry::Install(env, exports);
  ExportFunctions(env, exports, {
      {"open", Open},
      {"unmap", Unmap},
      {"unlink", Unlink},
      // the objects this process created (any thread) and has not destroyed
      {"createdNames", CreatedEntries<Created, NameOf>},
      // bytes of the objects this thread created and has not destroyed
      {"createdBytes", CreatedBytesOfThread<Created>},
      {"reportLostPages", ReportLostPages},
  });
  exports.Set("prefixBytes", Napi::Number::New(env, static_cast<double>(kPrefixBytes)));
  return exports;
}

}  // namespace
}  // namespace shm::posix

SHM_ADDON_MODULE(shm_posix, shm::posix::Init)
