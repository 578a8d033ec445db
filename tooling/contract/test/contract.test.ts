/**
 * The contract every backend meets: the same tests, run against each.
 * Backend quirks are tested in each package's own suite.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { getSystemErrorName } from 'node:util';
import { BufferType, ElementSize, LengthMax, TypeKey } from '@shm/types';
import { runChild, useScratch } from '@shm/test-support';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { subjects } from './subjects';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const typeKeys = Object.keys(BufferType) as TypeKey[];
const peer = path.join(__dirname, 'fixtures', 'peer.js');

/** Lets finalizers scheduled by a collection run. */
async function collectGarbage(): Promise<void> {
  for (let round = 0; round < 4; round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.each(subjects)('$label', (subject) => {
  const { backend, options, overhead } = subject;
  const scratch = useScratch({ posix, sysv });

  test.each(typeKeys)('create(%s) gives that class, the requested length, zeroed bytes', (typeKey) => {
    const key = subject.newKey(scratch);
    const array = backend.create(7, typeKey, key, undefined, options)!;
    const expectedClass = typeKey === 'Buffer' ? Buffer : (globalThis as any)[typeKey];
    expect(array).toBeInstanceOf(expectedClass);
    expect(array.constructor).toBe(expectedClass === Buffer ? Buffer : expectedClass);
    expect(array.length).toBe(7);
    expect(array.byteLength).toBe(7 * ElementSize[typeKey]);
    expect(Array.from(new Uint8Array(array.buffer, array.byteOffset, array.byteLength))).toEqual(
      new Array(7 * ElementSize[typeKey]).fill(0),
    );
  });

  test.each(typeKeys)('get(%s) sees what create wrote; its length is bytes / element size', (typeKey) => {
    const key = subject.newKey(scratch);
    const bytes = backend.create(24, 'Uint8Array', key, undefined, options)!;
    bytes.forEach((_, index) => (bytes[index] = index + 1));
    const view = backend.get(key, typeKey, options)!;
    expect(view.length).toBe(24 / ElementSize[typeKey]);
    expect(Buffer.from(view.buffer, view.byteOffset, view.byteLength)).toEqual(Buffer.from(bytes));
    view[0] = typeof view[0] === 'bigint' ? 0n : 0;
    expect(bytes[0]).toBe(0);
  });

  test('create on a taken key returns null; get on a missing key returns null', () => {
    const key = subject.newKey(scratch);
    expect(backend.create(4, 'Int32Array', key, undefined, options)).not.toBeNull();
    expect(backend.create(4, 'Int32Array', key, undefined, options)).toBeNull();
    expect(backend.get(subject.newKey(scratch), 'Buffer', options)).toBeNull();
  });

  test('counts the bytes mapped now and the bytes created and not destroyed', () => {
    const mapped = backend.getTotalSize();
    const created = backend.getTotalCreatedSize();
    const key = subject.newKey(scratch);
    backend.create(10, 'Float64Array', key, undefined, options);
    expect(backend.getTotalSize() - mapped).toBe(80 + overhead);
    expect(backend.getTotalCreatedSize() - created).toBe(80 + overhead);
    backend.get(key, 'Buffer', options);
    expect(backend.getTotalSize() - mapped).toBe(2 * (80 + overhead));
    expect(backend.getTotalCreatedSize() - created).toBe(80 + overhead); // attaching creates nothing
    expect(backend.destroy(key)).toBe(true);
    expect(backend.getTotalSize()).toBe(mapped);
    expect(backend.getTotalCreatedSize()).toBe(created);
  });

  test('detach neuters every view of every attachment: no data, no crash', () => {
    const key = subject.newKey(scratch);
    const array = backend.create(16, 'Float32Array', key, undefined, options)!;
    const other = backend.get(key, 'Uint32Array', options)!;
    const sub = array.subarray(4, 8);
    const asBuffer = Buffer.from(array.buffer);
    array[5] = 1.5;
    expect(sub[1]).toBe(1.5);

    expect(backend.detach(key)).not.toBe(-1);
    for (const view of [array, other, sub, asBuffer]) {
      expect(view.length).toBe(0);
      expect(view.byteLength).toBe(0);
      expect(view[0]).toBeUndefined();
      view[0] = 42; // a write to a neutered view is dropped
      expect(view[0]).toBeUndefined();
    }
    expect(() => array.fill(1)).toThrow(TypeError); // methods refuse a neutered buffer
    expect(array.buffer.byteLength).toBe(0);
    expect(backend.getTotalSize()).toBe(0);
  });

  test('each get is its own attachment; detach(key) detaches them all', () => {
    const key = subject.newKey(scratch);
    const first = backend.create(4, 'Int32Array', key, undefined, options)!;
    const attachments = [first, backend.get(key, 'Int32Array', options)!, backend.get(key, 'Int32Array', options)!];
    expect(new Set(attachments.map((a) => a.buffer)).size).toBe(3);
    attachments[1][0] = 99;
    expect(attachments[2][0]).toBe(99);
    expect(backend.getTotalSize()).toBe(3 * (16 + overhead));
    backend.detach(key);
    expect(attachments.map((a) => a.length)).toEqual([0, 0, 0]);
    expect(backend.getTotalSize()).toBe(0);
  });

  test('destroy removes the segment for everyone', () => {
    const key = subject.newKey(scratch);
    const array = backend.create(4, 'Buffer', key, undefined, options)!;
    expect(backend.destroy(key)).toBe(true);
    expect(array.length).toBe(0);
    expect(backend.get(key, 'Buffer', options)).toBeNull();
    expect(backend.destroy(key)).toBe(false);
    expect(backend.detach(key)).toBe(-1);
  });

  test('detachAll neuters everything this thread attached', () => {
    const keys = [subject.newKey(scratch), subject.newKey(scratch)];
    const arrays = keys.map((key) => backend.create(8, 'Uint16Array', key, undefined, options)!);
    arrays.push(backend.get(keys[0], 'Uint16Array', options)!);
    backend.detachAll();
    expect(arrays.map((a) => a.length)).toEqual([0, 0, 0]);
    expect(backend.getTotalSize()).toBe(0);
  });

  test('a readonly attachment reads the bytes; a write through it never reaches the segment', () => {
    const key = subject.newKey(scratch);
    const writable = backend.create(4096, 'Uint8Array', key, undefined, options)!;
    writable[0] = 7;
    writable[4095] = 9;
    const readonly = backend.get(key, 'Uint8Array', { ...options, readonly: true })!;
    expect(readonly[0]).toBe(7);
    expect(readonly[4095]).toBe(9);
    writable[1] = 8; // later writes by others are seen
    expect(readonly[1]).toBe(8);
    readonly[0] = 100; // does not crash, does not reach the segment
    expect(writable[0]).toBe(7);
    expect(backend.get(key, 'Uint8Array', options)![0]).toBe(7);
  });

  test('populate maps every page at create and at get; without it pages come at first touch', () => {
    const bytes = 16 * 1024 * 1024;
    // Shared memory's resident pages alone (RssShmem, proc(5)): the
    // process's whole RSS also moves with V8's heap, which a collection
    // during the attach shrank below the bound.
    const shmemResident = () => Number(/^RssShmem:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
    const residentGrowth = (attach: () => unknown): number => {
      const before = shmemResident();
      attach();
      return shmemResident() - before;
    };
    // qemu-user (the linux-arm64 run, tooling/arm64) answers every madvise
    // with success and does nothing: there the pages cannot be seen coming,
    // and only what populate returns is checked.
    const expectPopulated = (growth: number) => {
      if (process.env.SHM_QEMU_USER !== '1') expect(growth).toBeGreaterThan(bytes * 0.9);
    };
    const lazyKey = subject.newKey(scratch);
    expect(residentGrowth(() => backend.create(bytes, 'Buffer', lazyKey, undefined, options))).toBeLessThan(bytes / 4);

    const key = subject.newKey(scratch);
    let created: Buffer | undefined;
    expectPopulated(residentGrowth(() => (created = backend.create(bytes, 'Buffer', key, undefined, { ...options, populate: true })!)));
    created![bytes - 1] = 5;
    for (const attachOptions of [{ populate: true }, { populate: true, readonly: true }]) {
      let attached: Buffer | undefined;
      expectPopulated(residentGrowth(() => (attached = backend.get(key, 'Buffer', { ...options, ...attachOptions })!)));
      expect(attached![bytes - 1]).toBe(5);
    }
    const readonly = backend.get(key, 'Buffer', { ...options, populate: true, readonly: true })!;
    readonly[0] = 1; // still a private copy: populating shared the pages, it did not copy them
    expect(created![0]).toBe(0);
    backend.detach(key);
  });

  test('arrays dropped without detach are unmapped by the garbage collector', async () => {
    const key = subject.newKey(scratch);
    const kept = backend.create(1024, 'Buffer', key, undefined, options)!;
    for (let round = 0; round < 200; round++) backend.get(key, 'Float64Array', options);
    expect(backend.getTotalSize()).toBe(201 * (1024 + overhead));
    await collectGarbage();
    expect(backend.getTotalSize()).toBe(1024 + overhead); // only the array still referenced
    kept[1023] = 1;
    expect(backend.get(key, 'Buffer', options)![1023]).toBe(1);
  });

  describe('rejects bad input with a clear error', () => {
    const key = () => subject.newKey(scratch);
    test.each([
      ['count 0', () => backend.create(0, 'Buffer', key(), undefined, options), RangeError],
      ['count -1', () => backend.create(-1, 'Buffer', key(), undefined, options), RangeError],
      ['count 1.5', () => backend.create(1.5, 'Buffer', key(), undefined, options), RangeError],
      ['count NaN', () => backend.create(Number.NaN, 'Buffer', key(), undefined, options), RangeError],
      ['count above LengthMax', () => backend.create(LengthMax + 1, 'Buffer', key(), undefined, options), RangeError],
      ['bytes above LengthMax', () => backend.create(LengthMax, 'Float64Array', key(), undefined, options), RangeError],
      ['count as a string', () => backend.create('4' as any, 'Buffer', key(), undefined, options), TypeError],
      ['an unknown type key', () => backend.create(4, 'Float16Array' as any, key(), undefined, options), TypeError],
      ['a type key from the prototype', () => backend.create(4, 'toString' as any, key(), undefined, options), TypeError],
      ['a symbol type key', () => backend.get(key(), Symbol('x') as any, options), TypeError],
      ['permissions not octal', () => backend.create(4, 'Buffer', key(), '98', options), TypeError],
      ['permissions above 0o777', () => backend.create(4, 'Buffer', key(), 0o1777, options), RangeError],
      ['options not an object', () => backend.get(key(), 'Buffer', 'readonly' as any), TypeError],
      ['readonly not a boolean', () => backend.get(key(), 'Buffer', { ...options, readonly: 1 }), TypeError],
      ['readonly on create', () => backend.create(4, 'Buffer', key(), undefined, { ...options, readonly: true }), TypeError],
      ['populate not a boolean', () => backend.create(4, 'Buffer', key(), undefined, { ...options, populate: 'yes' }), TypeError],
      ['forceDestroy not a boolean', () => backend.detach(key(), 'yes' as any), TypeError],
      ['an object as key', () => backend.get({} as any, 'Buffer', options), TypeError],
      ['a bigint as key', () => backend.get(5n as any, 'Buffer', options), TypeError],
    ])('%s', (_label, call, errorClass) => {
      expect(call).toThrow(errorClass);
      try {
        call();
      } catch (error) {
        expect((error as { code?: string }).code).toMatch(/^ERR_/);
      }
    });
  });

  test('a peer process reads what this one wrote, and this one reads what it wrote back', async () => {
    const key = subject.newKey(scratch);
    const array = backend.create(8, 'Float64Array', key, '600', options)!;
    array.set([1.5, 2.5, -3, 1e300]);
    const result = await runChild(peer, [subject.moduleName, JSON.stringify(key), 'Float64Array', JSON.stringify(options), 'negate']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.messages).toEqual([{ found: true, before: [1.5, 2.5, -3, 1e300], length: 8, afterDetach: 0 }]);
    expect(Array.from(array.subarray(0, 4))).toEqual([-1.5, -2.5, 3, -1e300]);
  });

  test('a peer without permission gets an fs-style EACCES error naming the segment', async () => {
    const key = subject.newKey(scratch);
    backend.create(8, 'Buffer', key, 0o600, options);
    const result = await runChild(
      peer,
      [subject.moduleName, JSON.stringify(key), 'Buffer', JSON.stringify(options), 'error'],
      undefined,
      { uid: 65534, gid: 65534 },
    );
    expect(result.stderr).toBe('');
    const [report] = result.messages as any[];
    expect(report).toMatchObject({ threw: true, code: 'EACCES', errno: -13 });
    expect(getSystemErrorName(report.errno)).toBe('EACCES');
    if (typeof key === 'string') {
      expect(report).toMatchObject({ syscall: 'shm_open', path: key, message: `EACCES: permission denied, shm_open '${key}'` });
    } else {
      expect(report).toMatchObject({ syscall: 'shmget', key, message: `EACCES: permission denied, shmget ${key}` });
    }
  });

  test('several worker threads attach at once; a worker takes only its own attachments with it', async () => {
    const key = subject.newKey(scratch);
    const counter = backend.create(64, 'Int32Array', key, undefined, options)!;
    const moduleName = require.resolve(subject.moduleName);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const backend = require(workerData.moduleName);
      const view = backend.get(workerData.key, 'Int32Array', workerData.options);
      for (let i = 0; i < 10000; i++) Atomics.add(view, 0, 1);
      view[1 + workerData.index] = workerData.index + 1;
      parentPort.postMessage(backend.getTotalSize());
      if (workerData.index % 2 === 0) backend.detach(workerData.key); // half detach, half just exit
    `;
    const workers = [0, 1, 2, 3].map(
      (index) => new Worker(code, { eval: true, workerData: { moduleName, key, options, index } }),
    );
    const sizes = workers.map(
      (worker) =>
        new Promise<number>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    const exits = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
    expect(await Promise.all(sizes)).toEqual([1, 2, 3, 4].map(() => 256 + overhead)); // each thread counts its own
    await Promise.all(exits);
    expect(Atomics.load(counter, 0)).toBe(40000);
    expect(Array.from(counter.subarray(1, 5))).toEqual([1, 2, 3, 4]);
    expect(counter.length).toBe(64); // the workers' exits left this thread's attachment alone
    expect(backend.getTotalSize()).toBe(256 + overhead);
  });
});
