// Mappings under hostile peers and exhausted limits, in a child process:
//   hostile-peer.js <POSIX name> <System V key>
// Every case must end in data or a coded error, never a signal. Reports
// { cases: [...names], failures: [...] }.
'use strict';
const assert = require('node:assert');
const fs = require('node:fs');
const v8 = require('node:v8');
const vm = require('node:vm');
const { execFileSync } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const posix = require('@shm/posix');
const sysv = require('@shm/sysv');
const { caseRunner } = require('./cases');
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const [name, keyText] = process.argv.slice(2);
const key = Number(keyText);
const second = `${name}-b`; // for cases of two objects
const PAGE = 4096;

// Whatever a failed case left is removed, so that the next starts clean.
const { check, report } = caseRunner(() => {
  for (const cleanup of [() => posix.destroy(name), () => posix.destroy(second), () => sysv.destroy(key)]) {
    try {
      cleanup();
    } catch {
      // reported by the case
    }
  }
});

const mapCount = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').length;

async function main() {
  await check('POSIX: a peer shrinks the object: reads past the new end see zeros, and detach reports ERR_SHM_TRUNCATED', () => {
    const shared = posix.create(4 * PAGE, 'Uint8Array', name);
    shared.fill(1);
    const readonly = posix.get(name, 'Uint8Array', { readonly: true });
    execFileSync('truncate', ['-s', String(PAGE), `/dev/shm${name}`]); // another process, with write access
    assert.strictEqual(shared[10], 1); // what remains is still shared
    assert.strictEqual(shared[3 * PAGE], 0);
    assert.strictEqual(readonly[2 * PAGE], 0);
    shared[3 * PAGE + 1] = 5; // lands in this process's private zero pages
    assert.strictEqual(shared[3 * PAGE + 1], 5);
    assert.throws(() => posix.detach(name), (error) => error.code === 'ERR_SHM_TRUNCATED' && error.path === name);
    assert.strictEqual(shared.length, 0); // the detach was done before the report
    assert.strictEqual(readonly.length, 0);
    assert.strictEqual(posix.detach(name), -1); // reported once
    assert.strictEqual(posix.get(name, 'Uint8Array').length, PAGE); // a new attachment sees the new size
    assert.strictEqual(posix.destroy(name), true);
  });

  await check('POSIX: a truncation found while attached is reported by the next get of that name', () => {
    const view = posix.create(2 * PAGE, 'Uint8Array', name);
    fs.truncateSync(`/dev/shm${name}`, PAGE);
    assert.strictEqual(view[PAGE], 0);
    assert.throws(() => posix.get(name), { code: 'ERR_SHM_TRUNCATED' });
    assert.strictEqual(posix.get(name).length, PAGE);
    posix.destroy(name);
  });

  await check('System V: writes over a large read-only view make one private copy: no mapping per page, one attachment less', () => {
    const bytes = 64 * 1024 * 1024;
    const writable = sysv.create(bytes, 'Uint8Array', key);
    writable[0] = 1;
    const readonly = sysv.get(key, 'Uint8Array', { readonly: true });
    const follower = sysv.get(key, 'Uint8Array', { readonly: true });
    assert.strictEqual(sysv.attachCount(key), 3);
    const before = mapCount();
    readonly.fill(7); // every page written: 16,384 of them
    // One copy replaces the attachment; the rest is whatever V8 mapped meanwhile.
    assert.ok(mapCount() <= before + 8, `${mapCount() - before} new mappings`);
    assert.strictEqual(sysv.attachCount(key), 2); // the copy left the segment
    assert.strictEqual(readonly[0], 7);
    assert.strictEqual(writable[0], 1); // the segment never changes
    writable[1] = 9;
    assert.strictEqual(follower[1], 9); // another read-only view still follows the segment
    assert.strictEqual(readonly[1], 7); // the copy does not
    assert.strictEqual(sysv.detach(key), 0); // the last attachments went: destroyed
  });

  await check('System V: two threads writing one page of a read-only view at once both keep their writes', async () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      sysv.create(PAGE, 'Int32Array', key);
      const shared = new SharedArrayBuffer(4);
      const workers = [0, 1].map(
        (index) =>
          new Worker(
            `const { workerData, parentPort } = require('node:worker_threads');
             const sysv = require(workerData.sysv);
             const view = sysv.get(workerData.key, 'Int32Array', { readonly: true });
             const start = new Int32Array(workerData.start);
             Atomics.wait(start, 0, 0); // both threads write at once
             view[workerData.index] = workerData.index + 1;
             parentPort.postMessage(view[workerData.index]);`,
            { eval: true, workerData: { sysv: require.resolve('@shm/sysv'), key, index, start: shared } },
          ),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      Atomics.store(new Int32Array(shared), 0, 1);
      Atomics.notify(new Int32Array(shared), 0);
      const seen = await Promise.all(workers.map((worker) => new Promise((resolve, reject) => (worker.once('message', resolve), worker.once('error', reject)))));
      assert.deepStrictEqual(seen, [1, 2]);
      sysv.destroy(key);
    }
  });

  await check('the kernel writes into a read-only POSIX view (a private mapping), not into a read-only System V view (EFAULT)', () => {
    const source = fs.openSync('/dev/zero', 'r');
    try {
      posix.create(PAGE, 'Uint8Array', name).fill(3);
      const posixView = posix.get(name, 'Uint8Array', { readonly: true });
      assert.strictEqual(fs.readSync(source, posixView, 0, 16, null), 16);
      assert.strictEqual(posixView[0], 0);
      assert.strictEqual(posix.get(name, 'Uint8Array')[0], 3);
      posix.destroy(name);
      sysv.create(PAGE, 'Uint8Array', key).fill(3);
      const sysvView = sysv.get(key, 'Uint8Array', { readonly: true });
      assert.throws(() => fs.readSync(source, sysvView, 0, 16, null), { code: 'EFAULT' });
      assert.strictEqual(sysvView[0], 3);
      sysv.destroy(key);
    } finally {
      fs.closeSync(source);
    }
  });

  await check('a synchronous loop of get() that runs out of mappings gets ERR_SHM_MAPPING_LIMIT before the kernel limit, then recovers once the loop turns', async () => {
    posix.create(PAGE, 'Uint8Array', name);
    let error;
    let made = 0;
    for (; made < 200000; made++) {
      try {
        posix.get(name); // dropped at once: its mapping stays until the event loop turns
      } catch (caught) {
        error = caught;
        break;
      }
    }
    assert.ok(error, `${made} gets never ran out`);
    // Short of vm.max_map_count, where V8 itself could no longer map its heap.
    assert.strictEqual(error.code, 'ERR_SHM_MAPPING_LIMIT', `${error.code}: ${error.message}`);
    const limit = Number(fs.readFileSync('/proc/sys/vm/max_map_count', 'utf8'));
    assert.ok(mapCount() < limit - 4096, `${mapCount()} mappings of ${limit}`);
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.strictEqual(posix.get(name).length, PAGE);
    posix.destroy(name);
  });

  await check('a buffer moved out of a worker with transfer() never reaches a segment mapped after the worker exits', async () => {
    if (typeof ArrayBuffer.prototype.transfer !== 'function') return; // Node 20: nothing can move it
    const moved = await new Promise((resolve, reject) => {
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const posix = require(workerData.posix);
         const view = posix.create(4096, 'Uint8Array', workerData.name);
         view[0] = 1;
         const moved = view.buffer.transfer();
         parentPort.postMessage(moved, [moved]); // the moved buffer is not external: Node posts it`,
        { eval: true, workerData: { posix: require.resolve('@shm/posix'), name } },
      );
      let received;
      worker.once('message', (buffer) => (received = buffer));
      worker.once('error', reject);
      worker.once('exit', () => resolve(new Uint8Array(received)));
    });
    const next = Array.from({ length: 8 }, (_, index) => posix.create(4096, 'Uint8Array', `${name}-${index}`));
    moved[0] = 99; // the exited worker's range is held, not reused
    moved[1] = 98;
    assert.ok(next.every((view) => view[0] === 0 && view[1] === 0), 'a write through the moved buffer reached a new segment');
    next.forEach((_, index) => posix.destroy(`${name}-${index}`));
    posix.destroy(name);
  });

  await check('a handler copying a read-only view for a thread-pool writer never marks the view that reuses its slot', async () => {
    const big = 32 * 1024 * 1024;
    sysv.create(big, 'Uint8Array', key).fill(1);
    sysv.create(PAGE, 'Uint8Array', key + 1)[0] = 3;
    const readonly = sysv.get(key, 'Uint8Array', { readonly: true });
    let next;
    const written = new Promise((resolve, reject) =>
      require('node:crypto').randomFill(readonly, 0, 16, (error) => (error ? reject(error) : resolve())),
    );
    const started = process.hrtime.bigint();
    while (process.hrtime.bigint() - started < 5_000_000n); // the pool thread faults and starts copying
    sysv.detach(key, true); // its slot is freed...
    next = sysv.get(key + 1, 'Uint8Array', { readonly: true }); // ...and taken by this view
    await written;
    next[0] = 5; // before generations, this write faulted for ever
    assert.strictEqual(next[0], 5);
    assert.strictEqual(sysv.get(key + 1, 'Uint8Array')[0], 3);
    sysv.destroy(key + 1);
  });

  await check('prefixed gets while a peer keeps changing the size: coded errors only, never a signal', async () => {
    posix.create(PAGE, 'Uint8Array', name, undefined, { layout: 'prefixed' });
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const peer = new Worker(
      `const fs = require('node:fs'); const { workerData } = require('node:worker_threads');
       while (Atomics.load(workerData.stop, 0) === 0) { fs.truncateSync(workerData.file, 0); fs.truncateSync(workerData.file, 8192); }`,
      { eval: true, workerData: { file: `/dev/shm${name}`, stop } },
    );
    const codes = new Set();
    const until = Date.now() + 500;
    while (Date.now() < until) {
      for (const call of [() => posix.get(name, 'Uint8Array', { layout: 'prefixed' }), () => posix.detach(name)]) {
        try {
          call();
        } catch (error) {
          assert.ok(typeof error.code === 'string', String(error));
          codes.add(error.code);
        }
      }
    }
    Atomics.store(stop, 0, 1);
    await new Promise((resolve) => peer.once('exit', resolve));
    assert.ok(codes.has('ERR_SHM_LAYOUT'), [...codes].join());
    try {
      posix.destroy(name);
    } catch (error) {
      assert.strictEqual(error.code, 'ERR_SHM_TRUNCATED');
    }
  });

  await check('only the lost pages become zeros: what remains stays shared, a write past the end stays put', () => {
    const shared = posix.create(4 * PAGE, 'Uint8Array', name);
    shared.fill(1);
    fs.truncateSync(`/dev/shm${name}`, 2 * PAGE);
    shared[3 * PAGE] = 5; // lands in a private zero page
    assert.strictEqual(shared[2 * PAGE], 0); // another lost page faults...
    assert.strictEqual(shared[3 * PAGE], 5); // ...and leaves the first one's write alone
    shared[PAGE] = 7;
    assert.strictEqual(fs.readFileSync(`/dev/shm${name}`)[PAGE], 7); // still shared below the end
    assert.throws(() => posix.destroy(name), { code: 'ERR_SHM_TRUNCATED' });
    assert.strictEqual(fs.existsSync(`/dev/shm${name}`), false);
  });

  await check('a peer empties a large object under sparse reads: zeros, a bounded number of mappings, and the process goes on', () => {
    const pages = 16384; // 64 MiB
    const view = posix.create(pages * PAGE, 'Uint8Array', name, undefined, { reserve: false });
    const before = mapCount();
    execFileSync('truncate', ['-s', '0', `/dev/shm${name}`]);
    let sum = 0;
    for (let page = 0; page < pages; page += 2) sum += view[page * PAGE]; // every other page: no two zero pages merge
    assert.strictEqual(sum, 0);
    // The first lost pages are zeroed one by one (a split each); within the
    // range's budget of splits the whole view becomes one mapping of zero
    // pages. Before: a mapping per lost page, up to vm.max_map_count, where
    // the next fault killed the process and V8 aborted.
    const added = mapCount() - before;
    assert.ok(added <= 16, `${added} new mappings`);
    const kept = [];
    for (let round = 0; round < 20; round++) kept.push(new Array(100000).fill(round)); // V8 still maps
    assert.strictEqual(kept.length, 20);
    assert.throws(() => posix.destroy(name), { code: 'ERR_SHM_TRUNCATED' });
  });

  await check('a peer shrinks a large object under scans past its new end: the pages below it stay shared, and few mappings are added', () => {
    const pages = 16384; // 64 MiB
    const forward = posix.create(pages * PAGE, 'Uint8Array', name);
    const backward = posix.get(name, 'Uint8Array');
    const before = mapCount();
    execFileSync('truncate', ['-s', String((pages / 2) * PAGE), `/dev/shm${name}`]);
    let sum = 0;
    for (let page = 0; page < pages; page++) sum += forward[page * PAGE];
    for (let page = pages - 1; page >= 0; page--) sum += backward[page * PAGE + 1];
    assert.strictEqual(sum, 0);
    // Each scan's zero pages merge into one run: one split per view, however
    // long the scan. Before: each page was counted as a split, so after 1,024
    // pages the whole view was zeroed, the half still shared included.
    const added = mapCount() - before;
    assert.ok(added <= 16, `${added} new mappings`);
    forward[PAGE] = 7;
    backward[PAGE + 1] = 8;
    const bytes = fs.readFileSync(`/dev/shm${name}`);
    assert.deepStrictEqual([bytes.length, bytes[PAGE], bytes[PAGE + 1]], [(pages / 2) * PAGE, 7, 8]);
    assert.strictEqual(backward[PAGE], 7); // the views still share those pages
    assert.throws(() => posix.destroy(name), { code: 'ERR_SHM_TRUNCATED' });
  });

  await check("one object's lost pages do not spend the splits that another's views need", () => {
    const pages = 4096; // 16 MiB, emptied and read at every other page, up to 1,024 of them
    const hostile = posix.create(pages * PAGE, 'Uint8Array', name, undefined, { reserve: false });
    const bystander = posix.create(4 * PAGE, 'Uint8Array', second);
    execFileSync('truncate', ['-s', '0', `/dev/shm${name}`]);
    execFileSync('truncate', ['-s', String(2 * PAGE), `/dev/shm${second}`]);
    let sum = 0;
    for (let page = 0; page < 2048; page += 2) sum += hostile[page * PAGE];
    assert.strictEqual(sum, 0);
    // Before: those 1,024 pages spent the process's whole budget, and the
    // bystander's one lost page then zeroed its whole view.
    assert.strictEqual(bystander[3 * PAGE], 0);
    bystander[1] = 9;
    assert.strictEqual(fs.readFileSync(`/dev/shm${second}`)[1], 9);
    assert.throws(() => posix.destroy(name), { code: 'ERR_SHM_TRUNCATED' });
    assert.throws(() => posix.destroy(second), { code: 'ERR_SHM_TRUNCATED' });
  });

  await check('two cursors past the new end, taking turns: the pages below it stay shared', () => {
    const pages = 4096; // 16 MiB
    const view = posix.create(pages * PAGE, 'Uint8Array', name);
    execFileSync('truncate', ['-s', String((pages / 2) * PAGE), `/dev/shm${name}`]);
    // As a copy between two lost parts would read them: each page is apart
    // from the other cursor's run, so each counts as a split.
    let sum = 0;
    for (let page = 0; page < pages / 4; page++) sum += view[(pages / 2 + page) * PAGE] + view[((3 * pages) / 4 + page) * PAGE];
    assert.strictEqual(sum, 0);
    // Past the view's budget of splits, what goes is the tail from the lowest
    // lost page: all of it lost anyway. Before: the whole view, shared half included.
    view[PAGE] = 7;
    assert.strictEqual(fs.readFileSync(`/dev/shm${name}`)[PAGE], 7);
    assert.throws(() => posix.destroy(name), { code: 'ERR_SHM_TRUNCATED' });
  });

  await check("the process's budget of splits bounds the mappings that many views' lost pages make", () => {
    const views = 20;
    const halved = 300;
    const names = Array.from({ length: views + halved }, (_, at) => `${name}-${at}`);
    try {
      const made = names.map((each, at) => posix.create((at < views ? 256 : 2) * PAGE, 'Uint8Array', each, undefined, { reserve: false }));
      const before = mapCount();
      names.forEach((each, at) => fs.truncateSync(`/dev/shm${each}`, at < views ? 0 : PAGE));
      let sum = 0;
      // 60 pages apart in each of the first views: within a view's budget,
      // and 1,200 in all, past the process's 1,024.
      for (const view of made.slice(0, views)) for (let page = 0; page < 120; page += 2) sum += view[page * PAGE];
      // Then one page past the new end of each of the others: with no split
      // left, each is zeroed whole. Before: each tail was a mapping no budget
      // counted, and enough of them reached vm.max_map_count.
      for (const view of made.slice(views)) sum += view[PAGE];
      assert.strictEqual(sum, 0);
      const added = mapCount() - before;
      assert.ok(added > 1024 && added <= 2 * 1024 + 64, `${added} new mappings`); // splits were made, and no more than the budget
      for (const each of names) assert.throws(() => posix.destroy(each), { code: 'ERR_SHM_TRUNCATED' });
    } finally {
      for (const each of names) {
        try {
          posix.destroy(each);
        } catch {
          // destroyed above, or reported there
        }
      }
    }
  });

  await check('a loss in a view dropped without detach is reported by the next get of that name', async () => {
    let view = posix.create(2 * PAGE, 'Uint8Array', name);
    fs.truncateSync(`/dev/shm${name}`, PAGE);
    void view[PAGE];
    view = null;
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.strictEqual(posix.getTotalSize(), 0);
    assert.throws(() => posix.get(name), { code: 'ERR_SHM_TRUNCATED' });
    posix.destroy(name);
  });

  await check('cleanup finishes every segment before it reports a loss', () => {
    const core = require('@shm/core');
    const lossy = core.create(2 * PAGE, 'Uint8Array', name);
    core.create(PAGE, 'Uint8Array', `${name}-b`);
    core.create(PAGE, 'Uint8Array', key);
    fs.truncateSync(`/dev/shm${name}`, 0);
    void lossy[0];
    assert.throws(() => core.destroyCreated(), { code: 'ERR_SHM_TRUNCATED' });
    assert.deepStrictEqual([fs.existsSync(`/dev/shm${name}`), fs.existsSync(`/dev/shm${name}-b`), sysv.attachCount(key)], [false, false, -1]);
  });

  await check('a SIGBUS sent with kill(2) still ends the process: only faults are guarded', () => {
    const result = require('node:child_process').spawnSync(process.execPath, [
      '-e',
      `const posix = require(${JSON.stringify(require.resolve('@shm/posix'))});
       posix.create(1, 'Buffer', ${JSON.stringify(`${name}-kill`)}); posix.destroy(${JSON.stringify(`${name}-kill`)});
       process.kill(process.pid, 'SIGBUS'); setTimeout(() => {}, 2000);`,
    ]);
    assert.strictEqual(result.signal, 'SIGBUS');
  });

  await check('workers that detach what they mapped before exiting leave nothing held: 70 x 1,000 mappings stay within the budget', async () => {
    posix.create(PAGE, 'Uint8Array', name);
    for (let round = 0; round < 70; round++) {
      await new Promise((resolve, reject) => {
        const worker = new Worker(
          `const { workerData } = require('node:worker_threads');
           const posix = require(workerData.posix);
           for (let i = 0; i < 1000; i++) posix.get(workerData.name);
           posix.detach(workerData.name);`,
          { eval: true, workerData: { posix: require.resolve('@shm/posix'), name } },
        );
        worker.once('error', reject);
        worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${round} exited ${code}`))));
      });
    }
    assert.strictEqual(posix.get(name).length, PAGE); // not ERR_SHM_MAPPING_LIMIT: nothing of theirs is counted
    posix.destroy(name);
  });

  report();
}
main();
