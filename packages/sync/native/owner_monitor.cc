// Mutex holders' slot files and their locks; see owner_monitor.h.
// Follows fcntl(2) (F_OFD_SETLK, F_OFD_GETLK), open(2), openat(2), mkdir(2),
// fstat(2), pread(2), pwrite(2) and close(2). Maps nothing: slot files are
// read and written through their descriptors.
#include "owner_monitor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace shm::sync {
namespace {

std::string DirectoryOf(uint32_t uid) { return "/dev/shm/.shm-sync-" + std::to_string(uid); }

// The directory of `uid`'s slots, opened without following a symlink, and
// only if `uid` owns it and nobody else may write in it (so nobody else can
// have replaced a slot file); -1 and errno otherwise.
int OpenDirectory(uint32_t uid, bool create) {
  std::string path = DirectoryOf(uid);
  if (create && mkdir(path.c_str(), 0755) == -1 && errno != EEXIST) return -1;
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1) return -1;
  struct stat status;
  if (fstat(fd, &status) == -1 || status.st_uid != uid || (status.st_mode & 022) != 0) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  // Other users must be able to look at the slots (the umask may have said otherwise).
  if (create && (status.st_mode & 0755) != 0755) fchmod(fd, 0755);
  return fd;
}

struct flock WholeFile(short type) {
  struct flock lock = {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // to the end, however long
  lock.l_pid = 0;  // required for OFD locks
  return lock;
}

OwnerSlot Failed(const char* syscall, int errnum) {
  OwnerSlot slot;
  slot.errnum = errnum;
  slot.syscall = syscall;
  return slot;
}

}  // namespace

OwnerSlot ClaimOwnerSlot() {
  uint32_t uid = static_cast<uint32_t>(geteuid());
  int directory = OpenDirectory(uid, true);
  if (directory == -1) return Failed("open", errno);
  for (int index = 0; index < kMaxSlots; index++) {
    std::string name = std::to_string(index);
    int fd = openat(directory, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd == -1) {
      int errnum = errno;
      close(directory);
      return Failed("open", errnum);
    }
    struct flock lock = WholeFile(F_WRLCK);
    if (fcntl(fd, F_OFD_SETLK, &lock) == -1) {
      int errnum = errno;
      close(fd);
      if (errnum == EAGAIN || errnum == EACCES) continue;  // another thread's slot
      close(directory);
      return Failed("fcntl", errnum);
    }
    fchmod(fd, 0644);  // ours now: readable by every contender, whatever the umask
    uint32_t generation = 0;
    if (pread(fd, &generation, sizeof generation, 0) != static_cast<ssize_t>(sizeof generation)) generation = 0;
    generation = generation % 0xffff + 1;  // 1 .. 0xffff: a token is never 0 (0 is a free mutex)
    if (pwrite(fd, &generation, sizeof generation, 0) != static_cast<ssize_t>(sizeof generation)) {
      int errnum = errno;
      close(fd);
      close(directory);
      return Failed("pwrite", errnum);
    }
    close(directory);
    OwnerSlot slot;
    slot.fd = fd;
    slot.token = (static_cast<uint64_t>(uid) << 32) | (static_cast<uint64_t>(index) << 16) | generation;
    return slot;
  }
  close(directory);
  return Failed("fcntl", EAGAIN);
}

void ReleaseOwnerSlot(OwnerSlot& slot) {
  if (slot.fd != -1) close(slot.fd);
  slot.fd = -1;
  slot.token = 0;
}

OwnerState ProbeOwner(uint64_t token) {
  uint32_t uid = static_cast<uint32_t>(token >> 32);
  uint32_t index = static_cast<uint32_t>(token >> 16) & 0xffff;
  uint32_t generation = static_cast<uint32_t>(token) & 0xffff;
  int directory = OpenDirectory(uid, false);
  if (directory == -1) return OwnerState::kUnknown;
  // Never blocks: a FIFO planted as the slot would hold open() for ever (the
  // type is checked below: only a regular file proves anything).
  int fd = openat(directory, std::to_string(index).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  close(directory);
  if (fd == -1) return OwnerState::kUnknown;
  OwnerState state = OwnerState::kUnknown;
  struct stat status;
  struct flock lock = WholeFile(F_WRLCK);
  if (fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_uid == uid &&
      fcntl(fd, F_OFD_GETLK, &lock) == 0) {
    if (lock.l_type == F_UNLCK) {
      state = OwnerState::kDead;
    } else {
      uint32_t current = 0;
      if (pread(fd, &current, sizeof current, 0) == static_cast<ssize_t>(sizeof current)) {
        state = (current & 0xffff) == generation ? OwnerState::kAlive : OwnerState::kDead;
      }
    }
  }
  close(fd);
  return state;
}

}  // namespace shm::sync
