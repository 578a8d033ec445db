// waitAsync: each pending wait blocks one thread of its own in the kernel,
// never a thread of libuv's pool (which fs, dns and zlib need).
// Follows pthread_create(3), futex(2) and Node-API's thread-safe functions
// (napi_create_threadsafe_function) and napi_add_env_cleanup_hook.
//
// Contract:
//  - At most kMaxAsyncWaits waits are pending at once in a process (over all
//    its JavaScript threads); Start() reports a wait beyond that by returning
//    false, and the binding rejects its promise with ERR_SHM_TOO_MANY_WAITS.
//  - A waiting thread has a 64 KiB stack and touches nothing of JavaScript:
//    it hands its result to the JavaScript thread through a thread-safe
//    function, which settles the promise there. A pending wait keeps the
//    event loop alive, unless it was started unref'd.
//  - The ArrayBuffer the words live in is kept alive (a strong reference)
//    until the promise settles, so the garbage collector cannot unmap it
//    under the kernel's feet. When the program detaches it (its mapping's
//    range is announced released, <shm/range_release.h>), every wait on a
//    word in that range ends at once, before the pages go: its promise is
//    rejected with ERR_INVALID_STATE. It never waits on what the address
//    holds next.
//  - When the JavaScript environment ends (worker exit, process exit), every
//    pending wait of that environment is cancelled and its thread joined
//    before the environment's memory goes; its promise is left pending.
//
// Each wait's states (the cancel word, set once by whichever comes first):
//   waiting --wake / not-equal / timeout--> settled with that result
//   waiting --range released (cancel = 2)--> rejected ERR_INVALID_STATE
//   waiting --environment ends (cancel = 1)--> never settled
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "futex_syscalls.h"

namespace shm::sync {

constexpr int kMaxAsyncWaits = 1024;

// Why a wait was cancelled (the value of its cancel word).
constexpr uint32_t kCancelTeardown = 1;
constexpr uint32_t kCancelReleased = 2;

struct AsyncWait;

struct AsyncWaitRequest {
  FutexWord words[kMaxWords];
  int count;
  uint32_t index;   // of the first cell, for an error message
  int64_t deadline;
  bool ref;         // keeps the event loop alive while pending
};

class AsyncWaits {
 public:
  explicit AsyncWaits(Napi::Env env);
  ~AsyncWaits();
  AsyncWaits(const AsyncWaits&) = delete;
  AsyncWaits& operator=(const AsyncWaits&) = delete;

  // Starts the wait on a thread of its own (its words lie in `keepAlive`);
  // `deferred` is resolved with 'ok', 'not-equal' or 'timed-out', or
  // rejected. Returns false, having started nothing, when kMaxAsyncWaits
  // waits are pending already or no thread can be made.
  bool Start(Napi::Env env, Napi::Promise::Deferred deferred, Napi::Object keepAlive, const AsyncWaitRequest& request);

  // Called by a waiting thread as its very last act.
  void Finished(const std::shared_ptr<AsyncWait>& wait);

 private:
  // Cancels every pending wait of this environment and waits for its thread.
  void CancelAll();

  std::mutex mutex_;
  std::unordered_set<std::shared_ptr<AsyncWait>> running_;
  // Bumped (and woken) under mutex_ by every Finished: what CancelAll sleeps
  // on. A futex rather than a std::condition_variable, whose wait() is a
  // GCC 12 libstdc++ symbol (GLIBCXX_3.4.30): the prebuilt binary then loads
  // with GCC 11's libstdc++ too (RHEL 9), as the backends' do.
  uint32_t finished_ = 0;
};

}  // namespace shm::sync
