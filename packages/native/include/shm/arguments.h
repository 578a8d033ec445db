// Argument re-checks for the shm bindings. TypeScript validated the
// arguments with exact messages; these checks are the cheap second line, so
// that a wrong call from JavaScript throws instead of reaching a system call.
// Follows Node-API's napi_typeof, napi_get_value_double and
// napi_get_value_bool, through node-addon-api; the errors are built from
// <shm/error_codes.h>. Nothing here maps or unmaps memory.
#pragma once

#include <napi.h>

#include "error_codes.h"

#include <cmath>
#include <cstddef>
#include <string>

namespace shm {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

// The errors of these checks carry Node's codes, as TypeScript's do: a call
// that reaches them is a bug in the caller, but still a coded error.
inline std::string ArgumentLabel(size_t index) { return "argument " + std::to_string(index); }

// An integer in [min, max].
inline double IntegerArgument(const Napi::CallbackInfo& info, size_t index, double min, double max) {
  if (!info[index].IsNumber()) {
    throw CodedError(info.Env(), ErrorCode::kInvalidArgType, ArgumentLabel(index) + " must be a number");
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= min && value <= max && std::floor(value) == value)) {
    throw CodedError(info.Env(), ErrorCode::kOutOfRange, ArgumentLabel(index) + " is out of range");
  }
  return value;
}

inline bool BooleanArgument(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsBoolean()) {
    throw CodedError(info.Env(), ErrorCode::kInvalidArgType, ArgumentLabel(index) + " must be a boolean");
  }
  return info[index].As<Napi::Boolean>().Value();
}

}  // namespace shm
