// A peer process for the stress scenarios: peer.js <module> <key as JSON> <action> [arguments...]
//   add <typeKey> <iterations> <index>   Atomics.add 1 to cell <index> that many times
//   tear <role> <iterations> <parties>   see tear.js: 'writer' stores values whose halves match,
//                                        'reader' counts values whose halves differ
//   write-until-killed                   write cell i = i + 1 in order, reporting progress
//   create-and-hang                      (module '@shm/core', key: a POSIX name) create that POSIX
//                                        object and a System V segment with a generated key, report
//                                        the key, and hold both until killed
// Reports { done: true, ... } over IPC, then exits.
'use strict';
const [moduleName, keyText, action, ...rest] = process.argv.slice(2);
const backend = require(moduleName);
const key = JSON.parse(keyText);
const tear = require('./tear.js');

function finish(message) {
  process.send({ done: true, ...message }, () => process.exit(0));
}

if (action === 'add') {
  const [typeKey, iterations, index] = rest;
  const view = backend.get(key, typeKey);
  const one = typeKey === 'BigInt64Array' ? 1n : 1;
  for (let i = 0, n = Number(iterations); i < n; i++) Atomics.add(view, Number(index), one);
  backend.detach(key);
  finish({});
} else if (action === 'tear') {
  const [role, iterations, parties] = rest;
  const view = backend.get(key, 'Uint32Array');
  finish({ torn: tear.run(view, role, Number(iterations), process.pid, Number(parties)) });
} else if (action === 'write-until-killed') {
  const view = backend.get(key, 'Int32Array');
  for (let i = 0; i < view.length; i++) {
    view[i] = i + 1;
    if (i % 4096 === 0) process.send({ written: i + 1 });
  }
  process.send({ written: view.length });
  // Holds the attachment until killed: the timer uses the view, so no GC
  // collects (and detaches) it meanwhile.
  setInterval(() => view.length, 1000);
} else if (action === 'create-and-hang') {
  const object = backend.create(16, 'Buffer', key);
  const segment = backend.create(16);
  process.send({ sysvKey: segment.key });
  setInterval(() => object.length + segment.length, 1000); // holds both, as above
}
