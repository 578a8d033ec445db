/**
 * One measurement of the release section (release.ts), in a fresh process:
 *   release-child.js <name> <attachments> detach|collect
 * Maps `attachments` attachments of one POSIX object, then releases them all:
 * `detach` with one detach(name); `collect` by dropping them and letting the
 * garbage collector and the event loop release them. Sends the nanoseconds
 * per attachment released.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as posix from '@shm/posix';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function measure(name: string, attachments: number, how: string): Promise<number> {
  const creator = posix.create(4096, 'Buffer', name)!;
  let held: Buffer[] = [];
  for (let index = 0; index < attachments; index++) held.push(posix.get(name)!);
  const started = process.hrtime.bigint();
  if (how === 'detach') {
    posix.detach(name);
  } else {
    held = [];
    while (posix.getTotalSize() > creator.length) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const ns = Number(process.hrtime.bigint() - started) / attachments;
  if (held.length > 0 && held[0].length !== 0) throw new Error('detach left a view attached');
  posix.destroy(name);
  return ns;
}

process.once('message', async ([name, attachments, how]: [string, number, string]) => {
  try {
    process.send!(await measure(name, attachments, how));
  } catch (error) {
    process.send!({ error: String((error as Error).stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!('ready');
