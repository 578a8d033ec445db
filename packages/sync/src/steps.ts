/**
 * Blocking and async forms from one algorithm, which a model checker can also
 * run. A Mutex or Channel operation is written once as a generator of the
 * steps it takes:
 *   STEP     a point between two accesses to shared memory: another side
 *            may run here (the real drivers go on at once; the interleaving
 *            checker switches sides)
 *   wait     sleep while the cell(s) hold their expected values
 *   notify   wake waiters of a cell
 *   turn     wait until the earlier calls of this kind on this object are
 *            done (overlapping async calls run one at a time, in order)
 * runBlocking performs the waits with wait(), runAsync with waitAsync(); the
 * checker in @shm/interleave performs all four in a model of the memory.
 */
import { codedError } from '@shm/types';
import { binding } from './binding';
import { detachedError, outlivesAsyncWaits } from './futex';
import type { WaitableArray, WaitResult } from './futex';

/** Another side may run here. */
export const STEP = Object.freeze({ kind: 'step' as const });

export interface WaitRequest {
  kind: 'wait';
  array: WaitableArray;
  index: number;
  expected: number | bigint;
  timeoutMs: number;
  /** A second 32-bit cell: the sleep also ends when it stops holding its expected value. */
  also?: { array: Int32Array; index: number; expected: number };
}

export interface NotifyRequest {
  kind: 'notify';
  array: WaitableArray;
  index: number;
  count: number;
}

export interface TurnRequest {
  kind: 'turn';
  turns: Turns;
  ticket: number;
  /** How long this call may wait for its turn ('timed-out' then). */
  timeoutMs: number;
}

export type Step = typeof STEP | WaitRequest | NotifyRequest | TurnRequest;

export type Steps<T> = Generator<Step, T, WaitResult | undefined>;

export function waitStep(
  array: WaitableArray,
  index: number,
  expected: number | bigint,
  timeoutMs: number,
  also?: WaitRequest['also'],
): WaitRequest {
  return { kind: 'wait', array, index, expected, timeoutMs, also };
}

export function notifyStep(array: WaitableArray, index: number, count = Infinity): NotifyRequest {
  return { kind: 'notify', array, index, count };
}

/** The longest delay setTimeout holds (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function busyError(): Error {
  return codedError('ERR_SHM_BUSY', 'An async call of this kind on this object is still pending; a blocking call would wait for ever behind it');
}

/**
 * The calls of one kind on one object (a Channel's sends, say), one at a
 * time, in the order they began. State of a ticket: queued --its turn-->
 * first --the call ends--> gone (and the next ticket's turn comes).
 */
export class Turns {
  private readonly queue: number[] = [];
  private readonly waiting = new Map<number, () => void>();
  private nextTicket = 0;

  enter(): number {
    const ticket = this.nextTicket++;
    this.queue.push(ticket);
    return ticket;
  }

  isFirst(ticket: number): boolean {
    return this.queue[0] === ticket;
  }

  leave(ticket: number): void {
    const at = this.queue.indexOf(ticket);
    if (at >= 0) this.queue.splice(at, 1);
    const first = this.queue[0];
    const wake = first === undefined ? undefined : this.waiting.get(first);
    if (wake) {
      this.waiting.delete(first);
      wake();
    }
  }

  /** Whether any call is queued or running. */
  get busy(): boolean {
    return this.queue.length > 0;
  }

  /**
   * 'ok' once `ticket` is first, 'timed-out' if that takes longer than
   * `timeoutMs` (a timeout beyond what a timer can hold, about 24.8 days,
   * waits for ever).
   */
  whenFirst(ticket: number, timeoutMs: number): Promise<WaitResult> {
    if (this.isFirst(ticket)) return Promise.resolve('ok');
    return new Promise((resolve) => {
      const timer = timeoutMs <= MAX_TIMER_MS ? setTimeout(() => {
        this.waiting.delete(ticket);
        resolve('timed-out');
      }, timeoutMs) : undefined;
      this.waiting.set(ticket, () => {
        clearTimeout(timer);
        resolve('ok');
      });
    });
  }
}

/**
 * `body`'s steps, once every earlier call of `turns` is done; `timedOut()`
 * if the turn does not come before `deadline` (performance.now() time). The
 * turn ends with the body, unless the body keeps it: `keepTurn()` returns
 * the function that ends it later (a Mutex guard ends its lockAsync's turn
 * at unlock).
 */
export function* inTurn<T>(
  turns: Turns,
  deadline: number,
  body: (keepTurn: () => () => void) => Steps<T>,
  timedOut: () => T,
): Steps<T> {
  const ticket = turns.enter();
  let kept = false;
  const keepTurn = () => {
    kept = true;
    return () => turns.leave(ticket);
  };
  try {
    while (!turns.isFirst(ticket)) {
      const result = yield { kind: 'turn', turns, ticket, timeoutMs: Math.max(0, deadline - performance.now()) };
      if (result === 'timed-out' && performance.now() >= deadline) return timedOut();
    }
    return yield* body(keepTurn);
  } finally {
    if (!kept) turns.leave(ticket);
  }
}

/** binding.wait's and binding.waitAsync's arguments after the first four: the second cell, if any. */
function alsoArguments(request: WaitRequest): [array2?: Int32Array, index2?: number, expected2?: number] {
  const { also } = request;
  return also === undefined ? [] : [also.array, also.index, also.expected];
}

/** The steps both drivers perform the same way, at once. */
function performAtOnce(step: typeof STEP | NotifyRequest): undefined {
  if (step.kind === 'notify') binding.notify(step.array, step.index, step.count);
  return undefined;
}

function performBlocking(step: Step): WaitResult | undefined {
  switch (step.kind) {
    case 'step':
    case 'notify':
      return performAtOnce(step);
    case 'wait':
      return binding.wait(step.array, step.index, step.expected, step.timeoutMs, ...alsoArguments(step));
    case 'turn':
      throw busyError();
  }
}

/**
 * What the steps that take time give (a wait, a turn), as a promise. An
 * asynchronous wait needs memory that outlives it (outlivesAsyncWaits).
 */
async function performLater(step: WaitRequest | TurnRequest): Promise<WaitResult> {
  if (step.kind === 'turn') return step.turns.whenFirst(step.ticket, step.timeoutMs);
  if (!outlivesAsyncWaits(step.array) || (step.also && !outlivesAsyncWaits(step.also.array))) {
    throw codedError(
      'ERR_INVALID_STATE',
      "An asynchronous call needs memory held by a SharedArrayBuffer or a segment: this object's is an ordinary ArrayBuffer, " +
        'which transfer() or resize() could free while it waits (the blocking calls take it)',
    );
  }
  return binding.waitAsync(step.array, step.index, step.expected, step.timeoutMs, true, ...alsoArguments(step));
}

/** What performing a step gave: the result to resume the steps with, or the error to throw into them. */
type Outcome = { result: WaitResult | undefined } | { error: unknown };

function outcomeOf(perform: () => WaitResult | undefined): Outcome {
  try {
    return { result: perform() };
  } catch (error) {
    return { error };
  }
}

/** As outcomeOf, for a step that takes time; a call that throws at once is an outcome too. */
async function laterOutcomeOf(step: WaitRequest | TurnRequest): Promise<Outcome> {
  try {
    return { result: await performLater(step) };
  } catch (error) {
    return { error };
  }
}

/**
 * Resumes `steps` with `outcome`; an error runs the operation's cleanup (its
 * finally blocks), then rethrows. The steps touch their object's `memory`
 * next, so they resume only while it is there: memory detached by anyone (a
 * detach, or a transfer() that moved a segment's buffer away) while the
 * call waited, or for its turn, or before it began, ends it as a detach does
 * (ERR_INVALID_STATE). Checked here, in the same task as the resumption: no
 * other code runs between the check and the next access.
 */
function resume<T>(steps: Steps<T>, outcome: Outcome, memory: WaitableArray): IteratorResult<Step, T> {
  if ('error' in outcome) return steps.throw(outcome.error);
  if (memory.length === 0) return steps.throw(detachedError());
  return steps.next(outcome.result);
}

/** Performs `steps` on the calling thread, blocking in its waits; `memory`: the cells of the object they work on. */
export function runBlocking<T>(steps: Steps<T>, memory: WaitableArray): T {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    next = resume(steps, outcomeOf(() => performBlocking(step)), memory);
  }
  return next.value;
}

/** As runBlocking; a wait or a turn is awaited, every other step performed at once, as the blocking driver does. */
export async function runAsync<T>(steps: Steps<T>, memory: WaitableArray): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    const later = step.kind === 'wait' || step.kind === 'turn';
    const outcome = later ? await laterOutcomeOf(step) : outcomeOf(() => performAtOnce(step));
    next = resume(steps, outcome, memory);
  }
  return next.value;
}
