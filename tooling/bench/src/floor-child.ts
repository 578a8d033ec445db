/**
 * Our side of the floor section (floor.ts), in a fresh process per round:
 * the same cycles and round trips as native/floor.c, through @shm/posix,
 * @shm/sysv and @shm/sync. Arguments and output are floor.c's:
 *   floor-child.js cycles <case> <name|key> <bytes> <warm-up> <count>
 *   floor-child.js pingpong <warm-up> <count>
 * Sends the mean nanoseconds of one timed cycle (or round trip).
 */
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { notify, wait } from '@shm/sync';
import { start, stop } from './processes.js';
import { newName } from './segments.js';

// Like for like: the C loop allocates pages lazily, so ours does too.
const LAZY = { reserve: false };

function cycleOf(which: string, target: string, bytes: number): () => void {
  switch (which) {
    case 'posix-create-destroy':
      return () => (posix.create(bytes, 'Buffer', target, undefined, LAZY), posix.destroy(target));
    case 'posix-get-detach':
      return () => (posix.get(target, 'Buffer'), posix.detach(target));
    case 'sysv-create-destroy':
      return () => (sysv.create(bytes, 'Buffer', Number(target)), sysv.destroy(Number(target)));
    case 'sysv-get-detach':
      return () => (sysv.get(Number(target), 'Buffer'), sysv.detach(Number(target)));
    default:
      throw new Error(`unknown case ${which}`);
  }
}

function timeCycles(run: () => void, warm: number, count: number): number {
  for (let n = 0; n < warm; n++) run();
  const started = process.hrtime.bigint();
  for (let n = 0; n < count; n++) run();
  return Number(process.hrtime.bigint() - started) / count;
}

/** Round trips with a peer process (sync-peer.js futex-echo), as floor.c's pingpong. */
async function timePingPong(warm: number, count: number): Promise<number> {
  const name = newName();
  const cells = posix.create(2, 'Int32Array', name)!;
  const peer = await start('sync-peer.js', ['futex-echo', name, '0']);
  try {
    let started = 0n;
    for (let value = 1; value <= warm + count; value++) {
      if (value === warm + 1) started = process.hrtime.bigint();
      Atomics.store(cells, 0, value);
      notify(cells, 0);
      while (Atomics.load(cells, 1) !== value) wait(cells, 1, Atomics.load(cells, 1), 1000);
    }
    return Number(process.hrtime.bigint() - started) / count;
  } finally {
    Atomics.store(cells, 0, -1);
    notify(cells, 0);
    await stop(peer);
    posix.destroy(name);
  }
}

process.once('message', async (args: string[]) => {
  try {
    const [mode, ...rest] = args;
    const ns =
      mode === 'pingpong'
        ? await timePingPong(Number(rest[0]), Number(rest[1]))
        : timeCycles(cycleOf(rest[0], rest[1], Number(rest[2])), Number(rest[3]), Number(rest[4]));
    process.send!(ns);
  } catch (error) {
    process.send!({ error: String((error as Error).stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!('ready');
