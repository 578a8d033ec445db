/**
 * The other process of section 7: `sync-peer.js <role> <segment name>`.
 *   futex-echo     waits on cell 0 (spinning <spin> reads first, the third
 *                  argument) and copies each new value to cell 1 with a notify,
 *                  until cell 0 holds -1 (blocks; no event loop needed)
 *   message-echo   answers every IPC message with itself
 *   socket-echo    connects to the Unix socket named by the first message and echoes every byte
 *   channel-drain  on { count }, receives count messages from the channel, answers { received, bytes }
 *   channel-drain-into  the same with receiveInto, into one reused buffer
 *   message-drain  on { count }, counts count IPC messages, answers { received, bytes }
 */
import { connect } from 'node:net';
import * as posix from '@shm/posix';
import { Channel, notify, wait } from '@shm/sync';

const [role, name, spinArgument] = process.argv.slice(2);
const spin = Number(spinArgument ?? 0);

function futexEcho(): void {
  const cells = posix.get(name, 'Int32Array')!;
  // The loop blocks this process's event loop: say 'ready' only once it is sent.
  process.send!('ready', () => echoLoop(cells));
}

function echoLoop(cells: Int32Array): void {
  for (let seen = 0; ; ) {
    wait(cells, 0, seen, Infinity, { spin });
    const value = Atomics.load(cells, 0);
    if (value === -1) break;
    if (value === seen) continue;
    seen = value;
    Atomics.store(cells, 1, value);
    notify(cells, 1);
  }
  process.disconnect();
}

function channelDrain(): void {
  const channel = Channel.attach(posix.get(name, 'Buffer')!);
  process.on('message', ({ count }: { count: number }) => {
    let bytes = 0;
    for (let received = 0; received < count; received++) bytes += channel.receive()!.length;
    process.send!({ received: count, bytes });
  });
  process.send!('ready');
}

/** As channelDrain, into one reused buffer (receiveInto: no allocation per message). */
function channelDrainInto(): void {
  const channel = Channel.attach(posix.get(name, 'Buffer')!);
  const target = new Uint8Array(channel.maxMessageBytes);
  process.on('message', ({ count }: { count: number }) => {
    let bytes = 0;
    for (let received = 0; received < count; received++) bytes += channel.receiveInto(target)!;
    process.send!({ received: count, bytes });
  });
  process.send!('ready');
}

function messageDrain(): void {
  let expected = 0;
  let received = 0;
  let bytes = 0;
  process.on('message', (message: { count?: number } | Uint8Array) => {
    if (!(message instanceof Uint8Array)) {
      expected = message.count!;
      return;
    }
    received++;
    bytes += message.length;
    if (received === expected) {
      process.send!({ received, bytes });
      received = 0;
      bytes = 0;
    }
  });
  process.send!('ready');
}

const roles: Record<string, () => void> = {
  'futex-echo': futexEcho,
  'message-echo': () => {
    process.on('message', (message) => process.send!(message));
    process.send!('ready');
  },
  'socket-echo': () => {
    process.once('message', (path: string) => {
      const socket = connect(path, () => process.send!('connected'));
      socket.setNoDelay(true);
      socket.on('data', (chunk) => socket.write(chunk));
    });
    process.send!('ready');
  },
  'channel-drain': channelDrain,
  'channel-drain-into': channelDrainInto,
  'message-drain': messageDrain,
};
roles[role]();
process.on('disconnect', () => process.exit(0));
