/** The private binding of build/Release/shm_posix.node (native/posix_binding.cc). */
export interface PosixBinding {
  /**
   * Creates (create = true: complete before it is named, mode filtered by
   * the umask) or attaches an object and maps it. Returns the one ArrayBuffer
   * over its data bytes, or null when create finds the name taken / attach
   * finds no object. A create is noted in the process's ledger of created
   * objects.
   * `reserve` (create): allocate every page now with posix_fallocate.
   * `populate`: map every page now (madvise MADV_POPULATE_READ).
   */
  open(
    name: string,
    dataBytes: number,
    create: boolean,
    mode: number,
    readonly: boolean,
    prefixed: boolean,
    reserve: boolean,
    populate: boolean,
  ): ArrayBuffer | null;
  /** Neuters and unmaps this thread's attachments of `name`; returns how many. */
  unmap(name: string): number;
  /** Neuters and unmaps all of this thread's attachments; returns how many. */
  unmapAll(): number;
  /**
   * Throws ERR_SHM_TRUNCATED, once, if this thread's mappings of `name` (of
   * any name when omitted) lost pages to a peer that shrank the object, or to
   * a /dev/shm without room (see <shm/fault_guard.h>).
   */
  reportLostPages(name?: string): void;
  /** shm_unlink: true if removed, false if there was no such object. Either way it leaves the created ledger. */
  unlink(name: string): boolean;
  /** Every object this process created, in any thread, and has not unlinked. */
  createdNames(): string[];
  /** Bytes of the objects this thread created and has not unlinked (headers included). */
  createdBytes(): number;
  /** Bytes this thread has mapped now. */
  mappedBytes(): number;
  /** Bytes of the prefixed layout's length header (sizeof(size_t)). */
  readonly prefixBytes: number;
}
