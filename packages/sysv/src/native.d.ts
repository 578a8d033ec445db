/** The private binding of build/Release/shm_sysv.node (native/sysv_binding.cc). */
export interface SysvBinding {
  /**
   * Creates (create = true: IPC_CREAT | IPC_EXCL) or attaches a segment.
   * Returns the one ArrayBuffer over it, or null when create finds the key
   * taken / attach finds no segment. `populate`: map every page now
   * (madvise MADV_POPULATE_READ).
   */
  open(key: number, bytes: number, create: boolean, mode: number, readonly: boolean, populate: boolean): ArrayBuffer | null;
  /** Neuters and detaches this thread's attachments of `key`; returns how many. */
  unmap(key: number): number;
  /** Neuters and detaches all of this thread's attachments; returns how many. */
  unmapAll(): number;
  /** The segment's system-wide attach count, or -1 if it does not exist. */
  attachCount(key: number): number;
  /** IPC_RMID: true if marked for removal, false if there was no such segment. */
  remove(key: number): boolean;
  /** Bytes this thread has attached now. */
  mappedBytes(): number;
}
