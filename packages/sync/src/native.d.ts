/** The private binding of build/Release/shm_sync.node (native/sync_binding.cc). */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

export interface SyncBinding {
  /** Blocks until woken, not equal, or timed out (futex FUTEX_WAIT_BITSET, shared). */
  wait(array: Int32Array | BigInt64Array, index: number, expected: number | bigint, timeoutMs: number): WaitResult;
  /** The same on a thread of its own; rejects with ERR_SHM_TOO_MANY_WAITS beyond maxAsyncWaits. */
  waitAsync(array: Int32Array | BigInt64Array, index: number, expected: number | bigint, timeoutMs: number): Promise<WaitResult>;
  /** Wakes at most `count` waiters (futex FUTEX_WAKE, shared); returns how many. */
  notify(array: Int32Array | BigInt64Array, index: number, count: number): number;
  /** The calling thread's id (gettid). */
  threadId(): number;
  /** The low 32 bits of a thread's start time, never 0 for a live thread; 0 if it is gone. */
  threadStartToken(tid: number): number;
  /** How many waitAsync calls may be pending at once in a process. */
  readonly maxAsyncWaits: number;
}
