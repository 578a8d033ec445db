// lifecycle.js <mode> ...: the other process of lifecycle.test.ts.
//   reused-key <key>        @shm/core creates <key>; the segment is removed
//                           behind its back and another process creates a new
//                           one under the key; then detach, detachAll,
//                           destroyCreated and the exit hook run
//   reader <theirKey> <ownKey>
//                           (as another user) attaches <theirKey> read-only
//                           and creates <ownKey>; detach and detachAll run,
//                           then the exit hook
//   create-loop <name> <rounds> <bytes>
//                           creates and destroys a reserved, prefixed object
//                           <rounds> times, as a peer polls get()
'use strict';
const { execFileSync } = require('node:child_process');
const shm = require('@shm/core');

const [mode, ...args] = process.argv.slice(2);
const attempt = (call) => {
  try {
    return { result: call() };
  } catch (error) {
    return { code: error.code, message: error.message };
  }
};

if (mode === 'reused-key') {
  const key = Number(args[0]);
  shm.create(8, 'Buffer', key)[0] = 1;
  execFileSync('ipcrm', ['-M', String(key)]); // marked for removal: the key is free at once
  const newcomer = `const a = require('@shm/sysv').create(8, 'Buffer', ${key}); a[0] = 42;`;
  execFileSync(process.execPath, ['-e', newcomer], { cwd: __dirname });
  process.send(
    {
      detach: attempt(() => shm.detach(key)),
      detachAll: attempt(() => shm.detachAll()),
      destroyCreated: attempt(() => shm.destroyCreated()),
    },
    () => process.exit(0), // and the exit hook runs
  );
} else if (mode === 'reader') {
  const [theirKey, ownKey] = args.map(Number);
  const theirs = shm.get(theirKey, 'Buffer', { readonly: true });
  shm.create(8, 'Buffer', ownKey);
  const seen = theirs[0];
  process.send(
    {
      uid: process.getuid(),
      seen,
      detach: attempt(() => shm.detach(theirKey)),
      again: attempt(() => shm.get(theirKey, 'Buffer', { readonly: true }) !== null),
      detachAll: attempt(() => shm.detachAll()),
    },
    () => {
      shm.get(theirKey, 'Buffer', { readonly: true }); // left for the exit hook
      process.exit(0);
    },
  );
} else if (mode === 'create-loop') {
  const [name, rounds, bytes] = [args[0], Number(args[1]), Number(args[2])];
  for (let round = 0; round < rounds; round++) {
    const array = shm.create(bytes, 'Buffer', name);
    array[bytes - 1] = 7;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // visible a while: the poller sees whole ones too
    shm.destroy(name);
  }
  process.send({ rounds }, () => process.exit(0));
} else {
  throw new Error(`unknown mode ${mode}`);
}
