/**
 * @shm/sync across real processes: wait / notify, the Mutex (contention and
 * a holder killed with SIGKILL) and the Channel (1,000,000 messages), plus
 * bad input and ordinary memory.
 */
import * as path from 'node:path';
import { fork, ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { ChildResult, runChild, useScratch } from '@shm/test-support';
import { Channel, LIVENESS_INTERVAL_MS, MAX_ASYNC_WAITS, Mutex, notify, wait, waitAsync } from '../src';

const actor = path.join(__dirname, 'fixtures', 'actor.js');
const scratch = useScratch({ posix, sysv });

/** Starts an actor; resolves with its result once it is ready (or has reported). */
function startActor(role: string, args: object, onReady?: (child: ChildProcess) => void): Promise<ChildResult> {
  return runChild(actor, [role, JSON.stringify(args)], (message, child) => {
    if (message === 'ready' || message === 'locked') onReady?.(child);
  }, { timeoutMs: 120_000 });
}

/** An actor's first non-'ready' message. */
const reportOf = (result: ChildResult) => result.messages.find((message) => typeof message === 'object') as any;

const readyPromise = () => {
  let resolve!: (child: ChildProcess) => void;
  const ready = new Promise<ChildProcess>((done) => (resolve = done));
  return { ready, resolve };
};

describe('wait / notify', () => {
  test.each([
    ['POSIX', () => scratch.name(), (key: any) => posix.create(4, 'Int32Array', key)!],
    ['System V', () => scratch.key(), (key: any) => sysv.create(4, 'Int32Array', key)!],
  ])('a waiter in another process (%s) is woken by notify in this one', async (_label, newKey, create) => {
    const key = newKey();
    const cells = create(key);
    const { ready, resolve } = readyPromise();
    const waiter = startActor('waiter', { key, type: 'Int32Array', index: 2, expected: 0 }, resolve);
    await ready;
    await new Promise((done) => setTimeout(done, 100));
    Atomics.store(cells, 2, 1);
    let woken = 0;
    for (let attempt = 0; woken === 0 && attempt < 50; attempt++) {
      woken = notify(cells, 2);
      if (woken === 0) await new Promise((done) => setTimeout(done, 10)); // not asleep yet
    }
    const result = await waiter;
    expect(result.stderr).toBe('');
    expect(woken).toBe(1);
    expect(reportOf(result).result).toMatch(/^(ok|not-equal)$/);
    expect(reportOf(result).elapsedMs).toBeGreaterThanOrEqual(50);
  });

  test('a BigInt64Array cell waits on its whole value and is woken across processes', async () => {
    const key = scratch.name();
    const cells = posix.create(2, 'BigInt64Array', key)!;
    cells[1] = 2n ** 40n; // differs from 0 only in the high half
    const { ready, resolve } = readyPromise();
    const waiter = startActor('waiter', { key, type: 'BigInt64Array', index: 1, expected: String(2n ** 40n) }, resolve);
    await ready;
    await new Promise((done) => setTimeout(done, 50));
    expect(wait(cells, 1, 0n, 10)).toBe('not-equal'); // same low half, different value
    cells[1] = 7n;
    notify(cells, 1);
    expect(reportOf(await waiter).result).toMatch(/^(ok|not-equal)$/);
  });

  test('timeouts are honoured, blocking and async', async () => {
    const cells = posix.create(1, 'Int32Array', scratch.name())!;
    for (const timeoutMs of [0, 30, 120]) {
      let started = performance.now();
      expect(wait(cells, 0, 0, timeoutMs)).toBe('timed-out');
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 1);
      expect(elapsed).toBeLessThan(timeoutMs + 500);
      started = performance.now();
      expect(await waitAsync(cells, 0, 0, timeoutMs)).toBe('timed-out');
      expect(performance.now() - started).toBeGreaterThanOrEqual(timeoutMs - 1);
    }
  });

  test('spin: a change of value during the spin ends the wait at once; otherwise it sleeps as usual', async () => {
    const key = scratch.name();
    const cells = posix.create(4, 'Int32Array', key)!;
    expect(wait(cells, 0, 1, 0, { spin: 100 })).toBe('not-equal');
    expect(wait(cells, 0, 0, 30, { spin: 100 })).toBe('timed-out'); // spun, then slept, then timed out
    const notifier = startActor('notifier', { key, index: 3, delayMs: 100 });
    expect(wait(cells, 3, 0, 10_000, { spin: 1000 })).toBe('ok');
    expect(Atomics.load(cells, 3)).toBe(1);
    await notifier;
    expect(() => wait(cells, 0, 0, 0, { spin: -1 })).toThrow(RangeError);
    expect(() => wait(cells, 0, 0, 0, 'fast' as any)).toThrow(TypeError);
  });

  test("'not-equal' at once when the cell does not hold the expected value", async () => {
    const cells = posix.create(1, 'Int32Array', scratch.name())!;
    cells[0] = 5;
    expect(wait(cells, 0, 4)).toBe('not-equal');
    expect(await waitAsync(cells, 0, 4)).toBe('not-equal');
  });

  test('notify wakes at most count waiters, in every process, and says how many', async () => {
    const key = scratch.name();
    const cells = posix.create(1, 'Int32Array', key)!;
    const readies: Array<Promise<ChildProcess>> = [];
    const waiters = [0, 1, 2].map(() => {
      const { ready, resolve } = readyPromise();
      readies.push(ready);
      return startActor('waiter', { key, type: 'Int32Array', index: 0, expected: 0, timeoutMs: 20_000 }, resolve);
    });
    await Promise.all(readies);
    await new Promise((done) => setTimeout(done, 200)); // all three asleep in the kernel
    expect(notify(cells, 0, 1)).toBe(1);
    expect(notify(cells, 0, 0)).toBe(0);
    expect(notify(cells, 0)).toBe(2);
    for (const result of await Promise.all(waiters)) expect(reportOf(result).result).toBe('ok');
  });

  test('waitAsync leaves the event loop running and is woken from another process', async () => {
    const key = scratch.name();
    const cells = posix.create(4, 'Int32Array', key)!;
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const pending = waitAsync(cells, 3, 0, 10_000);
    const notifier = startActor('notifier', { key, index: 3, delayMs: 150 });
    const started = performance.now();
    expect(await pending).toBe('ok');
    clearInterval(ticker);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    expect(ticks).toBeGreaterThan(5);
    expect(reportOf(await notifier).woken).toBe(1);
  });

  test(`at most MAX_ASYNC_WAITS (${MAX_ASYNC_WAITS}) waitAsync calls pending; one more is rejected, the rest still work`, async () => {
    const cells = posix.create(1, 'Int32Array', scratch.name())!;
    const pending = Array.from({ length: MAX_ASYNC_WAITS }, () => waitAsync(cells, 0, 0, 30_000));
    await expect(waitAsync(cells, 0, 0)).rejects.toMatchObject({ code: 'ERR_SHM_TOO_MANY_WAITS' });
    let woken = 0;
    for (let attempt = 0; woken < MAX_ASYNC_WAITS && attempt < 200; attempt++) {
      woken += notify(cells, 0);
      await new Promise((done) => setTimeout(done, 10));
    }
    expect(woken).toBe(MAX_ASYNC_WAITS);
    expect(new Set(await Promise.all(pending))).toEqual(new Set(['ok']));
    expect(await waitAsync(cells, 0, 0, 1)).toBe('timed-out'); // the slots came back
  });

  test("a worker that ends with waits pending takes them with it; this thread's go on", async () => {
    const key = scratch.name();
    const cells = posix.create(1, 'Int32Array', key)!;
    const worker = new Worker(
      `const sync = require(${JSON.stringify(require.resolve('@shm/sync'))});
       const posix = require(${JSON.stringify(require.resolve('@shm/posix'))});
       const cells = posix.get(${JSON.stringify(key)}, 'Int32Array');
       for (let i = 0; i < 10; i++) sync.waitAsync(cells, 0, 0);
       require('node:worker_threads').parentPort.postMessage('waiting');`,
      { eval: true },
    );
    await new Promise((done) => worker.once('message', done));
    const mine = waitAsync(cells, 0, 0, 10_000);
    const started = performance.now();
    await worker.terminate();
    expect(performance.now() - started).toBeLessThan(2000);
    await new Promise((done) => setTimeout(done, 20));
    expect(notify(cells, 0)).toBe(1); // only this thread's wait was left
    expect(await mine).toBe('ok');
  });

  test('ordinary memory: wait and notify work; waitAsync is refused, as Atomics.waitAsync refuses it', async () => {
    const ordinary = new Int32Array(2);
    expect(wait(ordinary, 0, 0, 20)).toBe('timed-out');
    expect(notify(ordinary, 1)).toBe(0);
    // transfer() or resize() could free it under a pending wait, with nothing told.
    expect(() => waitAsync(ordinary, 1, 0, 5000)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('Received an instance of Int32Array') }),
    );
    const shared = new Int32Array(new SharedArrayBuffer(8));
    expect(wait(shared, 0, 1)).toBe('not-equal');
    const pending = waitAsync(shared, 1, 0, 5000);
    await new Promise((done) => setTimeout(done, 50));
    expect(notify(shared, 1)).toBe(1);
    expect(await pending).toBe('ok');
  });

  describe('bad input is a clear error', () => {
    const cells = () => posix.create(4, 'Int32Array', scratch.name())!;
    test.each([
      ['a Float64Array', () => wait(new Float64Array(2) as any, 0, 0, 0), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['a Uint32Array', () => notify(new Uint32Array(2) as any, 0), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['a plain array', () => waitAsync([0] as any, 0, 0), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['an object given the prototype of an Int32Array', () => waitAsync(Object.setPrototypeOf({}, Int32Array.prototype), 0, 0), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['a Proxy of an Int32Array', () => wait(new Proxy(new Int32Array(2), {}), 0, 1, 0), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['an index past the end', () => wait(cells(), 4, 0, 0), RangeError, 'ERR_OUT_OF_RANGE'],
      ['a negative index', () => notify(cells(), -1), RangeError, 'ERR_OUT_OF_RANGE'],
      ['a fractional index', () => wait(cells(), 1.5, 0, 0), RangeError, 'ERR_OUT_OF_RANGE'],
      ['an index as a string', () => wait(cells(), '1' as any, 0, 0), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['a bigint for an Int32Array', () => wait(cells(), 0, 0n, 0), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['a number for a BigInt64Array', () => wait(new BigInt64Array(1), 0, 0, 0), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['an expected value beyond 32 bits', () => wait(cells(), 0, 2 ** 31, 0), RangeError, 'ERR_OUT_OF_RANGE'],
      ['a negative timeout', () => wait(cells(), 0, 0, -1), RangeError, 'ERR_OUT_OF_RANGE'],
      ['a NaN timeout', () => waitAsync(cells(), 0, 0, Number.NaN), RangeError, 'ERR_OUT_OF_RANGE'],
      ['a negative count', () => notify(cells(), 0, -1), RangeError, 'ERR_OUT_OF_RANGE'],
    ])('%s', (_label, call, errorClass, code) => {
      expect(call).toThrow(errorClass);
      expect(call).toThrow(expect.objectContaining({ code }));
    });

    test('an array whose segment was detached or destroyed', () => {
      const name = scratch.name();
      const array = posix.create(4, 'Int32Array', name)!;
      const mutexMemory = posix.get(name, 'Buffer')!;
      posix.destroy(name);
      for (const call of [() => wait(array, 0, 0, 0), () => waitAsync(array, 0, 0), () => notify(array, 0), () => new Mutex(mutexMemory)]) {
        expect(call).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      }
    });
  });
});

describe('hostile arguments to every export', () => {
  test('each call returns or throws an Error with a code; nothing crashes or blocks', async () => {
    const name = scratch.name();
    const segment = posix.create(Channel.bytesFor(64), 'Buffer', name)!;
    const detached = posix.get(name, 'Int32Array')!;
    posix.detach(name); // neuters `detached` and `segment` alike
    const live = posix.create(Channel.bytesFor(64), 'Buffer', scratch.name())!;
    const values: unknown[] = [
      undefined, null, 0, -0, -1, 1, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, 0n, -1n, 2n ** 64n,
      '', '0', 'x', {}, [], [0], () => 0, Symbol('s'), new Int32Array(0), new Int32Array(2), new BigInt64Array(2),
      new Float64Array(2), new Uint8Array(3), new Uint32Array(2), new DataView(new ArrayBuffer(8)), detached, segment,
      new Int32Array(live.buffer, live.byteOffset, 4), live,
    ];
    // Timeouts that never block: 0, or values refused before any wait.
    const timeouts: unknown[] = [0, -1, NaN, 'x', null, 1e-9, -Infinity];
    const violations: string[] = [];
    let calls = 0;
    const judge = (label: string, error: unknown) => {
      if (!(error instanceof Error && typeof (error as { code?: unknown }).code === 'string')) {
        violations.push(`${label}: ${String(error)}`);
      }
    };
    const attempt = async (label: string, call: () => unknown) => {
      calls++;
      try {
        const result = call();
        if (result instanceof Promise) await result.catch((error) => judge(label, error));
      } catch (error) {
        judge(label, error);
      }
    };
    const show = (value: unknown) => (typeof value === 'symbol' ? 'symbol' : typeof value === 'bigint' ? `${value}n` : Object.prototype.toString.call(value));
    for (const array of values) {
      for (const index of values.slice(0, 20)) {
        await attempt(`notify(${show(array)}, ${show(index)})`, () => notify(array as any, index as any, 0));
        for (const expected of [0, 1n, 'x', 2 ** 40]) {
          for (const timeout of timeouts) {
            await attempt(`wait(${show(array)}, ${show(index)}, ${show(expected)}, ${show(timeout)})`, () => wait(array as any, index as any, expected as any, timeout as any));
          }
          await attempt(`waitAsync(${show(array)}, ${show(index)}, ${show(expected)})`, () => waitAsync(array as any, index as any, expected as any, 0));
        }
      }
      for (const offset of values.slice(0, 20)) {
        await attempt(`new Mutex(${show(array)}, ${show(offset)})`, () => new Mutex(array as any, offset as any).tryLock()?.unlock());
        await attempt(`Channel.create(${show(array)}, ${show(offset)})`, () => Channel.create(array as any, offset as any).receive(0));
        await attempt(`Channel.attach(${show(array)}, ${show(offset)})`, () => Channel.attach(array as any, offset as any));
      }
      const channel = Channel.create(live);
      for (const timeout of timeouts) {
        await attempt(`send(${show(array)}, ${show(timeout)})`, () => channel.send(array as any, timeout as any));
        await attempt(`receive(${show(timeout)})`, () => channel.receive(timeout as any));
      }
    }
    expect(violations).toEqual([]);
    expect(calls).toBeGreaterThan(10_000);
  });
});

describe('Mutex', () => {
  test('4 processes × 25,000 lock / unlock rounds around a plain increment: the count is exact', async () => {
    const key = scratch.name();
    const memory = posix.create(64, 'Buffer', key)!;
    const counter = new Int32Array(memory.buffer, memory.byteOffset + 16, 1);
    const children: ChildProcess[] = [];
    const readies: Array<Promise<ChildProcess>> = [];
    const runs = [0, 1, 2, 3].map(() => {
      const { ready, resolve } = readyPromise();
      readies.push(ready);
      return startActor('counter', { key, rounds: 25_000 }, (child) => {
        children.push(child);
        resolve(child);
      });
    });
    await Promise.all(readies);
    for (const child of children) child.send('go'); // all start together
    const results = await Promise.all(runs);
    for (const result of results) expect(result.stderr).toBe('');
    expect(counter[0]).toBe(100_000);
    expect(new Mutex(memory).tryLock()?.recovered).toBe(false); // left free
  }, 120_000);

  test('a holder killed with SIGKILL does not block the others: they take it, told it was recovered', async () => {
    const key = scratch.name();
    const memory = posix.create(16, 'Buffer', key)!;
    const locked = readyPromise();
    const holder = startActor('holder', { key }, locked.resolve);
    const holderProcess = await locked.ready;
    const waiting = readyPromise();
    const locker = startActor('locker', { key, timeoutMs: 20_000 }, waiting.resolve);
    await waiting.ready;
    const mutex = new Mutex(memory);
    expect(mutex.tryLock()).toBeNull(); // a live holder keeps it
    await new Promise((done) => setTimeout(done, 200));
    holderProcess.kill('SIGKILL');
    await holder;
    const report = reportOf(await locker);
    expect(report.recovered).toBe(true);
    expect(report.waitedMs).toBeLessThan(200 + 5 * LIVENESS_INTERVAL_MS + 1000);
    expect(mutex.lock(1000).recovered).toBe(true); // the locker exited holding it, so it is recovered once more
  });

  test('a worker that ends holding the mutex leaves it recoverable', async () => {
    const key = scratch.name();
    const memory = posix.create(16, 'Buffer', key)!;
    // The worker attaches the segment itself: a Buffer posted to it would arrive as a copy.
    const worker = new Worker(
      `const { Mutex } = require(${JSON.stringify(require.resolve('@shm/sync'))});
       const posix = require(${JSON.stringify(require.resolve('@shm/posix'))});
       const { workerData, parentPort } = require('node:worker_threads');
       new Mutex(posix.get(workerData, 'Buffer')).lock();
       parentPort.postMessage('locked');`,
      { eval: true, workerData: key },
    );
    await new Promise((done) => worker.once('message', done));
    await worker.terminate();
    const guard = new Mutex(memory).lock(5000);
    expect(guard.recovered).toBe(true);
    guard[Symbol.dispose]();
  });

  test('misuse is a clear error: unlock by a non-holder, relock, timeout, bad memory', () => {
    const memory = posix.create(32, 'Buffer', scratch.name())!;
    const mutex = new Mutex(memory, 8);
    expect(() => mutex.unlock()).toThrow(expect.objectContaining({ code: 'ERR_SHM_MUTEX_NOT_OWNER' }));
    const guard = mutex.lock();
    expect(mutex.heldByThisThread).toBe(true);
    expect(() => mutex.lock()).toThrow(expect.objectContaining({ code: 'ERR_SHM_MUTEX_RELOCK' }));
    expect(() => mutex.tryLock()).toThrow(expect.objectContaining({ code: 'ERR_SHM_MUTEX_RELOCK' }));
    guard.unlock();
    guard.unlock(); // a guard unlocks once
    expect(() => new Mutex(memory, 4)).toThrow(RangeError); // not 8-byte aligned
    expect(() => new Mutex(memory, 24)).toThrow(RangeError); // does not fit
    expect(() => new Mutex({} as any)).toThrow(TypeError);
    expect(mutex.withLock(() => 42)).toBe(42);
    expect(() => mutex.withLock(() => { throw new Error('inside'); })).toThrow('inside');
    expect(mutex.heldByThisThread).toBe(false);
  });

  test('lock times out while a live process holds it; lockAsync waits without blocking', async () => {
    const key = scratch.name();
    const memory = posix.create(16, 'Buffer', key)!;
    const locked = readyPromise();
    const holder = startActor('holder', { key }, locked.resolve);
    const holderProcess = await locked.ready;
    const mutex = new Mutex(memory);
    const started = performance.now();
    expect(() => mutex.lock(150)).toThrow(expect.objectContaining({ code: 'ERR_SHM_MUTEX_TIMEOUT' }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    await expect(mutex.lockAsync(50)).rejects.toMatchObject({ code: 'ERR_SHM_MUTEX_TIMEOUT' });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const pending = mutex.lockAsync(10_000);
    setTimeout(() => holderProcess.kill('SIGKILL'), 100);
    const guard = await pending;
    clearInterval(ticker);
    expect(guard.recovered).toBe(true);
    expect(ticks).toBeGreaterThan(5);
    guard.unlock();
    await holder;
  });
});

describe('Channel', () => {
  test('1,000,000 messages of random sizes from one process to another: in order, none lost, same hash', async () => {
    const key = scratch.name();
    const memory = posix.create(Channel.bytesFor(64 * 1024), 'Buffer', key)!;
    Channel.create(memory);
    const { ready, resolve } = readyPromise();
    const consumer = startActor('consumer', { key }, resolve);
    await ready;
    const producer = startActor('producer', { key, count: 1_000_000, seed: 12345, maxBytes: 300 });
    const [sent, received] = await Promise.all([producer, consumer]);
    expect(sent.stderr).toBe('');
    expect(received.stderr).toBe('');
    expect(reportOf(sent).sent).toBe(1_000_000);
    expect(reportOf(received).received).toBe(1_000_000);
    expect(reportOf(received).hash).toBe(reportOf(sent).hash);
  }, 120_000);

  test('async forms in one thread through a small ring: every message, in order', async () => {
    const memory = posix.create(Channel.bytesFor(256), 'Buffer', scratch.name())!;
    const sender = Channel.create(memory);
    const receiver = Channel.attach(memory);
    const count = 5000;
    const sending = (async () => {
      for (let message = 0; message < count; message++) {
        expect(await sender.sendAsync(Buffer.alloc(message % 200, message & 0xff))).toBe(true);
      }
      sender.close();
    })();
    for (let message = 0; message < count; message++) {
      const bytes = (await receiver.receiveAsync())!;
      expect(bytes.length).toBe(message % 200);
      if (bytes.length > 0) expect(bytes[bytes.length - 1]).toBe(message & 0xff);
    }
    await sending;
    expect(await receiver.receiveAsync()).toBeNull();
    expect(receiver.closed).toBe(true);
  });

  test('timeouts, close, sizes and layout are clear', () => {
    const memory = posix.create(Channel.bytesFor(64), 'Buffer', scratch.name())!;
    expect(() => Channel.attach(memory)).toThrow(expect.objectContaining({ code: 'ERR_SHM_CHANNEL_LAYOUT' }));
    const channel = Channel.create(memory);
    expect(channel.capacity).toBe(64);
    expect(channel.maxMessageBytes).toBe(60);
    expect(channel.receive(20)).toBeNull();
    expect(channel.closed).toBe(false);
    expect(() => channel.send(new Uint8Array(61))).toThrow(RangeError);
    expect(() => channel.send('text' as any)).toThrow(TypeError);
    expect(channel.send(new Uint8Array(60))).toBe(true);
    expect(channel.send(new Uint8Array(1), 20)).toBe(false); // full
    expect(channel.receive()!.length).toBe(60);
    expect(channel.send(new Float64Array([1.5]))).toBe(true); // any view: its bytes
    channel.close();
    expect(() => channel.send(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'ERR_SHM_CHANNEL_CLOSED' }));
    expect(new Float64Array(channel.receive()!.buffer)[0]).toBe(1.5); // drained after close
    expect(channel.receive()).toBeNull();
    expect(() => Channel.bytesFor(100)).toThrow(RangeError);
    expect(() => Channel.create(memory, 3)).toThrow(RangeError);
  });
});
