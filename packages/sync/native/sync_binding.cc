// @shm/sync's JavaScript binding: argument marshalling only. The system calls
// are in futex_syscalls.cc and owner_monitor.cc, asynchronous waits in
// async_waits.cc, error objects in <shm/error_codes.h> and
// <shm/system_error.h>. Arguments were validated in TypeScript (src/futex.ts,
// src/mutex.ts); they are checked again here, cheaply, because this code
// never trusts its caller.
// Follows futex(2) through futex_syscalls.h, and Node-API's typed arrays
// (napi_get_typedarray_info), BigInts, promises and instance data
// (napi_set_instance_data, napi_add_env_cleanup_hook).
//
// Nothing here maps or unmaps memory: the futex words live in mappings that
// the posix and sysv registries own (or in a SharedArrayBuffer V8 owns); a
// pending waitAsync holds the words' ArrayBuffer until it settles
// (async_waits.h).
#include <napi.h>
#include <shm/addon_exports.h>
#include <shm/arguments.h>
#include <shm/environment.h>
#include <shm/error_codes.h>
#include <shm/segment_tag.h>
#include <shm/system_error.h>

#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdint>

#include "async_waits.h"
#include "futex_syscalls.h"
#include "owner_monitor.h"

namespace shm::sync {
namespace {

// What this environment (thread) keeps: its async waits, its Mutex owner
// slot, and whether its blocking waits must notice termination.
struct ThreadState {
  explicit ThreadState(Napi::Env env) : asyncWaits(env) {}
  AsyncWaits asyncWaits;
  OwnerSlot owner;
  bool terminable = false;  // a worker: worker.terminate() or process.exit() may end it
};

ThreadState& StateOf(Napi::Env env) { return *env.GetInstanceData<ThreadState>(); }

// One element of an Int32Array or a BigInt64Array as futex words: the element
// itself, or both halves of a 64-bit element (x86-64 and arm64 are
// little-endian: the low half first).
//
// A 64-bit cell, as a waiter W expecting V = (high, low) sees it:
//   W calls wait   --kernel: both halves still equal V (futex_waitv checks
//                    each under its bucket lock as it queues W on both)--> asleep
//                  --either half differs--> 'not-equal'
//   asleep         --FUTEX_WAKE on the low half (notify)--> 'ok'
//                  --deadline--> 'timed-out'
// A store changes the cell before its notify wakes the low half, so a
// store to either half either lands before W's check (W does not sleep) or
// after W is queued (the wake finds W): no wake-up is lost. (Before,
// the binding compared the 64 bits itself and then slept on the low half
// alone: a store to the high half with its notify between the two was lost.)
struct Cell {
  uint32_t* word;
  bool wide;  // a BigInt64Array element: two words
  uint32_t index;
  Napi::Object buffer;
};

Cell CellArgument(const Napi::CallbackInfo& info, size_t position) {
  Napi::Env env = info.Env();
  if (!info[position].IsTypedArray()) {
    throw CodedError(env, ErrorCode::kInvalidArgType, "expected an Int32Array or a BigInt64Array");
  }
  auto array = info[position].As<Napi::TypedArray>();
  napi_typedarray_type type = array.TypedArrayType();
  if (type != napi_int32_array && type != napi_bigint64_array) {
    throw CodedError(env, ErrorCode::kInvalidArgType, "expected an Int32Array or a BigInt64Array");
  }
  auto index = static_cast<uint32_t>(IntegerArgument(info, position + 1, 0, UINT32_MAX));
  // napi_get_typedarray_info gives the first element's address for an
  // ArrayBuffer and a SharedArrayBuffer alike (Napi::ArrayBuffer refuses the latter).
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  size_t byteOffset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, array, &type, &length, &data, &buffer, &byteOffset), Cell{});
  if (data == nullptr || index >= length) throw CodedError(env, ErrorCode::kOutOfRange, "index out of range");
  size_t elementBytes = type == napi_int32_array ? 4 : 8;
  uint8_t* element = static_cast<uint8_t*>(data) + index * elementBytes;
  if (reinterpret_cast<uintptr_t>(element) % elementBytes != 0) {
    throw CodedError(env, ErrorCode::kOutOfRange, "misaligned element");
  }
  return {reinterpret_cast<uint32_t*>(element), type == napi_bigint64_array, index, Napi::Object(env, buffer)};
}

// Appends the cell's words, each with the value it must hold, to `words`.
void AddExpectedWords(const Napi::CallbackInfo& info, size_t position, const Cell& cell, FutexWord* words, int* count) {
  Napi::Env env = info.Env();
  if (!cell.wide) {
    if (!info[position].IsNumber()) throw CodedError(env, ErrorCode::kInvalidArgType, "expected a number");
    words[(*count)++] = {cell.word, static_cast<uint32_t>(info[position].As<Napi::Number>().Int32Value())};
    return;
  }
  if (!info[position].IsBigInt()) throw CodedError(env, ErrorCode::kInvalidArgType, "expected a bigint");
  bool lossless = false;
  auto value = static_cast<uint64_t>(info[position].As<Napi::BigInt>().Int64Value(&lossless));
  if (!lossless) throw CodedError(env, ErrorCode::kOutOfRange, "bigint out of range");
  words[(*count)++] = {cell.word, static_cast<uint32_t>(value)};
  words[(*count)++] = {cell.word + 1, static_cast<uint32_t>(value >> 32)};
}

int64_t DeadlineArgument(const Napi::CallbackInfo& info, size_t position) {
  Napi::Env env = info.Env();
  if (!info[position].IsNumber()) throw CodedError(env, ErrorCode::kInvalidArgType, "expected a number");
  double timeoutMs = info[position].As<Napi::Number>().DoubleValue();
  if (!(timeoutMs >= 0)) throw CodedError(env, ErrorCode::kOutOfRange, "timeout out of range");
  return DeadlineAfter(timeoutMs);
}

// The words of one wait: the cell at (0, 1) with its expected value at 2,
// and, when given, a second 32-bit cell at (first, first + 1) expecting the
// value at first + 2 (a Channel's cursor and closed word: whichever changes
// ends the sleep).
int WordsArgument(const Napi::CallbackInfo& info, size_t second, FutexWord* words, Cell* first) {
  *first = CellArgument(info, 0);
  int count = 0;
  AddExpectedWords(info, 2, *first, words, &count);
  if (info.Length() > second && !info[second].IsUndefined()) {
    Cell other = CellArgument(info, second);
    if (other.wide || first->wide) {
      throw CodedError(info.Env(), ErrorCode::kInvalidArgType, "a second cell pairs two Int32Array cells");
    }
    AddExpectedWords(info, second + 2, other, words, &count);
  }
  return count;
}

// The stop check of a terminable thread's blocking waits.
bool ThreadStopping(void* env) { return EnvironmentStopping(static_cast<napi_env>(env)); }

Napi::Value OutcomeValue(Napi::Env env, const WaitResult& result, const Cell& cell) {
  switch (result.outcome) {
    case WaitOutcome::kWoken: return Napi::String::New(env, "ok");
    case WaitOutcome::kNotEqual: return Napi::String::New(env, "not-equal");
    case WaitOutcome::kTimedOut: return Napi::String::New(env, "timed-out");
    case WaitOutcome::kStopped:
    case WaitOutcome::kCancelled: return env.Undefined();  // the thread is ending: nobody reads it
    case WaitOutcome::kFailed: break;
  }
  throw SystemError(env, result.errnum, "futex", IndexSubject(env, cell.index));
}

// wait(array, index, expected, timeoutMs, array2?, index2?, expected2?): 'ok' | 'not-equal' | 'timed-out'
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FutexWord words[kMaxWords];
  Cell cell;
  int count = WordsArgument(info, 4, words, &cell);
  int64_t deadline = DeadlineArgument(info, 3);
  StopCheck stop{ThreadStopping, static_cast<napi_env>(env)};
  WaitResult result = FutexWaitAny(words, count, deadline, nullptr, StateOf(env).terminable ? &stop : nullptr);
  return OutcomeValue(env, result, cell);
}

// Whether the memory `buffer` holds stays while an asynchronous wait on it
// is pending, or says when it goes: a SharedArrayBuffer, or a segment's
// buffer (<shm/segment_tag.h>). napi_is_arraybuffer is false for a SharedArrayBuffer.
bool OutlivesAsyncWaits(Napi::Env env, napi_value buffer) {
  bool ordinary = true;
  NAPI_THROW_IF_FAILED(env, napi_is_arraybuffer(env, buffer, &ordinary), false);
  return !ordinary || IsSegmentBuffer(env, buffer);
}

// outlivesAsyncWaits(array): see OutlivesAsyncWaits
Napi::Value OutlivesAsyncWaitsValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw CodedError(env, ErrorCode::kInvalidArgType, "expected a typed array");
  napi_value buffer = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, info[0], nullptr, nullptr, nullptr, &buffer, nullptr), Napi::Value());
  return Napi::Boolean::New(env, OutlivesAsyncWaits(env, buffer));
}

// waitAsync(array, index, expected, timeoutMs, ref, array2?, index2?, expected2?): Promise of the same
Napi::Value WaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AsyncWaitRequest request{};
  Cell cell;
  request.count = WordsArgument(info, 5, request.words, &cell);
  // src/futex.ts checked both cells' memory; checked again, as ever.
  if (!OutlivesAsyncWaits(env, cell.buffer) || (info.Length() > 5 && info[5].IsTypedArray() &&
                                                 !OutlivesAsyncWaits(env, CellArgument(info, 5).buffer))) {
    throw CodedError(env, ErrorCode::kInvalidArgType, "an asynchronous wait needs a SharedArrayBuffer or a segment's memory");
  }
  request.deadline = DeadlineArgument(info, 3);
  request.ref = BooleanArgument(info, 4);
  request.index = cell.index;
  auto deferred = Napi::Promise::Deferred::New(env);
  if (!StateOf(env).asyncWaits.Start(env, deferred, cell.buffer, request)) {
    deferred.Reject(CodedError(env, ErrorCode::kShmTooManyWaits,
                               "too many pending waitAsync calls in this process (at most " +
                                   std::to_string(kMaxAsyncWaits) + ")")
                        .Value());
  }
  return deferred.Promise();
}

// notify(array, index, count): how many waiters were woken, in every process
Napi::Value Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Cell cell = CellArgument(info, 0);
  if (!info[2].IsNumber()) throw CodedError(env, ErrorCode::kInvalidArgType, "expected a number");
  double count = info[2].As<Napi::Number>().DoubleValue();
  if (!(count >= 0)) throw CodedError(env, ErrorCode::kOutOfRange, "count out of range");
  // FUTEX_WAKE wakes one waiter even when asked for none.
  if (count < 1) return Napi::Number::New(env, 0);
  int wake = count >= INT_MAX ? INT_MAX : static_cast<int>(count);
  // A 64-bit cell's waiters sleep on both halves, so a wake of the low half
  // reaches every one of them, each counted once.
  int woken = FutexWake(cell.word, wake);
  if (woken < 0) throw SystemError(env, -woken, "futex", IndexSubject(env, cell.index));
  return Napi::Number::New(env, woken);
}

// ownerToken(): this thread's Mutex owner word, as a bigint (claims its slot on first use)
Napi::Value OwnerToken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OwnerSlot& owner = StateOf(env).owner;
  if (owner.token == 0) {
    OwnerSlot claimed = ClaimOwnerSlot();
    if (claimed.errnum != 0 || claimed.token == 0) {
      ReleaseOwnerSlot(claimed);
      // Nothing is kept: the next call tries again.
      throw SystemError(env, claimed.errnum != 0 ? claimed.errnum : EINVAL, claimed.syscall != nullptr ? claimed.syscall : "open",
                        PathSubject(env, "/dev/shm/.shm-sync-" + std::to_string(geteuid())));
    }
    owner = claimed;
  }
  return Napi::BigInt::New(env, static_cast<int64_t>(owner.token));
}

// ownerState(token): 'alive' | 'dead' | 'unknown' (see owner_monitor.h)
Napi::Value OwnerStateValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBigInt()) throw CodedError(env, ErrorCode::kInvalidArgType, "expected a bigint");
  bool lossless = false;
  auto token = static_cast<uint64_t>(info[0].As<Napi::BigInt>().Int64Value(&lossless));
  switch (ProbeOwner(token)) {
    case OwnerState::kAlive: return Napi::String::New(env, "alive");
    case OwnerState::kDead: return Napi::String::New(env, "dead");
    case OwnerState::kUnknown: break;
  }
  return Napi::String::New(env, "unknown");
}

// configure(terminable): whether this thread's blocking waits must notice its termination
Napi::Value Configure(const Napi::CallbackInfo& info) {
  StateOf(info.Env()).terminable = BooleanArgument(info, 0);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* state = new ThreadState(env);
  env.SetInstanceData(state);
  // The slot's lock goes with the thread; the file stays for the next one.
  env.AddCleanupHook([state]() { ReleaseOwnerSlot(state->owner); });
  ExportFunctions(env, exports, {
      {"wait", Wait},
      {"waitAsync", WaitAsync},
      {"outlivesAsyncWaits", OutlivesAsyncWaitsValue},
      {"notify", Notify},
      {"ownerToken", OwnerToken},
      {"ownerState", OwnerStateValue},
      {"configure", Configure},
  });
  exports.Set("maxAsyncWaits", Napi::Number::New(env, kMaxAsyncWaits));
  return exports;
}

}  // namespace
}  // namespace shm::sync

SHM_ADDON_MODULE(shm_sync, shm::sync::Init)
