/**
 * What every shm test suite needs: keys no other test (or test run) uses,
 * cleanup that happens even when a test fails, and a way to run code in a
 * child process and see a crash as a signal rather than a dead test runner.
 */
import { execFileSync, fork, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Every POSIX name the tests make starts with this, so leftovers are easy to find. */
export const NAME_PREFIX = 'shm-test-';

/** System V keys of the tests: 0x5e000000 .. 0x5effffff, split by process id. */
const KEY_BASE = 0x5e000000;

let counter = 0;

/** A POSIX name no other test or test process uses: '/shm-test-<pid>-<n>'. */
export function uniqueName(): string {
  return `/${NAME_PREFIX}${process.pid}-${++counter}`;
}

/** A System V key no other test process uses (256 keys a process). */
export function uniqueKey(): number {
  counter++;
  return KEY_BASE + ((process.pid & 0xffff) << 8) + (counter & 0xff);
}

/** The part of a backend (or of @shm/core) that cleanup needs. */
export interface Cleaner<Key> {
  detachAll(): number;
  destroy(key: Key): boolean;
}

/**
 * Segments a test made, destroyed by cleanup() whatever the test did. Use
 * `afterEach(() => scratch.cleanup())`. Give it the module instances the test
 * uses, so that their books are cleared too; whatever they fail to destroy is
 * removed directly (shm_unlink through /dev/shm, IPC_RMID through ipcrm).
 */
export class Scratch {
  private readonly names = new Set<string>();
  private readonly keys = new Set<number>();

  constructor(private readonly cleaners: { posix?: Cleaner<string>; sysv?: Cleaner<number> }) {}

  name(): string {
    const name = uniqueName();
    this.names.add(name);
    return name;
  }

  key(): number {
    const key = uniqueKey();
    this.keys.add(key);
    return key;
  }

  /** Adopts a key made elsewhere (a generated System V key). */
  track(key: number | string): void {
    if (typeof key === 'number') this.keys.add(key);
    else this.names.add(key);
  }

  cleanup(): void {
    const { posix, sysv } = this.cleaners;
    posix?.detachAll();
    sysv?.detachAll();
    for (const name of this.names) {
      posix?.destroy(name);
      fs.rmSync(`/dev/shm/${name.slice(1)}`, { force: true });
    }
    for (const key of this.keys) {
      sysv?.destroy(key);
      try {
        execFileSync('ipcrm', ['-M', String(key)], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    this.names.clear();
    this.keys.clear();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Temporary folders of the tests: `tmpDirectory('packaging')` is /tmp/shm-test-packaging-<pid>-XXXXXX. */
export function tmpDirectory(purpose: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${NAME_PREFIX}${purpose}-${process.pid}-`));
}

/** Writes `contents` to `relative` under `root`, making its folders; returns the file's path. */
export function placeFile(root: string, relative: string, contents: string | Buffer): string {
  const file = path.join(root, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, contents);
  return file;
}

/**
 * Removes what earlier test processes left when they were killed before
 * their cleanup ran (a run stopped by a signal, a crashed child): POSIX
 * objects and /tmp folders named after a process that no longer runs, and
 * System V segments in the tests' key range whose creator no longer runs.
 * Only test names and keys: nothing of anyone else's.
 */
export function sweepStale(): void {
  const stalePid = (file: string) => {
    const match = /^shm-test-(?:[a-z]+-)?(\d+)-/.exec(file);
    return match !== null && !isAlive(Number(match[1]));
  };
  for (const file of fs.readdirSync('/dev/shm')) {
    if (stalePid(file)) fs.rmSync(`/dev/shm/${file}`, { force: true });
  }
  for (const file of fs.readdirSync(os.tmpdir())) {
    if (stalePid(file)) fs.rmSync(path.join(os.tmpdir(), file), { recursive: true, force: true });
  }
  // A test-range key names its test process by pid & 0xffff (see uniqueKey):
  // stale when its creator is gone and no running process could own the range
  // (a test may have a short-lived child create a segment for it).
  const rangeOwners = new Set(runningPids().map((pid) => pid & 0xffff));
  for (const segment of systemVSegments()) {
    const inTestRange = (segment.key & 0xff000000) >>> 0 === KEY_BASE;
    if (inTestRange && !isAlive(segment.creator) && !rangeOwners.has((segment.key >>> 8) & 0xffff)) {
      removeSegment(segment.id);
    }
  }
}

/** The pids of every process now, from /proc. */
function runningPids(): number[] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number);
}

/** Every System V segment of the machine, from /proc/sysvipc/shm: key, id and creator pid in one read. */
function systemVSegments(): Array<{ key: number; id: number; creator: number }> {
  const [, ...rows] = fs.readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n');
  return rows.map((row) => {
    const [key, id, , , creator] = row.trim().split(/\s+/);
    return { key: Number(key) >>> 0, id: Number(id), creator: Number(creator) }; // keys are printed signed
  });
}

/** IPC_RMID on a segment id; false if it was gone already. */
function removeSegment(id: number): boolean {
  try {
    execFileSync('ipcrm', ['-m', String(id)], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // removed meanwhile
  }
}

/**
 * The usual set-up of a test file: what killed test processes left removed
 * first, a Scratch cleaned after each test, and a check after all of them
 * that this process left nothing in /dev/shm or `ipcs -m`.
 */
export function useScratch(cleaners: { posix?: Cleaner<string>; sysv?: Cleaner<number> }): Scratch {
  sweepStale();
  const scratch = new Scratch(cleaners);
  afterEach(() => scratch.cleanup());
  afterAll(() => {
    scratch.cleanup();
    expect(leftoverNames()).toEqual([]);
    expect(leftoverKeys()).toEqual([]);
  });
  return scratch;
}

/** Names under /dev/shm that this process's tests made and did not remove. */
export function leftoverNames(): string[] {
  return fs.readdirSync('/dev/shm').filter((file) => file.startsWith(`${NAME_PREFIX}${process.pid}-`));
}

/** System V keys in this process's test range that still exist (from `ipcs -m`). */
export function leftoverKeys(): number[] {
  const low = KEY_BASE + ((process.pid & 0xffff) << 8);
  const output = execFileSync('ipcs', ['-m'], { encoding: 'utf8' });
  return output
    .split('\n')
    .filter((line) => line.startsWith('0x'))
    .map((line) => Number.parseInt(line.split(/\s+/)[0], 16))
    .filter((key) => key >= low && key < low + 256);
}

/**
 * Removes the System V segments that process `pid` created (the kernel keeps
 * each segment's creator pid): what a crashed child made under keys nobody
 * else knows. Returns how many it removed.
 */
export function removeSegmentsCreatedBy(pid: number): number {
  return systemVSegments().filter((segment) => segment.creator === pid && removeSegment(segment.id)).length;
}

export interface ChildResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  messages: unknown[];
  stdout: string;
  stderr: string;
}

/**
 * Forks `script` with `args`, collects what it sends and prints, and
 * resolves when it exits. `onMessage` may answer the child.
 */
export function runChild(
  script: string,
  args: string[] = [],
  onMessage?: (message: unknown, child: ChildProcess) => void,
  options: { uid?: number; gid?: number; timeoutMs?: number } = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = fork(script, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], uid: options.uid, gid: options.gid });
    const result: ChildResult = { pid: child.pid ?? -1, code: null, signal: null, messages: [], stdout: '', stderr: '' };
    child.stdout!.on('data', (chunk) => (result.stdout += chunk));
    child.stderr!.on('data', (chunk) => (result.stderr += chunk));
    child.on('message', (message) => {
      result.messages.push(message);
      onMessage?.(message, child);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      Object.assign(result, { code, signal });
      resolve(result);
    });
  });
}
