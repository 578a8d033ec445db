/**
 * Scenario 9, termination: 300 workers terminated at random moments while
 * they loop over native calls that throw, in a child process. The process
 * survives every one (before, the first such termination could end it with
 * "terminate called after throwing an instance of 'Napi::Error'").
 */
import * as path from 'node:path';
import { runChild, useScratch } from '@shm/test-support';

useScratch({});

test('300 of 300 workers terminated mid-throw leave the process running', async () => {
  const result = await runChild(path.join(__dirname, 'children', 'terminate.js'), ['300'], undefined, { timeoutMs: 120000 });
  expect({ signal: result.signal, code: result.code, stderr: result.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
  expect(result.messages).toEqual([{ survived: 300 }]);
}, 150000);
