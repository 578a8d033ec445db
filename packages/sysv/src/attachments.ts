/**
 * This thread's attachments by key, and how an attachment is settled when it
 * is detached: destroyed, kept (attached elsewhere), or left to its owner.
 */
import { binding } from './binding';

/**
 * The segments this thread created or attached, by key: the shmid of each.
 * A key names whichever segment holds it now, so detach and detachAll act on
 * these shmids alone, never on a newcomer under the same key. (What this
 * process created, in any thread, is kept natively, for destroyCreated.)
 */
export const attachedIds = new Map<number, Set<number>>();

export function noteAttached(key: number, id: number): void {
  const ids = attachedIds.get(key);
  if (ids) ids.add(id);
  else attachedIds.set(key, new Set([id]));
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
export function settle(key: number, id: number, force: boolean): Settled {
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

export function forgetId(key: number, id: number): void {
  const ids = attachedIds.get(key);
  ids?.delete(id);
  if (ids?.size === 0) attachedIds.delete(key);
}
