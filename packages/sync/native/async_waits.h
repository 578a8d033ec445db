// waitAsync: each pending wait blocks one thread of its own in the kernel,
// never a thread of libuv's pool (which fs, dns and zlib need).
//
// Contract:
//  - At most kMaxAsyncWaits waits are pending at once in a process (over all
//    its JavaScript threads); Start() reports a wait beyond that by returning
//    false, and the binding rejects its promise with ERR_SHM_TOO_MANY_WAITS.
//  - A waiting thread has a 64 KiB stack and touches nothing of JavaScript:
//    it hands its result to the JavaScript thread through a thread-safe
//    function, which resolves the promise there. A pending wait keeps the
//    event loop alive, as a pending socket read does.
//  - The ArrayBuffer the word lives in is kept alive (a strong reference)
//    until the promise settles, so the garbage collector cannot unmap it
//    under the kernel's feet. A detach or destroy by the program can: the
//    kernel then keeps waiting on the segment's page, and the wait ends with
//    a notify on the segment from another attachment, or its timeout.
//  - When the JavaScript environment ends (worker exit, process exit), every
//    pending wait of that environment is cancelled and its thread joined
//    before the environment's memory goes.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "futex_syscalls.h"

namespace shm::sync {

constexpr int kMaxAsyncWaits = 1024;

struct AsyncWait;

class AsyncWaits {
 public:
  explicit AsyncWaits(Napi::Env env);
  ~AsyncWaits();
  AsyncWaits(const AsyncWaits&) = delete;
  AsyncWaits& operator=(const AsyncWaits&) = delete;

  // Starts waiting on `word` (which lies in `keepAlive`) on a thread of its
  // own; `deferred` is resolved with 'ok', 'not-equal' or 'timed-out', or
  // rejected with a system error. Returns false, having started nothing,
  // when kMaxAsyncWaits waits are pending already or no thread can be made.
  bool Start(Napi::Env env, Napi::Promise::Deferred deferred, Napi::Object keepAlive,
             const uint32_t* word, uint32_t index, uint32_t expected, int64_t deadline);

  // Called by a waiting thread as its very last act.
  void Finished(const std::shared_ptr<AsyncWait>& wait);

 private:
  // Cancels every pending wait of this environment and waits for its thread.
  void CancelAll();

  std::mutex mutex_;
  std::condition_variable idle_;
  std::unordered_set<std::shared_ptr<AsyncWait>> running_;
};

}  // namespace shm::sync
