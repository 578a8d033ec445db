// Run as another user: intruder.js <POSIX name> <System V key>
// Tries to open and to remove both; reports each error's code and syscall.
'use strict';
const posix = require('@shm/posix');
const sysv = require('@shm/sysv');
const [name, key] = [process.argv[2], Number(process.argv[3])];
const attempt = (call) => {
  try {
    return { result: call() };
  } catch (error) {
    return { code: error.code, syscall: error.syscall };
  }
};
process.send(
  {
    uid: process.getuid(),
    posixGet: attempt(() => posix.get(name)),
    posixReadonly: attempt(() => posix.get(name, 'Buffer', { readonly: true })),
    posixDestroy: attempt(() => posix.destroy(name)),
    sysvGet: attempt(() => sysv.get(key)),
    sysvReadonly: attempt(() => sysv.get(key, 'Buffer', { readonly: true })),
    sysvDestroy: attempt(() => sysv.destroy(key)),
  },
  () => process.exit(0),
);
