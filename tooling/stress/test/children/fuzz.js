// Hostile-input fuzz of every exported function of @shm/core, @shm/posix and
// @shm/sysv, run in its own process so that a crash shows as a signal.
// Interleaved with the calls, at random: a peer that truncates or grows a
// pool object, touches of every view still held (read and write, first and
// last element), buffers moved with ArrayBuffer.prototype.transfer(), and
// writes through read-only views; so detach, truncation, moves and accesses
// meet in every order.
//   fuzz.js <runs> <seed> <pool as JSON: { names: [...], keys: [...] }>
// Only two outcomes are allowed per call: a normal return, or a thrown Error
// that carries a string `code` (TypeError and RangeError included: every
// refusal of this library says which rule it applied). Reports
// { calls, outcomes, violations } and exits 0 even when violations were found
// (the parent judges); exits 1 only if the fuzz itself broke.
//
// Safety on a shared machine: any argument in a key position that would be a
// valid key is replaced by one of the pool's keys or names, which the parent
// owns; invalid keys of every kind pass through unchanged.
'use strict';
const fs = require('node:fs');
const fc = require('fast-check');
const core = require('@shm/core');
const posix = require('@shm/posix');
const sysv = require('@shm/sysv');

const [runsText, seedText, poolText] = process.argv.slice(2);
const pool = JSON.parse(poolText);
const generatedKeys = new Set();

/** Views the fuzz holds on to (returned arrays, moved buffers), oldest dropped first. */
const live = [];
function hold(view) {
  live.push(view);
  if (live.length > 64) live.shift();
}

const events = {
  // Another process with write access shrinks (or grows) a pool object.
  // This process holds a view of it (mapped here first if need be).
  truncate: (index, size) => {
    const name = pool.names[index % pool.names.length];
    hold(posix.get(name, 'Uint8Array') ?? posix.create(3 * 4096, 'Uint8Array', name));
    // Pages wholly past the new end fault: empty, one byte, one page, or grown.
    fs.truncateSync(`/dev/shm${name}`, [0, 1, 4096, 3 * 4096][size % 4]);
  },
  // Every view still held is read and written at both ends.
  touch: () => {
    for (const view of live) {
      if (view.length === 0) continue;
      const zero = typeof view[0] === 'bigint' ? 0n : 0;
      view[0] = zero;
      view[view.length - 1] = zero;
      void view[view.length >> 1];
    }
  },
  // A held view's memory moves to a new ArrayBuffer that detach cannot neuter.
  transfer: (index) => {
    const view = live[index % Math.max(live.length, 1)];
    if (!view || typeof ArrayBuffer.prototype.transfer !== 'function' || view.buffer.byteLength === 0) return;
    hold(new Uint8Array(view.buffer.transfer()));
  },
  // A write through a read-only view of a pool segment.
  readonlyWrite: (index) => {
    const key = pool.keys[index % pool.keys.length];
    const view = sysv.get(key, 'Uint8Array', { readonly: true });
    if (view === null) return;
    view[view.length - 1] = 1;
    hold(view);
  },
};
const eventNames = Object.keys(events);

/** Events take two small non-negative integers, derived from whatever was drawn. */
function eventArguments(drawn) {
  const small = drawn.map((value) =>
    typeof value === 'number' && Number.isFinite(value) ? Math.abs(Math.trunc(value)) % 100000 : typeof value === 'string' ? value.length : 1,
  );
  return [small[0] ?? 0, (small[1] ?? 0) * 4093 + (small[2] ?? 0)];
}

// [module name, function name, index of the key argument or -1]
const targets = [
  ...['create:2', 'createPosix:0', 'get:0', 'getPosix:0', 'detach:0', 'detachPosix:0', 'destroy:0', 'detachAll:-1', 'getTotalSize:-1', 'getTotalCreatedSize:-1'].map((t) => ['core', ...t.split(':')]),
  ...['create:2', 'get:0', 'detach:0', 'destroy:0', 'detachAll:-1', 'getTotalSize:-1', 'getTotalCreatedSize:-1', 'normalizeName:-1'].map((t) => ['posix', ...t.split(':')]),
  ...['create:2', 'get:0', 'detach:0', 'destroy:0', 'detachAll:-1', 'getTotalSize:-1', 'getTotalCreatedSize:-1', 'attachCount:0', 'validateKey:-1'].map((t) => ['sysv', ...t.split(':')]),
  ...eventNames.map((name) => ['events', name, '-1']),
].map(([module, name, keyIndex]) => ({ module, name, keyIndex: Number(keyIndex) }));
const modules = { core, posix, sysv, events };

function hash(text) {
  let value = 0;
  for (const char of text) value = (value * 31 + char.charCodeAt(0)) >>> 0;
  return value;
}

/** A valid key becomes one of the pool's; anything else stays as it is. */
function confine(value) {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= 2 ** 32 - 2) {
    return pool.keys[value % pool.keys.length];
  }
  if (typeof value === 'string') {
    try {
      posix.normalizeName(value);
      return pool.names[hash(value) % pool.names.length];
    } catch {
      return value;
    }
  }
  return value;
}

const edgeNumbers = fc.constantFrom(0, -0, 1, -1, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32 - 1, 2 ** 32,
  2 ** 53, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Number.MIN_VALUE, core.LengthMax, core.LengthMax + 1, 0o777, 0o1000);
const hostileStrings = fc.oneof(
  fc.string(),
  fc.constantFrom('', '/', '//', '/a/b', '../x', '/a\0b', '\0', 'x'.repeat(300), '/' + 'y'.repeat(255), '/' + 'y'.repeat(256),
    '660', '999', '-1', 'Buffer', 'Float64Array', 'BigInt64Array', 'Float16Array', 'toString', '__proto__', 'constructor'),
);
const argument = fc.oneof(
  { weight: 3, arbitrary: edgeNumbers },
  { weight: 2, arbitrary: fc.integer({ min: -5, max: 64 }) },
  { weight: 2, arbitrary: hostileStrings },
  { weight: 2, arbitrary: fc.constantFrom(...Object.keys(core.BufferType)) },
  { weight: 1, arbitrary: fc.bigInt() },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, true, false, Symbol('s'), () => 1, [], [1], new Uint8Array(2)) },
  { weight: 1, arbitrary: fc.record({ readonly: fc.anything(), layout: fc.oneof(fc.constantFrom('raw', 'prefixed'), fc.anything()) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.anything() },
  { weight: 1, arbitrary: fc.double() },
);

const outcomes = {};
const violations = [];
let calls = 0;

fc.assert(
  fc.property(fc.constantFrom(...targets), fc.array(argument, { maxLength: 6 }), (target, rawArguments) => {
    const args =
      target.module === 'events'
        ? eventArguments(rawArguments)
        : rawArguments.map((value, index) => (index === target.keyIndex ? confine(value) : value));
    calls++;
    let outcome;
    try {
      const result = modules[target.module][target.name](...args);
      if (result && typeof result === 'object' && typeof result.length === 'number') {
        if (typeof result.key === 'number' && !pool.keys.includes(result.key)) generatedKeys.add(result.key);
        void result[0]; // the view is usable
        hold(result);
      }
      outcome = 'returned';
    } catch (error) {
      const acceptable = error instanceof Error && typeof error.code === 'string';
      outcome = acceptable ? `${error.constructor.name}:${error.code ?? ''}` : 'UNACCEPTABLE';
      if (!acceptable && violations.length < 20) {
        violations.push({ call: `${target.module}.${target.name}`, args: fc.stringify(args), error: String(error) });
      }
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }),
  { numRuns: Number(runsText), seed: Number(seedText) },
);

// Clean up everything this process made: its pool and any generated keys.
// A truncation the fuzz made may still be reported (ERR_SHM_TRUNCATED): that is
// the report, not a failure to clean up.
const settle = (call) => {
  try {
    call();
  } catch (error) {
    if (error.code !== 'ERR_SHM_TRUNCATED') throw error;
  }
};
settle(() => core.detachAll());
settle(() => posix.detachAll());
sysv.detachAll();
for (const name of pool.names) settle(() => posix.destroy(name));
for (const key of [...pool.keys, ...generatedKeys]) sysv.destroy(key);
process.send({ calls, outcomes, violations, generatedKeys: generatedKeys.size }, () => process.exit(0));
