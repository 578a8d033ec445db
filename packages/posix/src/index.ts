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
import { AttachOptions, BufferType, LengthMax, Permissions, ShmArray, TypeKey, backendSurface, byteLengthOf,
  destroyEach, invalidArgValue, makeView, outOfRange, parsePermissions, resolveTypeKey, validateBoolean,
  validateCount, validateCreateOptions, validateOptions } from '@shm/types';
import { binding } from './binding';
import { Layout, normalizeName, resolveLayout } from './validation';

export { NAME_MAX, normalizeName } from './validation';
export type { Layout } from './validation';
export { listObjects } from './listing';
export type { ObjectInfo } from './listing';

export { BufferType, LengthMax };
export type { AttachOptions, Permissions, ShmArray, TypeKey } from '@shm/types';

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
  const prefixed = resolveLayout(resolvedOptions.layout);
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
  const prefixed = resolveLayout(resolvedOptions.layout);
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

/** Unmaps everything this thread mapped. POSIX objects stay until destroyed, so this returns 0. */
export function detachAll(): number {
  binding.unmapAll();
  binding.reportLostPages();
  return 0;
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
  return destroyEach(createdNames(), destroy);
}

/** The rest of the flat API, made alike for every backend by backendSurface (@shm/types). */
export const { destroy, getTotalSize, getTotalCreatedSize, backend, cleanupOnSignals } =
  backendSurface<string, PosixOptions>({ create, get, detach, detachAll, destroyCreated, bytes: binding });
