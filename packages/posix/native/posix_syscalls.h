// POSIX shared memory objects: the system calls, and nothing of JavaScript.
// Follows shm_open(3), shm_unlink(3), open(2), linkat(2), ftruncate(2),
// posix_fallocate(3), fstat(2), mmap(2), madvise(2) and munmap(2).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace shm::posix {

// The original shm-typed-array layout puts the data length (a native size_t)
// in front of the data; the raw layout is the data alone.
constexpr size_t kPrefixBytes = sizeof(size_t);

struct OpenRequest {
  std::string name;    // "/name", validated by the caller
  size_t dataBytes;    // create: bytes of data to make room for; attach: ignored
  bool create;         // true: a new object (the name must be free); false: attach an existing one
  mode_t mode;         // create: permissions, filtered by the umask as shm_open filters them
  bool readonly;       // attach with O_RDONLY and a private mapping
  bool prefixed;       // the original's layout
  bool reserve;        // create: allocate every page now (posix_fallocate), so that a
                       // full /dev/shm fails the create with ENOSPC instead of killing
                       // the process with SIGBUS at some later write
  bool populate;       // map every page now (shm/populate.h)
};

enum class OpenOutcome {
  kMapped,       // base / mapLength / dataOffset / dataLength are set
  kExists,       // create found the name taken (EEXIST)
  kMissing,      // attach found no such object (ENOENT)
  kBadLayout,    // prefixed attach: the header does not fit the object
  kNotRegularFile,  // attach found a FIFO, directory, device... under the name: fileType says which
  kFailed,       // errnum / syscall say which call failed and why
};

struct OpenResult {
  OpenOutcome outcome;
  void* base = nullptr;
  size_t mapLength = 0;
  size_t dataOffset = 0;
  size_t dataLength = 0;
  size_t objectBytes = 0;  // kBadLayout: the object's size
  mode_t fileType = 0;     // kNotRegularFile: st_mode & S_IFMT
  int errnum = 0;
  const char* syscall = nullptr;
};

OpenResult OpenObject(const OpenRequest& request);


// shm_unlink: 0, or the errno it failed with.
int UnlinkObject(const std::string& name);

}  // namespace shm::posix
