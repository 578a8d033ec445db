/**
 * A second process that makes fresh segments for get + detach cycles, and
 * holds the System V ones attached.
 *
 * Why fresh segments: shm-typed-array 0.1.1 keeps one record per get and
 * never erases them; its detach(key) takes the first record of the key, which
 * after the first cycle is an already detached one. A second get + detach of
 * the same key therefore leaks the mapping and skips the munmap / shmdt, which
 * is neither correct nor comparable. Each cycle here attaches a segment
 * neither package attached before.
 *
 * Why another process holds them: a System V detach that leaves no attachment
 * destroys the segment (both packages), which a cycle must not pay for.
 *
 * Messages: { backend: 'posix' | 'sysv', bytes, count } -> the keys made;
 * { drop: true } -> destroys them, answers 'dropped'. Exits with its parent.
 */
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';

interface MakeRequest {
  backend: 'posix' | 'sysv';
  bytes: number;
  count: number;
}

let made: Array<string | number> = [];
// The System V attachments themselves: an array the garbage collector took
// would be detached, and the segment would then be destroyed by a detach in
// the parent that finds no attachment left.
let held: Uint8Array[] = [];
let counter = 0;

function make({ backend, bytes, count }: MakeRequest): Array<string | number> {
  const fresh: Array<string | number> = [];
  for (let index = 0; index < count; index++) {
    if (backend === 'posix') {
      const name = `/shm-bench-${process.pid}-pool-${counter++}`;
      // shm-typed-array's layout, which both packages attach through the umbrella.
      posix.create(bytes, 'Buffer', name, 0o600, { layout: 'prefixed', reserve: false });
      fresh.push(name);
    } else {
      const segment = sysv.create(bytes, 'Buffer', null, 0o600)!;
      held.push(segment);
      fresh.push(segment.key as number);
    }
  }
  // This process keeps its System V attachments; POSIX objects need none.
  posix.detachAll();
  made.push(...fresh);
  return fresh;
}

function drop(): void {
  for (const key of made) (typeof key === 'string' ? posix.destroy(key) : sysv.destroy(key));
  made = [];
  held = [];
}

process.on('message', (message: MakeRequest | { drop: true }) => {
  if ('drop' in message) {
    drop();
    process.send!('dropped');
  } else {
    process.send!(make(message));
  }
});
process.on('disconnect', () => {
  drop();
  process.exit(0);
});
process.send!('ready');
