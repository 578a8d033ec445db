/**
 * Section 8: ours against the physical floor. native/floor.c, compiled when
 * the bench runs, makes the same system calls in a C loop (POSIX and System
 * V create + destroy and get + detach, and a futex ping-pong across two
 * processes); floor-child.ts does the same through the packages. Every round
 * runs both in fresh processes, alternating which goes first; the ratio
 * ours / floor is formed within the round. Each cycle row is measured in the
 * first cycles of a process and once warm.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import type { Config } from './config.js';
import { formatBytes } from './config.js';
import { spread } from './harness.js';
import { request, start, stop } from './processes.js';
import type { Row, Section } from './report.js';
import { withGoal } from './report.js';
import { newKey, newName } from './segments.js';

const run = promisify(execFile);
const TITLE = '8. Against the physical floor (the same system calls in C)';
const RATIO_OF = 'ours / floor (time)';
/** Goals on the median ratio: once warm, and in the first cycles of a process. */
const WARM_GOAL = 1.15;
const FIRST_GOAL = 1.3;

interface FloorCase {
  label: string;
  args: string[];
  goal: number;
}

/** Compiles floor.c; the reason when there is no compiler. */
function compile(directory: string): { binary?: string; unavailable?: string } {
  const source = fileURLToPath(new URL('../native/floor.c', import.meta.url));
  const binary = path.join(directory, 'floor');
  try {
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', binary, source, '-lrt'], { stdio: 'pipe' });
    return { binary };
  } catch (error) {
    return { unavailable: `floor.c did not compile (${String((error as Error).message).split('\n')[0]})` };
  }
}

async function floorNs(binary: string, args: string[]): Promise<number> {
  const { stdout } = await run(binary, args);
  return Number(stdout.trim());
}

async function oursNs(args: string[]): Promise<number> {
  const child = await start('floor-child.js');
  try {
    return await request<number>(child, args);
  } finally {
    await stop(child);
  }
}

async function measureCase(binary: string, entry: FloorCase, rounds: number): Promise<Row> {
  const floor: number[] = [];
  const ours: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      floor.push(await floorNs(binary, entry.args));
      ours.push(await oursNs(entry.args));
    } else {
      ours.push(await oursNs(entry.args));
      floor.push(await floorNs(binary, entry.args));
    }
  }
  const ratio = spread(ours.map((value, index) => value / floor[index]));
  return {
    label: entry.label,
    timesMs: { floor: spread(floor).median / 1e6, ours: spread(ours).median / 1e6 },
    ratioOf: RATIO_OF,
    ratio,
    goal: withGoal(ratio, { atMost: entry.goal }),
  };
}

export async function floorSection(config: Config): Promise<Section> {
  const directory = mkdtempSync(path.join(tmpdir(), `shm-bench-${process.pid}-floor-`));
  try {
    const { binary, unavailable } = compile(directory);
    if (!binary) return { id: 'floor', title: TITLE, explanation: `Not measured: ${unavailable}.`, rows: [], unavailable };
    const first = { warm: 0, count: config.smoke ? 20 : 200 };
    const warm = { warm: config.smoke ? 200 : 5000, count: config.smoke ? 200 : 2000 };
    const rows: Row[] = [];
    for (const bytes of config.lifecycleBytes) {
      const size = formatBytes(bytes);
      // The objects the get + detach cycles attach, made once. This process
      // keeps its attachments: a System V detach that leaves no attachment
      // destroys the segment (shm-typed-array's rule).
      const existingName = newName();
      const existingKey = newKey();
      const held = [posix.create(bytes, 'Buffer', existingName, undefined, { reserve: false }), sysv.create(bytes, 'Buffer', existingKey)];
      const cases: Array<[string, string, string]> = [
        ['POSIX', 'posix-create-destroy', newName()],
        ['System V', 'sysv-create-destroy', String(newKey())],
        ['POSIX', 'posix-get-detach', existingName],
        ['System V', 'sysv-get-detach', String(existingKey)],
      ];
      try {
        for (const [backend, which, target] of cases) {
          const what = which.endsWith('create-destroy') ? 'create + destroy' : 'get + detach';
          for (const [phase, budget, goal] of [
            [`first ${first.count} cycles of a process`, first, FIRST_GOAL],
            [`${warm.count} cycles after ${warm.warm} warm-up cycles`, warm, WARM_GOAL],
          ] as const) {
            rows.push(
              await measureCase(
                binary,
                { label: `${backend} ${size}: ${what}, ${phase}`, args: ['cycles', which, target, String(bytes), String(budget.warm), String(budget.count)], goal },
                config.quick.rounds,
              ),
            );
          }
        }
      } finally {
        held.length = 0;
        posix.destroy(existingName);
        sysv.destroy(existingKey);
      }
    }
    const trips = config.smoke ? 200 : 5000;
    rows.push(
      await measureCase(
        binary,
        { label: `futex ping-pong across two processes, ${trips} round trips`, args: ['pingpong', '200', String(trips)], goal: WARM_GOAL },
        config.quick.rounds,
      ),
    );
    return {
      id: 'floor',
      title: TITLE,
      explanation:
        `Each row times the same cycle in a C loop (native/floor.c: only the system calls) and through @shm/posix, @shm/sysv ` +
        `or @shm/sync, each in a fresh process per round, alternating which goes first. The ratio is ${RATIO_OF}: ` +
        `1 is the floor. Goals: at most ${WARM_GOAL} once warm, ${FIRST_GOAL} in the first cycles of a process. ` +
        `POSIX creates are lazy on both sides (reserve: false).`,
      rows,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
