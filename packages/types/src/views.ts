/**
 * The JavaScript face of a mapping: the one ArrayBuffer the addon makes over
 * a segment, wrapped in the view the caller asked for.
 */
import { markAsUntransferable } from 'node:worker_threads';
import { ArrayTypeMap, ElementSize, TypeKey } from './types';

type ViewConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayTypeMap[TypeKey];

const viewConstructors: Readonly<Record<TypeKey, ViewConstructor>> = {
  Buffer: Uint8Array, // replaced by Buffer.from in makeView: Buffer has no public constructor
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

/**
 * Whether this Node.js line must be told not to move a segment's buffer to
 * another thread. The one place that decides it, by line:
 *  - Node 20 transfers an external ArrayBuffer listed in postMessage's or
 *    structuredClone's transfer list, taking the memory out of reach of
 *    detach; markAsUntransferable makes it a copy instead, and leaves the
 *    buffer detachable (it only sets a private symbol).
 *  - From Node 22 Node refuses to transfer external ArrayBuffers at all
 *    (DataCloneError), so marking adds nothing; and from Node 24 marking sets a
 *    V8 detach key, after which napi_detach_arraybuffer, and Node's own detach
 *    of external buffers when a thread ends, are fatal checks that abort the
 *    process. So buffers are not marked there.
 * ArrayBuffer.prototype.transfer() (Node 21+) moves the memory within the
 * thread whatever the marking; the native registry keeps the address reserved
 * for such a moved buffer (see moved_mappings.h in @shm/native).
 */
export const MARK_UNTRANSFERABLE: boolean = Number(process.versions.node.split('.')[0]) < 22;

/**
 * Wraps the one ArrayBuffer of a mapping in the requested view. Every view of
 * an attachment shares this ArrayBuffer, so neutering it (on detach) empties
 * them all.
 */
export function makeView<K extends TypeKey>(buffer: ArrayBuffer, typeKey: K): ArrayTypeMap[K] {
  if (MARK_UNTRANSFERABLE) markAsUntransferable(buffer);
  const length = Math.floor(buffer.byteLength / ElementSize[typeKey]);
  if (typeKey === 'Buffer') return Buffer.from(buffer, 0, length) as ArrayTypeMap[K];
  return new viewConstructors[typeKey](buffer, 0, length) as ArrayTypeMap[K];
}

