// Terminating workers while native calls throw: terminate.js <terminations>
// Each worker loops over calls that throw from C++ (the bindings' own
// argument re-checks and system errors, in every native package) and is
// terminated at a random moment. While a thread terminates, Node-API cannot
// throw, and an error that could not be thrown must be dropped, not turned
// into a C++ exception that ends the process (std::terminate, exit 134).
// Reports { survived }.
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const addon = (pkg, name) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'build', 'Release', `${name}.node`);
const code = `
  const { parentPort, workerData } = require('node:worker_threads');
  const bindings = workerData.addons.map((file) => require(file));
  parentPort.postMessage('running');
  for (;;) {
    for (const binding of bindings) {
      for (const name of Object.keys(binding)) {
        if (typeof binding[name] !== 'function') continue;
        try { binding[name]('not a valid argument', -1); } catch {}
      }
    }
  }`;
const addons = [addon('@shm/posix', 'shm_posix'), addon('@shm/sysv', 'shm_sysv'), addon('@shm/sync', 'shm_sync')];

async function main() {
  const terminations = Number(process.argv[2]);
  let survived = 0;
  for (let i = 0; i < terminations; i++) {
    const worker = new Worker(code, { eval: true, workerData: { addons } });
    await new Promise((resolve, reject) => (worker.once('message', resolve), worker.once('error', reject)));
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
    await worker.terminate();
    survived++;
  }
  process.send({ survived }, () => process.exit(0));
}
main();
