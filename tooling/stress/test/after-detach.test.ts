/**
 * Scenario 2, use after detach: every way a view can outlive its mapping
 * (detach, destroy, detachAll, subarray, Buffer and DataView views, a worker
 * that exits, the garbage collector), read and written afterwards, in a child
 * process: no crash, only empty views or TypeErrors.
 */
import * as path from 'node:path';
import * as shm from '@shm/core';
import { runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ posix: shm, sysv: shm });

test('views that outlive their mapping never crash the process', async () => {
  const result = await runChild(path.join(__dirname, 'children', 'after-detach.js'), [scratch.name(), String(scratch.key())]);
  expect({ signal: result.signal, code: result.code, stderr: result.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
  const [report] = result.messages as Array<{ cases: string[]; failures: string[] }>;
  expect(report.failures).toEqual([]);
  expect(report.cases).toHaveLength(18);
});
