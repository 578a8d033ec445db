// POSIX shared memory objects: the system calls.
// See shm_open(3), shm_unlink(3), ftruncate(2), posix_fallocate(3), fstat(2),
// fchmod(2), pread(2), pwrite(2), mmap(2), madvise(2), munmap(2).
//
// The prefixed layout's header is read and written through the descriptor,
// never through the mapping: until the mapping registry guards it, a peer
// that shrinks the object would make a memcpy there a fatal SIGBUS, while
// pread / pwrite just report what is there. Each failure captures errno at once, before any cleanup call can
// overwrite it.
#include "posix_syscalls.h"

#include <shm/populate.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace shm::posix {
namespace {

OpenResult Failure(const char* syscall, int errnum) {
  OpenResult result{OpenOutcome::kFailed};
  result.errnum = errnum;
  result.syscall = syscall;
  return result;
}

// A create that fails half-way must not leave the name behind.
OpenResult AbandonCreate(int fd, const OpenRequest& request, const char* syscall, int errnum) {
  close(fd);
  shm_unlink(request.name.c_str());
  return Failure(syscall, errnum);
}

OpenResult Create(const OpenRequest& request) {
  int fd = shm_open(request.name.c_str(), O_CREAT | O_EXCL | O_RDWR, request.mode);
  if (fd == -1) {
    int errnum = errno;
    if (errnum == EEXIST) return OpenResult{OpenOutcome::kExists};
    return Failure("shm_open", errnum);
  }
  // shm_open filters the mode through the umask; the caller asked for exactly this one.
  if (fchmod(fd, request.mode) == -1) return AbandonCreate(fd, request, "fchmod", errno);

  size_t dataOffset = request.prefixed ? kPrefixBytes : 0;
  size_t mapLength = dataOffset + request.dataBytes;
  if (ftruncate(fd, static_cast<off_t>(mapLength)) == -1) {
    return AbandonCreate(fd, request, "ftruncate", errno);
  }
  if (request.reserve) {
    // posix_fallocate returns the error instead of setting errno.
    int errnum = posix_fallocate(fd, 0, static_cast<off_t>(mapLength));
    if (errnum != 0) return AbandonCreate(fd, request, "posix_fallocate", errnum);
  }
  if (request.prefixed && pwrite(fd, &request.dataBytes, kPrefixBytes, 0) != static_cast<ssize_t>(kPrefixBytes)) {
    return AbandonCreate(fd, request, "pwrite", errno);
  }
  void* base = mmap(nullptr, mapLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return AbandonCreate(fd, request, "mmap", errno);
  if (request.populate) {
    if (int errnum = PopulateMapping(base, mapLength); errnum != 0) {
      munmap(base, mapLength);
      return AbandonCreate(fd, request, "madvise", errnum);
    }
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
  int fd = shm_open(request.name.c_str(), request.readonly ? O_RDONLY : O_RDWR, 0);
  if (fd == -1) {
    int errnum = errno;
    if (errnum == ENOENT) return OpenResult{OpenOutcome::kMissing};
    return Failure("shm_open", errnum);
  }
  struct stat status;
  if (fstat(fd, &status) == -1) {
    int errnum = errno;
    close(fd);
    return Failure("fstat", errnum);
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
