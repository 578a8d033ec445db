/** The shared rules both backends apply: type tables, argument checks, views, cleanup. */
import {
  BufferType,
  ElementSize,
  LengthMax,
  TypeKey,
  byteLengthOf,
  MARK_UNTRANSFERABLE,
  makeView,
  parsePermissions,
  resolveTypeKey,
  runEvery,
  installSignalCleanup,
  validateBoolean,
  validateCount,
  validateOptions,
} from '../src';

const typeKeys = Object.keys(BufferType) as TypeKey[];

test("type numbers are shm-typed-array's, then the BigInt types", () => {
  expect(typeKeys).toEqual([
    'Buffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
    'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
  ]);
  expect(typeKeys.map((key) => BufferType[key])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  expect(Object.isFrozen(BufferType)).toBe(true);
});

test.each(typeKeys.filter((key) => key !== 'Buffer'))('ElementSize.%s is its BYTES_PER_ELEMENT', (key) => {
  expect(ElementSize[key]).toBe((globalThis as any)[key].BYTES_PER_ELEMENT);
});

test('LengthMax is Node\'s Buffer limit', () => {
  expect(LengthMax).toBe(require('node:buffer').constants.MAX_LENGTH);
});

describe('resolveTypeKey', () => {
  test('defaults to Buffer and accepts every key', () => {
    expect(resolveTypeKey(undefined)).toBe('Buffer');
    for (const key of typeKeys) expect(resolveTypeKey(key)).toBe(key);
  });
  test.each(['Float16Array', 'toString', '__proto__', '', 5, null, {}, Symbol('x')])('refuses %p', (key) => {
    expect(() => resolveTypeKey(key)).toThrow(TypeError);
  });
  test("keeps shm-typed-array's message", () => {
    expect(() => resolveTypeKey('Nope')).toThrow('Unknown type key Nope');
  });
});

describe('validateCount', () => {
  test.each([1, 2, LengthMax])('accepts %p', (count) => expect(validateCount(count)).toBe(count));
  test.each([0, -1, 0.5, Number.NaN, Infinity, -0.0001, LengthMax + 1, 2 ** 53])('refuses %p with a RangeError', (count) => {
    expect(() => validateCount(count)).toThrow(RangeError);
    expect(() => validateCount(count)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
  test.each(['1', 1n, null, undefined, {}])('refuses %p with a TypeError', (count) => {
    expect(() => validateCount(count)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

test('byteLengthOf: elements times their size, at most LengthMax bytes', () => {
  expect(byteLengthOf(3, 'Float64Array')).toBe(24);
  expect(byteLengthOf(LengthMax, 'Uint8Array')).toBe(LengthMax);
  expect(byteLengthOf(LengthMax / 8, 'BigInt64Array')).toBe(LengthMax);
  expect(() => byteLengthOf(LengthMax / 8 + 1, 'BigInt64Array')).toThrow(RangeError);
  expect(() => byteLengthOf(LengthMax, 'Int16Array')).toThrow(`${LengthMax} Int16Array elements take ${2 * LengthMax} bytes`);
});

describe('parsePermissions', () => {
  test('numbers and octal strings; the fallback when omitted', () => {
    expect(parsePermissions(undefined, 0o600)).toBe(0o600);
    expect(parsePermissions(0o640, 0o600)).toBe(0o640);
    expect(parsePermissions('644', 0o600)).toBe(0o644);
    expect(parsePermissions('0', 0o600)).toBe(0);
  });
  test.each([['8'], ['6a0'], [''], ['0o644'], [' 644']])('refuses the string %p', (perm) => {
    expect(() => parsePermissions(perm, 0o600)).toThrow(TypeError);
  });
  test.each([-1, 0o1000, 1.5, Number.NaN])('refuses the number %p', (perm) => {
    expect(() => parsePermissions(perm, 0o600)).toThrow(RangeError);
  });
  test('refuses other types', () => expect(() => parsePermissions(true, 0o600)).toThrow(TypeError));
});

test('validateOptions and validateBoolean', () => {
  expect(validateOptions(undefined)).toEqual({});
  expect(validateOptions(null)).toEqual({});
  expect(validateOptions({ readonly: true })).toEqual({ readonly: true });
  expect(() => validateOptions([])).toThrow(TypeError);
  expect(() => validateOptions('x')).toThrow(TypeError);
  expect(validateBoolean('flag', undefined)).toBe(false);
  expect(validateBoolean('flag', true)).toBe(true);
  expect(validateBoolean('flag', undefined, true)).toBe(true);
  expect(validateBoolean('flag', false, true)).toBe(false);
  expect(() => validateBoolean('flag', 1)).toThrow('The "flag" argument must be of type boolean. Received 1');
});

describe('makeView', () => {
  test.each(typeKeys)('%s covers whole elements of the buffer', (key) => {
    const buffer = new ArrayBuffer(20);
    const view = makeView(buffer, key);
    expect(view.buffer).toBe(buffer);
    expect(view.length).toBe(Math.floor(20 / ElementSize[key]));
    if (key === 'Buffer') expect(Buffer.isBuffer(view)).toBe(true);
  });

  // A segment's buffer is external memory: Node 22+ refuses to transfer it
  // whatever the marking (the contract suite checks that on real segments).
  // Here, on a plain buffer, what makeView itself does: on Node 20 it marks
  // the buffer so that a transfer list copies it; from Node 22 it leaves the
  // buffer detachable, since a marked buffer cannot be neutered on Node 24+.
  test('makeView marks buffers untransferable on Node 20 only, leaving them detachable elsewhere', () => {
    const buffer = new ArrayBuffer(20);
    makeView(buffer, 'Uint8Array');
    const nodeMajor = Number(process.versions.node.split('.')[0]);
    expect(MARK_UNTRANSFERABLE).toBe(nodeMajor < 22);
    structuredClone(buffer, { transfer: [buffer] });
    expect(buffer.byteLength).toBe(nodeMajor < 22 ? 20 : 0);
  });
});

test('runEvery runs every step, throws a lone failure as it is, and several as one ERR_SHM_CLEANUP', () => {
  const ran: number[] = [];
  expect(runEvery([() => ran.push(1), () => ran.push(2)])).toEqual([1, 2]);
  const lone = new Error('lone');
  expect(() => runEvery([() => { throw lone; }, () => ran.push(3)])).toThrow(lone);
  expect(ran).toEqual([1, 2, 3]);
  let thrown: any;
  try {
    runEvery([() => { throw new Error('first'); }, () => ran.push(4), () => { throw new Error('second'); }]);
  } catch (error) {
    thrown = error;
  }
  expect(ran).toEqual([1, 2, 3, 4]);
  expect(thrown.code).toBe('ERR_SHM_CLEANUP');
  expect(thrown.message).toBe('2 of 3 cleanup steps failed: first; second');
  expect(thrown.errors.map((error: Error) => error.message)).toEqual(['first', 'second']);
});

test('installSignalCleanup keeps one listener per signal, however many installs, and undoes each once', () => {
  const before = process.listenerCount('SIGHUP');
  const first = () => {};
  const second = () => {};
  const undo = [
    installSignalCleanup(first, ['SIGHUP']),
    installSignalCleanup(first, ['SIGHUP', 'SIGHUP']),
    installSignalCleanup(second, ['SIGHUP']),
  ];
  expect(process.listenerCount('SIGHUP')).toBe(before + 1);
  undo[0]();
  undo[0]();
  undo[1]();
  expect(process.listenerCount('SIGHUP')).toBe(before + 1); // second is still installed
  undo[2]();
  expect(process.listenerCount('SIGHUP')).toBe(before);
});
