/**
 * Names and keys for the segments a bench run makes, and the guarantee that
 * it leaves none behind: everything is tracked, removed at exit, and
 * `leftovers()` lets the run check that nothing it created survives.
 */
import { readdirSync } from 'node:fs';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';

const NAME_PREFIX = `shm-bench-${process.pid}-`;
const names = new Set<string>();
const keys = new Set<number>();
let counter = 0;

/** A fresh POSIX name, removed at exit if still there. */
export function newName(): string {
  const name = `/${NAME_PREFIX}${counter++}`;
  names.add(name);
  return name;
}

/** A System V key no segment has now, removed at exit if a segment takes it. */
export function newKey(): number {
  for (;;) {
    const key = 0x10000000 + Math.floor(Math.random() * 0x60000000);
    if (!keys.has(key) && sysv.attachCount(key) === -1) {
      keys.add(key);
      return key;
    }
  }
}

/** Destroys whatever of the tracked names and keys still exists. */
export function removeAll(): void {
  for (const name of names) posix.destroy(name);
  for (const key of keys) sysv.destroy(key);
  names.clear();
  keys.clear();
}

/** Segments this process created that still exist: POSIX names with its prefix, System V segments with its pid as creator. */
export function leftovers(): string[] {
  const objects = readdirSync('/dev/shm').filter((entry) => entry.startsWith(NAME_PREFIX));
  const segments = sysv
    .listSegments()
    .filter((segment) => segment.creatorPid === process.pid)
    .map((segment) => `System V key ${segment.key} (id ${segment.id}, ${segment.attachCount} attached, last pid ${segment.lastPid})`);
  return [...objects.map((entry) => `/dev/shm/${entry}`), ...segments];
}

process.on('exit', removeAll);
