/** @shm/core: dispatch on the key, shm-typed-array's flat API and results, exit behaviour, module formats. */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as shm from '@shm/core';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { useScratch } from '@shm/test-support';

const scratch = useScratch({ posix: shm, sysv: shm });

const devShm = (name: string) => path.join('/dev/shm', name.slice(1));

test('exports the whole flat API of shm-typed-array', () => {
  for (const name of ['create', 'createPosix', 'get', 'getPosix', 'detach', 'detachPosix', 'destroy', 'detachAll', 'getTotalSize', 'getTotalCreatedSize']) {
    expect(typeof (shm as any)[name]).toBe('function');
  }
  expect(shm.LengthMax).toBe(require('node:buffer').constants.MAX_LENGTH);
  expect(shm.BufferType).toEqual({
    Buffer: 0, Int8Array: 1, Uint8Array: 2, Uint8ClampedArray: 3, Int16Array: 4, Uint16Array: 5,
    Int32Array: 6, Uint32Array: 7, Float32Array: 8, Float64Array: 9, BigInt64Array: 10, BigUint64Array: 11,
  });
});

describe('dispatch on the key', () => {
  test('a string makes a POSIX object in the prefixed layout, without .key', () => {
    const name = scratch.name();
    const array = shm.create(10, 'Float32Array', name)!;
    expect(array).toBeInstanceOf(Float32Array);
    expect('key' in array).toBe(false);
    expect(fs.statSync(devShm(name)).size).toBe(8 + 40);
    expect(shm.getTotalSize()).toBe(48);
    expect(shm.getTotalCreatedSize()).toBe(48);
    expect(shm.get(name, 'Float32Array')!.length).toBe(10);
  });

  test('a number makes a System V segment with that key, carried in .key', () => {
    const key = scratch.key();
    const array = shm.create(10, 'Int16Array', key)!;
    expect(array.key).toBe(key);
    expect(sysv.attachCount(key)).toBe(1);
    expect(shm.get(key, 'Int16Array')!.key).toBe(key);
  });

  test.each([undefined, null])('%p makes a System V segment with a generated key', (key) => {
    const array = shm.create(10, 'Buffer', key)!;
    scratch.track(array.key!);
    expect(sysv.attachCount(array.key!)).toBe(1);
  });

  test.each([true, {}, 5n, Symbol('k')])('%p as a key is a TypeError', (key) => {
    expect(() => shm.create(1, 'Buffer', key as any)).toThrow(TypeError);
    expect(() => shm.get(key as any)).toThrow(TypeError);
    expect(() => shm.detach(key as any)).toThrow(TypeError);
  });
});

describe('backend options, an optional last argument', () => {
  test('reach the backend: reserve and populate at create, readonly and populate at get', () => {
    const name = scratch.name();
    const lazy = shm.create(1 << 20, 'Buffer', name, undefined, { reserve: false, populate: true })!;
    expect(fs.statSync(devShm(name)).size).toBe(8 + (1 << 20)); // still the prefixed layout
    lazy[0] = 3;
    const readonly = shm.getPosix(name, 'Buffer', { readonly: true, populate: true })!;
    readonly[0] = 4; // a private copy
    expect(lazy[0]).toBe(3);

    const key = scratch.key();
    shm.create(16, 'Uint8Array', key, undefined, { populate: true })![0] = 9;
    const view = shm.get(key, 'Uint8Array', { readonly: true })!;
    view[0] = 1;
    expect(shm.get(key, 'Uint8Array')![0]).toBe(9);
  });

  test('are validated as the backends validate them', () => {
    expect(() => shm.create(1, 'Buffer', scratch.name(), undefined, 'populate' as any)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => shm.create(1, 'Buffer', scratch.key(), undefined, { populate: 1 } as any)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => shm.get(scratch.name(), 'Buffer', { reserve: true })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
  });
});

describe("shm-typed-array's results", () => {
  test('System V: detach gives the attach count left, 0 once destroyed; -1 unknown', () => {
    const key = scratch.key();
    shm.create(4, 'Buffer', key);
    expect(shm.create(4, 'Buffer', key)).toBeNull();
    expect(shm.detach(key)).toBe(0);
    expect(shm.get(key)).toBeNull();
    expect(shm.detach(key)).toBe(-1);
    expect(shm.getTotalSize()).toBe(0);
    expect(shm.getTotalCreatedSize()).toBe(0);
  });

  test('POSIX: detach gives 1 while this process knows the name (mapped or not), 0 when destroyed, -1 after', () => {
    const name = scratch.name();
    shm.create(4, 'Buffer', name);
    expect(shm.detach(name)).toBe(1);
    expect(shm.detach(name)).toBe(1); // as shm-typed-array answers a second detach
    expect(shm.destroy(name)).toBe(true);
    expect(shm.destroy(name)).toBe(false);
    expect(shm.detach(name)).toBe(-1);
    expect(shm.detach(scratch.name())).toBe(-1); // never known here
  });

  test('POSIX: after destroyCreated, detach of a destroyed name is -1', () => {
    const name = scratch.name();
    shm.create(4, 'Buffer', name);
    expect(shm.destroyCreated()).toBe(1);
    expect(shm.detach(name)).toBe(-1);
  });

  test("'//name' is '/name', as glibc's shm_open made it for shm-typed-array", () => {
    const name = scratch.name();
    const array = shm.create(4, 'Buffer', '/' + name)!;
    array[0] = 9;
    expect(fs.existsSync(devShm(name))).toBe(true);
    expect(shm.get('///' + name.slice(1))![0]).toBe(9);
    expect(shm.destroy('//' + name.slice(1))).toBe(true);
  });

  test('createPosix / getPosix / detachPosix take a name first', () => {
    const name = scratch.name();
    const array = shm.createPosix(name, 3, 'Uint8Array')!;
    array[2] = 7;
    expect(shm.getPosix(name, 'Uint8Array')![2]).toBe(7);
    expect(shm.detachPosix(name, 1 as any)).toBe(0); // truthy forces, as in shm-typed-array
  });

  test('detachAll unmaps both kinds and counts the System V segments it destroyed', () => {
    const name = scratch.name();
    const keys = [scratch.key(), scratch.key()];
    const arrays = [shm.create(4, 'Buffer', name)!, ...keys.map((key) => shm.create(4, 'Buffer', key)!)];
    expect(shm.detachAll()).toBe(2);
    expect(arrays.map((a) => a.length)).toEqual([0, 0, 0]);
    expect(shm.get(name)).not.toBeNull(); // POSIX objects stay until destroyed
  });

  test.each([
    ['660', 0o660],
    ['600', 0o600],
    ['abc', 0o660],
    [undefined, 0o660],
    ['6609', 0o660], // parseInt stops at the first non-octal digit
    ['7777', 0o777], // only permission bits are kept
    [{}, 0o660],
    [Object.create(null), 0o660], // not even convertible to a string
  ])('permissions %p become %o (System V), less the umask (POSIX)', (perm, mode) => {
    const name = scratch.name();
    const umask = process.umask(0o022);
    try {
      shm.create(1, 'Buffer', name, perm);
    } finally {
      process.umask(umask);
    }
    expect(fs.statSync(devShm(name)).mode & 0o777).toBe(mode & ~0o022);
    const key = scratch.key();
    shm.create(1, 'Buffer', key, perm);
    const ipcs = execFileSync('ipcs', ['-m'], { encoding: 'utf8' });
    const line = ipcs.split('\n').find((row) => row.startsWith('0x' + key.toString(16).padStart(8, '0')))!;
    expect(line.split(/\s+/)[3]).toBe(mode.toString(8));
  });

  test.each([
    [0o022, '666', 0o644],
    [0o077, undefined, 0o600],
    [0o000, '666', 0o666],
  ])('with umask %o, POSIX permissions %p become %o, as shm-typed-array made them', (umask, perm, mode) => {
    const name = scratch.name();
    const saved = process.umask(umask);
    try {
      shm.create(1, 'Buffer', name, perm);
    } finally {
      process.umask(saved);
    }
    expect(fs.statSync(devShm(name)).mode & 0o777).toBe(mode);
  });

  const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
  const GIB8 = 2 ** 30; // Float64Array elements in 8 GiB

  test('past 4 GiB: 8 GiB typed arrays of both kinds, as shm-typed-array makes them; on Node 20 a clear RangeError', () => {
    const name = scratch.name();
    const lazy = { reserve: false }; // no pages until written: two are
    if (NODE_MAJOR < 22) {
      // Node-API wraps at most buffer.constants.MAX_LENGTH (4 GiB) of foreign memory there.
      expect(() => shm.create(GIB8, 'Float64Array', name, undefined, lazy)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('buffer.constants.MAX_LENGTH') }),
      );
      return;
    }
    const posixArray = shm.create(GIB8, 'Float64Array', name, undefined, lazy)!;
    const key = scratch.key();
    const sysvArray = shm.create(GIB8, 'Float64Array', key)!;
    for (const array of [posixArray, sysvArray]) {
      expect(array.length).toBe(GIB8);
      array[0] = 1.5;
      array[GIB8 - 1] = 2.5;
    }
    for (const id of [name, key]) {
      const view = shm.get(id, 'Float64Array')!;
      expect([view.length, view[0], view[GIB8 - 1]]).toEqual([GIB8, 1.5, 2.5]);
    }
    expect(shm.get(name, 'Uint8Array')!.length).toBe(GIB8 * 8);
    expect(shm.destroy(name)).toBe(true);
    expect(shm.destroy(key)).toBe(true);
  });

  test('bad counts are RangeErrors with shm-typed-array\'s message', () => {
    expect(() => shm.create(0)).toThrow(new RangeError(`Count should be 1 .. ${shm.LengthMax}`));
    expect(() => shm.create(1, 'Buffer', 0)).toThrow(new RangeError('Shm key should be 1 .. 4294967294'));
    expect(() => shm.create(1, 'Nope' as any)).toThrow('Unknown type key Nope');
  });
});

describe('process exit', () => {
  const fixture = path.join(__dirname, 'fixtures', 'exit.js');

  test('detaches everything and reports the System V segments it destroyed', () => {
    const key = scratch.key();
    const name = scratch.name();
    const result = spawnSync(process.execPath, [fixture, String(key), name, 'sysv'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('shm segments destroyed: 1\n');
    expect(sysv.attachCount(key)).toBe(-1);
    expect(fs.existsSync(devShm(name))).toBe(true); // POSIX objects outlive the process
  });

  test('says nothing when nothing was destroyed, and installs no signal handler', () => {
    const name = scratch.name();
    const result = spawnSync(
      process.execPath,
      ['-e', `require('@shm/core'); console.log(['SIGINT','SIGTERM','SIGHUP'].map((s) => process.listenerCount(s)).join())`],
      { encoding: 'utf8', cwd: __dirname },
    );
    expect(result.stdout).toBe('0,0,0\n');
    const quiet = spawnSync(process.execPath, [fixture, String(scratch.key()), name, 'none'], { encoding: 'utf8' });
    expect(quiet.stdout).toBe('');
  });
});

describe('module formats', () => {
  test('require and import give the same API', () => {
    const name = scratch.name();
    const script = `
      import * as shm from '@shm/core';
      import shmDefault from '@shm/core';
      const array = shm.create(4, 'Int32Array', ${JSON.stringify(name)});
      array[0] = 42;
      console.log(shm.get(${JSON.stringify(name)}, 'Int32Array')[0], typeof shmDefault.create, Object.keys(shm.BufferType).length);
      shm.destroy(${JSON.stringify(name)});`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: __dirname });
    expect(output).toBe('42 function 12\n');
  });

  test('mapped bytes are counted per thread, whichever package mapped them', () => {
    const name = scratch.name();
    posix.create(4, 'Buffer', name);
    expect(shm.getTotalSize()).toBe(4); // mapped bytes are per thread, whichever module mapped them
  });
});
