/**
 * Section 4: a full read pass and a full write pass over a Float64Array that
 * lives in shared memory, against the same over an ordinary Float64Array.
 * Every contender runs in a process of its own (access-child.ts), in an
 * order that alternates round by round.
 */
import type { Config } from './config.js';
import { formatBytes } from './config.js';
import type { RoundLatencies } from './harness.js';
import { ratio, typicalMs } from './harness.js';
import { request, start, stop } from './processes.js';
import type { Row, Section } from './report.js';
import { withGoal } from './report.js';

const KINDS = { ordinary: 'ordinary Float64Array', posix: 'shm (POSIX)', sysv: 'shm (System V)' } as const;
const ORDINARY = KINDS.ordinary;

export async function access(config: Config): Promise<Section> {
  const budget = { ...config.quick, timeMs: 0, iterations: config.smoke ? 3 : 15, warmupIterations: config.smoke ? 2 : 20 };
  const rows: Row[] = [];
  for (const pass of ['write', 'read'] as const) {
    const latencies: RoundLatencies = new Map(Object.values(KINDS).map((name) => [name, []]));
    for (let round = 0; round < config.quick.rounds; round++) {
      const kinds = Object.keys(KINDS) as Array<keyof typeof KINDS>;
      for (const kind of round % 2 === 0 ? kinds : kinds.reverse()) {
        const child = await start('access-child.js');
        try {
          const { median } = await request<{ median: number }>(child, { kind, bytes: config.accessBytes, pass, budget });
          latencies.get(KINDS[kind])!.push(median);
        } finally {
          await stop(child);
        }
      }
    }
    for (const shmName of [KINDS.posix, KINDS.sysv]) {
      const spread = ratio(latencies, shmName, ORDINARY);
      rows.push({
        label: `${formatBytes(config.accessBytes)} ${pass} pass: ${shmName}`,
        timesMs: { [shmName]: typicalMs(latencies, shmName), [ORDINARY]: typicalMs(latencies, ORDINARY) },
        ratioOf: `${shmName} / ${ORDINARY} (time)`,
        ratio: spread,
        goal: withGoal(spread, { atMost: 1.1 }),
      });
    }
  }
  return {
    id: 'access',
    title: '4. Access: a Float64Array in shared memory against an ordinary one',
    explanation:
      'One full pass over every element, in optimised code, each array in a process of its own. The ratio is the shm ' +
      "array's time over the ordinary array's; goal: at most 1.1 (V8 compiles both to the same loads and stores: the " +
      "memory is outside V8's heap either way).",
    rows,
    findings: [
      'With all three arrays in one process, whichever array was allocated third ran its write pass up to 40% slower, ' +
        'shared memory or not (an ordinary array marked untransferable was as slow in that place); each array alone in ' +
        'a process runs at the same speed. The rows are therefore measured one process per array.',
    ],
  };
}
