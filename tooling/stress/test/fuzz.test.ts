/**
 * Scenario 1, hostile input: 20,000+ calls with arbitrary values to every
 * exported function of the three runtime packages, in a child process,
 * interleaved with a hostile peer's truncations, touches of every view still
 * held, moves with ArrayBuffer.prototype.transfer() and writes through
 * read-only views. Only a normal return or a clean Error is allowed; no
 * crash, no hang, no residue.
 * SHM_FUZZ_RUNS raises the count for long runs.
 */
import * as path from 'node:path';
import { removeSegmentsCreatedBy, runChild, useScratch } from '@shm/test-support';

const runs = Number(process.env.SHM_FUZZ_RUNS ?? 20000);
const scratch = useScratch({});

test(`${runs} hostile calls: only returns and clean errors, no crash, no hang, nothing left`, async () => {
  const pool = { names: [0, 1, 2, 3].map(() => scratch.name()), keys: [0, 1, 2, 3].map(() => scratch.key()) };
  const seed = Date.now() % 2 ** 31;
  const result = await runChild(
    path.join(__dirname, 'children', 'fuzz.js'),
    [String(runs), String(seed), JSON.stringify(pool)],
    undefined,
    { timeoutMs: 240000 },
  );
  // Segments under generated keys, should the child have died before its own cleanup.
  const stranded = removeSegmentsCreatedBy(result.pid);
  expect({ signal: result.signal, code: result.code, stderr: result.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
  const [report] = result.messages as Array<{ calls: number; outcomes: Record<string, number>; violations: unknown[] }>;
  if (report.violations.length > 0) console.error(`seed ${seed}`, report.violations);
  expect(report.violations).toEqual([]);
  expect(report.calls).toBeGreaterThanOrEqual(runs);
  expect(stranded).toBe(0); // the child cleaned up after itself
  // The fuzz reached both sides: calls that worked and calls that were refused.
  expect(report.outcomes.returned).toBeGreaterThan(runs / 20);
  expect(report.outcomes['TypeError:ERR_INVALID_ARG_TYPE']).toBeGreaterThan(0);
  expect(report.outcomes['RangeError:ERR_OUT_OF_RANGE']).toBeGreaterThan(0);
  // The hostile peer's truncations met views and were reported (80-110 a run of 20,000).
  expect(report.outcomes['Error:ERR_SHM_TRUNCATED']).toBeGreaterThan(0);
  console.log(`fuzz: ${report.calls} calls, seed ${seed}`, report.outcomes);
}, 300000);
