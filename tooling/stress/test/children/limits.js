// Resource limits, run inside namespaces the parent made (see limits.test.ts):
//   limits.js enospc        /dev/shm is a private 1 MiB tmpfs
//   limits.js no-room       the same, with reserve: false: the write that finds no room raises SIGBUS,
//                           which the fault guard turns into private pages and a reported error
//   limits.js populate      the same, with reserve: false and populate: true: an error, not a signal
//   limits.js sysv          a private IPC namespace with SHMMAX 4096 and SHMMNI 3
//   limits.js emfile        RLIMIT_NOFILE is small
// Reports each error's fields and that the process kept working after it.
'use strict';
const fs = require('node:fs');
const posix = require('@shm/posix');
const sysv = require('@shm/sysv');

const fields = (error) => ({ code: error.code, errno: error.errno, syscall: error.syscall, message: error.message });
const attempt = (call) => {
  try {
    call();
    return { threw: false };
  } catch (error) {
    return fields(error);
  }
};
const report = (message) => process.send(message, () => process.exit(0));

const mode = process.argv[2];
if (mode === 'enospc') {
  const tooLarge = attempt(() => posix.create(2 * 1024 * 1024, 'Buffer', '/too-large'));
  const leftBehind = fs.readdirSync('/dev/shm');
  const fits = posix.create(512 * 1024, 'Buffer', '/fits');
  fits.fill(7); // every page is there: no SIGBUS
  report({ tooLarge, leftBehind, keptWorking: fits[fits.length - 1] === 7 && posix.destroy('/fits') });
} else if (mode === 'no-room') {
  const sparse = posix.create(2 * 1024 * 1024, 'Buffer', '/sparse', undefined, { reserve: false });
  sparse.fill(1); // past 1 MiB there is no room: SIGBUS, caught
  const survived = sparse[0] === 1 && sparse[sparse.length - 1] === 1;
  let destroyed = { threw: false };
  try {
    posix.destroy('/sparse'); // reports the loss after destroying
  } catch (error) {
    destroyed = { code: error.code, path: error.path };
  }
  report({ survived, destroyed, leftBehind: fs.readdirSync('/dev/shm') });
} else if (mode === 'populate') {
  const sparse = attempt(() => posix.create(2 * 1024 * 1024, 'Buffer', '/sparse', undefined, { reserve: false, populate: true }));
  const leftBehind = fs.readdirSync('/dev/shm');
  const fits = posix.create(512 * 1024, 'Buffer', '/fits', undefined, { reserve: false, populate: true });
  fits.fill(7);
  report({ sparse, leftBehind, keptWorking: fits[fits.length - 1] === 7 && posix.destroy('/fits') });
} else if (mode === 'sysv') {
  const tooLarge = attempt(() => sysv.create(8192, 'Buffer', 1));
  const made = [1, 2, 3].map((key) => sysv.create(1024, 'Buffer', key) !== null);
  const oneTooMany = attempt(() => sysv.create(1024, 'Buffer', 4));
  sysv.destroy(1);
  const afterDestroy = sysv.create(1024, 'Buffer', 4) !== null;
  [2, 3, 4].forEach((key) => sysv.destroy(key));
  report({ tooLarge, made, oneTooMany, keptWorking: afterDestroy });
} else if (mode === 'emfile') {
  const held = [];
  for (;;) {
    try {
      held.push(fs.openSync('/dev/null', 'r'));
    } catch {
      break;
    }
  }
  const name = process.argv[3];
  const noDescriptor = attempt(() => posix.create(16, 'Buffer', name));
  held.forEach((fd) => fs.closeSync(fd));
  const afterClose = posix.create(16, 'Buffer', name) !== null && posix.destroy(name);
  report({ noDescriptor, keptWorking: afterClose });
}
