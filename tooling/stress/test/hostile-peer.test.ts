/**
 * Scenario 10, hostile peers and exhausted limits, in a child process: a
 * peer that shrinks a mapped POSIX object (reads see zeros, the next call
 * reports ERR_SHM_TRUNCATED), writes over a large read-only System V view
 * (one private copy, not a mapping per page), two threads writing one page
 * of such a view at once, what the kernel can write into a read-only view of
 * each backend, and a loop of get() that runs out of mappings. No case may
 * end the process with a signal.
 */
import * as path from 'node:path';
import * as shm from '@shm/core';
import { runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ posix: shm, sysv: shm });

test('hostile peers and exhausted mappings never crash the process', async () => {
  const result = await runChild(path.join(__dirname, 'children', 'hostile-peer.js'), [scratch.name(), String(scratch.key())], undefined, {
    timeoutMs: 120000,
  });
  expect({ signal: result.signal, code: result.code, stderr: result.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
  const [report] = result.messages as Array<{ cases: string[]; failures: string[] }>;
  expect(report.failures).toEqual([]);
  expect(report.cases).toHaveLength(19);
}, 150000);
