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
  /** floor.c's arguments for the same system calls as ours (a cycle case's -same-calls): a second row. */
  sameCallsArgs?: string[];
}

const SAME_CALLS_RATIO_OF = 'ours / the same system calls in C (time)';

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

/**
 * One case, side by side in each round (fresh processes, the order turned
 * each round): the floor, ours, and with sameCallsArgs the C loop of our
 * own system calls. Rows: ours / floor (judged), and ours / the same calls
 * (what Node.js, Node-API and our bookkeeping add; the note says what the
 * guarantees' system calls add to the floor).
 */
async function measureCase(binary: string, entry: FloorCase, rounds: number): Promise<Row[]> {
  const runs: Array<[string, () => Promise<number>]> = [
    ['floor', () => floorNs(binary, entry.args)],
    ['ours', () => oursNs(entry.args)],
  ];
  if (entry.sameCallsArgs) runs.push(['same calls', () => floorNs(binary, entry.sameCallsArgs!)]);
  const times = new Map<string, number[]>(runs.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? runs : [...runs].reverse();
    for (const [name, run] of order) times.get(name)!.push(await run());
  }
  const [floor, ours, same] = ['floor', 'ours', 'same calls'].map((name) => times.get(name) ?? []);
  const ratio = spread(ours.map((value, index) => value / floor[index]));
  const rows: Row[] = [
    {
      label: entry.label,
      timesMs: { floor: spread(floor).median / 1e6, ours: spread(ours).median / 1e6 },
      ratioOf: RATIO_OF,
      ratio,
      goal: withGoal(ratio, { atMost: entry.goal }),
    },
  ];
  if (same.length > 0) {
    const ofFloor = spread(same.map((value, index) => value / floor[index]));
    rows.push({
      label: `${entry.label}: against the same system calls in C`,
      timesMs: { 'same calls in C': spread(same).median / 1e6, ours: spread(ours).median / 1e6 },
      ratioOf: SAME_CALLS_RATIO_OF,
      ratio: spread(ours.map((value, index) => value / same[index])),
      note: `the same calls / floor ${ofFloor.median.toFixed(2)} (${ofFloor.min.toFixed(2)} – ${ofFloor.max.toFixed(2)}): what the guarantees' system calls cost`,
    });
  }
  return rows;
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
            const args = (cycle: string) => ['cycles', cycle, target, String(bytes), String(budget.warm), String(budget.count)];
            const label = `${backend} ${size}: ${what}, ${phase}`;
            // Once warm, also against the same system calls in C: where the rest goes.
            const sameCallsArgs = budget === warm ? args(`${which}-same-calls`) : undefined;
            rows.push(...(await measureCase(binary, { label, args: args(which), goal, sameCallsArgs }, config.quick.rounds)));
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
      ...(await measureCase(
        binary,
        { label: `futex ping-pong across two processes, ${trips} round trips`, args: ['pingpong', '200', String(trips)], goal: WARM_GOAL },
        config.quick.rounds,
      )),
    );
    return {
      id: 'floor',
      title: TITLE,
      explanation:
        `Each row times the same cycle in a C loop (native/floor.c: only the system calls) and through @shm/posix, @shm/sysv ` +
        `or @shm/sync, each in a fresh process per round, alternating which goes first. The ratio is ${RATIO_OF}: ` +
        `1 is the floor. Goals: at most ${WARM_GOAL} once warm, ${FIRST_GOAL} in the first cycles of a process. ` +
        `POSIX creates are lazy on both sides (reserve: false). Once warm, a second row times ours against a C loop of ` +
        `the very system calls ours makes in that cycle (strace), its guarantees' included: a POSIX object made whole ` +
        `before it is named (open(O_TMPFILE) + linkat), the fault guard's sigaction check, and the placeholder that holds ` +
        `a detached range (mmap(MAP_FIXED); its munmap, made once the buffer's finalizers have run after the loop, is left ` +
        `out on both sides). Its ratio is what Node.js, Node-API and our bookkeeping add; its note, what those calls add to the floor.`,
      rows,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
