// POSIX shared memory objects: the system calls, and nothing of JavaScript.
// Follows shm_open(3), shm_unlink(3), open(2), linkat(2), fstatat(2),
// ftruncate(2), posix_fallocate(3), fstat(2), fchmod(2), mmap(2),
// madvise(2) and munmap(2).
//
// Who owns what OpenObject returns: a kMapped result's mapping is the
// caller's, to adopt into its registry or unmap; its pendingFd (an unnamed
// create) is the caller's to publish (PublishObject) and then close
// (CloseUnpublished). Any other outcome leaves nothing mapped or open.
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
  bool populate;       // attach: map every page now (shm/populate.h); a create's
                       // caller populates after PublishObject
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
  int pendingFd = -1;      // create, kMapped: the unnamed file, for PublishObject
                           // (-1: the object was named first, see posix_syscalls.cc)
  size_t objectBytes = 0;  // kBadLayout: the object's size
  mode_t fileType = 0;     // kNotRegularFile: st_mode & S_IFMT
  int errnum = 0;
  const char* syscall = nullptr;
};

OpenResult OpenObject(const OpenRequest& request);

// Links a create's unnamed file under `name`: 0, EEXIST if the name is taken,
// ENOTSUP if this process cannot link unnamed files (no /proc: then the
// caller creates again, and OpenObject names the file first), or the errno.
int PublishObject(const std::string& name, int fd);
void CloseUnpublished(int fd);

// Unlinks `name` if it still names the file open on `fd`: 0, or the errno.
// (For a create that fails after it published its name.)
int UnlinkIfSame(const std::string& name, int fd);


// shm_unlink: 0, or the errno it failed with.
int UnlinkObject(const std::string& name);

}  // namespace shm::posix
