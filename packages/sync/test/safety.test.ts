/**
 * What @shm/sync promises, each case forced where a race is the cause: a
 * close or a send landing between two steps of the other side (the step is
 * hooked), overlapping async calls, a hostile peer, waits whose memory goes
 * or whose thread is terminated, and a Mutex that only proof of death takes
 * over. (Every interleaving of the protocols: protocols.test.ts.)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { runChild, useScratch } from '@shm/test-support';
import { binding } from '../src/binding';
import { Channel, Mutex, notify, wait, waitAsync } from '../src';

const scratch = useScratch({ posix, sysv });
const peer = path.join(__dirname, 'fixtures', 'mutex-peer.js');
const NOBODY = { uid: 65534, gid: 65534 };
const elapsed = (since: number) => performance.now() - since;
/** The built package, for workers and child processes (they run no TypeScript). */
const SYNC = require.resolve('@shm/sync');

function channelPair(capacity = 256) {
  const name = scratch.name();
  const memory = posix.create(Channel.bytesFor(capacity), 'Uint8Array', name)!;
  return { name, memory, sender: Channel.create(memory), receiver: Channel.attach(memory) };
}

/** Both ends of a Channel of a 64-byte ring over a SharedArrayBuffer: memory no test detaches. */
function sharedChannelPair() {
  const ring = new Uint8Array(new SharedArrayBuffer(Channel.bytesFor(64)));
  return { sender: Channel.create(ring), receiver: Channel.attach(ring) };
}

describe('Channel', () => {
  test('a close that lands between the check and the sleep still ends the receive at once', () => {
    const { sender, receiver } = channelPair();
    const realWait = binding.wait;
    // The receiver decided to sleep; the close comes now, before the kernel call.
    binding.wait = (...args: Parameters<typeof binding.wait>) => {
      binding.wait = realWait;
      sender.close();
      return realWait(...args);
    };
    try {
      const started = performance.now();
      expect(receiver.receive(3000)).toBeNull();
      expect(elapsed(started)).toBeLessThan(1000); // before: it slept its whole timeout
      expect(receiver.closed).toBe(true);
    } finally {
      binding.wait = realWait;
    }
  });

  test("a send and a close between the receiver's two reads never hide the message", () => {
    const { memory, sender, receiver } = channelPair();
    const realLoad = Atomics.load;
    let armed = true;
    // After the receiver has read the write cursor (empty), the sender sends and closes.
    (Atomics as any).load = (array: any, index: number) => {
      const value = realLoad(array, index);
      if (armed && array instanceof Int32Array && array.buffer === memory.buffer && index === 2 && array !== (sender as any).header) {
        armed = false;
        sender.send(Buffer.from('last'));
        sender.close();
      }
      return value;
    };
    try {
      const message = receiver.receive(1000);
      expect(armed).toBe(false);
      expect(message && Buffer.from(message).toString()).toBe('last');
      expect(receiver.receive(1000)).toBeNull();
    } finally {
      (Atomics as any).load = realLoad;
    }
  });

  test('overlapping sendAsync and receiveAsync calls on one object keep every message, once, in order', async () => {
    const { sender, receiver } = channelPair(64); // room for two 'msg n' records: the others wait
    const messages = Array.from({ length: 8 }, (_, index) => `msg${index}`);
    const receives = messages.map(() => receiver.receiveAsync(5000));
    const sends = messages.map((message) => sender.sendAsync(Buffer.from(message), 5000));
    expect(await Promise.all(sends)).toEqual(messages.map(() => true));
    const got = (await Promise.all(receives)).map((message) => Buffer.from(message!).toString());
    expect(got).toEqual(messages);
  });

  test('a blocking call behind a pending async call of its kind is ERR_SHM_BUSY, and the async one goes on', async () => {
    const { sender, receiver } = channelPair();
    const pending = receiver.receiveAsync(5000);
    expect(() => receiver.receive(10)).toThrow(expect.objectContaining({ code: 'ERR_SHM_BUSY' }));
    sender.send(Buffer.from('x'));
    expect(Buffer.from((await pending)!).toString()).toBe('x');
    expect(receiver.receive(0)).toBeNull(); // its turn now: nothing is there
  });

  test('a queued async call keeps its own timeout', async () => {
    const { receiver } = channelPair();
    const first = receiver.receiveAsync(2000);
    const started = performance.now();
    expect(await receiver.receiveAsync(100)).toBeNull(); // its turn never came
    expect(elapsed(started)).toBeLessThan(1500);
    receiver.close();
    expect(await first).toBeNull();
  });

  test('a queued call with a timeout longer than a timer holds waits, never times out at once', async () => {
    const { sender, receiver } = channelPair();
    const first = receiver.receiveAsync(300);
    const second = receiver.receiveAsync(3e9); // over 2^31 - 1 ms: setTimeout would fire at once
    expect(await first).toBeNull();
    sender.send(Buffer.from('late'));
    expect(Buffer.from((await second)!).toString()).toBe('late');
  });

  test('receiveInto fills the bytes given, and leaves a message too long for them in the ring', async () => {
    const { sender, receiver } = channelPair();
    sender.send(Buffer.from('hello'));
    sender.send(Buffer.from('world!'));
    const target = new Uint8Array(8);
    expect(receiver.receiveInto(target)).toBe(5);
    expect(Buffer.from(target.subarray(0, 5)).toString()).toBe('hello');
    expect(() => receiver.receiveInto(new Uint8Array(3))).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', messageBytes: 6 }),
    );
    expect(await receiver.receiveIntoAsync(target)).toBe(6);
    expect(Buffer.from(target.subarray(0, 6)).toString()).toBe('world!');
    sender.close();
    expect(receiver.receiveInto(target)).toBeNull();
  });

  test('a peer that writes a bad length or cursor: ERR_SHM_CHANNEL_CORRUPT, for good; no garbage, no hang', () => {
    const { memory, sender, receiver } = channelPair(256);
    const header = new Int32Array(memory.buffer, memory.byteOffset, 16);
    sender.send(Buffer.from('ok'));
    new Int32Array(memory.buffer, memory.byteOffset + 64, 1)[0] = 3000; // the record now claims 3000 bytes
    const corrupt = expect.objectContaining({ code: 'ERR_SHM_CHANNEL_CORRUPT' });
    for (let round = 0; round < 3; round++) expect(() => receiver.receive(10)).toThrow(corrupt);
    // A read cursor past the write cursor: the sender refuses too, and the receiver.
    Atomics.store(header, 3, Atomics.load(header, 2) + 64);
    expect(() => sender.send(Buffer.from('x'), 10)).toThrow(corrupt);
    expect(() => receiver.receive(10)).toThrow(corrupt);
    // A write cursor that is not a multiple of 4, or too far ahead.
    Atomics.store(header, 3, 0);
    Atomics.store(header, 2, 6);
    expect(() => receiver.receive(10)).toThrow(corrupt);
    Atomics.store(header, 2, 1024);
    expect(() => receiver.receive(10)).toThrow(corrupt);
  });
});

describe('waits', () => {
  test('a timeout too long for the clock waits for ever, as Infinity does: wait, waitAsync, receive', async () => {
    const cells = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const sync = require(workerData.sync);
       const cells = workerData.cells;
       setTimeout(() => { Atomics.store(cells, 0, 1); sync.notify(cells, 0); }, 100);`,
      { eval: true, workerData: { sync: SYNC, cells } },
    );
    const exited = new Promise((resolve) => worker.once('exit', resolve)); // it may end before the wait returns
    expect(wait(cells, 0, 0, Number.MAX_SAFE_INTEGER)).toBe('ok'); // before: EINVAL from futex
    await exited;
    const timer = setTimeout(() => notify(cells, 1), 50);
    expect(await waitAsync(cells, 1, 0, 9.3e12)).toBe('ok');
    clearTimeout(timer);
    const { sender, receiver } = channelPair();
    sender.send(Buffer.from('x'));
    expect(Buffer.from(receiver.receive(Number.MAX_SAFE_INTEGER)!).toString()).toBe('x');
  });

  test('a 64-bit wait is woken by a store that changes only the high half, with its notify', async () => {
    const name = scratch.name();
    const cells = posix.create(1, 'BigInt64Array', name)!;
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const sync = require(workerData.sync);
       const cells = require(workerData.posix).get(workerData.name, 'BigInt64Array');
       parentPort.postMessage('ready');
       parentPort.postMessage(sync.wait(cells, 0, 0n, 5000));`,
      { eval: true, workerData: { sync: SYNC, posix: require.resolve('@shm/posix'), name } },
    );
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const messages: unknown[] = [];
    const result = new Promise((resolve) => worker.on('message', (message) => (messages.push(message), messages.length === 2 && resolve(message))));
    while (messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 200)); // asleep in the kernel by now
    Atomics.store(cells, 0, 1n << 32n); // the low half stays 0
    let woken = 0;
    for (let attempt = 0; woken === 0 && attempt < 100; attempt++) {
      woken = notify(cells, 0);
      if (woken === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await result).toBe('ok');
    await exited;
  });

  test('waitAsync on memory that is then detached ends at once: ERR_INVALID_STATE, never a wait on what comes next', async () => {
    for (const kind of ['POSIX', 'System V']) {
      const key = kind === 'POSIX' ? scratch.name() : scratch.key();
      const cells = (typeof key === 'string' ? posix.create(4, 'Int32Array', key) : sysv.create(4, 'Int32Array', key))!;
      const started = performance.now();
      const pending = waitAsync(cells, 0, 0, 3000);
      typeof key === 'string' ? posix.destroy(key) : sysv.destroy(key);
      await expect(pending).rejects.toEqual(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      expect(elapsed(started)).toBeLessThan(1000); // before: it waited its whole timeout
    }
  });

  test('a pending receiveAsync or lockAsync whose memory is detached ends with ERR_INVALID_STATE, not a bare TypeError', async () => {
    const { name, receiver } = channelPair();
    const receiving = receiver.receiveAsync(3000);
    const mutexName = scratch.name();
    const mutexMemory = posix.create(16, 'Uint8Array', mutexName)!;
    new BigInt64Array(mutexMemory.buffer, 0, 1)[0] = 1n << 40n; // held by an owner no slot names: never recovered
    const locking = new Mutex(mutexMemory).lockAsync(3000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    posix.destroy(name);
    posix.destroy(mutexName);
    const detached = expect.objectContaining({ code: 'ERR_INVALID_STATE' });
    // Both awaited together: either may settle first.
    await Promise.all([expect(receiving).rejects.toEqual(detached), expect(locking).rejects.toEqual(detached)]);
  });

  test('memory that can be freed under a pending wait (an ordinary ArrayBuffer) is refused at the call: no wait reads freed memory', () => {
    // Without futex_waitv, a wait's thread reads a 64-bit cell's high half
    // between slices: after a transfer freed the buffer, that read faulted.
    const script = `
      const sync = require(${JSON.stringify(SYNC)});
      const said = [];
      const ordinary = new ArrayBuffer(64 << 20);
      try { sync.waitAsync(new BigInt64Array(ordinary), 0, 0n, 2000); said.push('pending'); } catch (error) { said.push(error.code); }
      structuredClone(ordinary, { transfer: [ordinary] }); // frees it here, on every line
      globalThis.gc?.();
      const channel = sync.Channel.create(new Uint8Array(1024));
      const growing = new ArrayBuffer(1024, { maxByteLength: 4096 });
      new BigInt64Array(growing, 0, 1)[0] = 1n << 40n; // held by an owner no slot names: lockAsync must wait
      const lock = new sync.Mutex(new Uint8Array(growing));
      Promise.allSettled([channel.receiveAsync(200), lock.lockAsync(200)]).then((results) => {
        for (const result of results) said.push(result.status === 'rejected' ? result.reason.code : 'resolved');
        channel.send(new Uint8Array([7])); // the blocking calls take ordinary memory
        said.push(String(channel.receive(0)[0]));
        setTimeout(() => process.stdout.write(said.join(' ')), 300);
      });`;
    const child = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
      timeout: 20000,
      encoding: 'utf8',
      env: { ...process.env, SHM_SYNC_NO_FUTEX_WAITV: '1' },
    });
    expect({ signal: child.signal, stderr: child.stderr }).toEqual({ signal: null, stderr: '' }); // before: SIGSEGV
    expect(child.stdout).toBe('ERR_INVALID_ARG_TYPE ERR_INVALID_STATE ERR_INVALID_STATE 7');
  });

  test("a segment's mark cannot be forged: an ordinary buffer through makeView, or a call to the binding, is refused at the call", () => {
    // Before, makeView recorded every buffer it was given in a set any
    // script could reach, and the binding trusted JavaScript's check: a
    // forged entry brought the freed-memory crash back.
    const script = `
      const sync = require(${JSON.stringify(SYNC)});
      const { binding } = require(${JSON.stringify(path.join(path.dirname(SYNC), 'binding.js'))});
      const types = require(${JSON.stringify(require.resolve('@shm/types'))});
      const posix = require(${JSON.stringify(require.resolve('@shm/posix'))});
      const said = [];
      const attempt = (call) => { try { call(); said.push('pending'); } catch (error) { said.push(error.code); } };
      const forged = new ArrayBuffer(64 << 20);
      const view = types.makeView(forged, 'BigInt64Array');
      attempt(() => sync.waitAsync(view, 0, 0n, 2000));
      globalThis[Symbol.for('@shm/types.segmentBuffers')]?.add(forged); // where the old mark was kept
      attempt(() => sync.waitAsync(view, 0, 0n, 2000));
      attempt(() => binding.waitAsync(view, 0, 0n, 2000, true));
      attempt(() => binding.waitAsync(new Int32Array(new SharedArrayBuffer(8)), 0, 0, 10, true, new Int32Array(forged), 0, 0));
      structuredClone(forged, { transfer: [forged] }); // frees it here, on every line
      globalThis.gc?.();
      const segment = posix.create(8, 'Int32Array', ${JSON.stringify(scratch.name())});
      attempt(() => sync.waitAsync(segment, 0, 0, 10));
      if (typeof segment.buffer.transfer === 'function') {
        attempt(() => sync.waitAsync(new Int32Array(segment.buffer.transfer()), 0, 0, 10)); // a new buffer: not the segment's
      } else {
        said.push('ERR_INVALID_ARG_TYPE'); // Node 20: no transfer()
      }
      setTimeout(() => { posix.destroyCreated(); process.stdout.write(said.join(' ')); }, 300);`;
    const child = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
      timeout: 20000,
      encoding: 'utf8',
      env: { ...process.env, SHM_SYNC_NO_FUTEX_WAITV: '1' },
    });
    expect({ signal: child.signal, stderr: child.stderr }).toEqual({ signal: null, stderr: '' });
    expect(child.stdout).toBe(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_TYPE', 'pending', 'ERR_INVALID_ARG_TYPE'].join(' '));
  });

  test("a pending receiveAsync whose segment's buffer transfer() moves away ends with ERR_INVALID_STATE, not a bare TypeError", async () => {
    const transfer = (ArrayBuffer.prototype as { transfer?: unknown }).transfer;
    if (typeof transfer !== 'function') {
      expect(process.versions.node.split('.')[0]).toBe('20'); // Node 20 has no transfer(), and copies marked buffers in a transfer list
      return;
    }
    const { memory, receiver } = channelPair();
    const receiving = receiver.receiveAsync(300);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const moved = (memory.buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer(); // no detach of ours: the wait is not told
    expect(moved.byteLength).toBeGreaterThan(0);
    await expect(receiving).rejects.toEqual(expect.objectContaining({ code: 'ERR_INVALID_STATE' })); // before: TypeError, no code
  });

  test('a sendAsync whose message is destroyed while it waits for room sends nothing and says so; the ring stays whole', async () => {
    const { sender, receiver } = sharedChannelPair();
    while (sender.send(new Uint8Array(20).fill(1), 0)); // full
    const messageName = scratch.name();
    const message = posix.create(20, 'Uint8Array', messageName)!;
    message.fill(9);
    const sending = sender.sendAsync(message, 3000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    posix.destroy(messageName);
    expect(receiver.receive(0)).toEqual(new Uint8Array(20).fill(1)); // room, and a notify
    await expect(sending).rejects.toEqual(expect.objectContaining({ code: 'ERR_INVALID_STATE' })); // before: TypeError, no code
    expect(sender.send(new Uint8Array([5, 6]), 0)).toBe(true);
    const rest: Uint8Array[] = [];
    for (let next = receiver.receive(0); next !== null; next = receiver.receive(0)) rest.push(next);
    expect(rest.at(-1)).toEqual(new Uint8Array([5, 6]));
    expect(rest.slice(0, -1).every((each) => each.length === 20 && each.every((byte) => byte === 1))).toBe(true);
  });

  test('a receiveIntoAsync whose target is destroyed while it waits leaves the message in the ring and says so', async () => {
    const { sender, receiver } = sharedChannelPair();
    const targetName = scratch.name();
    const target = posix.create(16, 'Uint8Array', targetName)!;
    const receiving = receiver.receiveIntoAsync(target, 3000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    posix.destroy(targetName);
    sender.send(Buffer.from('kept'));
    await expect(receiving).rejects.toEqual(expect.objectContaining({ code: 'ERR_INVALID_STATE' })); // before: ERR_OUT_OF_RANGE, "does not fit the 0 bytes"
    expect(Buffer.from(receiver.receive(0)!).toString()).toBe('kept');
  });

  test('a call queued behind another of its kind whose message or target goes meanwhile says so: nothing empty is sent, nothing is lost', async () => {
    const { sender, receiver } = sharedChannelPair();
    while (sender.send(new Uint8Array(20).fill(1), 0)); // full
    const [messageName, targetName] = [scratch.name(), scratch.name()];
    const message = posix.create(20, 'Uint8Array', messageName)!;
    message.fill(9);
    const first = sender.sendAsync(new Uint8Array(20).fill(2), 3000); // waits for room
    const queued = sender.sendAsync(message, 3000); // waits for its turn
    await new Promise((resolve) => setTimeout(resolve, 50));
    posix.destroy(messageName);
    const drained: Uint8Array[] = [];
    for (let next = receiver.receive(0); next !== null; next = receiver.receive(0)) drained.push(next);
    expect(await first).toBe(true);
    // Before: the queued send read its message's length after its turn came, found 0, and sent an empty message.
    await expect(queued).rejects.toEqual(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    for (let next = receiver.receive(0); next !== null; next = receiver.receive(0)) drained.push(next);
    expect(drained.map((each) => each.length)).not.toContain(0);
    expect(drained.at(-1)).toEqual(new Uint8Array(20).fill(2));

    const target = posix.create(16, 'Uint8Array', targetName)!;
    const waiting = receiver.receiveAsync(3000); // the ring is empty: waits for a message
    const queuedInto = receiver.receiveIntoAsync(target, 3000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    posix.destroy(targetName);
    sender.send(Buffer.from('one'));
    sender.send(Buffer.from('two'));
    expect(Buffer.from((await waiting)!).toString()).toBe('one');
    // Before: ERR_OUT_OF_RANGE, "does not fit the 0 bytes given".
    await expect(queuedInto).rejects.toEqual(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(Buffer.from(receiver.receive(0)!).toString()).toBe('two'); // left in the ring
  });

  test("calls on an object whose memory went, queued or not, end with ERR_INVALID_STATE, never a bare RangeError", async () => {
    const { name, sender, receiver } = channelPair();
    const mutexName = scratch.name();
    const mutex = new Mutex(posix.create(Mutex.BYTES, 'Uint8Array', mutexName)!);
    const guard = await mutex.lockAsync();
    // One receive waits for a message, one for its turn; both lockAsync calls wait for their turn.
    const pending = [receiver.receiveAsync(3000), receiver.receiveAsync(3000), mutex.lockAsync(3000), mutex.lockAsync(3000)];
    await new Promise((resolve) => setTimeout(resolve, 50));
    posix.destroy(name);
    posix.destroy(mutexName);
    const detached = expect.objectContaining({ code: 'ERR_INVALID_STATE' });
    expect(() => guard.unlock()).toThrow(detached); // and the turn passes on
    const settled = await Promise.allSettled(pending);
    // Before: the queued ones, resumed after their turn, met an empty array: RangeError, no code.
    expect(settled).toEqual(pending.map(() => ({ status: 'rejected', reason: detached })));
    for (const call of [() => sender.send(new Uint8Array(1)), () => receiver.receive(0), () => sender.close(), () => mutex.tryLock(), () => mutex.lock(0)]) {
      expect(call).toThrow(detached);
    }
    await expect(sender.sendAsync(new Uint8Array(1))).rejects.toEqual(detached);
    expect(() => sender.closed).toThrow(detached);
  });

  test("a guard's end where the mutex's memory went says so, once, and passes the turn on", async () => {
    const mutexName = scratch.name();
    const mutex = new Mutex(posix.create(Mutex.BYTES, 'Uint8Array', mutexName)!);
    const guard = await mutex.lockAsync();
    const next = mutex.lockAsync(3000);
    posix.destroy(mutexName);
    const detached = expect.objectContaining({ code: 'ERR_INVALID_STATE' });
    // Memory moved by transfer() stays held where peers see it: a `using` block's end must not be silent.
    expect(() => guard[Symbol.dispose]()).toThrow(detached);
    expect(() => guard[Symbol.dispose]()).not.toThrow(); // once
    await expect(next).rejects.toEqual(detached); // its turn came
    expect(() => mutex.heldByThisThread).toThrow(detached);
  });

  test('an empty receiveInto target whose memory goes while the call waits says so too; the message stays', async () => {
    const { sender, receiver } = sharedChannelPair();
    const targetName = scratch.name();
    const segment = posix.create(16, 'Uint8Array', targetName)!;
    const receiving = receiver.receiveIntoAsync(new Uint8Array(segment.buffer, 0, 0), 3000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    posix.destroy(targetName);
    sender.send(new Uint8Array(0));
    // Before: its length (0) was as given, and the copy met the detached buffer: a bare TypeError.
    await expect(receiving).rejects.toEqual(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(receiver.receive(0)).toEqual(new Uint8Array(0));
  });

  test('notify on a 64-bit cell counts each waiter once', async () => {
    const cells = new BigInt64Array(new SharedArrayBuffer(8));
    const pending = waitAsync(cells, 0, 0n, 5000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(notify(cells, 0)).toBe(1);
    expect(await pending).toBe('ok');
  });

  test('waitAsync with { ref: false } does not keep the process alive', () => {
    const script = `
      const sync = require(${JSON.stringify(SYNC)});
      sync.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000, { ref: false }).then(() => process.exit(3));`;
    const started = performance.now();
    execFileSync(process.execPath, ['-e', script], { timeout: 20000, stdio: 'pipe' });
    expect(elapsed(started)).toBeLessThan(15000);
  });

  test('a worker that alone loaded @shm/sync ends, and the next detach of another thread does not crash', () => {
    // Node 20 unloads an addon with the last thread that loaded it; the
    // backends' range announcements still called @shm/sync's watcher there.
    const name = scratch.name();
    const script = `
      const { Worker } = require('node:worker_threads');
      const posix = require(${JSON.stringify(require.resolve('@shm/posix'))});
      const worker = new Worker(
        "const sync = require(" + JSON.stringify(${JSON.stringify(SYNC)}) + ");" +
        "sync.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);",
        { eval: true });
      worker.once('exit', () => setTimeout(() => {
        const view = posix.create(4096, 'Buffer', ${JSON.stringify(name)});
        posix.destroy(${JSON.stringify(name)});
        process.stdout.write('length after destroy: ' + view.length);
      }, 50));`;
    const child = spawnSync(process.execPath, ['-e', script], { timeout: 20000, encoding: 'utf8' });
    expect({ signal: child.signal, status: child.status, stderr: child.stderr }).toEqual({ signal: null, status: 0, stderr: '' }); // before: SIGSEGV on Node 20
    expect(child.stdout).toBe('length after destroy: 0');
  });

  test('the addon registers no destructor for exit(): the threads of pending waits may still run it', () => {
    // process.exit() with waitAsync calls pending runs static destructors
    // while their threads go on; one that finished then erased itself from
    // a freed set (a rare SIGSEGV, forced here by looking at what exit() runs).
    expect(binding.maxAsyncWaits).toBeGreaterThan(0); // the addon is loaded in this process
    const mapped = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').find((line) => /\/shm_sync[^/]*\.node$/.test(line));
    expect(mapped).toBeDefined();
    const undefinedSymbols = execFileSync('nm', ['-D', '--undefined-only', mapped!.slice(mapped!.indexOf('/'))], { encoding: 'utf8' });
    expect(undefinedSymbols).toMatch(/\bsyscall\b/); // nm read the addon (futex calls go through syscall)
    expect(undefinedSymbols).not.toMatch(/__cxa_atexit/);
  });

  test("the main thread's process.exit() ends, with a worker blocked in wait()", () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const worker = new Worker(
        "const sync = require(" + JSON.stringify(${JSON.stringify(SYNC)}) + ");" +
        "require('node:worker_threads').parentPort.postMessage('blocking');" +
        "sync.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);",
        { eval: true });
      worker.once('message', () => setTimeout(() => process.exit(0), 100));`;
    const started = performance.now();
    execFileSync(process.execPath, ['-e', script], { timeout: 20000, stdio: 'pipe' }); // before: hung, killed by the timeout
    expect(elapsed(started)).toBeLessThan(10000);
  });

  test.each([
    ['wait()', 'sync.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)'],
    ['Channel.receive()', 'sync.Channel.create(new Uint8Array(new SharedArrayBuffer(128))).receive()'],
    ['Channel.send() on a full ring', 'const c = sync.Channel.create(new Uint8Array(new SharedArrayBuffer(128))); for (;;) c.send(new Uint8Array(40));'],
  ])('worker.terminate() ends a worker blocked in %s within milliseconds', async (_label, body) => {
    const worker = new Worker(
      `const sync = require(${JSON.stringify(SYNC)});
       require('node:worker_threads').parentPort.postMessage('blocking');
       ${body}`,
      { eval: true },
    );
    await new Promise((resolve) => worker.once('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 100)); // asleep in the kernel by now
    const started = performance.now();
    await worker.terminate();
    expect(elapsed(started)).toBeLessThan(1000); // before: never
  });
});

describe('Mutex: only proof of death takes a lock over', () => {
  /** A held mutex at byte 0 of a new segment, held by a child process until `release()`. */
  async function heldByChild(options: { pidNamespace?: boolean } = {}) {
    const name = scratch.name();
    posix.create(16, 'Uint8Array', name);
    fs.chmodSync(`/dev/shm${name}`, 0o666); // another user contends too
    let child: ReturnType<typeof spawn>;
    if (options.pidNamespace) {
      // --kill-child: the holder (pid 1 of its namespace) dies with unshare.
      child = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, peer, 'hold', name], {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
    } else {
      child = spawn(process.execPath, [peer, 'hold', name], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    }
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`holder exited (${code}): ${stderr}`)));
    });
    const release = async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };
    return { name, release };
  }

  const contend = async (name: string, role: string, options: { uid?: number; gid?: number } = {}) => {
    const result = await runChild(peer, [role, name], undefined, options);
    expect(result.stderr).toBe('');
    return (result.messages[0] as { result: unknown }).result;
  };

  test('a contender out of file descriptors never takes a live holder\'s lock', async () => {
    const { name, release } = await heldByChild();
    try {
      expect(await contend(name, 'contend-emfile')).toEqual({ code: 'ERR_SHM_MUTEX_TIMEOUT' }); // before: taken, "recovered"
    } finally {
      await release();
    }
  });

  test('a contender that cannot see the holder in /proc (hidepid=2, another user) never takes it', async () => {
    const { name, release } = await heldByChild();
    try {
      const command = `mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid=65534 --regid=65534 --clear-groups "${process.execPath}" "${peer}" contend-stdout ${name}`;
      const output = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', command], { encoding: 'utf8' });
      expect(JSON.parse(output)).toEqual({ code: 'ERR_SHM_MUTEX_TIMEOUT' }); // before: taken every time
    } finally {
      await release();
    }
  });

  test('a holder in another PID namespace keeps its lock, and loses it when it dies', async () => {
    const { name, release } = await heldByChild({ pidNamespace: true });
    const mutex = new Mutex(posix.get(name, 'Uint8Array')!);
    try {
      expect(() => mutex.lock(300)).toThrow(expect.objectContaining({ code: 'ERR_SHM_MUTEX_TIMEOUT' })); // before: taken
    } finally {
      await release();
    }
    const guard = mutex.lock(3000);
    expect(guard.recovered).toBe(true);
    guard.unlock();
  });

  test('a thread whose first lock met EMFILE leaves, when it dies holding a lock, one that is recovered', async () => {
    const name = scratch.name();
    const mutex = new Mutex(posix.create(16, 'Uint8Array', name)!);
    const result = await runChild(peer, ['emfile-then-lock', name]);
    expect(result.stderr).toBe('');
    expect(result.messages).toEqual([{ first: { code: 'EMFILE' }, second: { taken: true, recovered: false } }]);
    const guard = mutex.lock(3000); // before: it never was (the dead thread's token was 0)
    expect(guard.recovered).toBe(true);
    guard.unlock();
  });

  test('overlapping lockAsync calls of one thread queue behind each guard, never ERR_SHM_MUTEX_RELOCK', async () => {
    const mutex = new Mutex(new Uint8Array(Mutex.BYTES));
    const first = await mutex.lockAsync(1000);
    const second = mutex.lockAsync(3000);
    const third = mutex.lockAsync(3000);
    await new Promise((resolve) => setTimeout(resolve, 250)); // past a liveness interval
    first.unlock();
    const next = await Promise.race([second, third]);
    next.unlock();
    const last = await (next === (await second) ? third : second);
    last.unlock();
    expect(mutex.heldByThisThread).toBe(false);
  });

  test('a slot whose generation wraps gives a token, never 0 and never a crash', () => {
    // In a private mount namespace, over a /dev/shm of its own.
    const script = `
      const fs = require('node:fs');
      fs.mkdirSync('/dev/shm/.shm-sync-0', { mode: 0o755 });
      fs.writeFileSync('/dev/shm/.shm-sync-0/0', Buffer.from([0xff, 0xff, 0, 0]));
      const { Mutex } = require(${JSON.stringify(SYNC)});
      const guard = new Mutex(new Uint8Array(16)).tryLock();
      process.stdout.write(JSON.stringify({ taken: guard !== null, generation: fs.readFileSync('/dev/shm/.shm-sync-0/0').readUInt32LE(0) }));`;
    const output = execFileSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs /dev/shm && exec "${process.execPath}" -e "$0"`, script],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(output)).toEqual({ taken: true, generation: 1 });
  });

  test("a FIFO planted as a holder's slot proves nothing and blocks nobody: tryLock is null, lock times out", () => {
    const name = scratch.name();
    posix.create(16, 'Uint8Array', name);
    fs.chmodSync(`/dev/shm${name}`, 0o666);
    // A peer (another user) plants a FIFO in its own slot directory and names it in the owner word.
    const slot = 40000 + (process.pid % 20000);
    const plant = `
      const fs = require('node:fs');
      const directory = '/dev/shm/.shm-sync-65534';
      try { fs.mkdirSync(directory, 0o755); } catch {}
      require('node:child_process').execFileSync('mkfifo', ['-m', '644', directory + '/${slot}']);
      require(${JSON.stringify(require.resolve('@shm/posix'))}).get('${name}').writeBigUInt64LE((65534n << 32n) | (${slot}n << 16n) | 1n, 0);`;
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', plant]);
    try {
      // In a child process with a timeout: before, the contender's open() of the FIFO blocked for ever.
      const contend = `
        const { Mutex } = require(${JSON.stringify(SYNC)});
        const mutex = new Mutex(require(${JSON.stringify(require.resolve('@shm/posix'))}).get('${name}'));
        const tried = mutex.tryLock();
        let locked;
        try { locked = mutex.lock(300); } catch (error) { locked = error.code; }
        process.stdout.write(JSON.stringify({ tried, locked }));`;
      const output = execFileSync(process.execPath, ['-e', contend], { encoding: 'utf8', timeout: 10000 });
      expect(JSON.parse(output)).toEqual({ tried: null, locked: 'ERR_SHM_MUTEX_TIMEOUT' });
    } finally {
      fs.rmSync(`/dev/shm/.shm-sync-65534/${slot}`, { force: true });
    }
  });

  test('an owner word that no slot can name: tryLock is null, lock times out, never a bare RangeError', () => {
    const memory = new Uint8Array(Mutex.BYTES);
    const owner = new BigInt64Array(memory.buffer, 0, 1);
    const mutex = new Mutex(memory);
    for (const word of [0x80000000n, -1n, 0x7fffffff_ffffffffn, 12345n << 32n]) {
      owner[0] = word;
      expect(mutex.tryLock()).toBeNull();
      expect(() => mutex.lock(150)).toThrow(expect.objectContaining({ code: 'ERR_SHM_MUTEX_TIMEOUT' }));
    }
  });
});

describe('without futex_waitv (Linux before 5.16, or a seccomp profile older than it)', () => {
  test('a 64-bit cell whose high half differs is not-equal, and a change of the high half wakes its wait', () => {
    const name = scratch.name();
    const output = execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'fallback-waits.js'), name], {
      env: { ...process.env, SHM_SYNC_NO_FUTEX_WAITV: '1' },
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(JSON.parse(output)).toEqual({
      highHalfDiffers: 'not-equal',
      equalTimesOut: 'timed-out',
      asyncHighHalfDiffers: 'not-equal',
      highHalfChanged: 'ok',
    });
  });
});
