/**
 * Scenario 4, concurrency across processes and threads: exact totals of
 * Atomics.add from 4 processes, and no torn aligned 32-bit values while 4
 * processes and 4 worker threads read and write one segment at once.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ posix, sysv });

const peer = path.join(__dirname, 'children', 'peer.js');
const ITERATIONS = 1_000_000;

const backends = [
  { label: 'POSIX', moduleName: '@shm/posix', backend: posix.backend, newKey: () => scratch.name() },
  { label: 'System V', moduleName: '@shm/sysv', backend: sysv.backend, newKey: () => scratch.key() },
] as const;

/** Runs readers and writers in 4 processes and 4 worker threads; returns the torn values each reader saw. */
async function tearTest(moduleName: string, key: number | string, writerRole: 'writer' | 'split-writer') {
  const iterations = String(5_000_000);
  const parties = '8'; // all start together at the barrier in cell 0
  const roles = [writerRole, 'reader', writerRole, 'reader'];
  const processes = roles.map((role) => runChild(peer, [moduleName, JSON.stringify(key), 'tear', role, iterations, parties]));
  const threads = roles.map(
    (role, index) =>
      new Promise<number>((resolve, reject) => {
        const worker = new Worker(
          `const { parentPort, workerData: d } = require('node:worker_threads');
           const backend = require(d.moduleName);
           const view = backend.get(d.key, 'Uint32Array');
           parentPort.postMessage(require(d.tear).run(view, d.role, d.iterations, 7919 * (d.index + 1), 8));`,
          {
            eval: true,
            workerData: { moduleName: require.resolve(moduleName), key, role, index, iterations: Number(iterations), tear: path.join(__dirname, 'children', 'tear.js') },
          },
        );
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
  );
  const results = await Promise.all(processes);
  for (const result of results) expect({ signal: result.signal, code: result.code }).toEqual({ signal: null, code: 0 });
  const torn = [...results.map((result) => (result.messages[0] as { torn: number }).torn), ...(await Promise.all(threads))];
  return roles.flatMap((role, index) => (role === 'reader' ? [torn[index], torn[index + 4]] : []));
}

describe.each(backends)('$label', ({ moduleName, backend, newKey }) => {
  test.each(['Int32Array', 'BigInt64Array'] as const)(
    `4 processes x ${ITERATIONS} Atomics.add on one %s cell: the total is exact`,
    async (typeKey) => {
      const key = newKey();
      const cells = backend.create(8, typeKey, key as never)!;
      const runs = [0, 1, 2, 3].map(() =>
        runChild(peer, [moduleName, JSON.stringify(key), 'add', typeKey, String(ITERATIONS), '3']),
      );
      for (const result of await Promise.all(runs)) {
        expect({ signal: result.signal, code: result.code, stderr: result.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
      }
      expect(cells[3]).toBe(typeKey === 'BigInt64Array' ? BigInt(4 * ITERATIONS) : 4 * ITERATIONS);
      expect(cells[2]).toBe(typeKey === 'BigInt64Array' ? 0n : 0); // neighbours untouched
    },
    120000,
  );

  test('4 processes and 4 worker threads read and write at once: no torn 32-bit value, no crash', async () => {
    const key = newKey();
    backend.create(1024, 'Uint32Array', key as never);
    expect(await tearTest(moduleName, key, 'writer')).toEqual([0, 0, 0, 0]);
  }, 120000);

  test('control: the readers do catch values written as two separate halves', async () => {
    const key = newKey();
    backend.create(1024, 'Uint32Array', key as never);
    const torn = await tearTest(moduleName, key, 'split-writer');
    expect(torn.reduce((sum, count) => sum + count, 0)).toBeGreaterThan(0);
  }, 120000);
});
