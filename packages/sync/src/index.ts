/**
 * @shm/sync: waiting for changes in shared memory across processes.
 *
 *  - wait / waitAsync / notify: Atomics.wait and Atomics.notify for memory
 *    other processes map too (Linux futexes, shared).
 *  - Mutex: 16 bytes of a segment; survives the death of its holder.
 *  - Channel: a single-producer / single-consumer ring of byte messages.
 *
 * They work on any Int32Array / BigInt64Array (Mutex and Channel: any
 * memory) from @shm/posix, @shm/sysv or @shm/core. Over a SharedArrayBuffer
 * they work too, between the threads of this process; over an ordinary
 * ArrayBuffer only the blocking calls do (transfer() or resize() can free it
 * under a pending asynchronous wait, so those refuse it).
 */
export { MAX_ASYNC_WAITS, notify, wait, waitAsync } from './futex';
export type { WaitableArray, WaitAsyncOptions, WaitOptions, WaitResult } from './futex';
export { LIVENESS_INTERVAL_MS, Mutex } from './mutex';
export type { MutexGuard } from './mutex';
export { Channel } from './channel';
