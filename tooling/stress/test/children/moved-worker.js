// moved-worker.js <POSIX name> <System V key>: a worker maps each kind, moves
// the memory with ArrayBuffer.prototype.transfer(), posts the moved buffer
// here, lets its own ArrayBuffer be collected, and exits. The moved buffer
// must stay safe to use after that exit (before, the worker's teardown
// unmapped the range and this read was a SIGSEGV). Reports { results }.
'use strict';
const v8 = require('node:v8');
const vm = require('node:vm');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
v8.setFlagsFromString('--expose-gc');

if (isMainThread) {
  const [name, key] = process.argv.slice(2);
  if (ArrayBuffer.prototype.transfer === undefined) {
    process.send({ results: 'no ArrayBuffer.prototype.transfer on this line: nothing can move the memory' });
  } else {
    const results = [];
    const next = (targets) => {
      if (targets.length === 0) return process.send({ results }, () => process.exit(0));
      const worker = new Worker(__filename, { workerData: { target: targets[0], core: require.resolve('@shm/core') } });
      let moved;
      worker.on('message', (message) => (moved = message));
      worker.on('exit', () =>
        setTimeout(() => {
          const view = new Uint8Array(moved);
          view[1] = 9; // lands in private pages of this process
          results.push({ length: view.length, first: view[0], second: view[1] });
          next(targets.slice(1));
        }, 50),
      );
    };
    next([name, Number(key)]);
  }
} else {
  const gc = vm.runInNewContext('gc');
  const shm = require(workerData.core);
  let array = shm.create(4096, 'Uint8Array', workerData.target);
  array[0] = 7;
  let buffer = array.buffer;
  array = null;
  const moved = buffer.transfer();
  parentPort.postMessage(moved, [moved]);
  buffer = null;
  gc();
  setTimeout(() => {
    gc();
    shm.destroy(workerData.target);
  }, 20);
}
