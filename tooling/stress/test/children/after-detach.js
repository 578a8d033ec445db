// Use after detach, in every way a view can outlive its mapping:
//   after-detach.js <POSIX name> <System V key>
// Each case reads and writes the views afterwards; every outcome must be an
// empty view (reads undefined, writes dropped) or a TypeError from a
// TypedArray method, never a crash. Reports { cases: [...names], failures }.
'use strict';
const assert = require('node:assert');
const v8 = require('node:v8');
const vm = require('node:vm');
const { Worker } = require('node:worker_threads');
const shm = require('@shm/core');
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const [name, keyText] = process.argv.slice(2);
const keys = [name, Number(keyText)];
const cases = [];
const failures = [];

/** Every view of a neutered mapping: empty, reads undefined, writes dropped, methods refuse. */
function assertNeutered(view) {
  assert.strictEqual(view.length, 0);
  assert.strictEqual(view.byteLength, 0);
  assert.strictEqual(view[0], undefined);
  view[0] = 1;
  view[1000] = 1;
  assert.strictEqual(view[0], undefined);
  for (const method of [() => view.fill(1), () => view.set([1]), () => view.slice(0, 1), () => view.indexOf(0), () => view.subarray(0, 1)]) {
    try {
      method();
    } catch (error) {
      assert.ok(error instanceof TypeError, `a neutered view's method threw ${error}`);
    }
  }
  if (Buffer.isBuffer(view)) {
    assert.strictEqual(view.toString('hex'), '');
    assert.throws(() => view.readUInt32LE(0), RangeError);
  }
  assert.throws(() => new Uint8Array(view.buffer), TypeError); // no new view over a neutered buffer
}

async function check(label, body) {
  cases.push(label);
  try {
    await body();
  } catch (error) {
    failures.push(`${label}: ${error.stack}`);
  }
}

function makeViews(key, typeKey) {
  const array = shm.create(1024, typeKey, key) ?? shm.get(key, typeKey);
  return [array, array.subarray(8, 16), Buffer.from(array.buffer, 16, 32), new Float64Array(array.buffer, 64, 4), new DataView(array.buffer)];
}

async function main() {
  for (const key of keys) {
    const kind = typeof key === 'string' ? 'POSIX' : 'System V';
    for (const [how, end] of [
      ['detach', () => shm.detach(key)],
      ['destroy', () => shm.destroy(key)],
      ['detachAll', () => shm.detachAll()],
    ]) {
      await check(`${kind}: views after ${how}`, () => {
        const views = makeViews(key, 'Int32Array');
        const second = shm.get(key, 'Buffer');
        end();
        for (const view of [...views.slice(0, 4), second]) assertNeutered(view);
        assert.throws(() => views[4].byteLength, TypeError); // a DataView over it refuses
        assert.throws(() => views[4].getInt32(0), TypeError);
        shm.destroy(key);
      });
    }

    await check(`${kind}: a subarray keeps the mapping alive after its parent is collected`, async () => {
      let array = shm.create(4096, 'Uint8Array', key);
      array[100] = 42;
      const sub = array.subarray(100, 200);
      array = null;
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.strictEqual(sub[0], 42);
      sub[1] = 43;
      assert.strictEqual(shm.get(key, 'Uint8Array')[101], 43);
      shm.destroy(key);
      assertNeutered(sub);
    });

    await check(`${kind}: a view posted by a worker that then exits is a copy, safe to use`, async () => {
      const array = shm.create(16, 'Int32Array', key);
      array[0] = 5;
      const received = await new Promise((resolve, reject) => {
        const worker = new Worker(
          `const { parentPort, workerData } = require('node:worker_threads');
           const shm = require(workerData.core);
           const view = shm.get(workerData.key, 'Int32Array');
           let sent = false;
           try { parentPort.postMessage(view, [view.buffer]); sent = true; } catch {}
           if (!sent) parentPort.postMessage(view);`,
          { eval: true, workerData: { core: require.resolve('@shm/core'), key } },
        );
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await new Promise((resolve) => setTimeout(resolve, 50)); // the worker is gone
      assert.strictEqual(received[0], 5);
      received[0] = 9; // a copy: the segment does not change
      assert.strictEqual(array[0], 5);
      shm.destroy(key);
    });

    await check(`${kind}: double detach, detach after destroy, destroy after detachAll`, () => {
      const array = shm.create(16, 'Float64Array', key);
      shm.detach(key);
      shm.detach(key);
      shm.destroy(key);
      shm.detachAll();
      shm.destroy(key);
      assertNeutered(array);
    });
  }
  process.send({ cases, failures }, () => process.exit(0));
}
main();
