/** How big and how long: the full run, and the smoke run the test command uses so the bench cannot rot. */
import type { Budget } from './harness.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface Config {
  smoke: boolean;
  /** Operations of microseconds to a few milliseconds. */
  quick: Budget;
  /** Operations of tens of milliseconds to seconds. */
  slow: Budget;
  lifecycleBytes: number[];
  transferBytes: number[];
  accessBytes: number;
  firstTouchBytes: number;
  scalingBytes: number[];
  scalingCounts: number[];
}

export const fullConfig: Config = {
  smoke: false,
  quick: { rounds: 7, timeMs: 150, iterations: 20, warmupIterations: 20 },
  slow: { rounds: 5, timeMs: 0, iterations: 3, warmupIterations: 1 },
  lifecycleBytes: [4 * KiB, 64 * MiB],
  transferBytes: [16 * MiB, 256 * MiB],
  accessBytes: 64 * MiB,
  firstTouchBytes: 256 * MiB,
  scalingBytes: [4 * KiB, 64 * KiB, MiB, 16 * MiB, 256 * MiB, GiB],
  scalingCounts: [1, 10, 100, 1000, 10000],
};

export const smokeConfig: Config = {
  smoke: true,
  quick: { rounds: 2, timeMs: 5, iterations: 3, warmupIterations: 1 },
  slow: { rounds: 2, timeMs: 0, iterations: 1, warmupIterations: 0 },
  lifecycleBytes: [4 * KiB, MiB],
  transferBytes: [MiB],
  accessBytes: MiB,
  firstTouchBytes: 4 * MiB,
  scalingBytes: [4 * KiB, MiB],
  scalingCounts: [1, 10],
};

export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${bytes / GiB} GiB`;
  if (bytes >= MiB) return `${bytes / MiB} MiB`;
  if (bytes >= KiB) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}
