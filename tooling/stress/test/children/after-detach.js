// Use after detach, in every way a view can outlive its mapping:
//   after-detach.js <POSIX name> <System V key>
// Each case reads and writes the views afterwards; every outcome must be an
// empty view (reads undefined, writes dropped) or a TypeError from a
// TypedArray method, never a crash. Memory that escaped neutering (a buffer
// moved with ArrayBuffer.prototype.transfer(), a pending fs.read) must land
// in harmless pages, never in a segment mapped later.
// Reports { cases: [...names], failures }.
'use strict';
const assert = require('node:assert');
const v8 = require('node:v8');
const vm = require('node:vm');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { MessageChannel, Worker } = require('node:worker_threads');
const shm = require('@shm/core');
const { caseRunner } = require('./cases');
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const [name, keyText] = process.argv.slice(2);
const keys = [name, Number(keyText)];
const { check, report } = caseRunner();

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


const nodeMajor = Number(process.versions.node.split('.')[0]);

/** A second key of the same kind, for the segment mapped after the first is gone. */
function otherKey(key) {
  return typeof key === 'string' ? `${key}-next` : key + 1;
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

    await check(`${kind}: a buffer in a transfer list is refused or copied, never moved`, async () => {
      const array = shm.create(64, 'Uint8Array', key);
      array.fill(5);
      const { port1, port2 } = new MessageChannel();
      const received = new Promise((resolve) => port2.once('message', resolve));
      let refused = false;
      try {
        port1.postMessage(array, [array.buffer]);
      } catch (error) {
        refused = true;
        assert.strictEqual(error.name, 'DataCloneError');
      }
      let cloneRefused = false;
      try {
        assert.strictEqual(structuredClone(array.buffer, { transfer: [array.buffer] }).byteLength, 64);
      } catch (error) {
        cloneRefused = true;
        assert.strictEqual(error.name, 'DataCloneError');
      }
      assert.strictEqual(cloneRefused, nodeMajor >= 22);
      // Node 20 copies a marked buffer; from Node 22 Node refuses external buffers.
      assert.strictEqual(refused, nodeMajor >= 22);
      assert.strictEqual(array.length, 64);
      if (!refused) {
        const copy = await received;
        copy[0] = 9;
        assert.strictEqual(array[0], 5);
      }
      port1.close();
      port2.close();
      shm.destroy(key);
      assertNeutered(array);
    });

    await check(`${kind}: a buffer moved with ArrayBuffer.prototype.transfer() never reaches a later segment`, () => {
      if (nodeMajor < 21) {
        assert.strictEqual(ArrayBuffer.prototype.transfer, undefined); // nothing to move the memory with
        return;
      }
      const array = shm.create(8192, 'Uint8Array', key);
      array.fill(7);
      const moved = new Uint8Array(array.buffer.transfer());
      assert.strictEqual(array.length, 0);
      assert.strictEqual(moved[8191], 7); // moved, not copied: still the segment
      moved[0] = 8;
      assert.strictEqual(shm.get(key, 'Uint8Array')[0], 8);
      shm.destroy(key);
      const next = shm.create(8192, 'Uint8Array', otherKey(key));
      assert.strictEqual(moved[8191], 0); // harmless private pages now
      moved.fill(3);
      assert.ok(next.every((byte) => byte === 0), 'a write through the moved buffer reached the next segment');
      assert.ok(shm.get(otherKey(key), 'Uint8Array').every((byte) => byte === 0));
      shm.destroy(otherKey(key));
    });

    await check(`${kind}: a read still pending at detach lands in harmless pages, never in the next segment`, async () => {
      const fifo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `shm-test-fifo-${process.pid}-`)), 'pipe');
      execFileSync('mkfifo', [fifo]);
      const readEnd = fs.openSync(fifo, 'r+'); // O_RDWR: opening does not wait for a writer
      try {
        const array = shm.create(8192, 'Uint8Array', key);
        // The read blocks in the thread pool, holding the mapping's address.
        const done = new Promise((resolve, reject) =>
          fs.read(readEnd, array, 0, 4096, null, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
        shm.destroy(key);
        assertNeutered(array);
        const next = shm.create(8192, 'Uint8Array', otherKey(key));
        fs.writeFileSync(fifo, Buffer.alloc(4096, 0xee)); // the read completes now
        assert.strictEqual(await done, 4096);
        assert.ok(next.every((byte) => byte === 0), 'the late read wrote into the next segment');
        shm.destroy(otherKey(key));
      } finally {
        fs.closeSync(readEnd);
        fs.rmSync(path.dirname(fifo), { recursive: true, force: true });
      }
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
  report();
}
main();
