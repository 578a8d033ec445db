/**
 * Scenario 11, many attachments of one name: 50,000 attachments released by
 * one detach(name), and 50,000 dropped and released by the collector, in a
 * child process. Not a speed target (the bench's release section measures
 * that): a liveness bound with a wide margin. The child takes about two
 * seconds; when every release walked the name's other attachments, 40,000
 * took 20 seconds here, and 50,000 run past the 15-second bound.
 */
import * as path from 'node:path';
import { runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({});

test('50,000 attachments of one name are released by detach and by the collector, without walking each other', async () => {
  const result = await runChild(path.join(__dirname, 'children', 'release.js'), [scratch.name(), '50000'], undefined, { timeoutMs: 15000 });
  expect({ signal: result.signal, code: result.code, stderr: result.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
  expect(result.messages).toEqual([{ detached: 50000, collected: 50000, left: 4096, creatorNeutered: true }]);
}, 30000);
