// System V shared memory segments: the system calls, and nothing of JavaScript.
// Follows shmget(2), shmat(2), shmdt(2), shmctl(2) and madvise(2).
//
// Who owns what OpenSegment returns: a kMapped result's attachment is the
// caller's, to adopt into its registry or detach (shmdt). Any other outcome
// leaves nothing attached.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace shm::sysv {

struct OpenRequest {
  uint32_t key;      // never IPC_PRIVATE (0): validated by the caller
  size_t bytes;      // create: segment size; attach: ignored
  bool create;       // true: IPC_CREAT | IPC_EXCL; false: attach an existing segment
  mode_t mode;       // create: permissions
  bool readonly;     // attach with SHM_RDONLY (writes: see <shm/fault_guard.h>)
  bool populate;     // map every page now (shm/populate.h)
};

enum class OpenOutcome {
  kMapped,   // base / bytes are set
  kExists,   // create found the key taken (EEXIST)
  kMissing,  // attach found no such segment (ENOENT, or EIDRM: being removed)
  kFailed,   // errnum / syscall say which call failed and why
};

struct OpenResult {
  OpenOutcome outcome;
  void* base = nullptr;
  size_t bytes = 0;
  int id = -1;       // kMapped: the shmid, which everything later acts on
  int errnum = 0;
  const char* syscall = nullptr;
};

OpenResult OpenSegment(const OpenRequest& request);


struct StatusResult {
  bool exists;
  uint64_t attachCount;
  int errnum;               // 0, or why shmget / shmctl failed
  const char* syscall;
};

// The segment's system-wide attach count (shmctl IPC_STAT): of shmid `id`
// if it still holds `key`, or of the segment `key` holds now when id is -1.
StatusResult SegmentStatus(uint32_t key, int64_t id);

// shmctl IPC_RMID: the segment goes once its last attachment goes. Of shmid
// `id` if it still holds `key`, or of the segment `key` holds now when id is
// -1 (then *id becomes the shmid found). Returns 0, ENOENT when there is no
// such segment, or the errno it failed with (*syscall says which call).
int RemoveSegment(uint32_t key, int64_t* id, const char** syscall);

}  // namespace shm::sysv
