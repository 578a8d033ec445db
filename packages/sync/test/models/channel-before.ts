/**
 * The Channel protocol as @shm/sync had it before the interleaving checker
 * (commit 682848e, src/channel.ts), written as the checker's steps: a STEP
 * after each access to the header, notifies and waits as steps. Kept to show
 * that the checker finds, by enumeration, the bugs that review reported:
 *  - a close between the receiver's check and its sleep is never seen (it
 *    sleeps on the cursor, and close changes only the closed word);
 *  - receive reads the write cursor before the closed flag, so a send and a
 *    close between the two reads hide the last message;
 *  - overlapping calls on one object each capture the cursor first.
 */
import { CAPACITY, CLOSED, READ, RECEIVER_WAITING, SENDER_WAITING, WRITE } from '../../src/channel';
import { STEP, Steps, notifyStep, waitStep } from '../../src/steps';

export class ChannelBefore {
  readonly capacity: number;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(private readonly header: Int32Array, ring: Uint8Array) {
    this.capacity = Atomics.load(header, CAPACITY);
    this.words = new Int32Array(ring.buffer, ring.byteOffset, ring.byteLength / 4);
    this.bytes = ring;
  }

  *send(payload: Uint8Array): Steps<boolean> {
    yield STEP; // (a step between operations, as the checker requires; the algorithm is unchanged)
    const need = 4 + ((payload.length + 3) & ~3);
    const write = this.header[WRITE] >>> 0; // own cursor
    for (;;) {
      const closed = Atomics.load(this.header, CLOSED) !== 0;
      yield STEP;
      if (closed) throw Object.assign(new Error('closed'), { code: 'ERR_SHM_CHANNEL_CLOSED' });
      const read = Atomics.load(this.header, READ);
      yield STEP;
      if (this.capacity - ((write - read) >>> 0) >= need) break;
      yield* this.sleepWhile(SENDER_WAITING, READ, read);
    }
    const position = write & (this.capacity - 1);
    this.words[position >> 2] = payload.length;
    for (let i = 0; i < payload.length; i++) this.bytes[(position + 4 + i) & (this.capacity - 1)] = payload[i];
    Atomics.store(this.header, WRITE, (write + need) | 0);
    yield STEP;
    if (Atomics.load(this.header, RECEIVER_WAITING) !== 0) yield notifyStep(this.header, WRITE, 1);
    return true;
  }

  *receive(): Steps<Uint8Array | null> {
    yield STEP;
    const read = this.header[READ] >>> 0; // own cursor
    for (;;) {
      const write = Atomics.load(this.header, WRITE);
      yield STEP;
      if (write >>> 0 !== read) break;
      const closed = Atomics.load(this.header, CLOSED) !== 0;
      yield STEP;
      if (closed) return null;
      yield* this.sleepWhile(RECEIVER_WAITING, WRITE, write);
    }
    const position = read & (this.capacity - 1);
    const length = this.words[position >> 2] >>> 0;
    const message = new Uint8Array(length);
    for (let i = 0; i < length; i++) message[i] = this.bytes[(position + 4 + i) & (this.capacity - 1)];
    Atomics.store(this.header, READ, (read + 4 + ((length + 3) & ~3)) | 0);
    yield STEP;
    if (Atomics.load(this.header, SENDER_WAITING) !== 0) yield notifyStep(this.header, READ, 1);
    return message;
  }

  *close(): Steps<void> {
    yield STEP;
    Atomics.store(this.header, CLOSED, 1);
    yield STEP;
    yield notifyStep(this.header, WRITE);
    yield notifyStep(this.header, READ);
  }

  private *sleepWhile(flag: number, cursor: number, value: number): Steps<void> {
    Atomics.store(this.header, flag, 1);
    yield STEP;
    try {
      const unchanged = Atomics.load(this.header, cursor) === value;
      yield STEP;
      const open = Atomics.load(this.header, CLOSED) === 0;
      yield STEP;
      if (unchanged && open) yield waitStep(this.header, cursor, value, Infinity); // the cursor alone
    } finally {
      Atomics.store(this.header, flag, 0);
      yield STEP;
    }
  }
}

/**
 * The 64-bit wait of the binding before (sync_binding.cc): the whole value
 * compared first, then a futex wait on the low half alone.
 */
export function* wait64Before(cell: BigInt64Array, index: number, expected: bigint): Steps<string> {
  if (Atomics.load(cell, index) !== expected) return 'not-equal';
  yield STEP;
  const low = new Int32Array(cell.buffer, cell.byteOffset + index * 8, 1);
  return (yield waitStep(low, 0, Number(BigInt.asIntN(32, expected)), Infinity)) as string;
}
