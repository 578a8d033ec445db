/** What only the System V backend does: keys, attach counts, destruction rules, read-only pages, C interop. */
import { execFileSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sysv from '@shm/sysv';
import { runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ sysv });

const { attachCount } = sysv;

/** A child process that holds an attachment of `key` until released. */
async function holdInChild(key: number): Promise<{ release: () => Promise<void> }> {
  let child: ChildProcess | undefined;
  let attached!: (message: unknown) => void;
  const ready = new Promise<unknown>((resolve) => (attached = resolve));
  const exited = runChild(path.join(__dirname, 'fixtures', 'holder.js'), [String(key)], (message, process) => {
    child = process;
    attached(message);
  });
  // A child that found no segment would hold nothing: every count after would be off by one.
  expect(await ready).toEqual({ attached: true });
  return {
    release: async () => {
      child!.send('go');
      await exited;
    },
  };
}

describe('keys', () => {
  test('create without a key picks a free one and reports it in .key', () => {
    const array = sysv.create(16)!;
    scratch.track(array.key!);
    expect(Number.isSafeInteger(array.key)).toBe(true);
    expect(array.key).toBeGreaterThanOrEqual(sysv.KEY_MIN);
    expect(array.key).toBeLessThanOrEqual(sysv.KEY_MAX);
    array[3] = 9;
    expect(sysv.get(array.key!)![3]).toBe(9);
    expect(sysv.create(16, 'Buffer', null)!.key).not.toBe(array.key);
  });

  test.each([0, -1, 2 ** 32 - 1, 2 ** 32, 1.5, Number.NaN, Infinity])('refuses key %p with a RangeError', (key) => {
    expect(() => sysv.create(1, 'Buffer', key)).toThrow(RangeError);
    expect(() => sysv.get(key)).toThrow(RangeError);
    expect(() => sysv.detach(key)).toThrow(RangeError);
  });

  test('get results carry .key too', () => {
    const key = scratch.key();
    sysv.create(1, 'Buffer', key);
    expect(sysv.get(key)!.key).toBe(key);
  });
});

describe('attach counts and destruction', () => {
  test('detach returns the attach count left and destroys the segment with its last attachment', async () => {
    const key = scratch.key();
    // Held in variables: an attachment nobody references may be collected
    // (and detached) whenever the event loop turns, as it does while the child starts.
    const attachments = [sysv.create(8, 'Buffer', key), sysv.get(key)];
    expect(attachCount(key)).toBe(2);
    const holder = await holdInChild(key);
    expect(attachCount(key)).toBe(3);
    expect(sysv.detach(key)).toBe(1); // both of this process's attachments went; the child's stays
    expect(attachments.map((array) => array!.length)).toEqual([0, 0]);
    expect(sysv.get(key)).not.toBeNull(); // still there
    await holder.release();
    expect(sysv.detach(key)).toBe(0); // the last attachment: destroyed
    expect(attachCount(key)).toBe(-1);
    expect(sysv.getTotalCreatedSize()).toBe(0);
  });

  test('forceDestroy removes the segment even while others attach it', async () => {
    const key = scratch.key();
    const array = sysv.create(8, 'Buffer', key)!;
    const holder = await holdInChild(key);
    expect(sysv.detach(key, true)).toBe(0);
    expect(array.length).toBe(0);
    expect(sysv.get(key)).toBeNull(); // marked for removal: no new attachments
    await holder.release();
    expect(attachCount(key)).toBe(-1);
  });

  test('detach of a key this process never attached is -1, unless forced', () => {
    const key = scratch.key();
    sysv.create(8, 'Buffer', key);
    const other = scratch.key();
    expect(sysv.detach(other)).toBe(-1);
    expect(sysv.detach(other, true)).toBe(-1); // does not exist
  });

  test('detachAll destroys the segments no process attaches any more, and counts them', async () => {
    const [lonely, shared] = [scratch.key(), scratch.key()];
    sysv.create(8, 'Buffer', lonely);
    sysv.create(8, 'Buffer', shared);
    const holder = await holdInChild(shared);
    expect(sysv.detachAll()).toBe(1);
    expect(attachCount(lonely)).toBe(-1);
    expect(attachCount(shared)).toBe(1);
    await holder.release();
    expect(sysv.detachAll()).toBe(1); // the process still knows it: now unattached, destroyed
  });
});

describe('read-only attachments', () => {
  test('the first write turns the whole view into a private copy, which leaves the segment', () => {
    const key = scratch.key();
    const writable = sysv.create(3 * 4096, 'Uint8Array', key)!;
    writable.fill(1);
    const readonly = sysv.get(key, 'Uint8Array', { readonly: true })!;
    writable[0] = 5;
    expect(readonly[0]).toBe(5); // before any write it follows the segment
    expect(attachCount(key)).toBe(2);
    readonly[4096 + 10] = 200; // the whole view becomes a private copy of its bytes
    expect(readonly[4096 + 10]).toBe(200);
    expect(readonly[4096 + 11]).toBe(1); // the copy kept every byte
    expect(readonly[0]).toBe(5);
    expect(writable[4096 + 10]).toBe(1); // the segment never changes
    expect(attachCount(key)).toBe(1); // the copy is no attachment of the segment
    writable[0] = 6;
    writable[2 * 4096] = 6;
    expect(readonly[0]).toBe(5); // and no page of it follows the segment any more
    expect(readonly[2 * 4096]).toBe(1);
    sysv.detach(key);
    expect(readonly.length).toBe(0);
    expect(attachCount(key)).toBe(-1); // the last attachment went: the segment with it
  });

  test('read permission is enough', async () => {
    const key = scratch.key();
    sysv.create(4, 'Buffer', key, 0o644)!.set([1, 2, 3, 4]);
    const script = path.join(os.tmpdir(), `shm-readonly-${process.pid}.js`);
    fs.writeFileSync(
      script,
      `const sysv = require(${JSON.stringify(require.resolve('@shm/sysv'))});
       let writable; try { sysv.get(${key}); } catch (error) { writable = error.code; }
       const view = sysv.get(${key}, 'Buffer', { readonly: true });
       view[0] = 99;
       process.send({ writable, bytes: [...view] }, () => process.exit(0));`,
    );
    fs.chmodSync(script, 0o644);
    try {
      const result = await runChild(script, [], undefined, { uid: 65534, gid: 65534 });
      expect(result.stderr).toBe('');
      expect(result.messages).toEqual([{ writable: 'EACCES', bytes: [99, 2, 3, 4] }]);
      expect(sysv.get(key)![0]).toBe(1);
    } finally {
      fs.rmSync(script);
    }
  });

  test('a fault outside read-only attachments still kills the process (the handler chains)', () => {
    const result = require('node:child_process').spawnSync(process.execPath, [
      '-e',
      `const sysv = require(${JSON.stringify(require.resolve('@shm/sysv'))});
       const key = ${scratch.key()};
       sysv.create(1, 'Buffer', key); sysv.get(key, 'Buffer', { readonly: true }); sysv.destroy(key);
       process.kill(process.pid, 'SIGSEGV');`,
    ]);
    expect(result.signal).toBe('SIGSEGV');
  });
});

describe('a C program', () => {
  let peer: string;
  beforeAll(() => {
    peer = path.join(os.tmpdir(), `shm-sysv-peer-${process.pid}`);
    execFileSync('cc', ['-O2', '-o', peer, path.join(__dirname, 'fixtures', 'peer.c')]);
  });
  afterAll(() => fs.rmSync(peer, { force: true }));

  test('shares a segment in both directions', () => {
    const key = scratch.key();
    expect(execFileSync(peer, ['create', String(key)], { encoding: 'utf8' })).toBe('ok\n');
    const bytes = sysv.get(key, 'Uint8Array')!;
    expect(bytes.length).toBe(64);
    expect(Array.from(bytes)).toEqual(Array.from({ length: 64 }, (_, i) => (i * 3) & 0xff));
    bytes.forEach((_, i) => (bytes[i] = 255 - i));
    expect(execFileSync(peer, ['check', String(key)], { encoding: 'utf8' })).toBe('ok\n');
  });
});
