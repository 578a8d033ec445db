/** Where a Mutex or a Channel lives: a range of some ArrayBufferView's memory (a segment, usually). */
import { invalidArgType, outOfRange } from '@shm/types';
import { detachedError } from './futex';

export interface Region {
  buffer: ArrayBufferLike;
  /** From the start of `buffer`. */
  byteOffset: number;
  byteLength: number;
}

/**
 * The `byteLength` bytes at `byteOffset` within `memory` (any TypedArray,
 * Buffer or DataView); `byteLength` undefined means to the end. The start
 * must be `alignment`-aligned in the underlying buffer.
 */
export function regionOf(memory: unknown, byteOffset: unknown, byteLength: number | undefined, alignment: number, minimum: number): Region {
  if (!ArrayBuffer.isView(memory)) throw invalidArgType('memory', 'a TypedArray, Buffer or DataView', memory);
  if (memory.byteLength === 0 && memory.buffer.byteLength === 0) throw detachedError();
  if (typeof byteOffset !== 'number') throw invalidArgType('byteOffset', 'of type number', byteOffset);
  if (!(Number.isSafeInteger(byteOffset) && byteOffset >= 0 && byteOffset <= memory.byteLength)) {
    throw outOfRange(`The "byteOffset" argument must be an integer in 0 .. ${memory.byteLength}. Received ${String(byteOffset)}`);
  }
  const start = memory.byteOffset + byteOffset;
  if (start % alignment !== 0) {
    throw outOfRange(`The region must start ${alignment}-byte aligned in its buffer; it starts at byte ${start}`);
  }
  const length = byteLength ?? memory.byteLength - byteOffset;
  if (length < minimum || byteOffset + length > memory.byteLength) {
    throw outOfRange(`The region needs at least ${minimum} bytes within the memory given; it has ${memory.byteLength - byteOffset}`);
  }
  return { buffer: memory.buffer, byteOffset: start, byteLength: length };
}
