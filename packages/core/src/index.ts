/**
 * @shm/core: the drop-in successor of shm-typed-array.
 *
 * `require('shm-typed-array')` can become `require('@shm/core')` with nothing
 * else changed: the same flat API, the same return values, the same POSIX
 * object layout (so both packages share objects), the same exit behaviour.
 *
 * This module is the one place that chooses a backend: a string key is a
 * POSIX object name (@shm/posix, in shm-typed-array's prefixed layout), a
 * number, null or undefined a System V key (@shm/sysv).
 */
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import {
  BufferType as bufferTypes,
  LengthMax,
  ShmArray,
  TypeKey,
  cleanupOnSignalsOf,
  invalidArgType,
  runEvery,
  validateOptions,
} from '@shm/types';

export type { Shm, ShmArray, TypeKey, ArrayTypeMap, AttachOptions, ShmBackend, CleanupSignal } from '@shm/types';

/** From type key to what create / get return (shm-typed-array's ShmMap). */
export type ShmMap = { [K in TypeKey]: ShmArray<K> };

/** Type numbers, as shm-typed-array's: Buffer 0 ... Float64Array 9, BigInt64Array 10, BigUint64Array 11. */
export const BufferType: Readonly<Record<TypeKey, number>> & { readonly [typeKey: string]: number } = bufferTypes;

/** Largest element count of a segment: buffer.constants.MAX_LENGTH. */
export { LengthMax };

/**
 * What @shm/core adds to shm-typed-array's signatures, as a last argument:
 * the backends' options. `reserve` applies to POSIX creates only; the layout
 * is always shm-typed-array's.
 */
export type CoreOptions = Omit<posix.PosixOptions, 'layout'>;

/** The backend options of a POSIX call: the caller's, in shm-typed-array's prefixed layout. */
function posixOptions(options: unknown): posix.PosixOptions {
  return { ...validateOptions<CoreOptions>(options), layout: 'prefixed' };
}

/**
 * shm-typed-array's permission rule: an octal string; anything that does not
 * parse as octal means '660'. Only the permission bits are kept.
 */
function lenientPermissions(perm: unknown): number {
  const parsable = typeof perm === 'string' || typeof perm === 'number';
  const parsed = parsable ? Number.parseInt(String(perm), 8) : Number.NaN;
  return Number.isNaN(parsed) || parsed < 0 ? 0o660 : parsed & 0o777;
}

function isSysvKey(key: unknown): key is number | null | undefined {
  if (typeof key === 'number' || key === null || key === undefined) return true;
  if (typeof key === 'string') return false;
  throw invalidArgType('key', 'a number (System V) or a string (POSIX)', key);
}

/**
 * Creates a segment of `count` elements viewed as `typeKey`: a POSIX object
 * for a string key, a System V segment for a numeric key, a System V segment
 * with a free random key when `key` is omitted (System V results carry
 * `.key`). Returns null if the key is taken.
 */
export function create<K extends TypeKey = 'Buffer'>(
  count: number,
  typeKey?: K,
  key?: number | string | null,
  perm?: string,
  options?: CoreOptions,
): ShmMap[K] | null {
  if (!isSysvKey(key)) return createPosix(key, count, typeKey, perm, options);
  return sysv.create(count, typeKey, key, lenientPermissions(perm ?? '660'), options);
}

/**
 * The POSIX names this thread created or attached and has not destroyed:
 * shm-typed-array's detachPosix answers 1 for them, mapped or not.
 */
const knownNames = new Set<string>();

/**
 * shm-typed-array's name rule: glibc's shm_open drops every leading '/', so
 * '//frames' is '/frames'. (@shm/posix itself refuses such names.)
 */
function posixName(name: unknown): string {
  return typeof name === 'string' ? name.replace(/^\/+/, '/') : (name as string);
}

/**
 * Creates a POSIX object (shm-typed-array's createPosix). The mode is
 * filtered by the umask, as shm_open filtered shm-typed-array's.
 */
export function createPosix<K extends TypeKey = 'Buffer'>(
  name: string,
  count: number,
  typeKey?: K,
  perm?: string,
  options?: CoreOptions,
): ShmMap[K] | null {
  const objectName = posixName(name);
  const array = posix.create(count, typeKey, objectName, lenientPermissions(perm ?? '660'), posixOptions(options));
  if (array !== null) knownNames.add(posix.normalizeName(objectName));
  return array;
}

/** Attaches an existing segment; null if it does not exist. */
export function get<K extends TypeKey = 'Buffer'>(key: number | string, typeKey?: K, options?: CoreOptions): ShmMap[K] | null {
  if (!isSysvKey(key)) return getPosix(key, typeKey, options);
  return sysv.get(key as number, typeKey, options);
}

/** Attaches an existing POSIX object (shm-typed-array's getPosix). */
export function getPosix<K extends TypeKey = 'Buffer'>(name: string, typeKey?: K, options?: CoreOptions): ShmMap[K] | null {
  const objectName = posixName(name);
  const array = posix.get(objectName, typeKey, posixOptions(options));
  if (array !== null) knownNames.add(posix.normalizeName(objectName));
  return array;
}

/**
 * Detaches this process's attachments of `key`; their arrays become empty.
 * System V: the attach count left, 0 when destroyed (last attach gone, or
 * forced), -1 if not attached here / not existing.
 * POSIX: 0 destroyed (forced), 1 unmapped, -1 not attached / not existing.
 */
export function detach(key: number | string, forceDestroy?: boolean): number {
  if (!isSysvKey(key)) return detachPosix(key, forceDestroy);
  return sysv.detach(key as number, Boolean(forceDestroy));
}

/**
 * Detaches a POSIX object (shm-typed-array's detachPosix): 0 destroyed
 * (forced), 1 if this thread created or attached it and has not destroyed
 * it (mapped or not, as shm-typed-array answers), -1 otherwise.
 */
export function detachPosix(name: string, forceDestroy?: boolean): number {
  const objectName = posixName(name);
  const force = Boolean(forceDestroy);
  const result = posix.detach(objectName, force);
  const normalized = posix.normalizeName(objectName);
  if (force) knownNames.delete(normalized);
  return !force && result === -1 && knownNames.has(normalized) ? 1 : result;
}

/** Detaches and destroys: `detach(key, true) === 0`. */
export function destroy(key: number | string): boolean {
  return detach(key, true) === 0;
}

/**
 * Detaches everything this process attached, both kinds. Returns how many
 * System V segments that destroyed (those no process attaches any more).
 */
export function detachAll(): number {
  return runEvery([posix.detachAll, sysv.detachAll])[1];
}

/** Bytes this process has mapped now, both kinds (POSIX headers included). */
export function getTotalSize(): number {
  return posix.getTotalSize() + sysv.getTotalSize();
}

/** Bytes of the segments this process created and has not destroyed. */
export function getTotalCreatedSize(): number {
  return posix.getTotalCreatedSize() + sysv.getTotalCreatedSize();
}

/**
 * Destroys every segment this process created, in any thread, and has not
 * destroyed, both kinds; returns how many.
 */
export function destroyCreated(): number {
  const created = posix.createdNames();
  try {
    const [posixDestroyed, sysvDestroyed] = runEvery([posix.destroyCreated, sysv.destroyCreated]);
    return posixDestroyed + sysvDestroyed;
  } finally {
    const left = new Set(posix.createdNames());
    for (const name of created) if (!left.has(name)) knownNames.delete(name);
  }
}

/**
 * Opt-in (shm-typed-array had none, and @shm/core installs no signal handler
 * by itself): on SIGINT / SIGTERM (or the `signals` given), destroy what this
 * process created, both kinds, then let the signal end the process as it
 * would have. Stands aside for a signal the application listens to itself.
 * Returns a function that removes the listeners.
 */
export const cleanupOnSignals = cleanupOnSignalsOf(destroyCreated);

// As shm-typed-array does: at exit, detach everything and say how many System
// V segments went with it. No signal handler is installed.
process.on('exit', () => {
  try {
    const destroyed = detachAll();
    if (destroyed > 0) console.info('shm segments destroyed:', destroyed);
  } catch (error) {
    console.error(error);
  }
});
