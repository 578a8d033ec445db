/** What only the POSIX backend does: names, layouts, modes, detach results, Python interop. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { types } from 'node:util';
import * as posix from '@shm/posix';
import { useScratch } from '@shm/test-support';
import { binding } from '../src/binding';

const scratch = useScratch({ posix });

const devShm = (name: string) => path.join('/dev/shm', name.slice(1));

describe('names', () => {
  test('a name without a leading slash gets one', () => {
    const name = scratch.name();
    const array = posix.create(4, 'Buffer', name.slice(1))!;
    array[0] = 5;
    expect(fs.existsSync(devShm(name))).toBe(true);
    expect(posix.get(name)![0]).toBe(5);
    expect(posix.normalizeName('frames')).toBe('/frames');
  });

  test.each([
    ['an empty name', '', TypeError],
    ['a lone slash', '/', TypeError],
    ['a slash inside', '/a/b', TypeError],
    ['a path escaping /dev/shm', '/../etc/passwd', TypeError],
    ['a NUL byte', '/a\0b', TypeError],
    ['more than NAME_MAX bytes', '/' + 'x'.repeat(256), RangeError],
    ['a number', 5, TypeError],
    ['undefined', undefined, TypeError],
  ])('refuses %s', (_label, name, errorClass) => {
    expect(() => posix.create(1, 'Buffer', name as string)).toThrow(errorClass);
    expect(() => posix.get(name as string)).toThrow(errorClass);
    expect(() => posix.detach(name as string)).toThrow(errorClass);
  });

  test('accepts exactly NAME_MAX bytes', () => {
    const name = scratch.name();
    const long = name + 'x'.repeat(posix.NAME_MAX + 1 - name.length);
    scratch.track(long);
    expect(posix.create(1, 'Buffer', long)).not.toBeNull();
  });
});

// The addon checks its arguments again, and builds each coded error with the
// class its table gives the code (<shm/error_codes.h>): called directly here,
// past TypeScript's checks, it must still throw that class itself. The
// addon's errors come from the realm it was loaded in, not the test's, so
// the class is compared by name.
describe("the addon's coded errors", () => {
  const open = (name: unknown, dataBytes: unknown, create: unknown = false, prefixed = false) =>
    binding.open(name as string, dataBytes as number, create as boolean, 0o600, false, prefixed, false, false);

  test.each([
    ['a name that is not a string', () => open(5, 1), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a name without its slash', () => open('frames', 1), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a negative size', () => open(scratch.name(), -1), RangeError, 'ERR_OUT_OF_RANGE'],
    ['a flag that is not a boolean', () => open(scratch.name(), 1, 'yes'), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a new object of no bytes', () => open(scratch.name(), 0, true), RangeError, 'ERR_OUT_OF_RANGE'],
    [
      'a prefixed attach of an object too small for its header',
      () => {
        const name = scratch.name();
        posix.create(1, 'Buffer', name);
        return open(name, 0, false, true);
      },
      Error,
      'ERR_SHM_LAYOUT',
    ],
  ])('%s', (_label, call, errorClass, code) => {
    let thrown: unknown;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    expect(types.isNativeError(thrown)).toBe(true);
    expect((thrown as Error).constructor.name).toBe(errorClass.name);
    expect(thrown).toHaveProperty('code', code);
  });
});

describe('layouts', () => {
  test('raw: the object holds exactly the data bytes', () => {
    const name = scratch.name();
    const array = posix.create(3, 'Uint16Array', name)!;
    array.set([0x0102, 0x0304, 0x0506]);
    expect(fs.statSync(devShm(name)).size).toBe(6);
    expect(fs.readFileSync(devShm(name))).toEqual(Buffer.from([2, 1, 4, 3, 6, 5]));
  });

  test("prefixed: shm-typed-array's size_t length header, then the data", () => {
    const name = scratch.name();
    const array = posix.create(3, 'Uint16Array', name, undefined, { layout: 'prefixed' })!;
    array.set([1, 2, 3]);
    const file = fs.readFileSync(devShm(name));
    expect(file.length).toBe(8 + 6);
    expect(file.readBigUInt64LE(0)).toBe(6n);
    expect(file.subarray(8)).toEqual(Buffer.from([1, 0, 2, 0, 3, 0]));
    expect(posix.get(name, 'Uint16Array', { layout: 'prefixed' })!.length).toBe(3);
    expect(posix.get(name, 'Uint8Array')!.length).toBe(14); // raw view: the whole object
  });

  test('prefixed get of an object whose header does not fit gives ERR_SHM_LAYOUT', () => {
    const name = scratch.name();
    posix.create(16, 'Uint8Array', name)!.fill(0xff); // header would say 2^64 - 1
    expect(() => posix.get(name, 'Buffer', { layout: 'prefixed' })).toThrow(
      expect.objectContaining({ code: 'ERR_SHM_LAYOUT', path: name }),
    );
    expect(posix.getTotalSize()).toBe(16);
  });

  test('an empty object cannot be mapped: EINVAL from mmap', () => {
    const name = scratch.name();
    fs.writeFileSync(devShm(name), '');
    expect(() => posix.get(name)).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'mmap', errno: -22, path: name }),
    );
  });

  // Node's limit is 2^32 bytes on Node 20 and 2^53 - 1 from Node 22. Below
  // the address space (2^47 bytes), the object maps and Node refuses the
  // buffer; above it, mmap refuses the mapping. Either way nothing stays mapped.
  test('an object larger than an ArrayBuffer can hold is refused cleanly, and nothing stays mapped', () => {
    const name = scratch.name();
    const limit = require('node:buffer').constants.MAX_LENGTH as number;
    // Sparse: made by another program, never touched, costs no memory. Sizes
    // past 2^53 are out of fs.truncateSync's reach: python's truncate takes them.
    fs.writeFileSync(devShm(name), '');
    execFileSync('python3', ['-c', 'import os, sys; os.truncate(sys.argv[1], int(sys.argv[2]))', devShm(name), (BigInt(limit) + 4096n).toString()]);
    const expected = limit < 2 ** 47 ? { code: 'ERR_BUFFER_TOO_LARGE' } : { code: 'ENOMEM', syscall: 'mmap', path: name };
    expect(() => posix.get(name)).toThrow(expect.objectContaining(expected));
    expect(posix.getTotalSize()).toBe(0);
    expect(posix.detach(name)).toBe(-1);
  });

  test('refuses an unknown layout', () => {
    expect(() => posix.get(scratch.name(), 'Buffer', { layout: 'packed' as any })).toThrow(TypeError);
  });
});

describe('reserve', () => {
  test('applies to create only, and must be a boolean', () => {
    const name = scratch.name();
    expect(posix.create(4, 'Buffer', name, undefined, { reserve: false })).not.toBeNull();
    expect(() => posix.get(name, 'Buffer', { reserve: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => posix.create(4, 'Buffer', scratch.name(), undefined, { reserve: 'yes' as never })).toThrow(TypeError);
  });

  test('a reserved object has its pages allocated at create time', () => {
    const [reserved, lazy] = [scratch.name(), scratch.name()];
    posix.create(1 << 20, 'Buffer', reserved);
    posix.create(1 << 20, 'Buffer', lazy, undefined, { reserve: false });
    const blocks = (name: string) => fs.statSync(devShm(name)).blocks * 512;
    expect(blocks(reserved)).toBeGreaterThanOrEqual(1 << 20);
    expect(blocks(lazy)).toBe(0);
  });
});

describe('permissions', () => {
  test('default 0o600, else what was asked less the umask, as shm_open and fs.open make it', () => {
    const previous = process.umask(0o027);
    try {
      const plain = scratch.name();
      posix.create(1, 'Buffer', plain);
      expect(fs.statSync(devShm(plain)).mode & 0o777).toBe(0o600);
      const shared = scratch.name();
      posix.create(1, 'Buffer', shared, '664');
      expect(fs.statSync(devShm(shared)).mode & 0o777).toBe(0o640);
      process.umask(0);
      const numeric = scratch.name();
      posix.create(1, 'Buffer', numeric, 0o666);
      expect(fs.statSync(devShm(numeric)).mode & 0o777).toBe(0o666);
    } finally {
      process.umask(previous);
    }
  });
});

describe('detach results', () => {
  test('1 unmapped (the object stays), 0 destroyed, -1 not attached or missing', () => {
    const name = scratch.name();
    posix.create(4, 'Buffer', name);
    expect(posix.detach(name)).toBe(1);
    expect(posix.detach(name)).toBe(-1);
    expect(fs.existsSync(devShm(name))).toBe(true);
    expect(posix.getTotalCreatedSize()).toBe(4); // created and not destroyed
    expect(posix.detach(name, true)).toBe(0);
    expect(fs.existsSync(devShm(name))).toBe(false);
    expect(posix.detach(name, true)).toBe(-1);
    expect(posix.getTotalCreatedSize()).toBe(0);
  });

  test('detachAll unmaps but destroys nothing', () => {
    const name = scratch.name();
    const array = posix.create(4, 'Buffer', name)!;
    expect(posix.detachAll()).toBe(0);
    expect(array.length).toBe(0);
    expect(posix.get(name)).not.toBeNull();
  });

  test('a failed create leaves no name behind', () => {
    const name = scratch.name();
    // Larger than the address space can map: ftruncate or mmap fails.
    expect(() => posix.create(2 ** 52, 'Float64Array', name)).toThrow();
    expect(fs.existsSync(devShm(name))).toBe(false);
  });
});

describe("Python's multiprocessing.shared_memory", () => {
  const peer = path.join(__dirname, 'fixtures', 'python_peer.py');
  const python = (...args: string[]) => execFileSync('python3', [peer, ...args], { encoding: 'utf8' });

  test('opens an object made here: exact size and bytes', () => {
    const name = scratch.name();
    const array = posix.create(5, 'Uint8Array', name)!;
    array.set([1, 2, 3, 250, 255]);
    expect(JSON.parse(python('read', name.slice(1)))).toEqual({ size: 5, hex: '010203faff' });
  });

  test('makes an object this backend opens: exact size and bytes', () => {
    const name = scratch.name();
    python('create', name.slice(1), 'deadbeef0102');
    const array = posix.get(name, 'Uint8Array')!;
    expect(Buffer.from(array)).toEqual(Buffer.from('deadbeef0102', 'hex'));
  });
});
