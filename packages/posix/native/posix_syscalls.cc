// POSIX shared memory objects: the system calls.
// See shm_open(3), shm_unlink(3), open(2) (O_TMPFILE, O_NONBLOCK), linkat(2),
// ftruncate(2), posix_fallocate(3), fstat(2), pread(2), pwrite(2), mmap(2),
// madvise(2), munmap(2).
//
// An object is made complete before it has a name: create opens an unnamed
// file in /dev/shm (O_TMPFILE), sizes it, reserves its pages, writes the
// prefixed layout's header and maps it, and only then links it under its
// name. linkat fails with EEXIST if the name is taken, as O_EXCL would, so a
// reader polling get() sees either nothing or the whole object, and a create
// that fails (or a process that dies half-way) leaves no name behind.
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

#include <cerrno>
#include <cstdio>

namespace shm::posix {
namespace {

// Where glibc's shm_open puts objects (a tmpfs).
constexpr const char kDirectory[] = "/dev/shm";

std::string PathOf(const std::string& name) { return kDirectory + name; }

OpenResult Failure(const char* syscall, int errnum) {
  OpenResult result{OpenOutcome::kFailed};
  result.errnum = errnum;
  result.syscall = syscall;
  return result;
}

// A create that fails half-way: the file has no name yet, so closing it
// (and unmapping what was mapped) removes every trace.
OpenResult AbandonCreate(int fd, void* base, size_t mapLength, const char* syscall, int errnum) {
  if (base != nullptr) munmap(base, mapLength);
  close(fd);
  return Failure(syscall, errnum);
}

OpenResult Create(const OpenRequest& request) {
  // The mode is filtered by the umask, as shm_open and fs.open filter it.
  int fd = open(kDirectory, O_TMPFILE | O_RDWR | O_CLOEXEC, request.mode);
  if (fd == -1) return Failure("shm_open", errno);

  size_t dataOffset = request.prefixed ? kPrefixBytes : 0;
  size_t mapLength = dataOffset + request.dataBytes;
  if (ftruncate(fd, static_cast<off_t>(mapLength)) == -1) {
    return AbandonCreate(fd, nullptr, 0, "ftruncate", errno);
  }
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
  if (request.populate) {
    if (int errnum = PopulateMapping(base, mapLength); errnum != 0) {
      return AbandonCreate(fd, base, mapLength, "madvise", errnum);
    }
  }
  // Publish: the unnamed file gets its name, or the create finds it taken.
  // (linkat with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH; the
  // descriptor's /proc path is the way open(2) documents for everyone.)
  char descriptor[32];
  std::snprintf(descriptor, sizeof descriptor, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, descriptor, AT_FDCWD, PathOf(request.name).c_str(), AT_SYMLINK_FOLLOW) == -1) {
    OpenResult failed = AbandonCreate(fd, base, mapLength, "linkat", errno);
    return failed.errnum == EEXIST ? OpenResult{OpenOutcome::kExists} : failed;
  }
  close(fd);  // the mapping keeps the object open

  OpenResult result{OpenOutcome::kMapped};
  result.base = base;
  result.mapLength = mapLength;
  result.dataOffset = dataOffset;
  result.dataLength = request.dataBytes;
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
    if (errnum == EISDIR) {  // a directory opened for writing
      OpenResult result{OpenOutcome::kNotRegularFile};
      result.fileType = S_IFDIR;
      return result;
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
    OpenResult result{OpenOutcome::kNotRegularFile};
    result.fileType = status.st_mode & S_IFMT;
    return result;
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

int UnlinkObject(const std::string& name) {
  return shm_unlink(name.c_str()) == -1 ? errno : 0;
}

}  // namespace shm::posix
