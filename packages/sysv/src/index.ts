/**
 * @shm/sysv: System V shared memory segments (shmget / shmat) as Buffers and
 * TypedArrays, named by numeric keys.
 *
 * Each create / get is its own attachment. detach(key) neuters every array of
 * this thread's attachments of that key, then detaches them; arrays that
 * become unreachable are detached by the garbage collector (the segment
 * itself stays until destroyed, or until detach / detachAll finds it with no
 * attachment left).
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
import { readFileSync } from 'node:fs';
import { binding } from './binding';

export { BufferType, LengthMax };
export type { AttachOptions, Permissions, ShmArray, TypeKey } from '@shm/types';

export type SysvOptions = AttachOptions;

/** Permissions of new segments unless given: owner read and write. */
export const DEFAULT_PERMISSIONS = 0o600;

/** Keys are 1 .. 2^32 - 2: 0 is IPC_PRIVATE and 2^32 - 1 is (key_t)-1. */
export const KEY_MIN = 1;
export const KEY_MAX = 2 ** 32 - 2;

/** How many random keys create() tries before it gives up. */
const GENERATED_KEY_ATTEMPTS = 64;

/**
 * The segments this thread created or attached, by key: the shmid of each.
 * A key names whichever segment holds it now, so detach and detachAll act on
 * these shmids alone, never on a newcomer under the same key. (What this
 * process created, in any thread, is kept natively, for destroyCreated.)
 */
const attachedIds = new Map<number, Set<number>>();

function noteAttached(key: number, id: number): void {
  const ids = attachedIds.get(key);
  if (ids) ids.add(id);
  else attachedIds.set(key, new Set([id]));
}

export function validateKey(key: unknown): number {
  if (typeof key !== 'number') throw invalidArgType('key', 'of type number', key);
  if (!(Number.isSafeInteger(key) && key >= KEY_MIN && key <= KEY_MAX)) {
    throw outOfRange(`Shm key should be ${KEY_MIN} .. ${KEY_MAX}`);
  }
  return key;
}

function generateKey(): number {
  return KEY_MIN + Math.floor(Math.random() * KEY_MAX);
}

function withKey<T extends object>(array: T, key: number): T & { key: number } {
  (array as T & { key: number }).key = key;
  return array as T & { key: number };
}

/**
 * Creates a segment of `count` elements with `key` (a free random key when
 * omitted) and attaches it. The result carries `.key`. Returns null if the
 * key is taken.
 */
export function create<K extends TypeKey = 'Buffer'>(
  count: number,
  typeKey?: K,
  key?: number | null,
  perm?: Permissions,
  options?: SysvOptions,
): ShmArray<K> | null {
  const resolvedType = resolveTypeKey(typeKey) as K;
  validateCount(count);
  const explicitKey = key === undefined || key === null ? undefined : validateKey(key);
  const mode = parsePermissions(perm, DEFAULT_PERMISSIONS);
  const populate = validateBoolean('options.populate', validateCreateOptions<SysvOptions>(options).populate);
  const bytes = byteLengthOf(count, resolvedType);

  let segmentKey = explicitKey ?? generateKey();
  let opened = binding.open(segmentKey, bytes, true, mode, false, populate);
  // A generated key may be taken already: draw another.
  for (let attempt = 1; opened === null && explicitKey === undefined; attempt++) {
    if (attempt === GENERATED_KEY_ATTEMPTS) {
      throw Object.assign(new Error(`No free System V key found in ${attempt} random tries`), {
        code: 'ERR_SHM_NO_FREE_KEY',
      });
    }
    segmentKey = generateKey();
    opened = binding.open(segmentKey, bytes, true, mode, false, populate);
  }
  if (opened === null) return null;
  noteAttached(segmentKey, opened[1]);
  return withKey(makeView(opened[0], resolvedType), segmentKey) as ShmArray<K>;
}

/**
 * Attaches the existing segment `key`; its length is the segment's bytes /
 * element size. Returns null if there is no such segment.
 *
 * With `readonly: true` the segment is attached with SHM_RDONLY, so read
 * permission is enough. The first write through such a view turns the whole
 * view into a private copy of its bytes (see <shm/fault_guard.h>): the
 * segment never changes, the process does not crash, and the view stops
 * following the segment (its attachment is gone).
 */
export function get<K extends TypeKey = 'Buffer'>(key: number, typeKey?: K, options?: SysvOptions): ShmArray<K> | null {
  const resolvedType = resolveTypeKey(typeKey) as K;
  const segmentKey = validateKey(key);
  const resolvedOptions = validateOptions<SysvOptions>(options);
  const readonly = validateBoolean('options.readonly', resolvedOptions.readonly);
  const populate = validateBoolean('options.populate', resolvedOptions.populate);
  const opened = binding.open(segmentKey, 0, false, 0, readonly, populate);
  if (opened === null) return null;
  noteAttached(segmentKey, opened[1]);
  return withKey(makeView(opened[0], resolvedType), segmentKey) as ShmArray<K>;
}

/**
 * Detaches every attachment of `key` in this thread (their arrays become
 * empty). The segment is destroyed when no process attaches it any more (if
 * this process may remove it: one another user owns is left as it is), or at
 * once with `forceDestroy`.
 * Returns the attach count left, 0 when destroyed (or none left), -1 if this
 * thread never attached it (and no force) or it does not exist.
 *
 * The segment is the one this thread created or attached under `key`, never
 * one created under the same key since. Only `forceDestroy` on a key this
 * thread never attached acts on whichever segment holds the key now.
 */
export function detach(key: number, forceDestroy = false): number {
  const segmentKey = validateKey(key);
  const force = validateBoolean('forceDestroy', forceDestroy);
  const ids = attachedIds.get(segmentKey);
  if (!ids) return force ? (binding.remove(segmentKey) ? 0 : -1) : -1;
  for (const id of ids) binding.unmap(segmentKey, id);
  const left = runEvery([...ids].map((id) => () => settle(segmentKey, id, force).left));
  return Math.max(...left);
}

/**
 * How many attachments the segment `key` has now, over all processes
 * (shmctl IPC_STAT shm_nattch); -1 if there is no such segment.
 */
export function attachCount(key: number): number {
  return binding.attachCount(validateKey(key));
}

/** One System V segment of the machine, as /proc/sysvipc/shm shows it. */
export interface SegmentInfo {
  key: number;
  id: number;
  bytes: number;
  /** Permission bits. */
  mode: number;
  attachCount: number;
  /** The process that created it, and the last one that attached or detached it. */
  creatorPid: number;
  lastPid: number;
  uid: number;
}

/**
 * Every System V segment this process may see (IPC_PRIVATE ones included,
 * with key 0). Segments left by a crashed process show attachCount 0 and a
 * creatorPid that no longer runs: `destroy(info.key)` removes them.
 */
export function listSegments(): SegmentInfo[] {
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n');
  return rows.map((row) => {
    const [key, id, perms, size, cpid, lpid, nattch, uid] = row.trim().split(/\s+/);
    return {
      key: Number(key) >>> 0, // printed as a signed int
      id: Number(id),
      bytes: Number(size),
      mode: Number.parseInt(perms, 8) & 0o777, // printed in octal
      attachCount: Number(nattch),
      creatorPid: Number(cpid),
      lastPid: Number(lpid),
      uid: Number(uid),
    };
  });
}

/** Permission errors of IPC_RMID: the segment is another user's to remove. */
const NOT_OURS_TO_REMOVE = new Set(['EPERM', 'EACCES']);

interface Settled {
  /** The attach count left; -1 when the segment is gone. */
  left: number;
  /** Whether this call removed it. */
  destroyed: boolean;
}

/**
 * Destroys the segment `id` (still holding `key`) if forced, or if no process
 * attaches it and this process may remove it.
 */
function settle(key: number, id: number, force: boolean): Settled {
  const settled = force ? removed(binding.remove(key, id)) : settleUnforced(key, id);
  // Still attached elsewhere: this thread keeps knowing it, and a later
  // detach or detachAll destroys it once it is unattached.
  if (settled.left <= 0) forgetId(key, id);
  return settled;
}

function removed(existed: boolean): Settled {
  return existed ? { left: 0, destroyed: true } : { left: -1, destroyed: false };
}

function settleUnforced(key: number, id: number): Settled {
  const attachments = binding.attachCount(key, id);
  if (attachments < 0) binding.remove(key, id); // gone: out of the created ledger too
  if (attachments !== 0) return { left: attachments, destroyed: false };
  try {
    return removed(binding.remove(key, id));
  } catch (error) {
    if (!NOT_OURS_TO_REMOVE.has((error as { code?: string }).code ?? '')) throw error;
    return { left: 0, destroyed: false }; // unattached, and its owner's to remove
  }
}

function forgetId(key: number, id: number): void {
  const ids = attachedIds.get(key);
  ids?.delete(id);
  if (ids?.size === 0) attachedIds.delete(key);
}

/** Detaches and destroys the segment: `detach(key, true) === 0`. */
export function destroy(key: number): boolean {
  return detach(key, true) === 0;
}

/**
 * Detaches everything this thread attached, then destroys each segment it
 * attached that no process attaches any more (and that it may remove).
 * Returns how many it destroyed. Every segment is tried; what failed is
 * reported once, after the last (see runEvery in @shm/types).
 */
export function detachAll(): number {
  binding.unmapAll();
  const steps = [...attachedIds].flatMap(([key, ids]) => [...ids].map((id) => () => settle(key, id, false).destroyed));
  return runEvery(steps).filter(Boolean).length;
}

/** Bytes this thread has attached now. */
export function getTotalSize(): number {
  return binding.mappedBytes();
}

/** Bytes of the segments this thread created and has not destroyed. */
export function getTotalCreatedSize(): number {
  return binding.createdBytes();
}

/**
 * Destroys every segment this process created, in any thread, and has not
 * destroyed (by shmid: never a newcomer under the same key); returns how
 * many. This thread's attachments of them are detached; another thread's
 * stay valid until it detaches them (the segment goes with the last). Every
 * segment is tried; what failed is reported once, after the last.
 */
export function destroyCreated(): number {
  const steps = binding.createdSegments().map(([key, id]) => () => {
    binding.unmap(key, id); // this segment's attachments only, not a newcomer's under the key
    forgetId(key, id);
    return binding.remove(key, id);
  });
  return runEvery(steps).filter(Boolean).length;
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
export const backend: ShmBackend<number, SysvOptions> = {
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
