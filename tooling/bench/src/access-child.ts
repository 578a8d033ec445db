/**
 * One contender of section 4 in a process of its own: allocates its array,
 * runs the pass until optimised, then measures it. In one process, the array
 * allocated third ran up to 40% slower in trials here whatever its kind (a
 * placement or compilation effect of sharing the process, not of the
 * memory): a process each keeps that out of the ratio.
 * Message in: { kind, bytes, pass, budget }; message out: median ms.
 */
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import type { Budget } from './harness.js';
import { measure } from './harness.js';
import { newKey, newName } from './segments.js';

type Kind = 'ordinary' | 'posix' | 'sysv';

const loops = {
  read: new Function('array', 'let sum = 0; for (let i = 0; i < array.length; i++) sum += array[i]; return sum;'),
  write: new Function('array', 'for (let i = 0; i < array.length; i++) array[i] = i * 0.5; return array.length;'),
} as unknown as Record<string, (array: Float64Array) => number>;

process.once('message', async ({ kind, bytes, pass, budget }: { kind: Kind; bytes: number; pass: 'read' | 'write'; budget: Budget }) => {
  const count = bytes / 8;
  const name = newName();
  const key = newKey();
  try {
    // Populated (or filled), so that page faults (section 5) stay out of this measurement.
    const array =
      kind === 'ordinary'
        ? new Float64Array(count).fill(0)
        : kind === 'posix'
          ? posix.create(count, 'Float64Array', name, undefined, { populate: true })!
          : sysv.create(count, 'Float64Array', key, undefined, { populate: true })!;
    const loop = loops[pass];
    const latencies = await measure([{ name: kind, run: () => loop(array) }], { ...budget, rounds: 1 });
    process.send!({ median: latencies.get(kind)![0] });
  } catch (error) {
    process.send!({ error: String((error as Error).stack ?? error) });
  } finally {
    posix.destroy(name);
    sysv.destroy(key);
  }
});
process.on('disconnect', () => process.exit(0));
process.send!('ready');
