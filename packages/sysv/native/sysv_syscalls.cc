// System V shared memory segments: the system calls.
// Follows shmget(2), shmat(2), shmdt(2), shmctl(2), madvise(2). Each failure
// captures errno at once, before any cleanup call can overwrite it.
//
// Who owns each attachment: one made here (shmat) is handed to the caller
// with a kMapped result, and the binding gives it to its MappingRegistry; a
// failure after the shmat (populate) detaches it here, and removes a segment
// this call created, before returning.
//
// A key names whichever segment holds it now: once a segment is removed,
// another process may create a new one under the same key. So everything
// after create / attach acts on the shmid those returned, and checks that the
// shmid still holds the key (IPC_STAT) before it counts or removes anything.
// (The kernel gives a reused slot a new sequence number, so a stale shmid
// names nothing rather than a newcomer.)
#include "sysv_syscalls.h"

#include <shm/populate.h>

#include <sys/ipc.h>
#include <sys/shm.h>

#include <cerrno>

namespace shm::sysv {
namespace {

OpenResult Failure(const char* syscall, int errnum) {
  OpenResult result{OpenOutcome::kFailed};
  result.errnum = errnum;
  result.syscall = syscall;
  return result;
}

bool IsGone(int errnum) { return errnum == ENOENT || errnum == EIDRM; }

}  // namespace

OpenResult OpenSegment(const OpenRequest& request) {
  key_t key = static_cast<key_t>(request.key);
  // Attaching asks for the access it needs, so that shmget itself refuses a
  // segment this process may not use (as shm_open does), not a later call.
  int access = request.readonly ? 0400 : 0600;
  int flags = request.create ? (IPC_CREAT | IPC_EXCL | static_cast<int>(request.mode)) : access;
  int id = shmget(key, request.create ? request.bytes : 0, flags);
  if (id == -1) {
    int errnum = errno;
    if (request.create && errnum == EEXIST) return OpenResult{OpenOutcome::kExists};
    if (!request.create && IsGone(errnum)) return OpenResult{OpenOutcome::kMissing};
    return Failure("shmget", errnum);
  }

  size_t bytes = request.bytes;
  if (!request.create) {
    struct shmid_ds status;
    if (shmctl(id, IPC_STAT, &status) == -1) {
      int errnum = errno;
      if (IsGone(errnum) || errnum == EINVAL) return OpenResult{OpenOutcome::kMissing};
      return Failure("shmctl", errnum);
    }
    bytes = status.shm_segsz;
  }

  void* base = shmat(id, nullptr, request.readonly ? SHM_RDONLY : 0);
  if (base == reinterpret_cast<void*>(-1)) {
    int errnum = errno;
    // A segment this call made and cannot attach would be left to nobody.
    if (request.create) shmctl(id, IPC_RMID, nullptr);
    if (!request.create && errnum == EIDRM) return OpenResult{OpenOutcome::kMissing};
    return Failure("shmat", errnum);
  }
  if (request.populate) {
    if (int errnum = PopulateMapping(base, bytes); errnum != 0) {
      shmdt(base);
      if (request.create) shmctl(id, IPC_RMID, nullptr);
      return Failure("madvise", errnum);
    }
  }
  OpenResult result{OpenOutcome::kMapped};
  result.base = base;
  result.bytes = bytes;
  result.id = id;
  return result;
}

namespace {

// The shmid of the segment `key` now, or -1 with *errnum (ENOENT when none).
int IdOfKey(uint32_t key, int* errnum) {
  int id = shmget(static_cast<key_t>(key), 0, 0);
  if (id == -1) *errnum = IsGone(errno) ? ENOENT : errno;
  return id;
}

// IPC_STAT of `id`; ENOENT when it is gone or now holds another key.
int StatOf(uint32_t key, int id, struct shmid_ds* status) {
  if (shmctl(id, IPC_STAT, status) == -1) {
    int errnum = errno;
    return (IsGone(errnum) || errnum == EINVAL) ? ENOENT : errnum;
  }
  return static_cast<uint32_t>(status->shm_perm.__key) == key ? 0 : ENOENT;
}

}  // namespace

StatusResult SegmentStatus(uint32_t key, int64_t knownId) {
  int errnum = 0;
  int id = knownId >= 0 ? static_cast<int>(knownId) : IdOfKey(key, &errnum);
  if (id == -1) return {false, 0, errnum == ENOENT ? 0 : errnum, "shmget"};
  struct shmid_ds status;
  errnum = StatOf(key, id, &status);
  if (errnum == ENOENT) return {false, 0, 0, nullptr};
  if (errnum != 0) return {false, 0, errnum, "shmctl"};
  return {true, static_cast<uint64_t>(status.shm_nattch), 0, nullptr};
}

int RemoveSegment(uint32_t key, int64_t* knownId, const char** syscall) {
  int errnum = 0;
  bool checkKey = *knownId >= 0;
  int id = checkKey ? static_cast<int>(*knownId) : IdOfKey(key, &errnum);
  *syscall = "shmget";
  if (id == -1) return errnum;
  *knownId = id;
  *syscall = "shmctl";
  if (checkKey) {
    struct shmid_ds status;
    if ((errnum = StatOf(key, id, &status)) != 0) return errnum;
  }
  if (shmctl(id, IPC_RMID, nullptr) == -1) {
    errnum = errno;
    return (IsGone(errnum) || errnum == EINVAL) ? ENOENT : errnum;
  }
  return 0;
}

}  // namespace shm::sysv
