// @shm/sync's JavaScript binding: argument marshalling only. The system calls
// are in futex_syscalls.cc, asynchronous waits in async_waits.cc, error
// objects in <shm/system_error.h>. Arguments were validated in TypeScript
// (src/index.ts); they are checked again here, cheaply, because this code
// never trusts its caller.
#include <napi.h>
#include <shm/arguments.h>
#include <shm/system_error.h>

#include <climits>
#include <cmath>
#include <cstdint>

#include "async_waits.h"
#include "futex_syscalls.h"

namespace shm::sync {
namespace {

// One element of an Int32Array or a BigInt64Array, and the 32-bit word the
// futex calls use: the element itself, or the low half of a 64-bit element
// (x86-64 and arm64 are little-endian).
struct Cell {
  uint32_t* word;
  int64_t* wide;  // null for an Int32Array
  uint32_t index;
  Napi::Object buffer;
};

Cell CellArgument(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "expected an Int32Array or a BigInt64Array");
  auto array = info[0].As<Napi::TypedArray>();
  napi_typedarray_type type = array.TypedArrayType();
  if (type != napi_int32_array && type != napi_bigint64_array) {
    throw Napi::TypeError::New(env, "expected an Int32Array or a BigInt64Array");
  }
  auto index = static_cast<uint32_t>(IntegerArgument(info, 1, 0, UINT32_MAX));
  // napi_get_typedarray_info gives the first element's address for an
  // ArrayBuffer and a SharedArrayBuffer alike (Napi::ArrayBuffer refuses the latter).
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  size_t byteOffset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, array, &type, &length, &data, &buffer, &byteOffset), Cell{});
  if (data == nullptr || index >= length) throw Napi::RangeError::New(env, "index out of range");
  size_t elementBytes = type == napi_int32_array ? 4 : 8;
  uint8_t* element = static_cast<uint8_t*>(data) + index * elementBytes;
  if (reinterpret_cast<uintptr_t>(element) % elementBytes != 0) throw Napi::RangeError::New(env, "misaligned element");
  return {reinterpret_cast<uint32_t*>(element), type == napi_bigint64_array ? reinterpret_cast<int64_t*>(element) : nullptr,
          index, Napi::Object(env, buffer)};
}

// The expected value of the cell: a number for an Int32Array, a BigInt for a BigInt64Array.
int64_t ExpectedArgument(const Napi::CallbackInfo& info, size_t position, const Cell& cell) {
  Napi::Env env = info.Env();
  if (cell.wide == nullptr) {
    if (!info[position].IsNumber()) throw Napi::TypeError::New(env, "expected a number");
    return info[position].As<Napi::Number>().Int32Value();
  }
  if (!info[position].IsBigInt()) throw Napi::TypeError::New(env, "expected a bigint");
  bool lossless = false;
  int64_t value = info[position].As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(env, "bigint out of range");
  return value;
}

int64_t DeadlineArgument(const Napi::CallbackInfo& info, size_t position) {
  if (!info[position].IsNumber()) throw Napi::TypeError::New(info.Env(), "expected a number");
  double timeoutMs = info[position].As<Napi::Number>().DoubleValue();
  if (!(timeoutMs >= 0)) throw Napi::RangeError::New(info.Env(), "timeout out of range");
  return DeadlineAfter(timeoutMs);
}

// For a 64-bit cell the futex compares only the low half, so the whole value
// is compared first.
bool HoldsExpected(const Cell& cell, int64_t expected) {
  if (cell.wide == nullptr) return true;  // the futex call compares
  return __atomic_load_n(cell.wide, __ATOMIC_SEQ_CST) == expected;
}

Napi::Value OutcomeValue(Napi::Env env, const WaitResult& result, const Cell& cell, const char* syscall) {
  switch (result.outcome) {
    case WaitOutcome::kWoken: return Napi::String::New(env, "ok");
    case WaitOutcome::kNotEqual: return Napi::String::New(env, "not-equal");
    case WaitOutcome::kTimedOut: return Napi::String::New(env, "timed-out");
    case WaitOutcome::kFailed: break;
  }
  throw SystemError(env, result.errnum, syscall, IndexSubject(env, cell.index));
}

// wait(array, index, expected, timeoutMs): 'ok' | 'not-equal' | 'timed-out'
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Cell cell = CellArgument(info);
  int64_t expected = ExpectedArgument(info, 2, cell);
  int64_t deadline = DeadlineArgument(info, 3);
  if (!HoldsExpected(cell, expected)) return Napi::String::New(info.Env(), "not-equal");
  WaitResult result = FutexWait(cell.word, static_cast<uint32_t>(expected), deadline);
  return OutcomeValue(info.Env(), result, cell, "futex");
}

// waitAsync(array, index, expected, timeoutMs): Promise of the same
Napi::Value WaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Cell cell = CellArgument(info);
  int64_t expected = ExpectedArgument(info, 2, cell);
  int64_t deadline = DeadlineArgument(info, 3);
  auto deferred = Napi::Promise::Deferred::New(env);
  if (!HoldsExpected(cell, expected)) {
    deferred.Resolve(Napi::String::New(env, "not-equal"));
  } else if (!env.GetInstanceData<AsyncWaits>()->Start(env, deferred, cell.buffer, cell.word, cell.index,
                                                         static_cast<uint32_t>(expected), deadline)) {
    deferred.Reject(CodedError(env, "ERR_SHM_TOO_MANY_WAITS",
                               "too many pending waitAsync calls in this process (at most " +
                                   std::to_string(kMaxAsyncWaits) + ")")
                        .Value());
  }
  return deferred.Promise();
}

// notify(array, index, count): how many waiters were woken, in every process
Napi::Value Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Cell cell = CellArgument(info);
  if (!info[2].IsNumber()) throw Napi::TypeError::New(env, "expected a number");
  double count = info[2].As<Napi::Number>().DoubleValue();
  if (!(count >= 0)) throw Napi::RangeError::New(env, "count out of range");
  // FUTEX_WAKE wakes one waiter even when asked for none.
  if (count < 1) return Napi::Number::New(env, 0);
  int woken = FutexWake(cell.word, count >= INT_MAX ? INT_MAX : static_cast<int>(count));
  if (woken < 0) throw SystemError(env, -woken, "futex", IndexSubject(env, cell.index));
  return Napi::Number::New(env, woken);
}

// threadId(): this thread's id (gettid)
Napi::Value ThreadIdValue(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ThreadId());
}

// threadStartToken(tid): that thread's start-time token, 0 if it is gone
Napi::Value ThreadStartTokenValue(const Napi::CallbackInfo& info) {
  auto tid = static_cast<pid_t>(IntegerArgument(info, 0, 1, INT_MAX));
  return Napi::Number::New(info.Env(), ThreadStartToken(tid));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AsyncWaits(env));
  exports.Set("wait", Napi::Function::New(env, Wait, "wait"));
  exports.Set("waitAsync", Napi::Function::New(env, WaitAsync, "waitAsync"));
  exports.Set("notify", Napi::Function::New(env, Notify, "notify"));
  exports.Set("threadId", Napi::Function::New(env, ThreadIdValue, "threadId"));
  exports.Set("threadStartToken", Napi::Function::New(env, ThreadStartTokenValue, "threadStartToken"));
  exports.Set("maxAsyncWaits", Napi::Number::New(env, kMaxAsyncWaits));
  return exports;
}

}  // namespace
}  // namespace shm::sync

// NODE_API_MODULE wants a plain identifier.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return shm::sync::Init(env, exports);
}

NODE_API_MODULE(shm_sync, InitModule)
