/**
 * A mutex in 16 bytes of shared memory, for threads of any process that maps
 * them, which survives the death of its holder.
 *
 * Layout (little-endian, 8-byte aligned):
 *   bytes 0..7   owner: 0 when free, else (start token << 32) | thread id
 *   bytes 8..11  how many lock() calls are waiting (so unlock notifies only then)
 *   bytes 12..15 reserved, 0
 * Zeroed memory is a free mutex: a new segment needs no initialisation.
 *
 * The owner is a thread (its Linux thread id), and the start token (the low
 * half of the thread's start time) tells it from a later thread given the
 * same id. A holder is dead when /proc no longer shows a live thread with
 * that id and token: its process was killed, exited, or its worker ended.
 */
import { invalidArgType } from '@shm/types';
import { binding } from './binding';
import { notify, validateTimeout } from './futex';
import { runAsync, runBlocking, WaitSteps } from './steps';
import { regionOf } from './region';

/** How often a waiting lock() looks whether the holder is still alive. */
export const LIVENESS_INTERVAL_MS = 100;

const OWNER = 0; // in the BigInt64Array view
const WAITERS = 2; // in the Int32Array view

let self: bigint | undefined;

/** This thread's owner value (computed once per thread: each worker loads its own copy of this module). */
function selfValue(): bigint {
  if (self === undefined) {
    const tid = binding.threadId();
    self = BigInt.asIntN(64, (BigInt(binding.threadStartToken(tid)) << 32n) | BigInt(tid));
  }
  return self;
}

function holderAlive(owner: bigint): boolean {
  const tid = Number(owner & 0xffffffffn);
  const token = Number(BigInt.asUintN(64, owner) >> 32n);
  return tid > 0 && binding.threadStartToken(tid) === token;
}

function mutexError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Proof of holding the mutex; `using guard = mutex.lock()` unlocks at the end of the block. */
export interface MutexGuard {
  /**
   * true when the previous holder died holding the mutex: whatever it
   * protects may be half-written, and this holder must repair or discard it.
   */
  readonly recovered: boolean;
  /** Unlocks; a second call does nothing. */
  unlock(): void;
  [Symbol.dispose](): void;
}

export class Mutex {
  /** Bytes a mutex takes. */
  static readonly BYTES = 16;

  private readonly owner: BigInt64Array;
  private readonly words: Int32Array;

  /** The mutex in the 16 bytes at `byteOffset` of `memory` (8-byte aligned). */
  constructor(memory: ArrayBufferView, byteOffset = 0) {
    const region = regionOf(memory, byteOffset, Mutex.BYTES, 8, Mutex.BYTES);
    this.owner = new BigInt64Array(region.buffer, region.byteOffset, 2);
    this.words = new Int32Array(region.buffer, region.byteOffset, 4);
  }

  /**
   * Takes the mutex, waiting as long as `timeoutMs` (default: forever); a
   * timeout throws ERR_SHM_MUTEX_TIMEOUT. Blocks the thread while it waits
   * (see lockAsync). Locking a mutex this thread holds throws
   * ERR_SHM_MUTEX_RELOCK instead of waiting forever.
   */
  lock(timeoutMs?: number): MutexGuard {
    return runBlocking(this.acquisition(timeoutMs));
  }

  /** As lock, without blocking the thread: the promise resolves once the mutex is taken. */
  lockAsync(timeoutMs?: number): Promise<MutexGuard> {
    return runAsync(this.acquisition(timeoutMs));
  }

  /** Takes the mutex if it is free (or its holder is dead); null if another live thread holds it. */
  tryLock(): MutexGuard | null {
    return this.attempt(true);
  }

  /** Releases the mutex; throws ERR_SHM_MUTEX_NOT_OWNER unless this thread holds it. */
  unlock(): void {
    const me = selfValue();
    if (Atomics.compareExchange(this.owner, OWNER, me, 0n) !== me) {
      throw mutexError('ERR_SHM_MUTEX_NOT_OWNER', 'This thread does not hold the mutex');
    }
    if (Atomics.load(this.words, WAITERS) > 0) notify(this.owner, OWNER, 1);
  }

  /** Whether this thread holds the mutex. */
  get heldByThisThread(): boolean {
    return Atomics.load(this.owner, OWNER) === selfValue();
  }

  /**
   * Runs `fn` holding the mutex and unlocks when it returns or throws, or,
   * if it returns a promise, when that settles. Returns what `fn` returns.
   */
  withLock<T>(fn: () => T, timeoutMs?: number): T {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'a function', fn);
    const guard = this.lock(timeoutMs);
    let result: T;
    try {
      result = fn();
    } catch (error) {
      guard.unlock();
      throw error;
    }
    if (result instanceof Promise) return result.finally(() => guard.unlock()) as T;
    guard.unlock();
    return result;
  }

  /** Unlocks if this thread holds the mutex: `using mutex = new Mutex(...)` never leaves it held. */
  [Symbol.dispose](): void {
    if (this.heldByThisThread) this.unlock();
  }

  /**
   * The steps of taking the mutex, shared by lock and lockAsync: each yield
   * asks its driver to wait on the owner cell while it holds `holder`.
   */
  private *acquisition(timeoutMs: number | undefined): WaitSteps<MutexGuard> {
    const deadline = performance.now() + validateTimeout(timeoutMs);
    for (let holderWaitedOut = false; ; ) {
      const taken = this.attempt(holderWaitedOut);
      if (taken) return taken;
      const holder = Atomics.load(this.owner, OWNER);
      if (holder === 0n) continue;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw this.timeout(timeoutMs);
      Atomics.add(this.words, WAITERS, 1);
      try {
        const result = yield { array: this.owner, index: OWNER, expected: holder, timeoutMs: Math.min(remaining, LIVENESS_INTERVAL_MS) };
        holderWaitedOut = result === 'timed-out';
      } finally {
        Atomics.sub(this.words, WAITERS, 1);
      }
    }
  }

  /**
   * One attempt: take a free mutex, or one whose holder is dead (looked up
   * only when `checkHolder`, since it reads /proc).
   */
  private attempt(checkHolder: boolean): MutexGuard | null {
    const me = selfValue();
    const holder = Atomics.compareExchange(this.owner, OWNER, 0n, me);
    if (holder === 0n) return this.guard(false);
    if (holder === me) {
      throw mutexError('ERR_SHM_MUTEX_RELOCK', 'This thread holds the mutex already; locking it again would wait forever');
    }
    if (checkHolder && !holderAlive(holder) && Atomics.compareExchange(this.owner, OWNER, holder, me) === holder) {
      return this.guard(true);
    }
    return null;
  }

  private guard(recovered: boolean): MutexGuard {
    let held = true;
    const unlock = () => {
      if (!held) return;
      held = false;
      this.unlock();
    };
    return { recovered, unlock, [Symbol.dispose]: unlock };
  }

  private timeout(timeoutMs: number | undefined): Error {
    return mutexError('ERR_SHM_MUTEX_TIMEOUT', `The mutex was not free within ${timeoutMs} ms`);
  }
}
