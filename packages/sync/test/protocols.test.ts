/**
 * The protocols of @shm/sync through every interleaving of their steps
 * (@shm/interleave): the Channel's cursors and close, overlapping calls on
 * one object, 64-bit waits, and the Mutex's owner word. The same scenarios
 * over the protocols as they were before (models/channel-before.ts) show
 * that the checker finds the reported bugs by enumeration.
 */
import { explore, Outcome, Scenario, Side, Steps } from '@shm/interleave';
import { Channel, channelSteps } from '../src/channel';
import { Mutex, mutexSteps } from '../src/mutex';
import { notifyStep, STEP, waitStep } from '../src/steps';
import { ChannelBefore, wait64Before } from './models/channel-before';

const text = (bytes: unknown) => (bytes instanceof Uint8Array ? Buffer.from(bytes).toString() : bytes);
const bytes = (value: string) => Buffer.from(value);

/** A channel over a fresh, ordinary buffer (the model needs no shared memory), ring of `capacity` bytes. */
function memory(capacity = 64) {
  return new Uint8Array(Channel.bytesFor(capacity));
}

/** The receiver takes messages until null; the result is what it got. */
function* receiveAll(receive: () => Steps<Uint8Array | null>): Steps<string[]> {
  const got: string[] = [];
  for (;;) {
    const message = yield* receive();
    if (message === null) return got;
    got.push(text(message) as string);
  }
}

function* sendThenClose(send: (message: Uint8Array) => Steps<boolean>, close: () => Steps<void>, messages: string[]): Steps<boolean[]> {
  const sent: boolean[] = [];
  for (const message of messages) sent.push(yield* send(bytes(message)));
  yield* close();
  return sent;
}

function oracle(expected: Record<string, unknown>) {
  return (outcomes: Outcome[]) => {
    for (const outcome of outcomes) {
      if (outcome.hung) return `${outcome.name} sleeps for ever`;
      if (outcome.threw !== undefined) return `${outcome.name} threw ${String((outcome.threw as Error).message ?? outcome.threw)}`;
      if (outcome.name in expected && JSON.stringify(outcome.returned) !== JSON.stringify(expected[outcome.name])) {
        return `${outcome.name} returned ${JSON.stringify(outcome.returned)}, not ${JSON.stringify(expected[outcome.name])}`;
      }
    }
    return undefined;
  };
}

/** A sender and a receiver of the old protocol over the header and ring that Channel.create laid out in `region`. */
function sidesBefore(region: Uint8Array, created: Channel): [ChannelBefore, ChannelBefore] {
  const header = new Int32Array(region.buffer, 0, 16);
  const ring = new Uint8Array(region.buffer, 64, created.capacity);
  return [new ChannelBefore(header, ring), new ChannelBefore(header, ring)];
}

/**
 * Sender sends `messages` then closes; receiver receives until null.
 * `onlyLosses`: the oracle looks only for lost messages, not for hangs (to
 * show one bug of the old protocol where another could hide it).
 */
export function sendAndClose(messages: string[], before: boolean, capacity = 64, onlyLosses = false): Scenario {
  return {
    setup(): Side[] {
      const region = memory(capacity);
      const created = Channel.create(region);
      if (before) {
        const [sender, receiver] = sidesBefore(region, created);
        return [
          { name: 'sender', steps: sendThenClose((m) => sender.send(m), () => sender.close(), messages) },
          { name: 'receiver', steps: receiveAll(() => receiver.receive()) },
        ];
      }
      const sender = channelSteps.withoutSpinning(created);
      const receiver = channelSteps.withoutSpinning(Channel.attach(region));
      return [
        { name: 'sender', steps: sendThenClose((m) => channelSteps.send(sender, m), () => channelSteps.close(sender), messages) },
        { name: 'receiver', steps: receiveAll(() => channelSteps.receive(receiver)) },
      ];
    },
    check: onlyLosses
      ? (outcomes) => {
          const receiver = outcomes.find((outcome) => outcome.name === 'receiver')!;
          const got = receiver.returned as string[] | undefined;
          return got && got.length < messages.length ? `receiver returned ${JSON.stringify(got)}` : undefined;
        }
      : oracle({ sender: messages.map(() => true), receiver: messages }),
  };
}

/** Two overlapping sends on one Channel object (as two sendAsync calls), and a receiver of both. */
export function overlappingSends(before: boolean): Scenario {
  return {
    setup(): Side[] {
      const region = memory();
      const created = Channel.create(region);
      if (before) {
        const [sender, receiver] = sidesBefore(region, created);
        return [
          { name: 'send a', steps: sender.send(bytes('a')) },
          { name: 'send b', steps: sender.send(bytes('b')) },
          { name: 'receiver', steps: (function* () { return [text(yield* receiver.receive()), text(yield* receiver.receive())]; })() },
        ];
      }
      const sender = channelSteps.withoutSpinning(created);
      const receiver = channelSteps.withoutSpinning(Channel.attach(region));
      return [
        { name: 'send a', steps: channelSteps.send(sender, bytes('a')) },
        { name: 'send b', steps: channelSteps.send(sender, bytes('b')) },
        {
          name: 'receiver',
          steps: (function* () {
            return [text(yield* channelSteps.receive(receiver)), text(yield* channelSteps.receive(receiver))];
          })(),
        },
      ];
    },
    // Both sent, each received once; in either order (either call may start first).
    check: (outcomes) => {
      const receiver = outcomes.find((outcome) => outcome.name === 'receiver')!;
      const got = receiver.returned as string[] | undefined;
      const problem = oracle({ 'send a': true, 'send b': true })(outcomes);
      if (problem) return problem;
      return JSON.stringify([...(got ?? [])].sort()) === '["a","b"]' ? undefined : `receiver got ${JSON.stringify(got)}`;
    },
  };
}

/** A 64-bit waiter and a store that changes only the high half, with its notify. */
export function highHalfStore(before: boolean): Scenario {
  return {
    setup(): Side[] {
      const cell = new BigInt64Array(1);
      const waiter = before
        ? wait64Before(cell, 0, 0n)
        : (function* (): Steps<unknown> {
            return yield waitStep(cell, 0, 0n, Infinity);
          })();
      return [
        { name: 'waiter', steps: waiter },
        {
          name: 'notifier',
          steps: (function* () {
            Atomics.store(cell, 0, 1n << 32n);
            yield STEP;
            yield notifyStep(cell, 0);
          })(),
        },
      ];
    },
    check: (outcomes) => (outcomes.some((outcome) => outcome.hung) ? 'the waiter sleeps for ever: its wake-up was lost' : undefined),
  };
}

/** The receiver takes one message and closes, while the sender fills the ring (its third send must wait for room). */
export function closeWhileSenderWaits(): Scenario {
  const messages = ['x'.repeat(24), 'y'.repeat(24), 'z'.repeat(24)]; // 28-byte records: two fit a 64-byte ring
  return {
    setup(): Side[] {
      const region = memory(64);
      const sender = channelSteps.withoutSpinning(Channel.create(region));
      const receiver = channelSteps.withoutSpinning(Channel.attach(region));
      return [
        {
          name: 'sender',
          steps: (function* () {
            const sent: unknown[] = [];
            for (const message of messages) {
              try {
                sent.push(yield* channelSteps.send(sender, bytes(message)));
              } catch (error) {
                sent.push((error as { code?: string }).code);
              }
            }
            return sent;
          })(),
        },
        {
          name: 'receiver',
          steps: (function* () {
            const first = text(yield* channelSteps.receive(receiver));
            yield* channelSteps.close(receiver);
            return first;
          })(),
        },
      ];
    },
    check: (outcomes) => {
      const problem = oracle({ receiver: messages[0] })(outcomes);
      if (problem) return problem;
      const sent = outcomes.find((outcome) => outcome.name === 'sender')!.returned as unknown[];
      // Each send either went in before the close or was refused by it; once refused, all later ones are.
      const refused = sent.indexOf('ERR_SHM_CHANNEL_CLOSED');
      const valid = sent.every((result, index) => (refused < 0 || index < refused ? result === true : result === 'ERR_SHM_CHANNEL_CLOSED'));
      return valid && sent[0] === true ? undefined : `sender saw ${JSON.stringify(sent)}`;
    },
  };
}

/** Two overlapping receives on one Channel object, and a sender of two messages. */
export function overlappingReceives(): Scenario {
  return {
    setup(): Side[] {
      const region = memory();
      const sender = channelSteps.withoutSpinning(Channel.create(region));
      const receiver = channelSteps.withoutSpinning(Channel.attach(region));
      return [
        { name: 'sender', steps: sendThenClose((m) => channelSteps.send(sender, m), () => (function* () {})(), ['a', 'b']) },
        { name: 'receive 1', steps: (function* () { return text(yield* channelSteps.receive(receiver)); })() },
        { name: 'receive 2', steps: (function* () { return text(yield* channelSteps.receive(receiver)); })() },
      ];
    },
    check: (outcomes) => {
      const problem = oracle({ sender: [true, true] })(outcomes);
      if (problem) return problem;
      const got = outcomes.filter((outcome) => outcome.name.startsWith('receive')).map((outcome) => outcome.returned);
      return JSON.stringify([...got].sort()) === '["a","b"]' ? undefined : `the receives got ${JSON.stringify(got)}`;
    },
  };
}

/** Counts who is inside a critical section, and the most at once. */
function criticalSection() {
  let inside = 0;
  let most = 0;
  return {
    *enter(): Steps<void> {
      inside++;
      most = Math.max(most, inside);
      yield STEP; // another side may run inside the section
      inside--;
    },
    get most() {
      return most;
    },
  };
}

/** No side hung or threw, and each saw at most one inside (what each returned). */
function oneInsideAtOnce(who: string) {
  return (outcomes: Outcome[]) => {
    for (const outcome of outcomes) {
      if (outcome.hung) return `${outcome.name} sleeps for ever`;
      if (outcome.threw !== undefined) return `${outcome.name} threw ${(outcome.threw as Error).message}`;
      if (outcome.returned !== 1) return `${outcome.returned} ${who} were inside at once`;
    }
    return undefined;
  };
}

/** `sides` threads lock, step through a critical section, and unlock, `rounds` times each. */
export function mutualExclusion(sides: number, rounds: number): Scenario {
  return {
    setup(): Side[] {
      const mutex = mutexSteps.proveDeathWith(new Mutex(new Uint8Array(Mutex.BYTES)), () => false);
      const section = criticalSection();
      const thread = (me: bigint) =>
        (function* () {
          for (let round = 0; round < rounds; round++) {
            yield* mutexSteps.lock(mutex, me);
            yield* section.enter();
            yield* mutexSteps.unlock(mutex, me);
          }
          return section.most;
        })();
      return Array.from({ length: sides }, (_, index) => ({ name: `thread ${index + 1}`, steps: thread(BigInt(index + 1)) }));
    },
    check: oneInsideAtOnce('threads'),
  };
}

/** Two overlapping lockAsync calls of one thread (one owner word): the second waits its turn, until the first's guard unlocks. */
export function overlappingAsyncLocks(): Scenario {
  return {
    setup(): Side[] {
      const mutex = mutexSteps.proveDeathWith(new Mutex(new Uint8Array(Mutex.BYTES)), () => false);
      const section = criticalSection();
      const call = () =>
        (function* () {
          const guard = yield* mutexSteps.lockAsync(mutex, 1n);
          yield* section.enter();
          yield* mutexSteps.unlockGuard(guard, 1n);
          return section.most;
        })();
      return [
        { name: 'lockAsync 1', steps: call() },
        { name: 'lockAsync 2', steps: call() },
      ];
    },
    check: oneInsideAtOnce('calls'),
  };
}

/** The holder died; two contenders try to take the mutex over at once: exactly one does, told so. */
export function recoveryRace(): Scenario {
  const DEAD = 99n;
  return {
    setup(): Side[] {
      const memory = new Uint8Array(Mutex.BYTES);
      new BigInt64Array(memory.buffer, 0, 1)[0] = DEAD;
      const mutex = mutexSteps.proveDeathWith(new Mutex(memory), (holder) => holder === DEAD);
      const contender = (me: bigint) =>
        (function* () {
          const guard = yield* mutexSteps.tryLock(mutex, me);
          return guard === null ? 'not taken' : guard.recovered ? 'recovered' : 'taken';
        })();
      return [
        { name: 'contender 1', steps: contender(1n) },
        { name: 'contender 2', steps: contender(2n) },
      ];
    },
    check: (outcomes) => {
      const results = outcomes.map((outcome) => outcome.returned).sort();
      return JSON.stringify(results) === '["not taken","recovered"]' ? undefined : `the contenders got ${JSON.stringify(results)}`;
    },
  };
}

// Every interleaving where that is small enough; otherwise every one with at
// most BOUND preemptions (switches away from a side that could go on; two for
// three threads).
const EVERY = Infinity;
const BOUND = 4;

describe('the checker finds the bugs of the protocols before, by enumeration', () => {
  test.each([
    ['a close between the check and the sleep is never seen', sendAndClose([], true), EVERY, 'receiver sleeps for ever'],
    ['a send and a close between two reads hide the message', sendAndClose(['m'], true, 64, true), EVERY, 'receiver returned []'],
    ['overlapping sends on one object lose a message', overlappingSends(true), BOUND, 'receiver'],
    ['a 64-bit wait misses a store to the high half', highHalfStore(true), EVERY, 'the waiter sleeps for ever'],
  ])('%s', (_label, scenario, maxPreemptions, expected) => {
    const result = explore(scenario, { maxPreemptions });
    expect(result.violation).toBeDefined();
    expect(result.violation!.message).toContain(expected);
  });
});

describe('every interleaving of the protocols now', () => {
  test.each([
    ['send nothing, close; receive until closed', sendAndClose([], false), EVERY],
    ['send one, close; receive until closed', sendAndClose(['m'], false), BOUND],
    ['send two through a 64-byte ring, close; receive until closed', sendAndClose(['one', 'two'], false), BOUND],
    ['two overlapping sends on one object; receive both', overlappingSends(false), BOUND],
    ['a 64-bit waiter and a store to the high half', highHalfStore(false), EVERY],
    ['the receiver closes while the sender waits for room', closeWhileSenderWaits(), BOUND],
    ['two overlapping receives on one object; a sender of two', overlappingReceives(), BOUND],
    ['two threads, one round each, around a critical section', mutualExclusion(2, 1), BOUND],
    ['three threads, one round each', mutualExclusion(3, 1), 2],
    ['two threads, two rounds each', mutualExclusion(2, 2), BOUND],
    ['two contenders take a dead holder\'s mutex over at once', recoveryRace(), EVERY],
    ['two overlapping lockAsync calls of one thread', overlappingAsyncLocks(), BOUND],
  ])('%s', (_label, scenario, maxPreemptions) => {
    const result = explore(scenario, { maxPreemptions });
    expect(result.violation).toBeUndefined();
    expect(result.complete).toBe(true);
    expect(result.schedules).toBeGreaterThan(1);
  });
});

describe('the checker holds protocols to its model', () => {
  test('a step with two shared accesses is reported, not silently taken as one', () => {
    const cells = new Int32Array(2);
    const result = explore({
      setup: () => [
        {
          name: 'careless',
          steps: (function* (): Steps<void> {
            Atomics.store(cells, 0, 1);
            Atomics.store(cells, 1, 1); // no step between: another side could not run here
          })(),
        },
      ],
      check: () => undefined,
    });
    expect(result.violation?.message).toBe('careless made 2 shared accesses in one step (store, store)');
  });

  test('also a step that throws after two accesses, and inside a nested explore the count is the same', () => {
    const cells = new Int32Array(2);
    const throwing: Scenario = {
      setup: () => [
        {
          name: 'thrower',
          steps: (function* (): Steps<void> {
            Atomics.add(cells, 0, 1);
            Atomics.add(cells, 1, 1);
            throw new Error('after two');
          })(),
        },
      ],
      check: () => undefined,
    };
    expect(explore(throwing).violation?.message).toBe('thrower made 2 shared accesses in one step (add, add)');
    const single: Scenario = {
      setup: () => [{ name: 'one', steps: (function* (): Steps<void> { Atomics.add(cells, 0, 1); })() }],
      check: () => undefined,
    };
    const nested = explore({
      setup: () => [{ name: 'outer', steps: (function* (): Steps<unknown> { return explore(single).violation; })() }],
      check: (outcomes) => (outcomes[0].returned === undefined ? undefined : 'the nested run miscounted'),
    });
    expect(nested.violation).toBeUndefined();
  });
});
