// Two processes hand data over through one POSIX segment: the parent sends
// frames through a @shm/sync Channel, the child it forks receives them. The
// receiver sleeps in the kernel until a frame arrives; nothing polls.
//   node examples/channel.js
'use strict';
const { fork } = require('node:child_process');
const posix = require('@shm/posix');
const { Channel } = require('@shm/sync');

const NAME = `/shm-example-channel-${process.argv[3] ?? process.pid}`;

if (process.argv[2] === 'consumer') {
  const channel = Channel.attach(posix.get(NAME, 'Buffer'));
  for (let message; (message = channel.receive()) !== null; ) {
    console.log('[consumer] got', Buffer.from(message).toString());
  }
  console.log('[consumer] the producer closed the channel');
} else {
  const memory = posix.create(Channel.bytesFor(64 * 1024), 'Buffer', NAME);
  const channel = Channel.create(memory);
  const consumer = fork(__filename, ['consumer', String(process.pid)]);
  for (let frame = 1; frame <= 5; frame++) {
    channel.send(Buffer.from(`frame ${frame}`));
    console.log('[producer] sent frame', frame);
  }
  channel.close();
  consumer.on('exit', () => posix.destroy(NAME));
}
