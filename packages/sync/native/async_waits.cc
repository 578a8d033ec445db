// waitAsync's threads; see async_waits.h for the contract.
// Follows pthread_create(3), pthread_attr_setstacksize(3), futex(2) through
// futex_syscalls.h, and Node-API's thread-safe functions
// (napi_call_threadsafe_function). Maps nothing: a wait's words stay in the
// mapping its ArrayBuffer keeps alive.
#include "async_waits.h"

#include <climits>

#include <pthread.h>
#include <shm/error_codes.h>
#include <shm/range_release.h>
#include <shm/system_error.h>

#include <atomic>
#include <string>

namespace shm::sync {

// Processes count their pending waits together: the limit is on threads.
static std::atomic<int> pendingInProcess{0};

namespace {

constexpr size_t kThreadStackBytes = 64 * 1024;

// The JavaScript side of one wait, reached only on the JavaScript thread (as
// the thread-safe function's context, freed by its finalizer).
struct Settlement {
  std::shared_ptr<AsyncWait> wait;
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference keepAlive;
};

void SettleOnJavaScriptThread(Napi::Env env, Napi::Function, Settlement* settlement, void*);

using Settle = Napi::TypedThreadSafeFunction<Settlement, void, SettleOnJavaScriptThread>;

}  // namespace

struct AsyncWait {
  AsyncWaitRequest request;
  uint32_t cancel = 0;  // a private futex word: a kCancel* reason once cancelled
  WaitResult result{WaitOutcome::kFailed, 0};
  Settle settle;
  AsyncWaits* owner;
};

namespace {

// Every pending wait of the process, for the range watcher (any thread may
// announce a release). Never destroyed: a wait's thread is detached and may
// finish while exit() runs static destructors, which would free the set
// under it.
struct PendingWaits {
  std::mutex mutex;
  std::unordered_set<AsyncWait*> waits;
};

PendingWaits& Pending() {
  static PendingWaits* const pending = new PendingWaits;
  return *pending;
}

// A mapping's range is going: its waits end now, before the pages do.
void EndWaitsInRange(uintptr_t begin, uintptr_t end) {
  PendingWaits& pending = Pending();
  std::lock_guard<std::mutex> lock(pending.mutex);
  for (AsyncWait* wait : pending.waits) {
    for (int i = 0; i < wait->request.count; i++) {
      auto address = reinterpret_cast<uintptr_t>(wait->request.words[i].word);
      if (address >= begin && address < end) {
        WakeCancel(&wait->cancel, kCancelReleased);
        break;
      }
    }
  }
}

const char* OutcomeName(WaitOutcome outcome) {
  switch (outcome) {
    case WaitOutcome::kWoken: return "ok";
    case WaitOutcome::kNotEqual: return "not-equal";
    case WaitOutcome::kTimedOut: return "timed-out";
    default: return nullptr;
  }
}

void SettleOnJavaScriptThread(Napi::Env env, Napi::Function, Settlement* settlement, void*) {
  if (env == nullptr) return;  // the environment is going away
  const AsyncWait& wait = *settlement->wait;
  if (const char* name = OutcomeName(wait.result.outcome)) {
    settlement->deferred.Resolve(Napi::String::New(env, name));
  } else if (wait.result.outcome == WaitOutcome::kCancelled) {
    settlement->deferred.Reject(
        CodedError(env, ErrorCode::kInvalidState, "The array has no memory: its segment was detached or destroyed").Value());
  } else {
    Napi::Error error = SystemError(env, wait.result.errnum, "futex_waitv", IndexSubject(env, wait.request.index));
    settlement->deferred.Reject(error.Value());
  }
  settlement->keepAlive.Reset();
}

void* RunWait(void* argument) {
  auto* owned = static_cast<std::shared_ptr<AsyncWait>*>(argument);
  std::shared_ptr<AsyncWait> wait = std::move(*owned);
  delete owned;
  const AsyncWaitRequest& request = wait->request;
  wait->result = FutexWaitAny(request.words, request.count, request.deadline, &wait->cancel, nullptr);
  {
    std::lock_guard<std::mutex> lock(Pending().mutex);
    Pending().waits.erase(wait.get());
  }
  bool teardown = __atomic_load_n(&wait->cancel, __ATOMIC_ACQUIRE) == kCancelTeardown;
  // After napi_closing the thread-safe function must not be touched again.
  napi_status status = teardown ? napi_ok : wait->settle.BlockingCall();
  if (status != napi_closing) wait->settle.Release();
  pendingInProcess.fetch_sub(1);
  wait->owner->Finished(wait);
  return nullptr;
}

}  // namespace

AsyncWaits::AsyncWaits(Napi::Env env) {
  // Without its watcher, a wait would outlive its memory: refuse to load.
  if (!WatchRangeReleases(EndWaitsInRange)) {
    throw CodedError(env, ErrorCode::kInvalidState,
                     "Cannot watch released ranges: more than " + std::to_string(RangeReleaseWatchers::kMax) +
                         " copies of @shm/sync's addon in this process, or it cannot stay loaded");
  }
  env.AddCleanupHook([this]() { CancelAll(); });
}

AsyncWaits::~AsyncWaits() { CancelAll(); }

bool AsyncWaits::Start(Napi::Env env, Napi::Promise::Deferred deferred, Napi::Object keepAlive,
                       const AsyncWaitRequest& request) {
  if (pendingInProcess.fetch_add(1) >= kMaxAsyncWaits) {
    pendingInProcess.fetch_sub(1);
    return false;
  }
  auto wait = std::make_shared<AsyncWait>();
  wait->request = request;
  wait->owner = this;
  auto* settlement = new Settlement{wait, deferred, Napi::Persistent(keepAlive)};
  wait->settle = Settle::New(env, "@shm/sync waitAsync", 0, 1, settlement,
                             [](Napi::Env, void*, Settlement* done) { delete done; });
  if (!request.ref) wait->settle.Unref(env);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.insert(wait);
  }
  {
    std::lock_guard<std::mutex> lock(Pending().mutex);
    Pending().waits.insert(wait.get());
  }
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, kThreadStackBytes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  auto* argument = new std::shared_ptr<AsyncWait>(wait);
  int failed = pthread_create(&thread, &attributes, RunWait, argument);
  pthread_attr_destroy(&attributes);
  if (failed != 0) {
    delete argument;
    {
      std::lock_guard<std::mutex> lock(Pending().mutex);
      Pending().waits.erase(wait.get());
    }
    wait->settle.Release();
    pendingInProcess.fetch_sub(1);
    std::lock_guard<std::mutex> lock(mutex_);
    running_.erase(wait);
    return false;
  }
  return true;
}

void AsyncWaits::Finished(const std::shared_ptr<AsyncWait>& wait) {
  // All under the lock: CancelAll sees running_ empty only once this thread
  // has let go of mutex_, and touches nothing of `this` after.
  std::lock_guard<std::mutex> lock(mutex_);
  running_.erase(wait);
  __atomic_add_fetch(&finished_, 1, __ATOMIC_SEQ_CST);
  FutexWake(&finished_, INT_MAX);
}

void AsyncWaits::CancelAll() {
  for (;;) {
    uint32_t seen;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (running_.empty()) return;
      for (const auto& wait : running_) WakeCancel(&wait->cancel, kCancelTeardown);
      seen = __atomic_load_n(&finished_, __ATOMIC_SEQ_CST);
    }
    // Sleeps until a Finished after `seen` (a change before the sleep
    // begins is seen by the kernel's compare): no wake-up is lost.
    FutexWord word{&finished_, seen};
    FutexWaitAny(&word, 1, kNoDeadline, nullptr, nullptr);
  }
}

}  // namespace shm::sync
