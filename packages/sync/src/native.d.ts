/** The private binding of build/Release/shm_sync.node (native/sync_binding.cc). */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

export type WaitCell = Int32Array | BigInt64Array;

export interface SyncBinding {
  /**
   * Blocks until woken, not equal, or timed out (futex, shared). A 64-bit
   * cell sleeps on both halves. With a second (32-bit) cell, a change of
   * either ends the sleep. In a terminable thread the wait ends (undefined)
   * once the thread is being terminated.
   */
  wait(
    array: WaitCell,
    index: number,
    expected: number | bigint,
    timeoutMs: number,
    array2?: Int32Array,
    index2?: number,
    expected2?: number,
  ): WaitResult;
  /**
   * The same on a thread of its own; rejects with ERR_SHM_TOO_MANY_WAITS
   * beyond maxAsyncWaits, and with ERR_INVALID_STATE when the memory is
   * detached while it waits. `ref`: keeps the event loop alive while pending.
   */
  waitAsync(
    array: WaitCell,
    index: number,
    expected: number | bigint,
    timeoutMs: number,
    ref: boolean,
    array2?: Int32Array,
    index2?: number,
    expected2?: number,
  ): Promise<WaitResult>;
  /**
   * Whether the array's memory stays while an asynchronous wait on it is
   * pending, or says when it goes: a SharedArrayBuffer, or an ArrayBuffer
   * the backends made over a segment (which they tag natively). waitAsync
   * throws ERR_INVALID_ARG_TYPE for any other memory.
   */
  outlivesAsyncWaits(array: WaitCell): boolean;
  /** Wakes at most `count` waiters (futex FUTEX_WAKE, shared; both halves of a 64-bit cell); returns how many. */
  notify(array: WaitCell, index: number, count: number): number;
  /**
   * This thread's Mutex owner word (see native/owner_monitor.h): claims and
   * locks a slot file on first use; throws a system error (and keeps
   * nothing) when it cannot.
   */
  ownerToken(): bigint;
  /** Whether the holder named by an owner word is proven alive, proven dead, or neither. */
  ownerState(token: bigint): 'alive' | 'dead' | 'unknown';
  /** Whether this thread's blocking waits must notice its termination (a worker's do). */
  configure(terminable: boolean): void;
  /** How many waitAsync calls may be pending at once in a process. */
  readonly maxAsyncWaits: number;
}
