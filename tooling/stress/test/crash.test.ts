/**
 * Scenario 3, a peer that dies: a child killed with SIGKILL in the middle of
 * writing. Everything it wrote before stays readable, System V attach counts
 * drop, POSIX objects stay until destroyed; and what a crashed process leaves
 * behind can be found and removed (the README's leak report).
 */
import * as path from 'node:path';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { removeSegmentsCreatedBy, runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ posix, sysv });

const peer = path.join(__dirname, 'children', 'peer.js');
const CELLS = 1 << 22; // 16 MiB of Int32: the child is still writing when killed

test.each([
  ['@shm/posix', posix.backend, () => scratch.name()],
  ['@shm/sysv', sysv.backend, () => scratch.key()],
] as const)('%s: a writer killed mid-write leaves all it wrote readable', async (moduleName, backend, newKey) => {
  const key = newKey();
  const cells = backend.create(CELLS, 'Int32Array', key as never)!;
  let reported = 0;
  let attachCountWhileAlive = -1;
  const result = await runChild(peer, [moduleName, JSON.stringify(key), 'write-until-killed'], (message, child) => {
    const { written } = message as { written: number };
    if (written >= 64 * 1024 && reported === 0) {
      reported = written;
      if (typeof key === 'number') attachCountWhileAlive = sysv.attachCount(key);
      child.kill('SIGKILL');
    }
  });
  expect(result.signal).toBe('SIGKILL');
  expect(reported).toBeGreaterThan(0);
  for (let i = 0; i < reported; i++) {
    if (cells[i] !== i + 1) throw new Error(`cell ${i} holds ${cells[i]}, not ${i + 1}`);
  }
  if (typeof key === 'number') {
    expect(attachCountWhileAlive).toBe(2);
    expect(sysv.attachCount(key)).toBe(1); // the kernel detached the dead process
  } else {
    expect(posix.listObjects().map((object) => object.name)).toContain(key); // stays until destroyed
    expect(backend.get(key as never, 'Int32Array')![0]).toBe(1);
  }
  expect(backend.destroy(key as never)).toBe(true);
});

test('leak report: what a killed process created is found by the listings and removed', async () => {
  const name = scratch.name();
  let sysvKey = 0;
  const result = await runChild(peer, ['@shm/core', JSON.stringify(name), 'create-and-hang'], (message, child) => {
    sysvKey = (message as { sysvKey: number }).sysvKey;
    child.kill('SIGKILL');
  });
  expect(result.signal).toBe('SIGKILL');
  try {
    // System V: created by a process that is gone, attached by nobody.
    const orphans = sysv.listSegments().filter((segment) => segment.creatorPid === result.pid && segment.attachCount === 0);
    expect(orphans.map((segment) => segment.key)).toEqual([sysvKey]);
    expect(orphans[0]).toMatchObject({ bytes: 16, mode: 0o660 });
    for (const orphan of orphans) expect(sysv.destroy(orphan.key)).toBe(true);
    expect(sysv.listSegments().filter((segment) => segment.creatorPid === result.pid)).toEqual([]);

    // POSIX: the kernel keeps no attach count; the object is found by name (prefix, owner or age).
    const objects = posix.listObjects().filter((object) => object.name === name);
    expect(objects).toHaveLength(1);
    // shm-typed-array's default 660, less the umask the child inherited
    expect(objects[0]).toMatchObject({ bytes: 8 + 16, mode: 0o660 & ~process.umask(), uid: process.getuid!() });
    expect(posix.destroy(objects[0].name)).toBe(true);
  } finally {
    removeSegmentsCreatedBy(result.pid);
  }
});
