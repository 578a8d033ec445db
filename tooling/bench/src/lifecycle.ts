/**
 * Section 1: lifecycle cycles against the real shm-typed-array 0.1.1. Each
 * round runs both packages side by side in a fresh process (lifecycle-round.ts),
 * alternating which goes first; the ratio is formed within each round.
 */
import type { Config } from './config.js';
import { formatBytes } from './config.js';
import type { Budget, RoundLatencies } from './harness.js';
import { ratio, typicalMs } from './harness.js';
import { CaseSpec, OURS, THEIRS } from './lifecycle-cases.js';
import { originalPackage } from './original.js';
import { request, start, stop } from './processes.js';
import type { Row, Section } from './report.js';
import { withGoal } from './report.js';
import { newKey, newName } from './segments.js';

const RATIO_OF = `${THEIRS} / ${OURS} (time)`;

interface Case {
  label: string;
  spec: Omit<CaseSpec, 'fresh'>;
  budget: Budget;
  /** Whether the like-for-like goal (ratio at least 1) applies. */
  goal: boolean;
  note?: string;
  /** get-detach: the pool process that makes fresh segments for each round. */
  pool?: { backend: 'posix' | 'sysv'; count: number };
  /** Create + destroy cycles of each package before the measured ones (lifecycle-cases.ts warmUp). */
  warmUpCycles?: number;
}

async function runCase(entry: Case, pool: Awaited<ReturnType<typeof start>>): Promise<Row> {
  const latencies: RoundLatencies = new Map([
    [OURS, []],
    [THEIRS, []],
  ]);
  for (let round = 0; round < entry.budget.rounds; round++) {
    let fresh: Array<string | number> | undefined;
    if (entry.pool) {
      await request(pool, { drop: true });
      fresh = await request<Array<string | number>>(pool, { backend: entry.pool.backend, bytes: entry.spec.bytes, count: entry.pool.count });
    }
    const child = await start('lifecycle-round.js');
    try {
      const medians = await request<Record<string, number>>(child, {
        spec: { ...entry.spec, fresh },
        budget: entry.budget,
        reverse: round % 2 === 1,
        warmUpCycles: entry.warmUpCycles,
      });
      latencies.get(OURS)!.push(medians[OURS]);
      latencies.get(THEIRS)!.push(medians[THEIRS]);
    } finally {
      await stop(child);
    }
  }
  const spread = ratio(latencies, THEIRS, OURS);
  return {
    label: entry.label,
    timesMs: { [OURS]: typicalMs(latencies, OURS), [THEIRS]: typicalMs(latencies, THEIRS) },
    ratioOf: RATIO_OF,
    ratio: spread,
    goal: entry.goal ? withGoal(spread, { atLeast: 1 }) : undefined,
    note: entry.note,
  };
}

const TITLE = '1. Lifecycle against shm-typed-array 0.1.1';

export async function lifecycle(config: Config): Promise<Section> {
  if (originalPackage.unavailable) {
    return { id: 'lifecycle', title: TITLE, explanation: `Not compared: ${originalPackage.unavailable}.`, rows: [], unavailable: originalPackage.unavailable };
  }
  // Fixed counts (not a time budget), so that every round gives
  // shm-typed-array the same short history.
  const quick: Budget = { ...config.quick, timeMs: 0, iterations: config.quick.iterations * 25 };
  const slow = config.slow;
  const cases: Case[] = [];
  for (const [backend, fresh] of [
    ['POSIX', newName],
    ['System V', newKey],
  ] as const) {
    for (const bytes of config.lifecycleBytes) {
      const size = formatBytes(bytes);
      const key = fresh();
      const large = bytes > 1024 * 1024;
      cases.push({
        label: `${backend} ${size}: create + destroy`,
        spec: { name: 'create-destroy', key, bytes },
        budget: quick,
        goal: true,
        note: backend === 'POSIX' ? 'reserve: false (both allocate pages lazily)' : undefined,
      });
      cases.push({
        label: `${backend} ${size}: get + detach`,
        spec: { name: 'get-detach', key, bytes },
        budget: quick,
        goal: true,
        note: 'each cycle on a fresh segment',
        pool: { backend: backend === 'POSIX' ? 'posix' : 'sysv', count: 2 * (quick.iterations + quick.warmupIterations + 8) },
      });
      if (backend === 'POSIX') {
        cases.push({
          label: `${backend} ${size}: create + destroy, @shm/core default (reserve)`,
          spec: { name: 'create-destroy-default', key, bytes },
          budget: large ? slow : quick,
          goal: false,
          note: 'reserving pays at create what the first write would',
        });
        cases.push({
          label: `${backend} ${size}: create + write every byte + destroy, defaults`,
          spec: { name: 'create-write-destroy', key, bytes },
          budget: large ? slow : quick,
          goal: false,
          note: 'the reservation is paid back at the first write',
        });
      }
    }
  }
  // The same like-for-like cases once more after a warm-up: the first cycles
  // of a process run in V8's interpreter, where @shm/core's argument checks
  // cost more than once optimised.
  const warmUpCycles = config.smoke ? 200 : 5000;
  for (const entry of cases.filter((candidate) => candidate.goal)) {
    cases.push({
      ...entry,
      label: `${entry.label}, after ${warmUpCycles} warm-up cycles`,
      spec: { ...entry.spec, key: typeof entry.spec.key === 'string' ? newName() : newKey() },
      warmUpCycles,
    });
  }
  const agedCycles = config.smoke ? 1000 : 50000;
  cases.push({
    label: `POSIX 4 KiB: create + destroy, after ${agedCycles} warm-up cycles`,
    spec: { name: 'create-destroy', key: newName(), bytes: 4096 },
    budget: quick,
    goal: false,
    note: "shm-typed-array's records are never removed",
    warmUpCycles: agedCycles,
  });

  const rows: Row[] = [];
  const pool = await start('pool.js');
  try {
    for (const entry of cases) rows.push(await runCase(entry, pool));
  } finally {
    await stop(pool);
  }
  return {
    id: 'lifecycle',
    title: TITLE,
    explanation:
      `Each row times one cycle of each package through the same flat API. Every round runs both packages in a fresh process, ` +
      `alternating which goes first. The ratio is ${RATIO_OF}: above 1 means @shm/core is faster. ` +
      `Goal: at least 1 on every like-for-like row.`,
    rows,
  };
}
