// POSIX shared memory objects: the system calls.
// Follows shm_open(3), shm_unlink(3), open(2) (O_TMPFILE, O_NONBLOCK),
// linkat(2), fstatat(2), ftruncate(2), posix_fallocate(3), fchmod(2),
// pread(2), pwrite(2), mmap(2), munmap(2), proc(5) (/proc/self/status: Umask).
//
// Who owns each mapping: one made here (mmap in Fill or Attach) is handed to
// the caller with a kMapped result, and the binding gives it to its
// MappingRegistry at once; every failure after the mmap unmaps it here
// before returning (AbandonCreate, Attach's populate and layout checks).
//
// An object is made complete before it has a name: create opens an unnamed
// file in /dev/shm (O_TMPFILE), sizes it, reserves its pages, writes the
// prefixed layout's header and maps it; the binding then takes the mapping
// into its registry, and only then PublishObject links the file under its
// name. linkat fails with EEXIST if the name is taken, as O_EXCL would, so a
// reader polling get() sees either nothing or the whole object, and a create
// that fails (or a process that dies half-way) leaves no name behind.
// (/proc/PID/maps shows such a mapping as "/dev/shm/#<inode> (deleted)",
// since it was made before the name; lsof and fuser find it by inode.)
// Where the unnamed file cannot be linked (AT_EMPTY_PATH refused, and no
// /proc), create falls back to naming the file first (O_CREAT | O_EXCL), as
// shm_open does.
//
// The prefixed layout's header is read and written through the descriptor,
// never through the mapping: until the mapping registry guards it, a peer
// that shrinks the object would make a memcpy there a fatal SIGBUS, while
// pread / pwrite just report what is there. Each failure captures errno at
// once, before any cleanup call can overwrite it.
#include "posix_syscalls.h"

#include <shm/populate.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shm::posix {
namespace {

// Where glibc's shm_open puts objects (a tmpfs).
constexpr const char kDirectory[] = "/dev/shm";

// From this size a create looks for a taken name first (see Create).
constexpr size_t kCostlyCreateBytes = 1 << 20;

std::string PathOf(const std::string& name) { return kDirectory + name; }

OpenResult Failure(const char* syscall, int errnum) {
  OpenResult result{OpenOutcome::kFailed};
  result.errnum = errnum;
  result.syscall = syscall;
  return result;
}

OpenResult NotRegular(mode_t type) {
  OpenResult result{OpenOutcome::kNotRegularFile};
  result.fileType = type & S_IFMT;
  return result;
}

// A create that fails before its file is named: closing the file (and
// unmapping what was mapped) removes every trace.
OpenResult AbandonCreate(int fd, void* base, size_t mapLength, const char* syscall, int errnum) {
  if (base != nullptr) munmap(base, mapLength);
  close(fd);
  return Failure(syscall, errnum);
}

// The process's umask, from /proc/self/status (umask(2) cannot read it
// without changing it for every thread); -1 if it cannot be read.
int CurrentUmask() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  int mask = -1;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::strncmp(line, "Umask:", 6) == 0) {
      mask = static_cast<int>(std::strtol(line + 6, nullptr, 8));
      break;
    }
  }
  std::fclose(status);
  return mask;
}

// Whether the kernel filters an O_TMPFILE's mode through the umask, as it
// does for O_CREAT. Linux before 6.0 did not on a tmpfs without POSIX ACLs.
// Learnt once, from a file made with mode 0777 while the umask is not 0.
enum class TmpfileUmask { kUnknown, kApplied, kIgnored };
std::atomic<TmpfileUmask> tmpfileUmask{TmpfileUmask::kUnknown};

TmpfileUmask LearnTmpfileUmask() {
  TmpfileUmask known = tmpfileUmask.load(std::memory_order_relaxed);
  if (known != TmpfileUmask::kUnknown) return known;
  int mask = CurrentUmask();
  if (mask <= 0) return TmpfileUmask::kUnknown;  // nothing to learn from (or no /proc)
  int fd = open(kDirectory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0777);
  if (fd == -1) return TmpfileUmask::kUnknown;
  struct stat status;
  bool stat = fstat(fd, &status) == 0;
  close(fd);
  if (!stat) return TmpfileUmask::kUnknown;
  known = (status.st_mode & 0777) == 0777 ? TmpfileUmask::kIgnored : TmpfileUmask::kApplied;
  tmpfileUmask.store(known, std::memory_order_relaxed);
  return known;
}

// Sizes, reserves and heads the new object on `fd`, and maps it.
OpenResult Fill(int fd, const OpenRequest& request) {
  size_t dataOffset = request.prefixed ? kPrefixBytes : 0;
  size_t mapLength = dataOffset + request.dataBytes;
  if (ftruncate(fd, static_cast<off_t>(mapLength)) == -1) return AbandonCreate(fd, nullptr, 0, "ftruncate", errno);
  if (request.reserve) {
    // posix_fallocate returns the error instead of setting errno.
    int errnum = posix_fallocate(fd, 0, static_cast<off_t>(mapLength));
    if (errnum != 0) return AbandonCreate(fd, nullptr, 0, "posix_fallocate", errnum);
  }
  if (request.prefixed && pwrite(fd, &request.dataBytes, kPrefixBytes, 0) != static_cast<ssize_t>(kPrefixBytes)) {
    return AbandonCreate(fd, nullptr, 0, "pwrite", errno);
  }
  void* base = mmap(nullptr, mapLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return AbandonCreate(fd, nullptr, 0, "mmap", errno);
  OpenResult result{OpenOutcome::kMapped};
  result.base = base;
  result.mapLength = mapLength;
  result.dataOffset = dataOffset;
  result.dataLength = request.dataBytes;
  return result;
}

// The fallback: name first, as shm_open does (a reader may see it unfinished).
OpenResult CreateNamed(const OpenRequest& request) {
  int fd = open(PathOf(request.name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, request.mode);
  if (fd == -1) {
    int errnum = errno;
    return errnum == EEXIST ? OpenResult{OpenOutcome::kExists} : Failure("shm_open", errnum);
  }
  OpenResult result = Fill(fd, request);
  if (result.outcome != OpenOutcome::kMapped) {
    unlink(PathOf(request.name).c_str());  // made by this call, still unfinished
    return result;
  }
  close(fd);  // the mapping keeps the object open
  return result;
}

bool canLinkUnnamed = true;  // until linkat finds neither /proc nor the capability
bool emptyPathWorks = true;  // until linkat(AT_EMPTY_PATH) is refused

OpenResult Create(const OpenRequest& request) {
  // A taken name is answered before a reservation or a population does
  // work that would be thrown away (only a hint: linkat decides, atomically).
  // A small lazy create has nothing to waste and skips the look.
  struct stat existing;
  bool costly = request.reserve || request.populate || request.dataBytes >= kCostlyCreateBytes;
  if (costly && fstatat(AT_FDCWD, PathOf(request.name).c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    return OpenResult{OpenOutcome::kExists};
  }
  if (!__atomic_load_n(&canLinkUnnamed, __ATOMIC_RELAXED)) return CreateNamed(request);
  // The mode is filtered by the umask, as shm_open and fs.open filter it.
  int fd = open(kDirectory, O_TMPFILE | O_RDWR | O_CLOEXEC, request.mode);
  if (fd == -1) {
    int errnum = errno;
    // No O_TMPFILE here (an old kernel, another file system): name it first.
    if (errnum == EOPNOTSUPP || errnum == EISDIR || errnum == EINVAL) return CreateNamed(request);
    return Failure("shm_open", errnum);
  }
  if (LearnTmpfileUmask() == TmpfileUmask::kIgnored) {
    int mask = CurrentUmask();
    if (mask > 0 && fchmod(fd, request.mode & ~static_cast<mode_t>(mask)) == -1) {
      return AbandonCreate(fd, nullptr, 0, "fchmod", errno);
    }
  }
  OpenResult result = Fill(fd, request);
  if (result.outcome == OpenOutcome::kMapped) result.pendingFd = fd;
  return result;
}

OpenResult Attach(const OpenRequest& request) {
  // As shm_open opens (O_NOFOLLOW: a planted symlink is ELOOP), and never
  // blocks: a FIFO planted under the name would hold open() for ever.
  int access = request.readonly ? O_RDONLY : O_RDWR;
  int fd = open(PathOf(request.name).c_str(), access | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd == -1) {
    int errnum = errno;
    if (errnum == ENOENT) return OpenResult{OpenOutcome::kMissing};
    // A directory opened for writing (EISDIR), a socket (ENXIO), a device on
    // a nodev mount (EACCES): say what is there instead, if it is not a file.
    struct stat status;
    if (lstat(PathOf(request.name).c_str(), &status) == 0 && !S_ISREG(status.st_mode) && !S_ISLNK(status.st_mode)) {
      return NotRegular(status.st_mode);
    }
    return Failure("shm_open", errnum);
  }
  struct stat status;
  if (fstat(fd, &status) == -1) {
    int errnum = errno;
    close(fd);
    return Failure("fstat", errnum);
  }
  if (!S_ISREG(status.st_mode)) {
    close(fd);
    return NotRegular(status.st_mode);
  }
  size_t objectBytes = static_cast<size_t>(status.st_size);
  size_t dataOffset = request.prefixed ? kPrefixBytes : 0;
  size_t storedLength = 0;
  if (objectBytes > dataOffset && request.prefixed &&
      pread(fd, &storedLength, kPrefixBytes, 0) != static_cast<ssize_t>(kPrefixBytes)) {
    objectBytes = 0;  // shrunk since fstat: no header to read
  }
  if (objectBytes <= dataOffset) {
    close(fd);
    OpenResult result{request.prefixed ? OpenOutcome::kBadLayout : OpenOutcome::kFailed};
    result.objectBytes = objectBytes;
    result.errnum = EINVAL;  // mmap(2) refuses a zero length
    result.syscall = "mmap";
    return result;
  }
  // Read-only: the object was opened O_RDONLY, so the kernel only checked read
  // permission. The private writable mapping shows the object's bytes, and a
  // write lands in a private copy of that page instead of faulting.
  int protection = PROT_READ | PROT_WRITE;
  int flags = request.readonly ? MAP_PRIVATE : MAP_SHARED;
  void* base = mmap(nullptr, objectBytes, protection, flags, fd, 0);
  int errnum = errno;
  close(fd);
  if (base == MAP_FAILED) return Failure("mmap", errnum);
  if (request.populate) {
    if (int populateError = PopulateMapping(base, objectBytes); populateError != 0) {
      munmap(base, objectBytes);
      return Failure("madvise", populateError);
    }
  }

  size_t dataLength = objectBytes - dataOffset;
  if (request.prefixed) {
    if (storedLength == 0 || storedLength > dataLength) {
      munmap(base, objectBytes);
      OpenResult result{OpenOutcome::kBadLayout};
      result.objectBytes = objectBytes;
      return result;
    }
    dataLength = storedLength;
  }
  OpenResult result{OpenOutcome::kMapped};
  result.base = base;
  result.mapLength = objectBytes;
  result.dataOffset = dataOffset;
  result.dataLength = dataLength;
  return result;
}

}  // namespace

OpenResult OpenObject(const OpenRequest& request) {
  return request.create ? Create(request) : Attach(request);
}

int PublishObject(const std::string& name, int fd) {
  std::string path = PathOf(name);
  // linkat(AT_EMPTY_PATH) links the descriptor itself: one path lookup. It
  // needs CAP_DAC_READ_SEARCH before Linux 6.10 (since, the opener's own
  // credentials do); otherwise the descriptor's /proc path, the way open(2)
  // documents for everyone.
  if (__atomic_load_n(&emptyPathWorks, __ATOMIC_RELAXED)) {
    if (linkat(fd, "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) == 0) return 0;
    int errnum = errno;
    if (errnum != EPERM && errnum != ENOENT && errnum != EINVAL) return errnum;
    __atomic_store_n(&emptyPathWorks, false, __ATOMIC_RELAXED);
  }
  char descriptor[32];
  std::snprintf(descriptor, sizeof descriptor, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, descriptor, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) return 0;
  int errnum = errno;
  if (errnum == ENOENT) {
    __atomic_store_n(&canLinkUnnamed, false, __ATOMIC_RELAXED);
    return ENOTSUP;  // no /proc either: the caller makes it again, named first
  }
  return errnum;
}

void CloseUnpublished(int fd) { close(fd); }

int UnlinkIfSame(const std::string& name, int fd) {
  struct stat ours;
  struct stat named;
  if (fstat(fd, &ours) == -1) return errno;
  if (fstatat(AT_FDCWD, PathOf(name).c_str(), &named, AT_SYMLINK_NOFOLLOW) == -1) return errno;
  if (ours.st_dev != named.st_dev || ours.st_ino != named.st_ino) return 0;  // no longer ours to remove
  return unlink(PathOf(name).c_str()) == -1 ? errno : 0;
}

int UnlinkObject(const std::string& name) {
  return shm_unlink(name.c_str()) == -1 ? errno : 0;
}

}  // namespace shm::posix
