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
 */
import { invalidArgType, outOfRange } from '@shm/types';
import { detachedError, notify, validateTimeout } from './futex';
import { Region, regionOf } from './region';
import { runAsync, runBlocking, WaitSteps } from './steps';

const MAGIC = 0x434d4853;
const CAPACITY = 1;
const WRITE = 2;
const READ = 3;
const RECEIVER_WAITING = 4;
const SENDER_WAITING = 5;
const CLOSED = 6;
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

/** Whether `header[index]` moves away from `value` within SPIN_READS reads. */
function movesSoon(header: Int32Array, index: number, value: number): boolean {
  for (let read = 0; read < SPIN_READS; read++) if (Atomics.load(header, index) !== value) return true;
  return false;
}

function channelError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
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
      throw channelError('ERR_SHM_CHANNEL_LAYOUT', 'The memory does not hold a channel (create it with Channel.create first)');
    }
    return new Channel(region, capacity);
  }

  /** Bytes of the ring. */
  readonly capacity: number;
  private readonly header: Int32Array;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;

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

  get closed(): boolean {
    return Atomics.load(this.header, CLOSED) !== 0;
  }

  /**
   * Sends a copy of `message`'s bytes, waiting up to `timeoutMs` (default:
   * forever) for room. Returns false on timeout. Throws ERR_SHM_CHANNEL_CLOSED
   * once closed, RangeError if the message can never fit.
   */
  send(message: ArrayBufferView, timeoutMs?: number): boolean {
    return runBlocking(this.sending(message, timeoutMs));
  }

  sendAsync(message: ArrayBufferView, timeoutMs?: number): Promise<boolean> {
    return runAsync(this.sending(message, timeoutMs));
  }

  /**
   * The next message (a new Uint8Array), waiting up to `timeoutMs` (default:
   * forever). null on timeout, or once the channel is closed and empty
   * (`closed` tells which).
   */
  receive(timeoutMs?: number): Uint8Array | null {
    return runBlocking(this.receiving(timeoutMs));
  }

  receiveAsync(timeoutMs?: number): Promise<Uint8Array | null> {
    return runAsync(this.receiving(timeoutMs));
  }

  /** No more messages: the receiver gets what is in the ring, then null; send throws. */
  close(): void {
    Atomics.store(this.header, CLOSED, 1);
    notify(this.header, WRITE);
    notify(this.header, READ);
  }

  private *sending(message: ArrayBufferView, timeoutMs: number | undefined): WaitSteps<boolean> {
    if (!ArrayBuffer.isView(message)) throw invalidArgType('message', 'a TypedArray, Buffer or DataView', message);
    const payload = bytesOf(message);
    if (payload.length > this.maxMessageBytes) {
      throw outOfRange(`A message of ${payload.length} bytes does not fit a ring of ${this.capacity} (at most ${this.maxMessageBytes})`);
    }
    const deadline = performance.now() + validateTimeout(timeoutMs);
    const need = LENGTH_BYTES + padded(payload.length);
    const write = Atomics.load(this.header, WRITE) >>> 0; // only this side moves it
    for (;;) {
      if (this.closed) throw channelError('ERR_SHM_CHANNEL_CLOSED', 'The channel is closed');
      const read = Atomics.load(this.header, READ);
      if (this.capacity - ((write - read) >>> 0) >= need) break;
      if (movesSoon(this.header, READ, read)) continue;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      yield* this.sleepWhile(SENDER_WAITING, READ, read, remaining);
    }
    const position = write & (this.capacity - 1);
    this.words[position >> 2] = payload.length;
    this.copyIn(payload, (position + LENGTH_BYTES) & (this.capacity - 1));
    Atomics.store(this.header, WRITE, (write + need) | 0); // publishes the record
    if (Atomics.load(this.header, RECEIVER_WAITING) !== 0) notify(this.header, WRITE, 1);
    return true;
  }

  private *receiving(timeoutMs: number | undefined): WaitSteps<Uint8Array | null> {
    const deadline = performance.now() + validateTimeout(timeoutMs);
    const read = Atomics.load(this.header, READ) >>> 0; // only this side moves it
    for (;;) {
      const write = Atomics.load(this.header, WRITE);
      if (write >>> 0 !== read) break;
      if (this.closed) return null;
      if (movesSoon(this.header, WRITE, write)) continue;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return null;
      yield* this.sleepWhile(RECEIVER_WAITING, WRITE, write, remaining);
    }
    const position = read & (this.capacity - 1);
    const length = this.words[position >> 2] >>> 0;
    if (length > this.maxMessageBytes) {
      throw channelError('ERR_SHM_CHANNEL_CORRUPT', `A record claims ${length} bytes in a ring of ${this.capacity}`);
    }
    const message = this.copyOut((position + LENGTH_BYTES) & (this.capacity - 1), length);
    Atomics.store(this.header, READ, (read + LENGTH_BYTES + padded(length)) | 0); // frees the record
    if (Atomics.load(this.header, SENDER_WAITING) !== 0) notify(this.header, READ, 1);
    return message;
  }

  /**
   * Sleeps while the other side's `cursor` still holds `value`. The flag is
   * raised first and the cursor read again after: either the other side sees
   * the flag (and notifies after it moves the cursor) or this side sees the
   * cursor moved, so no wake-up is lost.
   */
  private *sleepWhile(flag: number, cursor: number, value: number, timeoutMs: number): WaitSteps<void> {
    Atomics.store(this.header, flag, 1);
    try {
      if (Atomics.load(this.header, cursor) === value && !this.closed) {
        yield { array: this.header, index: cursor, expected: value, timeoutMs };
      }
    } finally {
      Atomics.store(this.header, flag, 0);
    }
  }

  private copyIn(payload: Uint8Array, position: number): void {
    const first = Math.min(payload.length, this.capacity - position);
    this.bytes.set(payload.subarray(0, first), position);
    if (first < payload.length) this.bytes.set(payload.subarray(first), 0);
  }

  private copyOut(position: number, length: number): Uint8Array {
    // Every byte is written below, so the memory need not be zeroed first;
    // never pooled, so `message.buffer` holds this message alone.
    const message = Buffer.allocUnsafeSlow(length);
    const first = Math.min(length, this.capacity - position);
    message.set(this.bytes.subarray(position, position + first), 0);
    if (first < length) message.set(this.bytes.subarray(0, length - first), first);
    return message;
  }
}
