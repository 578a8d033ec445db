/**
 * Section 7: @shm/sync against Node's own ways of telling another process
 * something. Wake-up latency: a ping-pong with another process, whose round
 * trip is two wake-ups (notify -> wait both ways), against the same ping-pong
 * over process.send and over a Unix domain socket. Throughput: a batch of
 * messages through a Channel against the same through process.send.
 */
import { ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as posix from '@shm/posix';
import { Channel, notify, wait } from '@shm/sync';
import { Bench } from 'tinybench';
import type { Config } from './config.js';
import { formatBytes } from './config.js';
import { Contender, measure, ratio, spread, typicalMs } from './harness.js';
import { nextMessage, request, start, stop } from './processes.js';
import type { Row, Section } from './report.js';
import { withGoal } from './report.js';
import { newName } from './segments.js';

const FUTEX = '@shm/sync notify -> wait';
const FUTEX_SPIN = '@shm/sync notify -> wait, spin 20,000 reads';
const SPIN = 20_000;

/** Round trips of each contender, round after round; per round its p50 and p99. */
async function roundTrips(contenders: Contender[], config: Config) {
  const percentiles = new Map(contenders.map(({ name }) => [name, { p50: [] as number[], p99: [] as number[] }]));
  for (let round = 0; round < config.quick.rounds; round++) {
    const bench = new Bench({ time: config.smoke ? 5 : 300, iterations: config.smoke ? 20 : 1000, warmupIterations: config.smoke ? 5 : 200, warmupTime: 0, throws: true });
    for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
      bench.add(contender.name, contender.run, { async: contender.async ?? false });
    }
    for (const task of await bench.run()) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
      percentiles.get(task.name)!.p50.push(result.latency.p50);
      percentiles.get(task.name)!.p99.push(result.latency.p99);
    }
  }
  return percentiles;
}

async function wakeUpRows(config: Config): Promise<Row[]> {
  const name = newName();
  const spinName = newName();
  const cells = posix.create(2, 'Int32Array', name)!;
  const spinCells = posix.create(2, 'Int32Array', spinName)!;
  const futexPeer = await start('sync-peer.js', ['futex-echo', name, '0']);
  const spinPeer = await start('sync-peer.js', ['futex-echo', spinName, String(SPIN)]);
  const messagePeer = await start('sync-peer.js', ['message-echo', name]);
  const socketPeer = await start('sync-peer.js', ['socket-echo', name]);
  const socketPath = path.join(tmpdir(), `shm-bench-${process.pid}-sync.sock`);
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  await request(socketPeer, socketPath);
  const socket = await accepted;
  socket.setNoDelay(true);
  const ping = Buffer.from([1]);
  // One round trip: store a new value in cell 0 and notify; the peer copies
  // it to cell 1 and notifies back.
  const pingPong = (pair: Int32Array, spin: number) => {
    let sequence = 0;
    return () => {
      const value = ++sequence;
      Atomics.store(pair, 0, value);
      notify(pair, 0);
      while (Atomics.load(pair, 1) !== value) wait(pair, 1, Atomics.load(pair, 1), 1000, { spin });
    };
  };
  try {
    const contenders: Contender[] = [
      { name: FUTEX, run: pingPong(cells, 0) },
      { name: FUTEX_SPIN, run: pingPong(spinCells, SPIN) },
      { name: 'process.send ping-pong', run: () => request(messagePeer, 1), async: true },
      {
        name: 'Unix domain socket ping-pong',
        run: () =>
          new Promise<void>((resolve) => {
            socket.once('data', () => resolve());
            socket.write(ping);
          }),
        async: true,
      },
    ];
    const percentiles = await roundTrips(contenders, config);
    // Every other path against each futex variant: process.send is the one with a goal.
    const rows: Row[] = [];
    for (const { name: contender } of contenders) {
      const { p50, p99 } = percentiles.get(contender)!;
      rows.push({ label: `round trip: ${contender}`, timesMs: { p50: spread(p50).median, p99: spread(p99).median } });
    }
    for (const reference of [FUTEX, FUTEX_SPIN]) {
      const base = percentiles.get(reference)!;
      for (const other of ['process.send ping-pong', 'Unix domain socket ping-pong']) {
        const { p50, p99 } = percentiles.get(other)!;
        const p50Spread = spread(p50.map((value, round) => value / base.p50[round]));
        rows.push({
          label: `${other} against ${reference}`,
          timesMs: { [`${other} p50`]: spread(p50).median, [`${reference} p50`]: spread(base.p50).median },
          ratioOf: 'their p50 / our p50',
          ratio: p50Spread,
          goal: other === 'process.send ping-pong' ? withGoal(p50Spread, { atLeast: 5 }) : undefined,
          note: `p99 ratio ${(spread(p99).median / spread(base.p99).median).toFixed(1)}`,
        });
      }
    }
    return rows;
  } finally {
    for (const pair of [cells, spinCells]) {
      Atomics.store(pair, 0, -1);
      notify(pair, 0);
    }
    socket.destroy();
    server.close();
    await Promise.all([futexPeer, spinPeer, messagePeer, socketPeer].map(stop));
    posix.destroy(name);
    posix.destroy(spinName);
  }
}

async function throughputRows(config: Config): Promise<Row[]> {
  const rows: Row[] = [];
  const sizes = config.smoke ? [[64, 200], [4096, 50]] : [[64, 20000], [4096, 5000], [1024 * 1024, 40]];
  for (const [bytes, count] of sizes) {
    const name = newName();
    const intoName = newName();
    const ringBytes = Channel.bytesFor(Math.max(64 * 1024, 4 * bytes));
    const channel = Channel.create(posix.create(ringBytes, 'Buffer', name)!);
    const intoChannel = Channel.create(posix.create(ringBytes, 'Buffer', intoName)!);
    const channelPeer = await start('sync-peer.js', ['channel-drain', name]);
    const intoPeer = await start('sync-peer.js', ['channel-drain-into', intoName]);
    const messagePeer: ChildProcess = await start('sync-peer.js', ['message-drain', name]);
    const payload = new Uint8Array(bytes).fill(7);
    const through = (target: Channel, peer: ChildProcess) => async () => {
      const done = request(peer, { count });
      for (let message = 0; message < count; message++) target.send(payload);
      await done;
    };
    try {
      const contenders: Contender[] = [
        { name: 'Channel', run: through(channel, channelPeer), async: true },
        { name: 'Channel receiveInto', run: through(intoChannel, intoPeer), async: true },
        {
          name: 'process.send',
          run: async () => {
            const done = nextMessage(messagePeer);
            messagePeer.send({ count });
            for (let message = 0; message < count; message++) messagePeer.send(payload);
            await done;
          },
          async: true,
        },
      ];
      const latencies = await measure(contenders, { ...config.slow, rounds: config.quick.rounds, iterations: config.smoke ? 1 : 5 });
      const channelMs = typicalMs(latencies, 'Channel');
      const intoMs = typicalMs(latencies, 'Channel receiveInto');
      const sendMs = typicalMs(latencies, 'process.send');
      rows.push({
        label: `${formatBytes(bytes)} messages × ${count}`,
        timesMs: { 'Channel per message': channelMs / count, 'process.send per message': sendMs / count },
        ratioOf: 'process.send / Channel (time)',
        ratio: ratio(latencies, 'process.send', 'Channel'),
        note: `Channel ${((count * bytes) / (channelMs / 1000) / 1e9).toFixed(2)} GB/s, ${Math.round(count / (channelMs / 1000)).toLocaleString('en')} messages/s`,
      });
      rows.push({
        label: `${formatBytes(bytes)} messages × ${count}: receive (a new array each) against receiveInto (one reused)`,
        timesMs: { 'receive per message': channelMs / count, 'receiveInto per message': intoMs / count },
        ratioOf: 'receive / receiveInto (time)',
        ratio: ratio(latencies, 'Channel', 'Channel receiveInto'),
      });
    } finally {
      await Promise.all([channelPeer, intoPeer, messagePeer].map(stop));
      posix.destroy(name);
      posix.destroy(intoName);
    }
  }
  return rows;
}

export async function syncSection(config: Config): Promise<Section> {
  const rows = [...(await wakeUpRows(config)), ...(await throughputRows(config))];
  return {
    id: 'sync',
    title: '7. @shm/sync: wake-up latency and channel throughput',
    explanation:
      'Round trips with another process: each is two wake-ups (this process notifies, the other wakes and notifies back). ' +
      'Times are the median over rounds of each round\'s p50 and p99 round trip. The futex round trip is measured twice: ' +
      'sleeping in the kernel at once, and reading the cell 20,000 times first (wait\'s `spin` option). The ratio is the other ' +
      `path's p50 over ours (goal for process.send: at least 5). Throughput: a batch of messages to another process that receives every one, ` +
      `per message; the ratio is process.send's time over the Channel's.`,
    rows,
  };
}
