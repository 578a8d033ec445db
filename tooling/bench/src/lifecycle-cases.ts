/**
 * The lifecycle cycles of section 1, by name, as run inside a fresh process
 * for each round (lifecycle-round.ts).
 */
import * as core from '@shm/core';
import type { Contender } from './harness.js';
import { Original, originalPackage } from './original.js';

export const OURS = '@shm/core';
export const THEIRS = 'shm-typed-array';

export type CaseName = 'create-destroy' | 'create-destroy-default' | 'create-write-destroy' | 'get-detach';

export interface CaseSpec {
  name: CaseName;
  /** A POSIX name or a System V key, reused cycle after cycle (create cases). */
  key: string | number;
  bytes: number;
  /** get-detach: segments neither package attached before, one per cycle (see pool.ts). */
  fresh?: Array<string | number>;
}

/** Only ever called where the lifecycle section found the original (lifecycle.ts). */
function theOriginal(): Original {
  if (!originalPackage.module) throw new Error(originalPackage.unavailable);
  return originalPackage.module;
}

export function contenders(spec: CaseSpec): Contender[] {
  const { key, bytes } = spec;
  const original = theOriginal();
  const posix = typeof key === 'string';
  // Like for like: shm-typed-array allocates pages lazily, so ours does too
  // (POSIX reserve: false; System V is always lazy), except in the cases
  // that measure @shm/core's default.
  const lazy = posix ? { reserve: false } : undefined;
  const fresh = spec.fresh ?? [];
  const nextFresh = () => {
    const segment = fresh.pop();
    if (segment === undefined) throw new Error('the pool of fresh segments ran out');
    return segment;
  };
  switch (spec.name) {
    case 'create-destroy':
      return [
        { name: OURS, run: () => (core.create(bytes, 'Buffer', key, undefined, lazy), core.destroy(key)) },
        { name: THEIRS, run: () => (original.create(bytes, 'Buffer', key), original.destroy(key)) },
      ];
    case 'create-destroy-default':
      return [
        { name: OURS, run: () => (core.create(bytes, 'Buffer', key), core.destroy(key)) },
        { name: THEIRS, run: () => (original.create(bytes, 'Buffer', key), original.destroy(key)) },
      ];
    case 'create-write-destroy':
      return [
        { name: OURS, run: () => (core.create(bytes, 'Buffer', key)!.fill(1), core.destroy(key)) },
        { name: THEIRS, run: () => (original.create(bytes, 'Buffer', key)!.fill(1), original.destroy(key)) },
      ];
    case 'get-detach':
      return [
        { name: OURS, run: () => { const segment = nextFresh(); core.get(segment, 'Buffer'); core.detach(segment); } },
        { name: THEIRS, run: () => { const segment = nextFresh(); original.get(segment, 'Buffer'); original.detach(segment); } },
      ];
  }
}

/**
 * Runs `cycles` create + destroy cycles of each package first, so that the
 * measured cycles run optimised code. shm-typed-array 0.1.1 appends a record
 * for every create and get and never removes one, and its detach / destroy
 * scan the records from the first: its cycles also slow down as a process
 * ages, which this shows too.
 */
export function warmUp(cycles: number, key: string | number): void {
  const bytes = 4096; // small, so that a warm-up costs little whatever the measured size
  const lazy = typeof key === 'string' ? { reserve: false } : undefined;
  const original = theOriginal();
  for (let cycle = 0; cycle < cycles; cycle++) {
    core.create(bytes, 'Buffer', key, undefined, lazy);
    core.destroy(key);
    original.create(bytes, 'Buffer', key);
    original.destroy(key);
  }
}
