/**
 * Section 6, measured in a process of its own (in a private IPC namespace
 * when scaling.ts could make one, so that 10,000 System V segments fit):
 * how lifecycle and attach cost grow with the segment size and with the
 * number of segments the process holds.
 * Message in: { config }; message out: { bySize, byCount, notes }.
 */
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { readFileSync } from 'node:fs';
import type { Config } from './config.js';
import type { Contender } from './harness.js';
import { measure, typicalMs } from './harness.js';
import { request, start, stop } from './processes.js';
import { newKey, newName } from './segments.js';

export interface Series {
  name: string;
  /** [x, microseconds per operation] */
  points: Array<[number, number]>;
}

function addPoint(series: Map<string, Series>, name: string, x: number, us: number): void {
  if (!series.has(name)) series.set(name, { name, points: [] });
  series.get(name)!.points.push([x, us]);
}

/** A POSIX object to attach in get + detach cycles: pages unallocated, no attachment kept. */
function posixProbe(bytes: number): string {
  const name = newName();
  posix.create(bytes, 'Buffer', name, undefined, { reserve: false });
  posix.detach(name);
  return name;
}

async function run(config: Config): Promise<{ bySize: Series[]; byCount: Series[]; notes: string[] }> {
  const budget = { rounds: config.smoke ? 1 : 3, timeMs: config.smoke ? 2 : 30, iterations: config.smoke ? 2 : 5, warmupIterations: 1 };
  const notes: string[] = [];
  const pool = await start('pool.js');
  const bySize = new Map<string, Series>();
  const byCount = new Map<string, Series>();
  try {
    for (const bytes of config.scalingBytes) {
      const name = newName();
      const key = newKey();
      const probeName = posixProbe(bytes);
      const [probeKey] = await request<number[]>(pool, { backend: 'sysv', bytes, count: 1 });
      const contenders: Contender[] = [
        { name: 'POSIX create + destroy, lazy', run: () => (posix.create(bytes, 'Buffer', name, undefined, { reserve: false }), posix.destroy(name)) },
        { name: 'POSIX create + destroy, reserve', run: () => (posix.create(bytes, 'Buffer', name), posix.destroy(name)) },
        { name: 'System V create + destroy', run: () => (sysv.create(bytes, 'Buffer', key), sysv.destroy(key)) },
        { name: 'POSIX get + detach', run: () => (posix.get(probeName, 'Buffer'), posix.detach(probeName)) },
        { name: 'System V get + detach', run: () => (sysv.get(probeKey, 'Buffer'), sysv.detach(probeKey)) },
      ];
      const latencies = await measure(contenders, budget);
      for (const { name: series } of contenders) addPoint(bySize, series, bytes, typicalMs(latencies, series) * 1000);
      posix.destroy(probeName);
      await request(pool, { drop: true });
    }

    const heldNames: string[] = [];
    const heldKeys: number[] = [];
    const shmmni = Number(readFileSync('/proc/sys/kernel/shmmni', 'utf8'));
    const name = newName();
    const key = newKey();
    const probeName = posixProbe(4096);
    const [probeKey] = await request<number[]>(pool, { backend: 'sysv', bytes: 4096, count: 1 });
    try {
      for (const count of config.scalingCounts) {
        while (heldNames.length < count) {
          const held = newName();
          posix.create(4096, 'Buffer', held, undefined, { reserve: false });
          heldNames.push(held);
        }
        const sysvFits = count + 8 <= shmmni;
        while (sysvFits && heldKeys.length < count) heldKeys.push(sysv.create(4096, 'Buffer')!.key as number);
        if (!sysvFits) notes.push(`System V at ${count} segments: skipped, SHMMNI is ${shmmni} here.`);
        const contenders: Contender[] = [
          { name: 'POSIX create + destroy', run: () => (posix.create(4096, 'Buffer', name, undefined, { reserve: false }), posix.destroy(name)) },
          { name: 'POSIX get + detach', run: () => (posix.get(probeName, 'Buffer'), posix.detach(probeName)) },
          ...(sysvFits
            ? [
                { name: 'System V create + destroy', run: () => (sysv.create(4096, 'Buffer', key), sysv.destroy(key)) },
                { name: 'System V get + detach', run: () => (sysv.get(probeKey, 'Buffer'), sysv.detach(probeKey)) },
              ]
            : []),
        ];
        const latencies = await measure(contenders, budget);
        for (const { name: series } of contenders) addPoint(byCount, series, count, typicalMs(latencies, series) * 1000);
      }
    } finally {
      for (const held of heldNames) posix.destroy(held);
      for (const held of heldKeys) sysv.destroy(held);
      posix.destroy(probeName);
    }
  } finally {
    await stop(pool);
  }
  return { bySize: [...bySize.values()], byCount: [...byCount.values()], notes };
}

process.once('message', async ({ config }: { config: Config }) => {
  try {
    process.send!(await run(config));
  } catch (error) {
    process.send!({ error: String((error as Error).stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!('ready');
