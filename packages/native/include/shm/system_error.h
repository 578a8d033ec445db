// The one way the shm backends report a failed system call: an Error shaped
// like the ones Node's fs module throws (see node/src/api/exceptions.cc,
// UVException), so callers branch on err.code and util.getSystemErrorName
// works on err.errno.
// Follows errno(3) and strerror(3), libuv's error names (uv_err_name,
// uv_strerror) and Node-API's napi_create_error. Nothing here maps or unmaps
// memory.
//
//   message  "EACCES: permission denied, shm_open '/frames'"
//   code     "EACCES"
//   errno    -13 (negative, as libuv and Node report it)
//   syscall  "shm_open"
//   path     "/frames"   (POSIX objects), key 1234 (System V segments),
//            or index 3 (the element a futex call was about)
//
// Callers must copy errno into a local right after the failing call: any
// later library call may overwrite it.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace shm {

struct ErrnoName {
  const char* code;
  const char* description;
};

// libuv names most errno values; the System V calls can also fail with a few
// it does not know.
inline ErrnoName DescribeErrno(int errnum) {
  switch (errnum) {
    case EIDRM: return {"EIDRM", "identifier removed"};
    default: break;
  }
  const char* code = uv_err_name(-errnum);
  if (std::strncmp(code, "Unknown", 7) == 0) return {"UNKNOWN", std::strerror(errnum)};
  return {code, uv_strerror(-errnum)};
}

// What the failed call was about: a POSIX name (reported as `path`, as fs
// does) or a System V key (reported as `key`).
struct ErrorSubject {
  std::string text;   // as it appears in the message
  napi_value value;   // the property's value
  const char* property;
};

inline ErrorSubject PathSubject(Napi::Env env, const std::string& path) {
  return {"'" + path + "'", Napi::String::New(env, path), "path"};
}

inline ErrorSubject KeySubject(Napi::Env env, uint32_t key) {
  return {std::to_string(key), Napi::Number::New(env, key), "key"};
}

// An element of an array (the futexes of @shm/sync), reported as `index`.
inline ErrorSubject IndexSubject(Napi::Env env, uint32_t index) {
  return {"index " + std::to_string(index), Napi::Number::New(env, index), "index"};
}

inline Napi::Error SystemError(Napi::Env env, int errnum, const char* syscall,
                               const ErrorSubject& subject) {
  ErrnoName name = DescribeErrno(errnum);
  std::string message = std::string(name.code) + ": " + name.description + ", " +
                        syscall + " " + subject.text;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -errnum));
  error.Set("code", Napi::String::New(env, name.code));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set(subject.property, subject.value);
  return error;
}

}  // namespace shm
