// The segments this process created and has not destroyed, over every thread.
// Follows shm_open(3) and shmget(2) (a create: O_CREAT | O_EXCL, IPC_CREAT |
// IPC_EXCL) and shm_unlink(3) and shmctl(2) IPC_RMID (what destroys it);
// std::mutex guards it across threads.
//
// Contract: a backend notes a segment here right after its create succeeded,
// and forgets it once the segment is gone (removed by this process, or found
// missing). Cleanup (destroyCreated, cleanupOnSignals) reads the whole
// ledger, so the main thread's signal handler reaches what workers created,
// and a worker that ends leaves its entries for the process to clean up.
// Nothing here maps or unmaps memory: a thread's mappings stay with its
// MappingRegistry.
//
// One ledger per addon (a function-local static in an anonymous namespace of
// the including binding), guarded by a mutex: any thread may call any member.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace shm {

class CreatedLedger {
 public:
  struct Entry {
    std::string segment;  // the POSIX name, or the System V key's decimal text
    int64_t id;           // the System V shmid; -1 for POSIX
    uint64_t bytes;       // as created, headers included
    uint64_t thread;      // MappingRegistry::Serial() of the creating thread
  };

  // Throws std::bad_alloc; the caller reports ERR_SHM_NO_MEMORY.
  void Note(const Entry& entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_[Identity(entry.segment, entry.id)] = entry;
  }

  void Forget(const std::string& segment, int64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(Identity(segment, id));
  }

  std::vector<Entry> Snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Entry> entries;
    entries.reserve(entries_.size());
    for (const auto& entry : entries_) entries.push_back(entry.second);
    return entries;
  }

  // Bytes of the entries one thread created.
  uint64_t BytesOf(uint64_t thread) const {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t bytes = 0;
    for (const auto& entry : entries_) {
      if (entry.second.thread == thread) bytes += entry.second.bytes;
    }
    return bytes;
  }

 private:
  // A System V key may be reused for a new segment: the shmid tells them apart.
  static std::string Identity(const std::string& segment, int64_t id) {
    return id < 0 ? segment : segment + "#" + std::to_string(id);
  }

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace shm
