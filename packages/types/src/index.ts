/**
 * @shm/types: what every shm backend shares. The type tables, the argument
 * rules, the bookkeeping of which segments this thread created, and the
 * interface each backend implements. Pure TypeScript, no native code, so both
 * backends (and the umbrella) apply exactly the same rules.
 */
import { constants as bufferConstants } from 'node:buffer';
import { markAsUntransferable } from 'node:worker_threads';
import * as path from 'node:path';

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

// ---------------------------------------------------------------------------
// Argument rules. Errors carry Node's ERR_* codes so callers can branch on them.

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return String(value.toString());
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  const error = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(value)}`);
  return Object.assign(error, { code: 'ERR_INVALID_ARG_TYPE' });
}

export function invalidArgValue(name: string, reason: string, value: unknown): TypeError {
  const error = new TypeError(`The "${name}" argument ${reason}. Received ${describe(value)}`);
  return Object.assign(error, { code: 'ERR_INVALID_ARG_VALUE' });
}

export function outOfRange(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' });
}

/** The type key, 'Buffer' when omitted; anything else is a TypeError. */
export function resolveTypeKey(typeKey: unknown): TypeKey {
  if (typeKey === undefined) return 'Buffer';
  if (typeof typeKey === 'string' && Object.prototype.hasOwnProperty.call(BufferType, typeKey)) {
    return typeKey as TypeKey;
  }
  const shown = typeof typeKey === 'string' ? typeKey : describe(typeKey);
  const error = new TypeError(`Unknown type key ${shown}`);
  throw Object.assign(error, { code: 'ERR_INVALID_ARG_VALUE' });
}

/** `count` must be a safe integer in 1..LengthMax. */
export function validateCount(count: unknown): number {
  if (typeof count !== 'number') throw invalidArgType('count', 'of type number', count);
  if (!(Number.isSafeInteger(count) && count >= 1 && count <= LengthMax)) {
    throw outOfRange(`Count should be 1 .. ${LengthMax}`);
  }
  return count;
}

/**
 * The bytes of `count` elements of `typeKey`. They must fit in one Node.js
 * ArrayBuffer over external memory, at most LengthMax bytes.
 */
export function byteLengthOf(count: number, typeKey: TypeKey): number {
  const bytes = count * ElementSize[typeKey];
  if (bytes > LengthMax) {
    throw outOfRange(
      `${count} ${typeKey} elements take ${bytes} bytes; a segment holds at most ${LengthMax} bytes ` +
        `(buffer.constants.MAX_LENGTH: Node.js ${process.version} wraps no more memory it does not own in an ArrayBuffer)`,
    );
  }
  return bytes;
}

/** Strict permissions: 0..0o777 as a number or an octal string. */
export function parsePermissions(perm: unknown, fallback: number): number {
  if (perm === undefined) return fallback;
  let mode: number;
  if (typeof perm === 'number') mode = perm;
  else if (typeof perm === 'string' && /^[0-7]{1,4}$/.test(perm)) mode = Number.parseInt(perm, 8);
  else if (typeof perm === 'string') throw invalidArgValue('perm', 'must be an octal string such as \'660\'', perm);
  else throw invalidArgType('perm', 'an octal string or a number', perm);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw outOfRange(`Permissions should be 0 .. 0o777, got ${describe(perm)}`);
  }
  return mode;
}

const NO_OPTIONS = Object.freeze({});

/** Plain-object options or undefined; anything else is a TypeError. */
export function validateOptions<T extends object>(options: unknown): Partial<T> {
  if (options === undefined || options === null) return NO_OPTIONS;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgType('options', 'an object', options);
  }
  return options as Partial<T>;
}

/** Options of create(): as validateOptions, and `readonly` is refused (a new segment is there to be written). */
export function validateCreateOptions<T extends AttachOptions>(options: unknown): Partial<T> {
  const resolved = validateOptions<T>(options);
  if (validateBoolean('options.readonly', resolved.readonly)) {
    throw invalidArgValue('options.readonly', 'applies to get(), not to create()', true);
  }
  return resolved;
}

/** A boolean argument; `defaultValue` when omitted. */
export function validateBoolean(name: string, value: unknown, defaultValue = false): boolean {
  if (value === undefined) return defaultValue;
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

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
 * for such a moved buffer (see mapping_registry.h in @shm/native).
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

/**
 * Runs every step, even after one throws, and returns their results; then
 * reports what failed, once: the error itself when one step failed, or one
 * ERR_SHM_CLEANUP error listing them all (`errors`) when several did.
 * Cleanup that stopped at its first error (a segment that reports
 * ERR_SHM_TRUNCATED, one this process may not remove) would leave every later
 * segment behind.
 */
export function runEvery<T>(steps: ReadonlyArray<() => T>): T[] {
  const results: T[] = [];
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      results.push(step());
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    const reasons = errors.map((error) => (error instanceof Error ? error.message : String(error)));
    const error = new Error(`${errors.length} of ${steps.length} cleanup steps failed: ${reasons.join('; ')}`);
    throw Object.assign(error, { code: 'ERR_SHM_CLEANUP', errors });
  }
  return results;
}

// ---------------------------------------------------------------------------
// Native addon loading, shared by the backends.

/**
 * Loads `<packageRoot>/build/{Release,Debug}/<addonName>.node`. When none
 * loads, the error lists every path tried and why each failed.
 */
export function loadNativeAddon<Binding>(packageRoot: string, addonName: string): Binding {
  const candidates = ['Release', 'Debug'].map((config) =>
    path.join(packageRoot, 'build', config, `${addonName}.node`),
  );
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return require(candidate) as Binding;
    } catch (error) {
      failures.push(`${candidate}: ${String((error as Error).message).split('\n')[0]}`);
    }
  }
  const error = new Error(
    `Cannot load the native addon ${addonName}. Tried:\n  ${failures.join('\n  ')}\n` +
      `Build it with \`npx shm-build-native\` in ${packageRoot}.`,
  );
  throw Object.assign(error, { code: 'ERR_SHM_ADDON_NOT_FOUND', tried: candidates });
}

// ---------------------------------------------------------------------------
// Cleanup on signals, shared by every package's cleanupOnSignals().

export type CleanupSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGQUIT';

const CLEANUP_SIGNALS: readonly CleanupSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** Per signal: our one listener, and how many installs asked for each cleanup. */
type SignalCleanups = Map<CleanupSignal, { listener: () => void; cleanups: Map<() => void, number> }>;

/**
 * The process's one table of signal cleanups. Every copy of this module (two
 * versions of @shm/types may be installed side by side) finds the same table
 * through the global symbol registry, so each signal has one listener of
 * ours however many helpers are installed. With one listener per helper,
 * each took the others for the application's own and stood aside, and the
 * signal did nothing at all.
 */
function signalCleanups(): SignalCleanups {
  const key = Symbol.for('@shm/types.signalCleanups');
  const global = globalThis as { [key: symbol]: SignalCleanups | undefined };
  return (global[key] ??= new Map());
}

/**
 * On each of `signals`, runs `cleanup` and then lets the signal do what it
 * would have done without this helper: the listener removes itself and sends
 * the signal again, so the process ends by that signal (exit status 128 + n,
 * as a shell sees it). When the application listens to that signal itself,
 * the helper stands aside: the application has taken over that signal, and
 * whether (and when) the process ends is its decision.
 *
 * Idempotent and process-wide: installing the same cleanup again, from any
 * package, adds nothing; different cleanups all run, each once, and a failure
 * in one skips none of the others. Returns a function that undoes this
 * install (the cleanup stays while another install of it remains). Signals
 * reach only the main thread; the backends' cleanups destroy what any thread
 * of the process created.
 */
export function installSignalCleanup(cleanup: () => void, signals: readonly CleanupSignal[]): () => void {
  if (!Array.isArray(signals) || signals.some((signal) => !CLEANUP_SIGNALS.includes(signal))) {
    throw invalidArgValue('signals', "must list some of 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'", signals);
  }
  const table = signalCleanups();
  const installed = [...new Set(signals)].map((signal) => {
    let entry = table.get(signal);
    if (!entry) {
      const cleanups = new Map<() => void, number>();
      const listener = () => {
        if (process.listenerCount(signal) > 1) return; // the application's own listener decides
        table.delete(signal);
        process.removeListener(signal, listener);
        try {
          runEvery([...cleanups.keys()]);
        } catch (error) {
          console.error(error); // reported once; the signal still ends the process
        }
        process.kill(process.pid, signal);
      };
      entry = { listener, cleanups };
      table.set(signal, entry);
      process.on(signal, listener);
    }
    entry.cleanups.set(cleanup, (entry.cleanups.get(cleanup) ?? 0) + 1);
    return { signal, entry };
  });
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    for (const { signal, entry } of installed) {
      const count = (entry.cleanups.get(cleanup) ?? 0) - 1;
      if (count > 0) entry.cleanups.set(cleanup, count);
      else entry.cleanups.delete(cleanup);
      if (entry.cleanups.size === 0 && table.get(signal) === entry) {
        table.delete(signal);
        process.removeListener(signal, entry.listener);
      }
    }
  };
}
