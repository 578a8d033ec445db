/**
 * What a shared-memory array is: the type keys and their tables, the options
 * every backend takes, and the flat interface each backend implements.
 */
import { constants as bufferConstants } from 'node:buffer';

/** The names of the array types a segment can be viewed as. */
export type TypeKey =
  | 'Buffer'
  | 'Int8Array'
  | 'Uint8Array'
  | 'Uint8ClampedArray'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'BigInt64Array'
  | 'BigUint64Array';

/** A shared-memory array; System V results carry the numeric `key` they were made with. */
export type Shm<T> = T & { key?: number };

/** From type key to the array class it produces. */
export interface ArrayTypeMap {
  Buffer: Buffer;
  Int8Array: Int8Array;
  Uint8Array: Uint8Array;
  Uint8ClampedArray: Uint8ClampedArray;
  Int16Array: Int16Array;
  Uint16Array: Uint16Array;
  Int32Array: Int32Array;
  Uint32Array: Uint32Array;
  Float32Array: Float32Array;
  Float64Array: Float64Array;
  BigInt64Array: BigInt64Array;
  BigUint64Array: BigUint64Array;
}

/** What `create` / `get` return for a type key. */
export type ShmArray<K extends TypeKey> = Shm<ArrayTypeMap[K]>;

/** Type numbers, the same as shm-typed-array's (0..9), plus the BigInt types. */
export const BufferType: Readonly<Record<TypeKey, number>> = Object.freeze({
  Buffer: 0,
  Int8Array: 1,
  Uint8Array: 2,
  Uint8ClampedArray: 3,
  Int16Array: 4,
  Uint16Array: 5,
  Int32Array: 6,
  Uint32Array: 7,
  Float32Array: 8,
  Float64Array: 9,
  BigInt64Array: 10,
  BigUint64Array: 11,
});

/** Bytes per element of each type key. */
export const ElementSize: Readonly<Record<TypeKey, number>> = Object.freeze({
  Buffer: 1,
  Int8Array: 1,
  Uint8Array: 1,
  Uint8ClampedArray: 1,
  Int16Array: 2,
  Uint16Array: 2,
  Int32Array: 4,
  Uint32Array: 4,
  Float32Array: 4,
  Float64Array: 8,
  BigInt64Array: 8,
  BigUint64Array: 8,
});

/** Largest element count a segment may have: Node's own Buffer limit. */
export const LengthMax: number = bufferConstants.MAX_LENGTH;

/** Options every backend accepts when attaching. */
export interface AttachOptions {
  /**
   * Attach read-only (PROT_READ / SHM_RDONLY permission check). The process
   * then needs only read permission on the segment. See each backend for what
   * a write through such a view does; it never crashes the process.
   */
  readonly?: boolean;
  /**
   * Map every page now (madvise MADV_POPULATE_READ, Linux 5.14+), so that the
   * first pass over the data takes no page faults; a failure to find memory
   * is then an error here instead of a fault later. Attaching a written
   * 256 MiB segment measured about 3.8x (POSIX) and 1.7x (System V) faster
   * than faulting it in page by page; for a new segment the kernel zeroes the
   * pages either way, so it only moves that cost here. Default false.
   */
  populate?: boolean;
}

/** Permissions: a number (0o600) or an octal string ('600'). */
export type Permissions = number | string;

/** The flat API each native backend implements, narrowed to its key kind. */
export interface ShmBackend<Key, Options extends AttachOptions = AttachOptions> {
  /** A new segment of `count` elements, or null if `key` already exists. */
  create<K extends TypeKey = 'Buffer'>(
    count: number,
    typeKey?: K,
    key?: Key,
    perm?: Permissions,
    options?: Options,
  ): ShmArray<K> | null;
  /** A new attachment of an existing segment, or null if it does not exist. */
  get<K extends TypeKey = 'Buffer'>(key: Key, typeKey?: K, options?: Options): ShmArray<K> | null;
  /** Unmaps every attachment of `key` in this thread; see the backend for the return value. */
  detach(key: Key, forceDestroy?: boolean): number;
  /** Unmaps and removes the segment: `detach(key, true) === 0`. */
  destroy(key: Key): boolean;
  /** Unmaps everything this thread attached; returns how many segments that destroyed. */
  detachAll(): number;
  /** Bytes this thread has mapped now. */
  getTotalSize(): number;
  /** Bytes of the segments this thread created and has not destroyed. */
  getTotalCreatedSize(): number;
  readonly BufferType: typeof BufferType;
  readonly LengthMax: number;
}

