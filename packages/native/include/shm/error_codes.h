// The coded errors the shm addons throw: one table of every code with the
// class of its error, and the one helper that builds them.
// Follows Node-API's napi_create_error, napi_create_type_error and
// napi_create_range_error (through node-addon-api's Napi::Error, TypeError
// and RangeError) and Node's convention of a string `code` on the error.
//
// The master list of codes is the TypeScript table in @shm/types
// (packages/types/src/errors.ts). Every entry here must be in it, with the
// same class; a test parses the entries below (one a line, in this exact
// shape) and checks it. A code comes here only when C++ throws it.
#pragma once

#include <napi.h>

#include <array>

#include <cstddef>
#include <iterator>
#include <string>

namespace shm {

enum class ErrorClass { kError, kTypeError, kRangeError };

enum class ErrorCode {
  kInvalidArgType,
  kInvalidArgValue,
  kOutOfRange,
  kInvalidState,
  kShmLayout,
  kShmNotRegularFile,
  kShmNoMemory,
  kShmMappingLimit,
  kShmTruncated,
  kShmTooManyWaits,
};

struct ErrorCodeEntry {
  ErrorCode code;
  const char* name;  // the error's `code` property
  ErrorClass errorClass;
};

constexpr size_t kErrorCodeCount = static_cast<size_t>(ErrorCode::kShmTooManyWaits) + 1;

// The table, in the order ErrorCode declares the codes, so a code is its own
// index. It is returned by value and has no storage of its own: an inline
// variable would be one GNU "unique" symbol, bound across every addon of the
// process despite RTLD_LOCAL, and an addon of another version would read
// this addon's table.
constexpr std::array<ErrorCodeEntry, kErrorCodeCount> ErrorCodeTable() {
  return {{
    {ErrorCode::kInvalidArgType, "ERR_INVALID_ARG_TYPE", ErrorClass::kTypeError},
    {ErrorCode::kInvalidArgValue, "ERR_INVALID_ARG_VALUE", ErrorClass::kTypeError},
    {ErrorCode::kOutOfRange, "ERR_OUT_OF_RANGE", ErrorClass::kRangeError},
    {ErrorCode::kInvalidState, "ERR_INVALID_STATE", ErrorClass::kError},
    {ErrorCode::kShmLayout, "ERR_SHM_LAYOUT", ErrorClass::kError},
    {ErrorCode::kShmNotRegularFile, "ERR_SHM_NOT_REGULAR_FILE", ErrorClass::kError},
    {ErrorCode::kShmNoMemory, "ERR_SHM_NO_MEMORY", ErrorClass::kError},
    {ErrorCode::kShmMappingLimit, "ERR_SHM_MAPPING_LIMIT", ErrorClass::kError},
    {ErrorCode::kShmTruncated, "ERR_SHM_TRUNCATED", ErrorClass::kError},
    {ErrorCode::kShmTooManyWaits, "ERR_SHM_TOO_MANY_WAITS", ErrorClass::kError},
  }};
}

namespace detail {
constexpr bool EveryCodeAtItsIndex() {
  constexpr auto table = ErrorCodeTable();
  for (size_t i = 0; i < table.size(); i++) {
    if (static_cast<size_t>(table[i].code) != i || table[i].name == nullptr) return false;
  }
  return true;
}
}  // namespace detail

static_assert(detail::EveryCodeAtItsIndex(),
              "ErrorCodeTable lists every code once, in the order ErrorCode declares them (a new last code moves kErrorCodeCount)");

constexpr ErrorCodeEntry ErrorCodeEntryOf(ErrorCode code) {
  return ErrorCodeTable()[static_cast<size_t>(code)];
}

// The one way the shm addons build a coded error: `message`, with the code's
// `code` property, of the code's class. The value is a Napi::Error whatever
// the class: throwing it (or rejecting with its Value()) hands JavaScript the
// TypeError or RangeError object itself, so `instanceof` holds.
inline Napi::Error CodedError(Napi::Env env, ErrorCode code, const std::string& message) {
  const ErrorCodeEntry entry = ErrorCodeEntryOf(code);
  Napi::Error error;
  switch (entry.errorClass) {
    case ErrorClass::kTypeError: error = Napi::TypeError::New(env, message); break;
    case ErrorClass::kRangeError: error = Napi::RangeError::New(env, message); break;
    case ErrorClass::kError: error = Napi::Error::New(env, message); break;
  }
  error.Set("code", Napi::String::New(env, entry.name));
  return error;
}

}  // namespace shm
