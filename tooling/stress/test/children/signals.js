// signals.js <mode> <POSIX name> <System V key>: creates both, reports ready, waits for a signal.
//   helper        only cleanupOnSignals()
//   app-handler   cleanupOnSignals(), and a SIGTERM listener of the application that exits with 7
//   every-helper  the cleanupOnSignals() of @shm/core (twice), @shm/posix and @shm/sysv
//   worker        cleanupOnSignals(); a worker creates both through the backends
//                 (no exit hook of @shm/core there), and ends before ready
'use strict';
const { Worker } = require('node:worker_threads');
const shm = require('@shm/core');
const [mode, name, key] = process.argv.slice(2);
shm.cleanupOnSignals();
if (mode === 'app-handler') {
  process.on('SIGTERM', () => process.send({ appHandled: true }, () => process.exit(7)));
}
if (mode === 'every-helper') {
  shm.cleanupOnSignals();
  require('@shm/posix').cleanupOnSignals();
  require('@shm/sysv').cleanupOnSignals();
}
const held = [];
if (mode === 'worker') {
  const source = `require(${JSON.stringify(require.resolve('@shm/posix'))}).create(64, 'Buffer', ${JSON.stringify(name)});
    require(${JSON.stringify(require.resolve('@shm/sysv'))}).create(64, 'Buffer', ${Number(key)});`;
  new Worker(source, { eval: true }).on('exit', () => process.send({ ready: true }));
} else {
  held.push(shm.create(64, 'Buffer', name), shm.create(64, 'Buffer', Number(key)));
  held.push(shm.get(Number(key))); // a second attachment: destroy must take both
  process.send({ ready: true });
}
// The timer uses what is held, so no GC collects (and detaches) it before the signal comes.
setInterval(() => held.length, 1000);
