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
import { AttachOptions, BufferType, LengthMax, Permissions, ShmArray, TypeKey, backendSurface, byteLengthOf,
  codedError, destroyEach, makeView, parsePermissions, resolveTypeKey, runEvery, validateBoolean,
  validateCount, validateCreateOptions, validateOptions } from '@shm/types';
import { attachedIds, forgetId, noteAttached, settle } from './attachments';
import { binding } from './binding';
import { KEY_MAX, KEY_MIN, validateKey } from './validation';

export { KEY_MAX, KEY_MIN, validateKey } from './validation';
export { listSegments } from './listing';
export type { SegmentInfo } from './listing';

export { BufferType, LengthMax };
export type { AttachOptions, Permissions, ShmArray, TypeKey } from '@shm/types';

export type SysvOptions = AttachOptions;

/** Permissions of new segments unless given: owner read and write. */
export const DEFAULT_PERMISSIONS = 0o600;

/** How many random keys create() tries before it gives up. */
const GENERATED_KEY_ATTEMPTS = 64;

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
      throw codedError('ERR_SHM_NO_FREE_KEY', `No free System V key found in ${attempt} random tries`);
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

/**
 * Detaches everything this thread attached, then destroys each segment it
 * attached that no process attaches any more (and that it may remove).
 * Returns how many it destroyed. Every segment is tried; what failed is
 * reported once, after the last (see runEvery in @shm/types).
 */
export function detachAll(): number {
  binding.unmapAll();
  const attachments = [...attachedIds].flatMap(([key, ids]) => [...ids].map((id) => [key, id] as const));
  return destroyEach(attachments, ([key, id]) => settle(key, id, false).destroyed);
}

/**
 * Destroys every segment this process created, in any thread, and has not
 * destroyed (by shmid: never a newcomer under the same key); returns how
 * many. This thread's attachments of them are detached; another thread's
 * stay valid until it detaches them (the segment goes with the last). Every
 * segment is tried; what failed is reported once, after the last.
 */
export function destroyCreated(): number {
  return destroyEach(binding.createdSegments(), ([key, id]) => {
    binding.unmap(key, id); // this segment's attachments only, not a newcomer's under the key
    forgetId(key, id);
    return binding.remove(key, id);
  });
}

/** The rest of the flat API, made alike for every backend by backendSurface (@shm/types). */
export const { destroy, getTotalSize, getTotalCreatedSize, backend, cleanupOnSignals } =
  backendSurface<number, SysvOptions>({ create, get, detach, detachAll, destroyCreated, bytes: binding });
