'use strict';
// The arm64 @shm/sync binary at work under qemu: a wait that times out, one
// woken from another process, a Mutex and a Channel. (Its whole suite is not
// run there: see docs/development.md.) Prints one line, exits non-zero on a
// wrong answer.
const { fork } = require('node:child_process');
const posix = require('@shm/posix');
const { Channel, Mutex, notify, wait, waitAsync } = require('@shm/sync');

if (process.argv[2] === 'notifier') {
  const cells = posix.get(process.argv[3], 'Int32Array');
  Atomics.store(cells, 0, 1);
  notify(cells, 0);
  process.exit(0);
}

const name = `/shm-test-arm64-sync-${process.pid}`;
const memory = posix.create(4096, 'Uint8Array', name);
async function main() {
  const cells = new Int32Array(memory.buffer, 0, 4);
  const answers = { timedOut: wait(cells, 0, 0, 10) };
  const woken = waitAsync(cells, 0, 0, 20000);
  const notifier = fork(__filename, ['notifier', name]);
  answers.woken = await woken;
  await new Promise((done) => notifier.on('exit', done));
  const guard = new Mutex(memory, 64).lock();
  answers.recovered = guard.recovered;
  guard.unlock();
  const channel = Channel.create(memory.subarray(128, 128 + Channel.bytesFor(256)));
  channel.send(Buffer.from('arm64'));
  answers.received = Buffer.from(channel.receive()).toString();
  console.log(JSON.stringify(answers));
  const expected = { timedOut: 'timed-out', woken: 'ok', recovered: false, received: 'arm64' };
  if (JSON.stringify(answers) !== JSON.stringify(expected)) process.exitCode = 1;
}
main().finally(() => posix.destroy(name));
