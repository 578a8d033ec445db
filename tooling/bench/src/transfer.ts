/**
 * Sections 2 and 3: moving bytes from this process to another one that reads
 * every byte, through shared memory and through Node's other paths, and the
 * same byte count copied inside one process (the machine's memory bandwidth).
 *
 * The payload starts in an ordinary Buffer of the sender, which keeps it, so
 * every path makes one copy at least: into the segment, into the pipe or
 * socket, into a structured clone, or into the ArrayBuffer that is then
 * transferred.
 */
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { checksum, fillPseudoRandom } from './checksum.js';
import type { Config } from './config.js';
import { formatBytes } from './config.js';
import type { Contender } from './harness.js';
import { measure, ratio, typicalMs } from './harness.js';
import { nextMessage, request, scriptPath, start, stop } from './processes.js';
import type { Row, Section } from './report.js';
import { newKey, newName } from './segments.js';

const SHM = 'shm (POSIX)';

function gigabytesPerSecond(bytes: number, ms: number): string {
  return `${(bytes / (ms / 1000) / 1e9).toFixed(2)} GB/s`;
}

function verify(expected: number, reply: { sum: number } | number): void {
  const sum = typeof reply === 'number' ? reply : reply.sum;
  if (sum !== expected) throw new Error(`the receiver read other bytes than were sent (hash ${sum}, expected ${expected})`);
}

async function listen(socketPath: string): Promise<{ server: Server; accepted: Promise<Socket> }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { server, accepted };
}

export async function transfer(config: Config): Promise<Section> {
  const rows: Row[] = [];
  const receiver = await start('receiver.js');
  const worker = new Worker(scriptPath('transfer-worker.js'));
  const socketPath = path.join(tmpdir(), `shm-bench-${process.pid}.sock`);
  try {
    for (const bytes of config.transferBytes) {
      const payload = Buffer.allocUnsafeSlow(bytes);
      fillPseudoRandom(payload);
      const expected = checksum(payload);

      const posixName = newName();
      const posixSegment = posix.create(bytes, 'Uint8Array', posixName, undefined, { populate: true })!;
      const sysvKey = newKey();
      const sysvSegment = sysv.create(bytes, 'Uint8Array', sysvKey, undefined, { populate: true })!;
      const { server, accepted } = await listen(socketPath);
      await request(receiver, { op: 'connect', path: socketPath, bytes });
      const socket = await accepted;
      const target = Buffer.allocUnsafeSlow(bytes).fill(0); // faulted in, like the segments
      // Posts what `message()` makes (and transfers its buffer if asked); the worker answers with the hash.
      const throughWorker = (message: () => Uint8Array, transfer: boolean) => async () => {
        const reply = new Promise<number>((resolve) => worker.once('message', resolve));
        const bytes = message();
        worker.postMessage(bytes, transfer ? [bytes.buffer as ArrayBuffer] : []);
        verify(expected, await reply);
      };

      try {
        const shmThrough = (segment: Uint8Array) => async () => {
          segment.set(payload);
          verify(expected, await request(receiver, { op: 'check-shm' }));
        };
        let attachedTo: 'posix' | 'sysv' | undefined;
        const attach = async (backend: 'posix' | 'sysv') => {
          if (attachedTo === backend) return;
          const key = backend === 'posix' ? posixName : sysvKey;
          await request(receiver, { op: 'attach', backend, key });
          attachedTo = backend;
        };
        const contenders: Contender[] = [
          { name: SHM, run: shmThrough(posixSegment), beforeEach: () => attach('posix'), async: true },
          { name: 'shm (System V)', run: shmThrough(sysvSegment), beforeEach: () => attach('sysv'), async: true },
          {
            name: 'process.send (advanced serialization)',
            run: async () => verify(expected, await request(receiver, { op: 'check-message', data: payload })),
            async: true,
          },
          {
            name: 'Unix domain socket',
            run: async () => {
              const reply = nextMessage<{ sum: number }>(receiver);
              socket.write(payload);
              verify(expected, await reply);
            },
            async: true,
          },
          { name: 'worker postMessage (copy)', run: throughWorker(() => payload, false), async: true },
          // The sender keeps its payload, so it transfers a fresh copy.
          { name: 'worker postMessage (transfer)', run: throughWorker(() => new Uint8Array(payload), true), async: true },
          { name: 'memcpy: TypedArray.set', run: () => target.set(payload) },
          { name: 'memcpy: Buffer.copy', run: () => payload.copy(target) },
          {
            name: 'memcpy + hash, one process',
            run: () => {
              target.set(payload);
              verify(expected, checksum(target));
            },
          },
        ];
        const latencies = await measure(contenders, config.slow);
        const size = formatBytes(bytes);
        const shmMs = typicalMs(latencies, SHM);
        for (const { name } of contenders) {
          const ms = typicalMs(latencies, name);
          const isCopyInProcess = name.startsWith('memcpy');
          rows.push({
            label: `${size}: ${name}`,
            timesMs: name === SHM ? { [SHM]: shmMs } : { [name]: ms, [SHM]: shmMs },
            ratioOf: name === SHM ? undefined : isCopyInProcess ? `${SHM} / this (time)` : `this / ${SHM} (time)`,
            ratio: name === SHM ? undefined : isCopyInProcess ? ratio(latencies, SHM, name) : ratio(latencies, name, SHM),
            note: gigabytesPerSecond(bytes, ms),
          });
        }
      } finally {
        socket.destroy();
        server.close();
        posix.destroy(posixName);
        sysv.destroy(sysvKey);
      }
    }
  } finally {
    await worker.terminate();
    await stop(receiver);
  }
  return {
    id: 'transfer',
    title: '2–3. Transfer to another process, and the memory bandwidth',
    explanation:
      'Bytes go from this process to another that reads every byte (a hash, checked against the sender\'s). ' +
      'shm: the sender copies its payload into a segment both processes map (mapped and populated once, before timing), ' +
      'sends a short message, and the receiver hashes the segment in place. process.send and the worker copy serialise the payload; ' +
      'the socket receiver gathers the chunks into one buffer; the transfer row copies the payload into a fresh ArrayBuffer ' +
      '(the sender keeps its own) and moves it to a worker thread of the same process. ' +
      'For Node\'s paths the ratio is this path\'s time over shm\'s: how many times slower than shm. ' +
      'For the memcpy rows (one process, no receiver) it is shm\'s time over the copy\'s: how far shm is from the memory bandwidth. ' +
      'The note gives the payload bytes per second.',
    rows,
  };
}
