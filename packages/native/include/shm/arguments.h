// Argument re-checks for the shm bindings. TypeScript validated the
// arguments with exact messages; these checks are the cheap second line, so
// that a wrong call from JavaScript throws instead of reaching a system call.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstddef>

namespace shm {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

// An integer in [min, max].
inline double IntegerArgument(const Napi::CallbackInfo& info, size_t index, double min, double max) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), "expected a number");
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= min && value <= max && std::floor(value) == value)) {
    throw Napi::RangeError::New(info.Env(), "number out of range");
  }
  return value;
}

inline bool BooleanArgument(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsBoolean()) throw Napi::TypeError::New(info.Env(), "expected a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

}  // namespace shm
