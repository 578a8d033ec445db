/**
 * A single-producer / single-consumer channel of byte messages over shared
 * memory: one process (or thread) sends, one receives, in order, none lost
 * or duplicated. Built on wait / notify; a side that must wait sleeps in the
 * kernel, and the other side notifies only when someone waits.
 *
 * Layout (little-endian; the header is 64 bytes, 8-byte aligned):
 *   word 0  magic 0x434d4853 ('SHMC'), stored last by create()
 *   word 1  capacity in bytes (a power of two)
 *   word 2  write cursor: bytes ever written, modulo 2^32
 *   word 3  read cursor: bytes ever read, modulo 2^32
 *   word 4  1 while the receiver waits       word 5  1 while the sender waits
 *   word 6  1 once closed
 *   then    `capacity` bytes of records: a u32 length, the payload, padding
 *           to 4 bytes; a record may wrap around the end.
 *
 * Protocol (each line one atomic access; a peer in C or Python follows it too):
 *   send:    W = own cursor; loop { C = closed; if C: fail; R = read cursor;
 *            check 0 <= W - R <= capacity (else CORRUPT); if room: break;
 *            sleep(sender-waiting, read cursor == R, closed == 0) }
 *            write the record; store write cursor = W + size;
 *            if receiver-waiting: notify write cursor
 *   receive: R = own cursor; loop { C = closed; W = write cursor;
 *            check 0 <= W - R <= capacity, a multiple of 4 (else CORRUPT);
 *            if W != R: break; if C: return null (closed and empty);
 *            sleep(receiver-waiting, write cursor == W, closed == 0) }
 *            check the record's length fits W - R (else CORRUPT); copy it out;
 *            store read cursor = R + size; if sender-waiting: notify read cursor
 *   sleep(flag, cursor == V, closed == 0): store flag = 1; futex-wait on
 *            both words at once (the kernel compares them as the sleep
 *            begins; a wake on either ends it); store flag = 0
 *   close:   store closed = 1; notify closed, the write and the read cursor
 * Why no wake-up is lost: a sleeper raises its flag before it looks at the
 * cursor a last time, and the other side moves the cursor before it looks at
 * the flag, so one of them sees the other. The kernel compares both words as
 * the sleep begins, so a cursor move or a close just before is not missed.
 * Why close hides nothing: receive reads `closed` before the write cursor, so
 * a message sent before close is seen by the receive that sees the close.
 * Nothing read from the header is trusted: a peer that writes a bad cursor
 * or length makes the other side throw ERR_SHM_CHANNEL_CORRUPT, never read
 * outside the ring or hang. Calls of one kind on one Channel object run one
 * at a time, in order (an async call waits for the earlier one; a blocking
 * call while an async one of its kind is pending throws ERR_SHM_BUSY).
 */
import { codedError, invalidArgType, outOfRange } from '@shm/types';
import { detachedError, validateTimeout } from './futex';
import { Region, regionOf } from './region';
import { inTurn, notifyStep, runAsync, runBlocking, STEP, Steps, Turns, waitStep } from './steps';

const MAGIC = 0x434d4853;
// The header's words (the layout every version of the protocol shares; the
// checker's model of the old protocol, test/models/channel-before.ts, reads
// them from here).
export const CAPACITY = 1;
export const WRITE = 2;
export const READ = 3;
export const RECEIVER_WAITING = 4;
export const SENDER_WAITING = 5;
export const CLOSED = 6;
const LENGTH_BYTES = 4;
const MIN_CAPACITY = 64;
const MAX_CAPACITY = 2 ** 30;

// Before a side sleeps in the kernel, it watches the other side's cursor for
// this many reads (a few microseconds): a steady stream then flows without a
// notify and a context switch per message.
const SPIN_READS = 2000;

const padded = (length: number) => (length + 3) & ~3;

/** The bytes of any view; a view whose memory was detached (its segment detached or destroyed) is an error. */
function bytesOf(message: ArrayBufferView): Uint8Array {
  try {
    return new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  } catch {
    throw detachedError(); // V8 refuses a view over a detached buffer, even an empty one
  }
}

/** Whether a view still has memory: an empty one may have lost it too, which its length does not tell. */
function hasMemory(view: Uint8Array): boolean {
  try {
    new Uint8Array(view.buffer, view.byteOffset, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `header[index]` moves away from `value` within `reads` reads. */
function movesSoon(header: Int32Array, index: number, value: number, reads: number): boolean {
  for (let read = 0; read < reads; read++) if (Atomics.load(header, index) !== value) return true;
  return false;
}

export class Channel {
  /** Bytes of the header in front of the ring. */
  static readonly HEADER_BYTES = 64;

  /** Bytes a channel with `capacity` bytes of ring takes (capacity: a power of two, 64 .. 2^30). */
  static bytesFor(capacity: number): number {
    if (!(Number.isSafeInteger(capacity) && capacity >= MIN_CAPACITY && capacity <= MAX_CAPACITY && (capacity & (capacity - 1)) === 0)) {
      throw outOfRange(`The "capacity" argument must be a power of two in ${MIN_CAPACITY} .. ${MAX_CAPACITY}. Received ${String(capacity)}`);
    }
    return Channel.HEADER_BYTES + capacity;
  }

  /**
   * Lays a new, empty channel over `memory` from `byteOffset` (8-byte
   * aligned), with the largest power-of-two ring that fits. One side creates,
   * before the other attaches.
   */
  static create(memory: ArrayBufferView, byteOffset = 0): Channel {
    const region = regionOf(memory, byteOffset, undefined, 8, Channel.HEADER_BYTES + MIN_CAPACITY);
    const capacity = Math.min(MAX_CAPACITY, 2 ** Math.floor(Math.log2(region.byteLength - Channel.HEADER_BYTES)));
    const header = new Int32Array(region.buffer, region.byteOffset, Channel.HEADER_BYTES / 4);
    for (let word = 1; word < header.length; word++) Atomics.store(header, word, 0);
    Atomics.store(header, CAPACITY, capacity);
    Atomics.store(header, 0, MAGIC);
    return new Channel(region, capacity);
  }

  /** The channel another process created over this memory; ERR_SHM_CHANNEL_LAYOUT if there is none. */
  static attach(memory: ArrayBufferView, byteOffset = 0): Channel {
    const region = regionOf(memory, byteOffset, undefined, 8, Channel.HEADER_BYTES + MIN_CAPACITY);
    const header = new Int32Array(region.buffer, region.byteOffset, Channel.HEADER_BYTES / 4);
    const capacity = Atomics.load(header, CAPACITY);
    const valid = Atomics.load(header, 0) === MAGIC && capacity >= MIN_CAPACITY && (capacity & (capacity - 1)) === 0;
    if (!valid || Channel.HEADER_BYTES + capacity > region.byteLength) {
      throw codedError('ERR_SHM_CHANNEL_LAYOUT', 'The memory does not hold a channel (create it with Channel.create first)');
    }
    return new Channel(region, capacity);
  }

  /** Bytes of the ring. */
  readonly capacity: number;
  private readonly header: Int32Array;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly sends = new Turns();
  private readonly receives = new Turns();
  /** Reads of the other side's cursor before sleeping (0 in the interleaving checker). */
  private spinReads = SPIN_READS;

  private constructor(region: Region, capacity: number) {
    this.capacity = capacity;
    this.header = new Int32Array(region.buffer, region.byteOffset, Channel.HEADER_BYTES / 4);
    this.words = new Int32Array(region.buffer, region.byteOffset + Channel.HEADER_BYTES, capacity / 4);
    this.bytes = new Uint8Array(region.buffer, region.byteOffset + Channel.HEADER_BYTES, capacity);
  }

  /** The largest message: the ring less one length word. */
  get maxMessageBytes(): number {
    return this.capacity - LENGTH_BYTES;
  }

  /** Whether the channel is closed; ERR_INVALID_STATE once its memory went. */
  get closed(): boolean {
    if (this.header.length === 0) throw detachedError();
    return Atomics.load(this.header, CLOSED) !== 0;
  }

  /**
   * Sends a copy of `message`'s bytes, waiting up to `timeoutMs` (default:
   * forever) for room. Returns false on timeout. Throws ERR_SHM_CHANNEL_CLOSED
   * once closed, RangeError if the message can never fit.
   */
  send(message: ArrayBufferView, timeoutMs?: number): boolean {
    return runBlocking(this.sending(message, timeoutMs), this.header);
  }

  sendAsync(message: ArrayBufferView, timeoutMs?: number): Promise<boolean> {
    return runAsync(this.sending(message, timeoutMs), this.header);
  }

  /**
   * The next message (a new Uint8Array), waiting up to `timeoutMs` (default:
   * forever). null on timeout, or once the channel is closed and empty
   * (`closed` tells which).
   */
  receive(timeoutMs?: number): Uint8Array | null {
    return runBlocking(this.receiving(timeoutMs), this.header);
  }

  receiveAsync(timeoutMs?: number): Promise<Uint8Array | null> {
    return runAsync(this.receiving(timeoutMs), this.header);
  }

  /**
   * As receive, into `target`'s bytes instead of a new array (no allocation
   * per message): the message's length, or null on timeout or once closed
   * and empty. A message longer than `target` stays in the ring and throws
   * ERR_OUT_OF_RANGE (with `messageBytes`), so a larger target can take it.
   */
  receiveInto(target: ArrayBufferView, timeoutMs?: number): number | null {
    return runBlocking(this.receivingInto(target, timeoutMs), this.header);
  }

  receiveIntoAsync(target: ArrayBufferView, timeoutMs?: number): Promise<number | null> {
    return runAsync(this.receivingInto(target, timeoutMs), this.header);
  }

  private *receivingInto(target: ArrayBufferView, timeoutMs: number | undefined): Steps<number | null> {
    if (!ArrayBuffer.isView(target)) throw invalidArgType('target', 'a TypedArray, Buffer or DataView', target);
    const into = bytesOf(target);
    const room = into.length; // as called: the target's memory may go while the call waits
    const deadline = performance.now() + validateTimeout(timeoutMs);
    return (yield* inTurn(this.receives, deadline, () => this.receiveSteps(deadline, { into, room }), () => null)) as number | null;
  }

  /** No more messages: the receiver gets what is in the ring, then null; send throws. */
  close(): void {
    runBlocking(this.closing(), this.header);
  }

  private *closing(): Steps<void> {
    yield STEP; // each operation begins at a step: it may follow another's last access
    Atomics.store(this.header, CLOSED, 1);
    yield STEP;
    yield notifyStep(this.header, CLOSED);
    // Peers built on the layout before the closed word was waited on sleep on a cursor.
    yield notifyStep(this.header, WRITE);
    yield notifyStep(this.header, READ);
  }

  private corrupt(detail: string): Error {
    return codedError('ERR_SHM_CHANNEL_CORRUPT', `The channel's shared state is corrupt: ${detail}`);
  }

  private *sending(message: ArrayBufferView, timeoutMs: number | undefined): Steps<boolean> {
    if (!ArrayBuffer.isView(message)) throw invalidArgType('message', 'a TypedArray, Buffer or DataView', message);
    const payload = bytesOf(message);
    if (payload.length > this.maxMessageBytes) {
      throw outOfRange(`A message of ${payload.length} bytes does not fit a ring of ${this.capacity} (at most ${this.maxMessageBytes})`);
    }
    const bytes = payload.length; // as called: the message's memory may go while the call waits
    const deadline = performance.now() + validateTimeout(timeoutMs);
    return yield* inTurn(this.sends, deadline, () => this.sendSteps(payload, bytes, deadline), () => false);
  }

  private *sendSteps(payload: Uint8Array, bytes: number, deadline: number): Steps<boolean> {
    yield STEP;
    const need = LENGTH_BYTES + padded(bytes);
    const write = this.header[WRITE] >>> 0; // only this side moves it: a plain read, no step needed
    for (;;) {
      const closed = Atomics.load(this.header, CLOSED) !== 0;
      yield STEP;
      if (closed) throw codedError('ERR_SHM_CHANNEL_CLOSED', 'The channel is closed');
      const read = Atomics.load(this.header, READ);
      yield STEP;
      const used = (write - read) >>> 0;
      if (used > this.capacity) throw this.corrupt(`the read cursor is ${used - this.capacity} bytes past the write cursor`);
      if (this.capacity - used >= need) break;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      if (movesSoon(this.header, READ, read, this.spinReads)) continue;
      yield* this.sleepWhile(SENDER_WAITING, READ, read, remaining);
    }
    // The message's own memory may have gone while the send waited for room.
    if (payload.length !== bytes || (bytes === 0 && !hasMemory(payload))) {
      throw codedError('ERR_INVALID_STATE', 'The message has no memory: its buffer was detached while the send waited; nothing was sent');
    }
    const position = write & (this.capacity - 1);
    this.words[position >> 2] = bytes;
    this.copyIn(payload, (position + LENGTH_BYTES) & (this.capacity - 1));
    Atomics.store(this.header, WRITE, (write + need) | 0); // publishes the record
    yield STEP;
    const receiverWaits = Atomics.load(this.header, RECEIVER_WAITING) !== 0;
    if (receiverWaits) yield notifyStep(this.header, WRITE, 1);
    return true;
  }

  private *receiving(timeoutMs: number | undefined): Steps<Uint8Array | null> {
    const deadline = performance.now() + validateTimeout(timeoutMs);
    return (yield* inTurn(this.receives, deadline, () => this.receiveSteps(deadline), () => null)) as Uint8Array | null;
  }

  private *receiveSteps(deadline: number, target?: { into: Uint8Array; room: number }): Steps<Uint8Array | number | null> {
    yield STEP;
    const into = target?.into;
    const read = this.header[READ] >>> 0; // only this side moves it: a plain read, no step needed
    let available: number;
    for (;;) {
      // Closed first: a message sent before the close is then seen below.
      const closed = Atomics.load(this.header, CLOSED) !== 0;
      yield STEP;
      const write = Atomics.load(this.header, WRITE);
      yield STEP;
      available = (write - read) >>> 0;
      if (available > this.capacity || available % 4 !== 0) {
        throw this.corrupt(`the write cursor is ${available} bytes ahead of the read cursor in a ring of ${this.capacity}`);
      }
      if (available !== 0) break;
      if (closed) return null;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return null;
      if (movesSoon(this.header, WRITE, write, this.spinReads)) continue;
      yield* this.sleepWhile(RECEIVER_WAITING, WRITE, write, remaining);
    }
    const position = read & (this.capacity - 1);
    const length = this.words[position >> 2] >>> 0;
    const size = LENGTH_BYTES + padded(length);
    if (length > this.maxMessageBytes || size > available) {
      throw this.corrupt(`a record claims ${length} bytes where ${available - LENGTH_BYTES} are written`);
    }
    if (into !== undefined && (into.length !== target!.room || (into.length === 0 && !hasMemory(into)))) {
      throw codedError('ERR_INVALID_STATE', 'The target has no memory: its buffer was detached while the receive waited; the message stays in the ring');
    }
    if (into !== undefined && length > into.length) {
      const message = `A message of ${length} bytes does not fit the ${into.length} bytes given; it stays in the ring`;
      throw codedError('ERR_OUT_OF_RANGE', message, { messageBytes: length });
    }
    const message = this.copyOut((position + LENGTH_BYTES) & (this.capacity - 1), length, into);
    Atomics.store(this.header, READ, (read + size) | 0); // frees the record
    yield STEP;
    const senderWaits = Atomics.load(this.header, SENDER_WAITING) !== 0;
    if (senderWaits) yield notifyStep(this.header, READ, 1);
    return into === undefined ? message : length;
  }

  /**
   * Sleeps while the other side's `cursor` still holds `value` and the
   * channel is open. The flag is raised first; then the kernel compares the
   * cursor and the closed word as the sleep begins, atomically with any
   * wake: either the other side sees the flag (and notifies after it moves
   * the cursor or closes) or the sleep does not begin.
   */
  private *sleepWhile(flag: number, cursor: number, value: number, timeoutMs: number): Steps<void> {
    Atomics.store(this.header, flag, 1);
    yield STEP;
    try {
      yield waitStep(this.header, cursor, value, timeoutMs, { array: this.header, index: CLOSED, expected: 0 });
    } finally {
      // Unless the memory went (a detach while asleep): the wait's error then stands.
      if (this.header.length !== 0) Atomics.store(this.header, flag, 0);
      yield STEP;
    }
  }

  private copyIn(payload: Uint8Array, position: number): void {
    const first = Math.min(payload.length, this.capacity - position);
    this.bytes.set(payload.subarray(0, first), position);
    if (first < payload.length) this.bytes.set(payload.subarray(first), 0);
  }

  private copyOut(position: number, length: number, into?: Uint8Array): Uint8Array {
    // Every byte is written below, so the memory need not be zeroed first;
    // never pooled, so `message.buffer` holds this message alone.
    const message = into ?? Buffer.allocUnsafeSlow(length);
    const first = Math.min(length, this.capacity - position);
    message.set(this.bytes.subarray(position, position + first), 0);
    if (first < length) message.set(this.bytes.subarray(0, length - first), first);
    return message;
  }
}

/**
 * The steps of a Channel's operations, for the interleaving checker
 * (@shm/interleave): not part of the public API. `spinReads` 0 makes every
 * wait a sleep, so that the checker sees each one.
 */
export const channelSteps = {
  send: (channel: Channel, message: ArrayBufferView, timeoutMs?: number): Steps<boolean> => channel['sending'](message, timeoutMs),
  receive: (channel: Channel, timeoutMs?: number): Steps<Uint8Array | null> => channel['receiving'](timeoutMs),
  close: (channel: Channel): Steps<void> => channel['closing'](),
  withoutSpinning(channel: Channel): Channel {
    channel['spinReads'] = 0;
    return channel;
  },
};
