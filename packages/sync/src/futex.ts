/**
 * wait / waitAsync / notify: Atomics.wait and Atomics.notify for memory that
 * other processes map too. They are Linux futexes without the private flag,
 * so a notify wakes waiters in every process that maps the same segment.
 */
import { types } from 'node:util';
import { codedError, invalidArgType, outOfRange } from '@shm/types';
import { binding } from './binding';
import type { WaitResult } from './native';

export type { WaitResult };

/**
 * The arrays a cell can live in: 32-bit cells, or 64-bit ones. The kernel's
 * futexes are 32 bits wide, so a 64-bit wait sleeps on both halves of its
 * cell at once (futex_waitv): a store that changes either half, with its
 * notify, wakes it.
 */
export type WaitableArray = Int32Array | BigInt64Array;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** How many waitAsync calls may be pending at once in a process; see waitAsync. */
export const MAX_ASYNC_WAITS: number = binding.maxAsyncWaits;

export function detachedError(): Error {
  return codedError('ERR_INVALID_STATE', 'The array has no memory: its segment was detached or destroyed');
}

/**
 * Whether `array`'s memory stays while an asynchronous wait on it is pending,
 * or says when it goes: a SharedArrayBuffer (it is never freed while
 * referenced, and only grows) or a segment's buffer (its detach ends the
 * wait at once). An ordinary ArrayBuffer can be freed under a pending wait
 * (transfer(), resize(), a transfer list) with nothing told, so the wait's
 * thread would read freed memory or sleep for ever; Atomics.waitAsync
 * refuses it too. The backends tag segments' buffers natively
 * (<shm/segment_tag.h>), where no script can forge the mark; the buffer that
 * transfer() makes of one is not a segment's.
 */
export function outlivesAsyncWaits(array: WaitableArray): boolean {
  return binding.outlivesAsyncWaits(array);
}

const ASYNC_MEMORY =
  "over a SharedArrayBuffer or a segment's memory (an ordinary ArrayBuffer may be freed while an asynchronous wait is pending)";

/** Checks the array and index of a cell; returns the array. */
export function validateCell(array: unknown, index: unknown): WaitableArray {
  // Brand checks, not instanceof: an object given a typed array's
  // prototype, or a Proxy of one, is neither (and has no length to read).
  if (!(types.isInt32Array(array) || types.isBigInt64Array(array))) {
    throw invalidArgType('array', 'an Int32Array or a BigInt64Array', array);
  }
  if (array.length === 0 && array.buffer.byteLength === 0) throw detachedError();
  if (typeof index !== 'number') throw invalidArgType('index', 'of type number', index);
  if (!(Number.isSafeInteger(index) && index >= 0 && index < array.length)) {
    throw outOfRange(`The "index" argument must be an integer in 0 .. ${array.length - 1}. Received ${String(index)}`);
  }
  return array;
}

function validateExpected(array: WaitableArray, expected: unknown): number | bigint {
  if (types.isInt32Array(array)) {
    if (typeof expected !== 'number') throw invalidArgType('expected', 'of type number for an Int32Array', expected);
    if (!(Number.isInteger(expected) && expected >= INT32_MIN && expected <= INT32_MAX)) {
      throw outOfRange(`The "expected" argument must be a 32-bit integer. Received ${String(expected)}`);
    }
    return expected;
  }
  if (typeof expected !== 'bigint') throw invalidArgType('expected', 'of type bigint for a BigInt64Array', expected);
  if (expected < INT64_MIN || expected > INT64_MAX) {
    throw outOfRange(`The "expected" argument must be a 64-bit integer. Received ${expected}n`);
  }
  return expected;
}

/**
 * A timeout in milliseconds: Infinity when omitted, otherwise a number >= 0.
 * One too long for the kernel's clock (about 9.2e12 ms and more) waits for
 * ever, as Infinity does.
 */
export function validateTimeout(timeoutMs: unknown): number {
  if (timeoutMs === undefined) return Infinity;
  if (typeof timeoutMs !== 'number') throw invalidArgType('timeoutMs', 'of type number', timeoutMs);
  if (!(timeoutMs >= 0)) throw outOfRange(`The "timeoutMs" argument must be >= 0. Received ${String(timeoutMs)}`);
  return timeoutMs;
}

export interface WaitOptions {
  /**
   * Reads of the cell before sleeping in the kernel (default 0). If the value
   * changes during them, wait returns 'ok' at once, without the two context
   * switches of a kernel wake-up (tens of microseconds on some machines).
   * The price: a notify that does not change the value is seen only once
   * the wait sleeps, so use it where every notify follows a store.
   */
  spin?: number;
}

/**
 * Blocks the calling thread until `array[index]` is notified, for at most
 * `timeoutMs`. Returns 'not-equal' at once if the cell does not hold
 * `expected`. Like Atomics.wait, but a notify from any process that maps the
 * memory wakes it. On the main thread this blocks the event loop: see
 * waitAsync. In a worker, worker.terminate() (or the main thread's
 * process.exit()) ends the wait within about 20 ms, as it ends Atomics.wait.
 */
export function wait(array: WaitableArray, index: number, expected: number | bigint, timeoutMs?: number, options?: WaitOptions): WaitResult {
  const cells = validateCell(array, index);
  const value = validateExpected(cells, expected);
  const timeout = validateTimeout(timeoutMs);
  const spin = validateSpin(options);
  if (spin > 0) {
    const load = () => Atomics.load(cells as Int32Array, index) as number | bigint;
    if (load() !== value) return 'not-equal';
    for (let read = 0; read < spin; read++) if (load() !== value) return 'ok';
  }
  return binding.wait(cells, index, value, timeout);
}

function validateSpin(options: WaitOptions | undefined): number {
  if (options === undefined) return 0;
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const { spin = 0 } = options;
  if (typeof spin !== 'number') throw invalidArgType('options.spin', 'of type number', spin);
  if (!(Number.isSafeInteger(spin) && spin >= 0)) throw outOfRange(`The "options.spin" argument must be an integer >= 0. Received ${String(spin)}`);
  return spin;
}

export interface WaitAsyncOptions {
  /**
   * Whether the pending wait keeps the event loop (and so the process or
   * worker) alive, as a pending socket read does. Default true; false is
   * unref(): the wait does not hold the loop open, and if the loop ends
   * first its promise never settles.
   */
  ref?: boolean;
}

/**
 * As wait, without blocking: the promise settles when the cell is notified,
 * does not hold `expected`, or the timeout passes. Each pending call holds a
 * thread of its own (not one of libuv's pool); at most MAX_ASYNC_WAITS may be
 * pending at once in a process, and one more is rejected with
 * ERR_SHM_TOO_MANY_WAITS. When the cell's memory is detached (its segment
 * detached or destroyed) while the wait is pending, the promise is rejected
 * with ERR_INVALID_STATE at once: it never waits on what is mapped there next.
 */
export function waitAsync(
  array: WaitableArray,
  index: number,
  expected: number | bigint,
  timeoutMs?: number,
  options?: WaitAsyncOptions,
): Promise<WaitResult> {
  const cells = validateCell(array, index);
  if (!outlivesAsyncWaits(cells)) throw invalidArgType('array', ASYNC_MEMORY, array);
  const value = validateExpected(cells, expected);
  const timeout = validateTimeout(timeoutMs);
  return binding.waitAsync(cells, index, value, timeout, validateRef(options));
}

function validateRef(options: WaitAsyncOptions | undefined): boolean {
  if (options === undefined) return true;
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const { ref = true } = options;
  if (typeof ref !== 'boolean') throw invalidArgType('options.ref', 'of type boolean', ref);
  return ref;
}

/**
 * Wakes at most `count` (default: all) waiters on `array[index]`, in every
 * process; returns how many were woken, each counted once. A 64-bit cell
 * wakes the waiters of that cell (and those of a 32-bit view of its low
 * half, which shares its word).
 */
export function notify(array: WaitableArray, index: number, count: number = Infinity): number {
  const cells = validateCell(array, index);
  if (typeof count !== 'number') throw invalidArgType('count', 'of type number', count);
  if (!(count === Infinity || (Number.isSafeInteger(count) && count >= 0))) {
    throw outOfRange(`The "count" argument must be an integer >= 0 or Infinity. Received ${String(count)}`);
  }
  return binding.notify(cells, index, count);
}
