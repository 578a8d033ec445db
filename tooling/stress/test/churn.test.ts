/**
 * Scenario 5, churn: 100,000 create / get / destroy rounds per backend
 * (SHM_CHURN_ROUNDS changes the count), in a child process. Afterwards nothing
 * is left in /dev/shm or `ipcs -m`, the books are back to 0, and resident
 * memory grew by less than RSS_GROWTH_BOUND over the rounds.
 */
import * as path from 'node:path';
import { leftoverKeys, leftoverNames, runChild, useScratch } from '@shm/test-support';

const ROUNDS = Number(process.env.SHM_CHURN_ROUNDS ?? 100_000);
/** 16 MiB: a leak of one page a round would be 390 MiB at 100,000 rounds. */
const RSS_GROWTH_BOUND = 16 * 1024 * 1024;

const scratch = useScratch({});

test.each([
  ['@shm/posix', () => scratch.name()],
  ['@shm/sysv', () => scratch.key()],
])(`%s: ${ROUNDS} rounds leave no residue, zero books and bounded memory`, async (moduleName, newKey) => {
  const key = newKey();
  const result = await runChild(path.join(__dirname, 'children', 'churn.js'), [moduleName, JSON.stringify(key), String(ROUNDS)], undefined, {
    timeoutMs: 240000,
  });
  expect({ signal: result.signal, code: result.code, stderr: result.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
  const report = result.messages[0] as { rounds: number; seconds: number; rssGrowth: number; totalSize: number; createdSize: number };
  expect(report.rounds).toBe(ROUNDS);
  expect(report.totalSize).toBe(0);
  expect(report.createdSize).toBe(0);
  expect(report.rssGrowth).toBeLessThan(RSS_GROWTH_BOUND);
  expect(leftoverNames()).toEqual([]);
  expect(leftoverKeys()).toEqual([]);
  console.log(`churn ${moduleName}: ${ROUNDS} rounds in ${report.seconds.toFixed(1)} s, rss growth ${(report.rssGrowth / 1024).toFixed(0)} KiB`);
}, 300000);
