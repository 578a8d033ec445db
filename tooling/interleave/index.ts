/**
 * An exhaustive-interleaving checker, in the spirit of Rust's loom: it runs a
 * scenario's sides (generators of protocol steps, as @shm/sync writes its
 * Mutex and Channel) through every order of their steps, and asks the
 * scenario's oracle about each outcome.
 *
 * The model:
 *  - Memory is ordinary memory, read and written by the sides with Atomics
 *    (sequentially consistent), as the real protocols do; a side runs
 *    without interruption from one step to the next, so each step may hold
 *    at most one access that another side can observe.
 *  - A wait step sleeps if every watched word holds its expected value at
 *    that moment (the kernel's atomic check) and ends with 'ok' when a
 *    notify step names one of its words, or with 'timed-out' at any point
 *    if its timeout is finite (the checker tries both); otherwise it ends at
 *    once with 'not-equal'. A notify wakes at most `count` sleepers, in the
 *    order they went to sleep.
 *  - A turn step waits until the object's earlier calls of that kind ended.
 *  - A run ends when every side has returned or thrown; when sides are left
 *    asleep with nobody to wake them, that is a hang, and a violation.
 *
 * The checker holds the protocols to the model: a step that makes more than
 * one Atomics access is reported as a violation (plain reads and writes are
 * not counted: the protocols use them only for memory no other side reads
 * or writes at that moment, such as a side's own cursor and the ring bytes
 * behind it). Not explored: deadlines measured with the real clock (a
 * scenario's sides wait without one, or with timeouts the model fires), and
 * a spin of reads before a sleep (the checked objects spin 0 times).
 *
 * The search is stateless: each schedule is replayed from a fresh setup()
 * (so generators never need copying), depth first, every choice point
 * enumerated. The counterexample is the schedule, side by side, as a list.
 */

/** What the protocols yield (structurally: @shm/sync's steps.ts). */
type Cell = Int32Array | BigInt64Array;
type Step =
  | { kind: 'step' }
  | { kind: 'wait'; array: Cell; index: number; expected: number | bigint; timeoutMs: number; also?: { array: Int32Array; index: number; expected: number } }
  | { kind: 'notify'; array: Cell; index: number; count: number }
  | { kind: 'turn'; turns: { isFirst(ticket: number): boolean }; ticket: number };

export type Steps<T = unknown> = Generator<Step, T, unknown>;

export interface Side {
  name: string;
  steps: Steps;
}

export type Outcome = { name: string; returned?: unknown; threw?: unknown; hung?: boolean };

export interface Scenario {
  /** A fresh world: its memory, and the sides that share it. */
  setup(): Side[];
  /** undefined when the outcomes are right; otherwise what is wrong. */
  check(outcomes: Outcome[]): string | undefined;
}

export interface Result {
  /** How many complete schedules were run. */
  schedules: number;
  /** Whether every schedule (within the preemption bound) was run: false when maxSchedules stopped the search. */
  complete: boolean;
  /** The first schedule whose outcome the oracle refused, with why. */
  violation?: { message: string; schedule: string[]; outcomes: Outcome[] };
}

export interface Options {
  /** Stop after this many schedules (a safety net; the search is exhaustive below it). */
  maxSchedules?: number;
  /** A run longer than this many steps is reported (a livelock). */
  maxSteps?: number;
  /**
   * At most this many preemptions per schedule: switches away from a side
   * that could have gone on (Infinity, the default: every interleaving).
   * Switches from a side that sleeps or has ended are always free. A small
   * bound keeps large scenarios tractable and, as CHESS found, still reaches
   * most concurrency bugs.
   */
  maxPreemptions?: number;
  /**
   * How often, per schedule, each side's sleep with a finite timeout may
   * time out (default 1): a timeout is tried at every point, but a loop that
   * only times out again and again (a Mutex's liveness look every 100 ms)
   * meets nothing new.
   */
  maxTimeouts?: number;
}

interface Sleeper {
  words: Array<{ buffer: ArrayBufferLike; byteOffset: number }>;
  since: number;
}

interface SideState {
  side: Side;
  timeouts: number;
  resume: unknown; // what the next steps.next() receives
  step?: Step; // the step it stopped at, not yet performed
  sleeping?: Sleeper;
  done?: Outcome;
}

/** The address of a futex word: its buffer and byte offset. */
function wordsOf(array: Cell, index: number): Array<{ buffer: ArrayBufferLike; byteOffset: number }> {
  const byteOffset = array.byteOffset + index * array.BYTES_PER_ELEMENT;
  // A 64-bit cell sleeps on both halves (as the binding does with futex_waitv).
  if (array instanceof BigInt64Array) return [{ buffer: array.buffer, byteOffset }, { buffer: array.buffer, byteOffset: byteOffset + 4 }];
  return [{ buffer: array.buffer, byteOffset }];
}

function holds(array: Cell, index: number, expected: number | bigint): boolean {
  return array instanceof BigInt64Array ? Atomics.load(array, index) === expected : Atomics.load(array, index) === expected;
}

const ATOMICS = ['load', 'store', 'compareExchange', 'exchange', 'add', 'sub', 'and', 'or', 'xor'] as const;

/** Atomics calls since the last reset, while explore() runs (its wrappers count them). */
const counter = { accesses: 0, names: [] as string[] };

function countAtomics() {
  counter.accesses = 0;
  counter.names.length = 0;
  return counter;
}

let wrapped = 0; // nesting depth of explore(): the wrappers are installed once

/** Wraps the Atomics functions in counting ones for `body`, then restores them. */
function withCountedAtomics<T>(body: () => T): T {
  if (wrapped > 0) {
    wrapped++;
    try {
      return body();
    } finally {
      wrapped--;
    }
  }
  wrapped = 1;
  const saved = ATOMICS.map((name) => [name, (Atomics as any)[name]] as const);
  for (const [name, original] of saved) {
    (Atomics as any)[name] = (...args: unknown[]) => {
      counter.accesses++;
      counter.names.push(name);
      return original(...args);
    };
  }
  try {
    return body();
  } finally {
    wrapped = 0;
    for (const [name, original] of saved) (Atomics as any)[name] = original;
  }
}

/** One run, following `choices` where given and taking the first alternative after; returns what happened. */
function run(scenario: Scenario, choices: number[], maxSteps: number, maxPreemptions: number, maxTimeouts: number) {
  const states: SideState[] = scenario.setup().map((side) => ({ side, resume: undefined, timeouts: 0 }));
  const taken: number[] = [];
  const alternatives: number[] = [];
  const schedule: string[] = [];
  let clock = 0;
  let current: SideState | undefined;
  let overfull: string | undefined;
  let preemptions = 0;

  const finish = (state: SideState, outcome: Outcome) => {
    state.done = outcome;
    state.step = undefined;
    state.sleeping = undefined;
  };

  /** Runs the side to its next step (performing nothing of it yet). */
  const advance = (state: SideState) => {
    const counted = countAtomics();
    try {
      const next = state.side.steps.next(state.resume);
      state.resume = undefined;
      if (next.done) finish(state, { name: state.side.name, returned: next.value });
      else state.step = next.value;
    } catch (error) {
      finish(state, { name: state.side.name, threw: error });
    } finally {
      // Also for a step that threw after its accesses.
      if (counted.accesses > 1 && overfull === undefined) {
        overfull = `${state.side.name} made ${counted.accesses} shared accesses in one step (${counted.names.join(', ')})`;
      }
    }
  };

  const wake = (array: Cell, index: number, count: number) => {
    const target = wordsOf(array, index);
    const sleepers = states
      .filter((state) => state.sleeping?.words.some((word) => target.some((t) => t.buffer === word.buffer && t.byteOffset === word.byteOffset)))
      .sort((a, b) => a.sleeping!.since - b.sleeping!.since);
    for (const state of sleepers.slice(0, count)) {
      state.sleeping = undefined;
      state.resume = 'ok';
      state.step = undefined;
    }
  };

  // Every side starts at a step: its first access to shared memory, like
  // every later one, happens when the schedule says.
  for (const state of states) state.step = { kind: 'step' };
  for (let steps = 0; ; steps++) {
    if (steps > maxSteps) return { taken, alternatives, schedule, outcomes: undefined, livelock: true, overfull };
    // What each side can do now: perform its step, or (asleep with a finite
    // timeout) time out.
    const moves: Array<{ state: SideState; timeout: boolean }> = [];
    for (const state of states) {
      if (state.done) continue;
      if (state.sleeping) {
        const step = state.step as Extract<Step, { kind: 'wait' }> | undefined;
        if (step && Number.isFinite(step.timeoutMs) && state.timeouts < maxTimeouts) moves.push({ state, timeout: true });
        continue;
      }
      const step = state.step;
      if (step?.kind === 'turn' && !step.turns.isFirst(step.ticket)) continue;
      moves.push({ state, timeout: false });
    }
    if (moves.length === 0 || overfull !== undefined) {
      const outcomes = states.map((state) => state.done ?? { name: state.side.name, hung: true });
      return { taken, alternatives, schedule, outcomes, livelock: false, overfull };
    }
    const currentMove = moves.find((move) => move.state === current && !move.timeout);
    if (currentMove && preemptions >= maxPreemptions) moves.splice(0, moves.length, currentMove);
    const position = taken.length;
    const choice = position < choices.length ? choices[position] : 0;
    taken.push(choice);
    alternatives.push(moves.length);
    const { state, timeout } = moves[choice];
    if (currentMove && moves[choice] !== currentMove) preemptions++;
    current = state;
    const step = state.step;
    clock++;
    if (timeout) {
      schedule.push(`${state.side.name}: wait timed out`);
      state.timeouts++;
      state.sleeping = undefined;
      state.step = undefined;
      state.resume = 'timed-out';
      advance(state);
      continue;
    }
    if (step === undefined) {
      // Woken: it goes on from its wait.
      schedule.push(`${state.side.name}: woken`);
      advance(state);
      continue;
    }
    switch (step.kind) {
      case 'step':
      case 'turn':
        schedule.push(`${state.side.name}: ${step.kind === 'turn' ? 'its turn' : 'runs'}`);
        state.step = undefined;
        advance(state);
        break;
      case 'notify':
        schedule.push(`${state.side.name}: notify`);
        wake(step.array, step.index, step.count);
        state.step = undefined;
        advance(state);
        break;
      case 'wait': {
        const equal = holds(step.array, step.index, step.expected) && (!step.also || holds(step.also.array, step.also.index, step.also.expected));
        if (!equal) {
          schedule.push(`${state.side.name}: wait (not equal)`);
          state.step = undefined;
          state.resume = 'not-equal';
          advance(state);
        } else {
          schedule.push(`${state.side.name}: sleeps`);
          const words = wordsOf(step.array, step.index);
          if (step.also) words.push(...wordsOf(step.also.array, step.also.index));
          state.sleeping = { words, since: clock };
          // stays at this step until woken or timed out
        }
        break;
      }
    }
    // A side woken by a notify has no step and no sleeper: it is a move of
    // its own later (it goes on from its wait with 'ok').
  }
}

/** Runs every schedule of the scenario (up to options.maxSchedules). */
export function explore(scenario: Scenario, options: Options = {}): Result {
  return withCountedAtomics(() => search(scenario, options));
}

function search(scenario: Scenario, options: Options): Result {
  const maxSchedules = options.maxSchedules ?? 1_000_000;
  const maxSteps = options.maxSteps ?? 10_000;
  const maxPreemptions = options.maxPreemptions ?? Infinity;
  const maxTimeouts = options.maxTimeouts ?? 1;
  let choices: number[] = [];
  for (let schedules = 1; ; schedules++) {
    const { taken, alternatives, schedule, outcomes, livelock, overfull } = run(scenario, choices, maxSteps, maxPreemptions, maxTimeouts);
    const message = livelock ? `no end within ${maxSteps} steps` : (overfull ?? scenario.check(outcomes!));
    if (message !== undefined) return { schedules, complete: false, violation: { message, schedule, outcomes: outcomes ?? [] } };
    // The next schedule: the last choice point with an untried alternative.
    let point = taken.length - 1;
    while (point >= 0 && taken[point] + 1 >= alternatives[point]) point--;
    if (point < 0) return { schedules, complete: true };
    if (schedules >= maxSchedules) return { schedules, complete: false };
    choices = [...taken.slice(0, point), taken[point] + 1];
  }
}
