// Proof of a Mutex holder's death, from the kernel: the system calls.
// Follows fcntl(2) (F_OFD_SETLK, F_OFD_GETLK: open file description locks),
// open(2), openat(2), mkdir(2), fstat(2), pread(2), pwrite(2).
//
// Every thread that takes a Mutex holds a write lock on a slot file of its
// own, /dev/shm/.shm-sync-<uid>/<slot>, for as long as it lives. The kernel
// drops an open-file-description lock when the description is closed: when
// the process dies (however), or when the thread's JavaScript environment
// ends (the thread closes it then). The lock belongs to the description, not
// to a process id, so it reads the same from any PID namespace, needs no
// /proc, and closing another descriptor of the file cannot drop it (as it
// would drop a classic POSIX lock). A child forked without exec shares the
// description, so it keeps the lock while it lives (descriptors are
// close-on-exec).
//
// Scope of the proof: every process using a Mutex must see the same
// /dev/shm. That always holds for a Mutex in a POSIX object (it lives in
// that /dev/shm); for one in a System V segment shared by processes that
// share the IPC namespace but not the mount of /dev/shm, a live holder could
// be judged dead. A user who can make the directory /dev/shm/.shm-sync-<uid>
// of another user first keeps that user from taking any Mutex (EPERM): the
// directory must belong to its uid.
//
// Slot files are never removed, only reused: a thread takes the first slot
// nobody holds and bumps the generation stored in its first 4 bytes. The
// owner word a thread writes into a Mutex is
//     uid << 32 | slot << 16 | generation (16 bits)
// and a holder is proven dead when its slot file exists and is unlocked, or
// is held by a later generation. Anything else (no such file or directory in
// this mount of /dev/shm, a file this process cannot open, a directory not
// owned by that uid) proves nothing: the holder counts as alive.
//
// State machine of one slot, as seen by a contender probing owner word W:
//   unlocked                        -> dead (its last holder is gone)
//   locked, generation == W's       -> alive
//   locked, generation != W's       -> dead (reused since W's holder ended)
//   missing / unreadable / foreign / not a regular file -> unknown (never taken over)
#pragma once

#include <cstdint>

namespace shm::sync {

constexpr int kMaxSlots = 65536;

struct OwnerSlot {
  uint64_t token = 0;  // the owner word (never 0); 0 until Claim succeeds
  int fd = -1;         // holds the slot's lock
  int errnum = 0;      // Claim failed: why, in which call
  const char* syscall = nullptr;
};

// Takes a free slot of this user's directory (making the directory if
// needed) and locks it for the calling thread's life.
OwnerSlot ClaimOwnerSlot();

// Gives the slot up (closing the description drops the lock). The file stays.
void ReleaseOwnerSlot(OwnerSlot& slot);

enum class OwnerState { kAlive, kDead, kUnknown };

OwnerState ProbeOwner(uint64_t token);

}  // namespace shm::sync
