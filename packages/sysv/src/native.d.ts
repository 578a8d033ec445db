/** The private binding of build/Release/shm_sysv.node (native/sysv_binding.cc). */
export interface SysvBinding {
  /**
   * Creates (create = true: IPC_CREAT | IPC_EXCL) or attaches a segment.
   * Returns the one ArrayBuffer over it and the segment's shmid, or null
   * when create finds the key taken / attach finds no segment. `populate`:
   * map every page now (madvise MADV_POPULATE_READ). A create is noted in the
   * process's ledger of created segments.
   */
  open(
    key: number,
    bytes: number,
    create: boolean,
    mode: number,
    readonly: boolean,
    populate: boolean,
  ): [buffer: ArrayBuffer, id: number] | null;
  /** Neuters and detaches this thread's attachments of shmid `id` (under `key`); returns how many. */
  unmap(key: number, id: number): number;
  /** Neuters and detaches all of this thread's attachments; returns how many. */
  unmapAll(): number;
  /**
   * The system-wide attach count of shmid `id` if it still holds `key` (of
   * the segment `key` holds now when `id` is omitted), or -1 if there is none.
   */
  attachCount(key: number, id?: number): number;
  /**
   * IPC_RMID of shmid `id` if it still holds `key` (of the segment `key`
   * holds now when `id` is omitted): true if marked for removal, false if
   * there was no such segment. Either way it leaves the created ledger.
   */
  remove(key: number, id?: number): boolean;
  /** [key, shmid] of every segment this process created, in any thread, and has not removed. */
  createdSegments(): Array<[key: number, id: number]>;
  /** Bytes of the segments this thread created and has not removed. */
  createdBytes(): number;
  /** Bytes this thread has attached now. */
  mappedBytes(): number;
}
