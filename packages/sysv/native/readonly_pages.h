// Read-only System V attachments whose writes do not kill the process.
//
// A segment attached with SHM_RDONLY is mapped without write permission, and
// the kernel offers no private writable view of a System V segment (there is
// no file descriptor to map MAP_PRIVATE, as the POSIX backend does). A write
// through a JavaScript view would raise SIGSEGV and end the process.
//
// So a read-only attachment's range is registered here, and a SIGSEGV
// handler, installed once per process on the first read-only attach, gives
// a write fault inside a registered range a private copy of the faulting
// page (mremap of an anonymous copy over it), then lets the write retry. The
// write lands in that copy: the segment never changes, and that page of this
// view stops following the segment. Every other fault goes to the handler
// that was installed before (Node's), or to the default action.
// See sigaction(2), mmap(2), mremap(2), munmap(2), shmat(2).
#pragma once

#include <cstddef>

namespace shm::sysv {

// Registers [base, base + length) as a read-only attachment. Returns false
// when the table of read-only attachments is full (kMaxReadonlyAttachments).
bool RegisterReadonly(void* base, size_t length);

// Unregisters a read-only attachment, once its range no longer holds the
// segment's pages (the registry then unmaps it with munmap, not shmdt, since
// private copies may have split the mapping). Matches shm::ForgetFunction.
void UnregisterReadonly(void* base);

constexpr size_t kMaxReadonlyAttachments = 4096;

}  // namespace shm::sysv
