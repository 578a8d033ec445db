/**
 * Lifecycle: cleanup never destroys what is not this process's, never leaks
 * what is, a create is seen whole or not at all, and names a hostile local
 * user plants neither hang nor alias anything.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as shm from '@shm/core';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ posix, sysv });
const child = path.join(__dirname, 'children', 'lifecycle.js');
const NOBODY = { uid: 65534, gid: 65534 };
const devShm = (name: string) => `/dev/shm${name}`;

describe('System V cleanup acts on the segment it made, never on the key', () => {
  test('a newcomer under a reused key survives detach, detachAll, destroyCreated and the exit hook', async () => {
    const key = scratch.key();
    const result = await runChild(child, ['reused-key', String(key)]);
    expect(result.stderr).toBe('');
    expect(result.messages).toEqual([
      { detach: { result: -1 }, detachAll: { result: 0 }, destroyCreated: { result: 0 } },
    ]);
    expect(result.code).toBe(0);
    const newcomer = sysv.get(key)!;
    expect(newcomer[0]).toBe(42);
  });

  test('destroyCreated leaves the views of a newcomer under a reused key alone, and forgets what went', () => {
    const key = scratch.key();
    sysv.create(4096, 'Buffer', key)![0] = 1;
    execFileSync('ipcrm', ['-M', String(key)]); // ours goes once detached; the key is free
    const maker = `require('@shm/sysv').create(4096, 'Buffer', ${key})[0] = 42;`;
    execFileSync(process.execPath, ['-e', maker], { cwd: path.join(__dirname, 'children') });
    const newcomer = sysv.get(key)!;
    expect(sysv.getTotalCreatedSize()).toBe(4096); // ours, removed but still attached
    expect(sysv.destroyCreated()).toBe(0); // ours was removed already: nothing to destroy
    expect(newcomer.length).toBe(4096); // never neutered
    expect(newcomer[0]).toBe(42);
    expect(sysv.getTotalCreatedSize()).toBe(0);
  });

  test('a segment found gone leaves the created ledger at detach', () => {
    const key = scratch.key();
    sysv.create(4096, 'Buffer', key);
    execFileSync('ipcrm', ['-M', String(key)]);
    expect(sysv.detach(key)).toBe(-1);
    expect(sysv.getTotalCreatedSize()).toBe(0);
  });

  test("a reader detaches another user's segment without removing it, and still cleans up its own", async () => {
    const [theirs, own] = [scratch.key(), scratch.key()];
    // Made by a process that exits without cleanup: it stays, and nobody attaches it.
    const maker = `require('@shm/sysv').create(8, 'Buffer', ${theirs}, 0o644)[0] = 5;`;
    execFileSync(process.execPath, ['-e', maker], { cwd: path.join(__dirname, 'children') });
    const result = await runChild(child, ['reader', String(theirs), String(own)], undefined, NOBODY);
    expect(result.stderr).toBe(''); // the exit hook had nothing to complain about
    expect(result.messages).toEqual([
      { uid: 65534, seen: 5, detach: { result: 0 }, again: { result: true }, detachAll: { result: 1 } },
    ]);
    expect(sysv.get(theirs)![0]).toBe(5);
    expect(sysv.attachCount(own)).toBe(-1); // the reader's own segment went at its detachAll
  });
});

describe('a worker that exits', () => {
  test('leaves memory it moved with transfer() and posted here safe to use, of both kinds', async () => {
    const [name, key] = [scratch.name(), scratch.key()];
    const result = await runChild(path.join(__dirname, 'children', 'moved-worker.js'), [name, String(key)]);
    expect({ signal: result.signal, code: result.code, stderr: result.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
    const expected =
      Number(process.versions.node.split('.')[0]) < 21
        ? 'no ArrayBuffer.prototype.transfer on this line: nothing can move the memory'
        : [
            { length: 4096, first: 0, second: 9 }, // its range is private zero pages now, kept for good
            { length: 4096, first: 0, second: 9 },
          ];
    expect(result.messages).toEqual([{ results: expected }]);
  });
});

describe('one process-wide ledger of created segments', () => {
  test('destroyCreated destroys what a worker created, after the worker ended', async () => {
    const [name, key] = [scratch.name(), scratch.key()];
    const worker = new Worker(
      `const { workerData: w } = require('node:worker_threads');
       require(w.posix).create(16, 'Buffer', w.name);
       require(w.sysv).create(16, 'Buffer', w.key);`,
      { eval: true, workerData: { name, key, posix: require.resolve('@shm/posix'), sysv: require.resolve('@shm/sysv') } },
    );
    await new Promise((resolve, reject) => worker.on('exit', resolve).on('error', reject));
    expect(fs.existsSync(devShm(name))).toBe(true);
    expect(sysv.attachCount(key)).toBe(0);
    expect(posix.getTotalCreatedSize()).toBe(0); // this thread's own bytes
    expect(posix.destroyCreated()).toBe(1);
    expect(sysv.destroyCreated()).toBe(1);
    expect(fs.existsSync(devShm(name))).toBe(false);
    expect(sysv.attachCount(key)).toBe(-1);
  });
});

describe('a create is seen whole or not at all', () => {
  test('get() polled during creates sees null or the complete object, never a half-made one', async () => {
    const name = scratch.name();
    const bytes = 64 * 1024 * 1024; // posix_fallocate takes a while: the window the old create left open
    const creator = runChild(child, ['create-loop', name, '12', String(bytes)], undefined, { timeoutMs: 60000 });
    const seen = { missing: 0, complete: 0, failures: [] as string[] };
    let done = false;
    creator.then(() => (done = true));
    while (!done) {
      try {
        const array = shm.get(name, 'Buffer');
        if (array === null) seen.missing++;
        else if (array.length === bytes) seen.complete++;
        else seen.failures.push(`length ${array.length}`);
        if (array !== null) shm.detach(name);
      } catch (error) {
        seen.failures.push(String((error as Error).message));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const result = await creator;
    expect(result.messages).toEqual([{ rounds: 12 }]);
    expect(seen.failures).toEqual([]);
    expect(seen.complete).toBeGreaterThan(0);
  });
});

describe('a create on a taken name', () => {
  test('answers null before any work: no reservation, so no ENOSPC from a /dev/shm too small for it', () => {
    // In a private mount namespace, over a 1 MiB /dev/shm of its own.
    const script = `
      const posix = require('@shm/posix');
      posix.create(16, 'Buffer', '/taken');
      const out = {};
      for (const populate of [false, true]) {
        try { out[populate] = posix.create(8 * 1024 * 1024, 'Buffer', '/taken', undefined, { populate }); }
        catch (error) { out[populate] = error.code; }
      }
      process.stdout.write(JSON.stringify(out));`;
    const output = execFileSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=1m tmpfs /dev/shm && exec "${process.execPath}" -e "$0"`, script],
      { cwd: path.join(__dirname, 'children'), encoding: 'utf8' },
    );
    expect(JSON.parse(output)).toEqual({ false: null, true: null });
  });
});

describe('without /proc', () => {
  test('create still works: AT_EMPTY_PATH links the unnamed file, or, where even that is refused, it is named first', () => {
    const name = scratch.name();
    const script = `
      const posix = require('@shm/posix');
      const a = posix.create(16, 'Buffer', '${name}', undefined, { layout: 'prefixed' });
      a[0] = 4;
      const b = posix.get('${name}', 'Buffer', { layout: 'prefixed' });
      process.stdout.write(JSON.stringify({ length: b.length, first: b[0], destroyed: posix.destroy('${name}') }));`;
    const output = execFileSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `umount -l /proc && exec "${process.execPath}" -e "$0"`, script],
      { cwd: path.join(__dirname, 'children'), encoding: 'utf8' },
    );
    expect(JSON.parse(output)).toEqual({ length: 16, first: 4, destroyed: true });
  });
});

describe('names a hostile local user can plant', () => {
  test('a FIFO under the name is refused at once, read-only or not; so is a directory', async () => {
    const [fifo, directory] = [scratch.name(), scratch.name()];
    execFileSync('mkfifo', [devShm(fifo)]);
    fs.mkdirSync(devShm(directory));
    try {
      // In a child: before the fix the read-only open blocked for ever.
      const script = `
        const posix = require('@shm/posix');
        const codes = [];
        for (const [name, options] of ${JSON.stringify([[fifo, { readonly: true }], [fifo, {}], [directory, { readonly: true }], [directory, {}]])}) {
          try { posix.get(name, 'Buffer', options); codes.push('opened'); } catch (error) { codes.push(error.code + ' ' + error.message); }
        }
        process.stdout.write(JSON.stringify(codes));`;
      const output = execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, 'children'), timeout: 10000, encoding: 'utf8' });
      expect(JSON.parse(output)).toEqual([
        `ERR_SHM_NOT_REGULAR_FILE '${fifo}' under /dev/shm is a FIFO, not a shared memory object`,
        `ERR_SHM_NOT_REGULAR_FILE '${fifo}' under /dev/shm is a FIFO, not a shared memory object`,
        `ERR_SHM_NOT_REGULAR_FILE '${directory}' under /dev/shm is a directory, not a shared memory object`,
        `ERR_SHM_NOT_REGULAR_FILE '${directory}' under /dev/shm is a directory, not a shared memory object`,
      ]);
    } finally {
      fs.rmSync(devShm(fifo), { force: true });
      fs.rmdirSync(devShm(directory));
    }
  });

  test('a socket under the name is refused as not a file', async () => {
    const name = scratch.name();
    const server = net.createServer().listen(devShm(name));
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      for (const options of [{}, { readonly: true }]) {
        expect(() => posix.get(name, 'Buffer', options)).toThrow(
          expect.objectContaining({ code: 'ERR_SHM_NOT_REGULAR_FILE', message: expect.stringContaining('is a socket') }),
        );
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(devShm(name), { force: true });
    }
  });

  test.each(['.', '..', '/.', '/..'])("'%s' is refused: it names a directory", (name) => {
    expect(() => posix.get(name, 'Buffer', { readonly: true })).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
    );
  });

  /** Removes what a test made under names starting with `prefix` (only a failing run makes any). */
  const removeStartingWith = (prefix: string) => {
    for (const file of fs.readdirSync('/dev/shm')) if (file.startsWith(prefix.slice(1))) fs.rmSync(`/dev/shm/${file}`);
  };

  test('names that are not well-formed Unicode are refused: they would alias another name', () => {
    const name = scratch.name();
    try {
      refusesLoneSurrogates(name);
    } finally {
      removeStartingWith(name);
    }
  });

  function refusesLoneSurrogates(name: string) {
    const lone = `${name}\uD800`;
    for (const bad of [lone, `${name}\uDBFF`, `${name}\uDC00x`]) {
      expect(() => posix.create(4, 'Buffer', bad)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('well-formed') }),
      );
      expect(() => posix.get(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
    // The binding checks again, whatever its caller did.
    const binding = require(path.join(path.dirname(require.resolve('@shm/posix')), '..', 'build', 'Release', 'shm_posix.node'));
    expect(() => binding.open(lone, 4, true, 0o600, false, false, false, false)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(fs.readdirSync('/dev/shm').filter((file) => file.startsWith(name.slice(1)))).toEqual([]);
    const pair = `${name}\uD83D\uDE00`; // a surrogate pair is fine
    expect(posix.create(4, 'Buffer', pair)).not.toBeNull();
    expect(posix.destroy(pair)).toBe(true);
  }

  test("'sem.' names are refused: glibc's named semaphores live there, and listObjects hides them", () => {
    const name = `/sem.${scratch.name().slice(1)}`;
    try {
      expect(() => posix.create(4, 'Buffer', name)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'sem.'") }),
      );
    } finally {
      removeStartingWith(name);
    }
  });

  test('a planted symlink is ELOOP for get and a taken name for create; its target is untouched', () => {
    const [target, link] = [scratch.name(), scratch.name()];
    posix.create(4, 'Buffer', target)![0] = 3;
    fs.symlinkSync(devShm(target), devShm(link));
    try {
      expect(() => posix.get(link)).toThrow(expect.objectContaining({ code: 'ELOOP', syscall: 'shm_open', path: link }));
      expect(posix.create(4, 'Buffer', link)).toBeNull();
      expect(posix.get(target)![0]).toBe(3);
    } finally {
      fs.unlinkSync(devShm(link));
    }
  });

  test("another user can neither hard-link this process's object nor take its name", async () => {
    expect(fs.readFileSync('/proc/sys/fs/protected_hardlinks', 'utf8').trim()).toBe('1');
    const [name, planted] = [scratch.name(), scratch.name()];
    posix.create(4, 'Buffer', name, 0o600)![0] = 8;
    const script = `
      const fs = require('node:fs');
      const posix = require('@shm/posix');
      const out = {};
      try { fs.linkSync('/dev/shm${name}', '/dev/shm${planted}'); out.link = 'linked'; } catch (error) { out.link = error.code; }
      try { out.create = posix.create(4, 'Buffer', '${name}'); } catch (error) { out.create = error.code; }
      try { out.get = posix.get('${name}'); } catch (error) { out.get = error.code; }
      process.stdout.write(JSON.stringify(out));`;
    const output = execFileSync(process.execPath, ['-e', script], {
      cwd: path.join(__dirname, 'children'),
      encoding: 'utf8',
      ...NOBODY,
    });
    expect(JSON.parse(output)).toEqual({ link: 'EPERM', create: null, get: 'EACCES' });
    expect(fs.existsSync(devShm(planted))).toBe(false);
    expect(posix.get(name)![0]).toBe(8);
  });
});
