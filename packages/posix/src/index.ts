/**
 * @shm/posix: POSIX shared memory objects (shm_open / mmap) as Buffers and
 * TypedArrays. Objects are named '/name' and live as files under /dev/shm.
 *
 * Layouts:
 *  - 'raw' (default): the object holds exactly the data bytes and its size is
 *    its file size, so Python's multiprocessing.shared_memory, C programs and
 *    any other tool read it as it is.
 *  - 'prefixed': shm-typed-array's layout, a native size_t byte length in the
 *    first 8 bytes and the data after it (what @shm/core uses, so it shares
 *    objects with processes still running shm-typed-array).
 *
 * Each create / get is its own mapping. detach(name) neuters every array of
 * this thread's attachments of that name, then unmaps them; arrays that
 * become unreachable are unmapped by the garbage collector.
 */
import {
  AttachOptions,
  BufferType,
  CleanupSignal,
  byteLengthOf,
  LengthMax,
  Permissions,
  ShmArray,
  ShmBackend,
  TypeKey,
  installSignalCleanup,
  invalidArgType,
  invalidArgValue,
  makeView,
  outOfRange,
  parsePermissions,
  resolveTypeKey,
  runEvery,
  validateBoolean,
  validateCount,
  validateCreateOptions,
  validateOptions,
} from '@shm/types';
import { readdirSync, statSync } from 'node:fs';
import { binding } from './binding';

/** Where Linux keeps POSIX shared memory objects (a tmpfs). */
const SHM_DIRECTORY = '/dev/shm';

export { BufferType, LengthMax };
export type { AttachOptions, Permissions, ShmArray, TypeKey } from '@shm/types';

export type Layout = 'raw' | 'prefixed';

export interface PosixOptions extends AttachOptions {
  /** 'raw' (default) or 'prefixed' (shm-typed-array's layout). */
  layout?: Layout;
  /**
   * create only. true (default): allocate the object's pages at create time
   * (posix_fallocate), so that a /dev/shm without room fails the create with
   * ENOSPC. false: pages are allocated as they are first written, which is
   * faster for large objects, but a write that finds /dev/shm full kills the
   * process with SIGBUS.
   */
  reserve?: boolean;
}

/**
 * Permissions of new objects unless given: owner read and write. Like
 * shm_open(3) and Node's fs.open, create() filters the mode through the
 * process's umask: with umask 022, '666' makes 0644.
 */
export const DEFAULT_PERMISSIONS = 0o600;

/** Longest name, without its leading '/' (NAME_MAX). */
export const NAME_MAX = 255;

/**
 * The object name as shm_open wants it: a leading '/' is added when missing.
 * Refused: an empty name, another '/', a NUL, '.' and '..' (they name
 * directories), a 'sem.' prefix (glibc's named semaphores live under those
 * names), text that is not well-formed Unicode (a lone surrogate would turn
 * into U+FFFD on its way to the kernel, and two distinct names would open one
 * object), and more than NAME_MAX bytes after the '/'.
 */
export function normalizeName(name: unknown): string {
  if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name);
  const normalized = name.startsWith('/') ? name : `/${name}`;
  if (normalized.length === 1) throw invalidArgValue('name', 'must not be empty', name);
  if (normalized.includes('/', 1)) throw invalidArgValue('name', "must not contain '/' after the first character", name);
  if (normalized.includes('\0')) throw invalidArgValue('name', 'must not contain NUL bytes', name);
  if (normalized === '/.' || normalized === '/..') throw invalidArgValue('name', "must not be '.' or '..'", name);
  if (normalized.startsWith('/sem.')) {
    throw invalidArgValue('name', "must not begin with 'sem.' (glibc's named semaphores use those names)", name);
  }
  if (!normalized.isWellFormed()) throw invalidArgValue('name', 'must be well-formed Unicode (no lone surrogates)', name);
  if (Buffer.byteLength(normalized) - 1 > NAME_MAX) {
    throw outOfRange(`The "name" argument must be at most ${NAME_MAX} bytes after its leading '/'`);
  }
  return normalized;
}

function resolveLayout(options: Partial<PosixOptions>): boolean {
  const { layout } = options;
  if (layout === undefined || layout === 'raw') return false;
  if (layout === 'prefixed') return true;
  throw invalidArgValue('options.layout', "must be 'raw' or 'prefixed'", layout);
}

/**
 * Creates the object `name` with room for `count` elements and maps it.
 * Returns null if the name is taken.
 */
export function create<K extends TypeKey = 'Buffer'>(
  count: number,
  typeKey?: K,
  name?: string,
  perm?: Permissions,
  options?: PosixOptions,
): ShmArray<K> | null {
  const resolvedType = resolveTypeKey(typeKey) as K;
  validateCount(count);
  const objectName = normalizeName(name);
  const mode = parsePermissions(perm, DEFAULT_PERMISSIONS);
  const resolvedOptions = validateCreateOptions<PosixOptions>(options);
  const prefixed = resolveLayout(resolvedOptions);
  const reserve = validateBoolean('options.reserve', resolvedOptions.reserve, true);
  const populate = validateBoolean('options.populate', resolvedOptions.populate);
  const dataBytes = byteLengthOf(count, resolvedType);
  if (prefixed && dataBytes > Number.MAX_SAFE_INTEGER - binding.prefixBytes) {
    throw outOfRange(`${dataBytes} data bytes and the prefixed layout's ${binding.prefixBytes}-byte header exceed ${Number.MAX_SAFE_INTEGER} bytes`);
  }
  const buffer = binding.open(objectName, dataBytes, true, mode, false, prefixed, reserve, populate);
  if (buffer === null) return null;
  return makeView(buffer, resolvedType);
}

/**
 * Maps the existing object `name`; its length is the data bytes / element
 * size. Returns null if there is no such object.
 *
 * With `readonly: true` the object is opened O_RDONLY (read permission is
 * enough) and mapped privately: the view shows the object's bytes, and a write
 * through it changes only this view's private copy of that page, never the
 * object (and that page then stops following the object's changes).
 */
export function get<K extends TypeKey = 'Buffer'>(name: string, typeKey?: K, options?: PosixOptions): ShmArray<K> | null {
  const resolvedType = resolveTypeKey(typeKey) as K;
  const objectName = normalizeName(name);
  const resolvedOptions = validateOptions<PosixOptions>(options);
  const prefixed = resolveLayout(resolvedOptions);
  const readonly = validateBoolean('options.readonly', resolvedOptions.readonly);
  const populate = validateBoolean('options.populate', resolvedOptions.populate);
  if (resolvedOptions.reserve !== undefined) {
    throw invalidArgValue('options.reserve', 'applies to create(), not to get()', resolvedOptions.reserve);
  }
  const buffer = binding.open(objectName, 0, false, 0, readonly, prefixed, false, populate);
  if (buffer === null) return null;
  return makeView(buffer, resolvedType);
}

/**
 * Unmaps every attachment of `name` in this thread (their arrays become
 * empty). With `forceDestroy` the object is also unlinked.
 * Returns 0 if destroyed, 1 if unmapped, -1 if not attached / not existing.
 */
export function detach(name: string, forceDestroy = false): number {
  const objectName = normalizeName(name);
  const force = validateBoolean('forceDestroy', forceDestroy);
  const unmapped = binding.unmap(objectName);
  let result = unmapped > 0 ? 1 : -1;
  if (force) result = binding.unlink(objectName) ? 0 : -1;
  binding.reportLostPages(objectName); // after all the work, as close(2) reports a deferred error
  return result;
}

/** Unmaps and unlinks the object: `detach(name, true) === 0`. */
export function destroy(name: string): boolean {
  return detach(name, true) === 0;
}

/** Unmaps everything this thread mapped. POSIX objects stay until destroyed, so this returns 0. */
export function detachAll(): number {
  binding.unmapAll();
  binding.reportLostPages();
  return 0;
}

/** Bytes this thread has mapped now (the prefixed layout's header included). */
export function getTotalSize(): number {
  return binding.mappedBytes();
}

/** Bytes of the objects this thread created and has not destroyed (headers included). */
export function getTotalCreatedSize(): number {
  return binding.createdBytes();
}

/** One POSIX shared memory object of the machine, as /dev/shm shows it. */
export interface ObjectInfo {
  /** As shm_open takes it: '/name'. */
  name: string;
  bytes: number;
  /** Permission bits. */
  mode: number;
  uid: number;
  modified: Date;
}

/**
 * Every POSIX shared memory object under /dev/shm (glibc's named semaphores,
 * 'sem.*', left out). The kernel keeps no attach count for them: an object
 * outlives every process that mapped it until someone destroys it, so a
 * crashed process's objects are found by name, owner or age, and removed with
 * `destroy(info.name)`.
 */
export function listObjects(): ObjectInfo[] {
  const objects: ObjectInfo[] = [];
  for (const entry of readdirSync(SHM_DIRECTORY, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('sem.')) continue;
    try {
      const status = statSync(`${SHM_DIRECTORY}/${entry.name}`);
      objects.push({ name: `/${entry.name}`, bytes: status.size, mode: status.mode & 0o777, uid: status.uid, modified: status.mtime });
    } catch {
      // removed meanwhile
    }
  }
  return objects;
}

/** The names of the objects this process created, in any thread, and has not destroyed. */
export function createdNames(): string[] {
  return binding.createdNames();
}

/**
 * Destroys every object this process created, in any thread, and has not
 * destroyed; returns how many. This thread's mappings of them are unmapped;
 * another thread's stay valid (an unlinked object lives on while mapped).
 * Every object is tried; what failed is reported once, after the last.
 */
export function destroyCreated(): number {
  return runEvery(createdNames().map((name) => () => destroy(name))).filter(Boolean).length;
}

/**
 * Opt-in: on SIGINT / SIGTERM (or the `signals` given), destroy what this
 * process created (destroyCreated), then let the signal end the process as it would have.
 * Stands aside for a signal the application listens to itself. Returns a
 * function that removes the listeners.
 */
export function cleanupOnSignals(signals: readonly CleanupSignal[] = ['SIGINT', 'SIGTERM']): () => void {
  return installSignalCleanup(destroyCreated, signals);
}

/** This module as a ShmBackend, for code that takes any backend. */
export const backend: ShmBackend<string, PosixOptions> = {
  create,
  get,
  detach,
  destroy,
  detachAll,
  getTotalSize,
  getTotalCreatedSize,
  BufferType,
  LengthMax,
};
