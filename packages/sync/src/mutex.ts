/**
 * A mutex in 16 bytes of shared memory, for threads of any process that maps
 * them, which survives the death of its holder.
 *
 * Layout (little-endian, 8-byte aligned):
 *   bytes 0..7   owner: 0 when free, else the holder's owner word
 *                (uid << 32 | slot << 16 | generation; see native/owner_monitor.h)
 *   bytes 8..11  how many lock() calls are waiting (so unlock notifies only then)
 *   bytes 12..15 reserved, 0
 * Zeroed memory is a free mutex: a new segment needs no initialisation.
 *
 * The owner is a thread: each thread that locks holds, for its life, a
 * kernel lock on a slot file of its own under /dev/shm. The kernel drops that
 * lock when the thread's process dies or its environment ends, so a holder
 * is proven dead when its slot is unlocked (or reused by a later
 * generation). Only that proof lets another thread take the mutex over;
 * when the slot cannot be looked at (another mount of /dev/shm, a file this
 * process cannot open, out of descriptors), the holder counts as alive.
 *
 * States of the owner word, and who moves it:
 *   0 (free) --lock / tryLock: CAS 0 -> me--> me
 *   me --unlock: CAS me -> 0, then notify if anyone waits--> 0
 *   H (held) --contender, H proven dead: CAS H -> me (recovered)--> me
 *   H --anything else--> H (the contender waits on the word, and looks at
 *                          H's slot every LIVENESS_INTERVAL_MS)
 */
import { codedError, invalidArgType } from '@shm/types';
import { binding } from './binding';
import { detachedError, validateTimeout } from './futex';
import { inTurn, notifyStep, runAsync, runBlocking, STEP, Steps, Turns, waitStep } from './steps';
import { regionOf } from './region';

const RELEASE_STEPS = Symbol('release steps');
type GuardWithSteps = MutexGuard & { [RELEASE_STEPS]: (me: bigint) => Steps<void> };

/**
 * The queue of overlapping lockAsync calls of this thread, per mutex memory
 * (so two Mutex objects over the same bytes share it).
 */
const asyncTurns = new WeakMap<ArrayBufferLike, Map<number, Turns>>();

function asyncTurnsOf(owner: BigInt64Array): Turns {
  let byOffset = asyncTurns.get(owner.buffer);
  if (!byOffset) asyncTurns.set(owner.buffer, (byOffset = new Map()));
  let turns = byOffset.get(owner.byteOffset);
  if (!turns) byOffset.set(owner.byteOffset, (turns = new Turns()));
  return turns;
}

/** How often a waiting lock() looks whether the holder is still alive. */
export const LIVENESS_INTERVAL_MS = 100;

const OWNER = 0; // in the BigInt64Array view
const WAITERS = 2; // in the Int32Array view

/**
 * This thread's owner word. The binding claims the thread's slot on first
 * use and keeps it; when it cannot (out of descriptors, say), it throws and
 * keeps nothing, so the next call tries again.
 */
let self: bigint | undefined;

function selfValue(): bigint {
  return (self ??= binding.ownerToken());
}

/** Only a proven death counts: 'unknown' (nothing could be looked at) is alive. */
function holderProvenDead(owner: bigint): boolean {
  return binding.ownerState(owner) === 'dead';
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
    return runBlocking(this.acquisition(selfValue(), timeoutMs), this.words);
  }

  /**
   * As lock, without blocking the thread: the promise resolves once the
   * mutex is taken. Overlapping lockAsync calls of one thread on one mutex
   * queue, in order: each waits until the guard of the one before it is
   * unlocked, then contends with other threads as usual. (The owner word
   * names a thread, so the queue is what keeps two calls of one thread
   * apart.)
   */
  lockAsync(timeoutMs?: number): Promise<MutexGuard> {
    return runAsync(this.queuedAcquisition(selfValue(), timeoutMs), this.words);
  }

  private *queuedAcquisition(me: bigint, timeoutMs: number | undefined): Steps<MutexGuard> {
    const deadline = performance.now() + validateTimeout(timeoutMs);
    return yield* inTurn(
      asyncTurnsOf(this.owner),
      deadline,
      (keepTurn) => this.acquisitionInTurn(me, deadline, keepTurn),
      () => {
        throw this.timeout(timeoutMs);
      },
    );
  }

  /** Its turn come, a lockAsync contends as lock does; its guard ends the turn at unlock. */
  private *acquisitionInTurn(me: bigint, deadline: number, keepTurn: () => () => void): Steps<MutexGuard> {
    const taken = yield* this.acquisition(me, Math.max(0, deadline - performance.now()));
    return this.guard(taken.recovered, keepTurn());
  }

  /** Takes the mutex if it is free (or its holder is proven dead); null if another thread holds it. */
  tryLock(): MutexGuard | null {
    return runBlocking(this.attempt(selfValue(), true), this.words);
  }

  /** Releases the mutex; throws ERR_SHM_MUTEX_NOT_OWNER unless this thread holds it. */
  unlock(): void {
    runBlocking(this.release(selfValue()), this.words);
  }

  private *release(me: bigint): Steps<void> {
    yield STEP; // each operation begins at a step: it may follow another's last access
    const released = Atomics.compareExchange(this.owner, OWNER, me, 0n) === me;
    yield STEP;
    if (!released) throw codedError('ERR_SHM_MUTEX_NOT_OWNER', 'This thread does not hold the mutex');
    const waiting = Atomics.load(this.words, WAITERS) > 0;
    if (waiting) yield notifyStep(this.owner, OWNER, 1);
  }

  /** Whether this thread holds the mutex; ERR_INVALID_STATE once its memory went (moved memory may still be held). */
  get heldByThisThread(): boolean {
    if (this.owner.length === 0) throw detachedError();
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
  private *acquisition(me: bigint, timeoutMs: number | undefined): Steps<MutexGuard> {
    const deadline = performance.now() + validateTimeout(timeoutMs);
    for (let holderWaitedOut = false; ; ) {
      // The holder is looked at after a liveness interval without a wake,
      // or at once when there is no time to wait (lock(0) recovers as tryLock does).
      const lookAtHolder = holderWaitedOut || deadline <= performance.now();
      const taken = yield* this.attempt(me, lookAtHolder);
      if (taken) return taken;
      const holder = Atomics.load(this.owner, OWNER);
      yield STEP;
      if (holder === 0n) continue;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw this.timeout(timeoutMs);
      Atomics.add(this.words, WAITERS, 1);
      yield STEP;
      try {
        // The word must still hold `holder` as the sleep begins: an unlock in
        // between changes it, and the kernel then does not sleep.
        const result = yield waitStep(this.owner, OWNER, holder, Math.min(remaining, LIVENESS_INTERVAL_MS));
        holderWaitedOut = result === 'timed-out';
      } finally {
        // Unless the memory went (a detach while asleep): the wait's error then stands.
        if (this.words.length !== 0) Atomics.sub(this.words, WAITERS, 1);
        yield STEP;
      }
    }
  }

  /**
   * One attempt: take a free mutex, or one whose holder is proven dead
   * (looked at only when `checkHolder`: it opens the holder's slot file).
   */
  private *attempt(me: bigint, checkHolder: boolean): Steps<MutexGuard | null> {
    yield STEP;
    const holder = Atomics.compareExchange(this.owner, OWNER, 0n, me);
    yield STEP;
    if (holder === 0n) return this.guard(false);
    if (holder === me) {
      throw codedError('ERR_SHM_MUTEX_RELOCK', 'This thread holds the mutex already; locking it again would wait forever');
    }
    if (!checkHolder || !this.provenDead(holder)) return null;
    // Only the thread whose CAS replaces exactly that dead holder takes over.
    const recovered = Atomics.compareExchange(this.owner, OWNER, holder, me) === holder;
    yield STEP;
    return recovered ? this.guard(true) : null;
  }

  /** How this mutex proves a holder dead (the interleaving checker swaps in its own). */
  private provenDead: (holder: bigint) => boolean = holderProvenDead;

  /** A guard; `released` runs after its unlock (a queued lockAsync's turn ends). */
  private guard(recovered: boolean, released?: () => void): MutexGuard {
    let held = true;
    const unlock = () => {
      if (!held) return;
      held = false;
      try {
        this.unlock();
      } finally {
        released?.();
      }
    };
    // Where the memory went, unlock (and so a `using` block's end) says so
    // with ERR_INVALID_STATE, and still passes the turn on: a buffer moved
    // by transfer() leaves the mutex held where peers see it, so silence
    // would hide a lock that nothing can release any more.
    const guard: MutexGuard = { recovered, unlock, [Symbol.dispose]: unlock };
    // For the interleaving checker: the same release, as steps of thread `me`.
    (guard as GuardWithSteps)[RELEASE_STEPS] = (me: bigint) => this.releaseThen(me, () => {
      held = false;
      released?.();
    });
    return guard;
  }

  private *releaseThen(me: bigint, after: () => void): Steps<void> {
    try {
      yield* this.release(me);
    } finally {
      after();
    }
  }

  private timeout(timeoutMs: number | undefined): Error {
    return codedError('ERR_SHM_MUTEX_TIMEOUT', `The mutex was not free within ${timeoutMs} ms`);
  }
}

/**
 * The steps of a Mutex's operations for one thread identity, for the
 * interleaving checker (@shm/interleave): not part of the public API.
 */
export const mutexSteps = {
  lock: (mutex: Mutex, me: bigint, timeoutMs?: number): Steps<MutexGuard> => mutex['acquisition'](me, timeoutMs),
  lockAsync: (mutex: Mutex, me: bigint, timeoutMs?: number): Steps<MutexGuard> => mutex['queuedAcquisition'](me, timeoutMs),
  tryLock: (mutex: Mutex, me: bigint): Steps<MutexGuard | null> => mutex['attempt'](me, true),
  /** A guard's unlock, as steps of thread `me`. */
  unlockGuard: (guard: MutexGuard, me: bigint): Steps<void> => (guard as GuardWithSteps)[RELEASE_STEPS](me),
  unlock: (mutex: Mutex, me: bigint): Steps<void> => mutex['release'](me),
  /** Replaces the proof of death (the checker decides who is dead). */
  proveDeathWith(mutex: Mutex, provenDead: (holder: bigint) => boolean): Mutex {
    mutex['provenDead'] = provenDead;
    return mutex;
  },
};
