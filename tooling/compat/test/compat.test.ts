/**
 * Byte compatibility with the real shm-typed-array@0.1.1 (from the npm
 * registry, built here): a process running it and one running @shm/core read
 * each other's segments, both kinds, both directions.
 *
 * shm-typed-array is an optional dependency: it uses V8's API directly and is
 * compiled at install against the running line, and on Node 26 that build
 * fails (v8::Object::GetIsolate is gone). The install skips it; this suite
 * then says what it could not compare, and checks that the reason is that
 * build and nothing else.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as shm from '@shm/core';
import { Scratch, runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ posix: shm, sysv: shm });

const original = path.join(__dirname, 'fixtures', 'original.js');

/** Why the original does not load on this line, or undefined when it does. */
function originalUnavailable(): string | undefined {
  try {
    require('shm-typed-array');
    return undefined;
  } catch (error) {
    return String((error as Error).message).split('\n')[0];
  }
}
const unavailable = originalUnavailable();
const describeWithOriginal = unavailable === undefined ? describe : describe.skip;

if (unavailable !== undefined) {
  test(`not compared on Node ${process.version}: shm-typed-array 0.1.1 was installed but its build failed`, () => {
    console.log(`shm-typed-array 0.1.1 does not load on Node ${process.version} (${unavailable}): the byte compatibility in both directions is not compared on this line`);
    const packageRoot = path.dirname(require.resolve('shm-typed-array/package.json'));
    expect(fs.existsSync(path.join(packageRoot, 'build', 'Release', 'shm.node'))).toBe(false);
  });
}

/** Runs the original in a child; `whileAlive` runs while it still holds its attachment. */
async function withOriginal(args: string[], whileAlive: (report: any) => void): Promise<any> {
  let report: any;
  const result = await runChild(original, args, (message, child) => {
    report = message;
    try {
      whileAlive(message);
    } finally {
      child.send('exit');
    }
  });
  expect(result.stderr).toBe('');
  expect(result.signal).toBeNull();
  return report;
}

describeWithOriginal.each([
  ['POSIX', (s: Scratch) => s.name()],
  ['System V', (s: Scratch) => s.key()],
])('%s', (_kind, newKey) => {
  test.each(['Float32Array', 'Int16Array', 'Buffer', 'Float64Array'] as const)(
    'the original reads a %s made by @shm/core',
    async (typeKey) => {
      const key = newKey(scratch);
      const array = shm.create(5, typeKey, key)!;
      array.set([1, -2, 3, 4.5, 100].map((v) => (typeKey === 'Float32Array' || typeKey === 'Float64Array' ? v : Math.abs(Math.trunc(v)))));
      const expected = Array.from(array as ArrayLike<number>);
      const report = await withOriginal(['read', JSON.stringify(key), typeKey], () => {});
      expect(report).toEqual({ found: true, length: 5, values: expected });
    },
  );

  test('@shm/core reads what the original made, with its exact length', async () => {
    const key = newKey(scratch);
    await withOriginal(['write', JSON.stringify(key), 'Float64Array', '[0.5,1.5,2.5]'], (report) => {
      expect(report.created).toBe(true);
      const view = shm.get(key, 'Float64Array')!;
      expect(Array.from(view)).toEqual([0.5, 1.5, 2.5]);
      expect(shm.get(key, 'Uint8Array')!.length).toBe(24);
      // The same +8 accounting for POSIX objects as the original's getTotalSize.
      expect(report.totalSize).toBe(typeof key === 'string' ? 32 : 24);
    });
  });
});
