// signals.js <mode> <POSIX name> <System V key>: creates both, reports ready, waits for a signal.
//   helper        only cleanupOnSignals()
//   app-handler   cleanupOnSignals(), and a SIGTERM listener of the application that exits with 7
'use strict';
const shm = require('@shm/core');
const [mode, name, key] = process.argv.slice(2);
shm.cleanupOnSignals();
if (mode === 'app-handler') {
  process.on('SIGTERM', () => process.send({ appHandled: true }, () => process.exit(7)));
}
shm.create(64, 'Buffer', name);
shm.create(64, 'Buffer', Number(key));
shm.get(Number(key)); // a second attachment: destroy must take both
process.send({ ready: true });
setInterval(() => {}, 1000);
