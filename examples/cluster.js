// shm-typed-array's cluster example, ported to @shm/core: the only change to
// the library calls is the require. A primary process creates a System V
// segment and a POSIX object, forks a worker that attaches both, and both
// print what they see every 500 ms. The one other change: the primary waits
// for its worker to exit before it exits itself, so the worker's attachment
// is gone when the exit handler counts and destroys segments.
'use strict';
const cluster = require('node:cluster');
const assert = require('node:assert');
const shm = require('@shm/core');

const key1 = 12345678;
const unexistingKey = 1234567891;
const posixKey = '/1234567';

let buf, arr;
if (cluster.isPrimary) {
  cleanup();

  // Assert that creating shm with same key twice will fail
  const a = shm.create(10, 'Float32Array', key1); // SYSV
  const b = shm.create(10, 'Float32Array', key1); // SYSV
  assert.equal(shm.getTotalCreatedSize(), 10 * 4);
  assert.equal(shm.getTotalSize(), 10 * 4);
  assert(a instanceof Float32Array);
  assert.equal(a.key, key1);
  assert.equal(b, null);

  // Detach and destroy
  const attachesCnt = shm.detach(a.key);
  assert.equal(attachesCnt, 0);
  assert.equal(shm.getTotalSize(), 0);
  assert.equal(shm.getTotalCreatedSize(), 0);

  // Assert that getting shm by unexisting key will fail
  const c = shm.get(unexistingKey, 'Buffer');
  assert(c === null);

  // Test using shm between 2 node processes
  buf = shm.create(4096); // 4KB, SYSV
  assert.equal(shm.getTotalSize(), 4096);
  arr = shm.create(10000, 'Float32Array', posixKey); // 10000 floats, POSIX
  assert.equal(shm.getTotalSize(), 4096 + 10000 * 4 + 8); // 8 bytes more: the POSIX object's length header
  assert.equal(shm.getTotalCreatedSize(), 4096 + 10000 * 4 + 8);
  assert(arr && typeof arr.key === 'undefined');
  assert.equal(arr.length, 10000);
  assert.equal(arr.byteLength, 4 * 10000);
  buf[0] = 1;
  arr[0] = 10.0;
  console.log('[Master] Typeof buf:', buf.constructor.name, 'Typeof arr:', arr.constructor.name);

  const worker = cluster.fork();
  worker.on('online', function () {
    this.send({ msg: 'shm', bufKey: buf.key, arrKey: posixKey });
    let i = 0;
    const timer = setInterval(function () {
      buf[0] += 1;
      arr[0] /= 2;
      console.log(i + ' [Master] Set buf[0]=', buf[0], ' arr[0]=', arr ? arr[0] : null);
      i++;
      if (i == 5) {
        clearInterval(timer);
        groupSuicide();
      }
    }, 500);
  });

  process.on('exit', cleanup);
} else {
  process.on('message', function (data) {
    const msg = data.msg;
    if (msg == 'shm') {
      buf = shm.get(data.bufKey);
      arr = shm.get(data.arrKey, 'Float32Array');
      assert.equal(shm.getTotalCreatedSize(), 0);
      assert.equal(shm.getTotalSize(), 4096 + 10000 * 4 + 8);
      console.log('[Worker] Typeof buf:', buf.constructor.name, 'Typeof arr:', arr.constructor.name);
      let i = 0;
      setInterval(function () {
        console.log(i + ' [Worker] Get buf[0]=', buf[0], ' arr[0]=', arr ? arr[0] : null);
        i++;
        if (i == 2) {
          shm.detach(data.arrKey);
          arr = null;
        }
      }, 500);
    } else if (msg == 'exit') {
      process.exit();
    }
  });
}

function cleanup() {
  try {
    if (shm.destroy(key1)) {
      console.log(`Destroyed System V shared memory segment with key ${key1}`);
    }
  } catch (_e) {}
  try {
    if (shm.destroy(posixKey)) {
      console.log(`Destroyed POSIX shared memory object with name ${posixKey}`);
    }
  } catch (_e) {}
  assert.equal(shm.getTotalSize(), 0);
}

function groupSuicide() {
  const workers = Object.values(cluster.workers);
  let running = workers.length;
  for (const worker of workers) {
    worker.once('exit', () => {
      if (--running === 0) process.exit();
    });
    worker.send({ msg: 'exit' });
  }
}
