/**
 * The argument rules of @shm/posix alone: object names and the layout
 * option. What both backends share is in @shm/types.
 */
import { invalidArgType, invalidArgValue, outOfRange } from '@shm/types';

export type Layout = 'raw' | 'prefixed';

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

/** Whether the objects' layout is 'prefixed' (true) or 'raw' (false, the default). */
export function resolveLayout(layout: unknown): boolean {
  if (layout === undefined || layout === 'raw') return false;
  if (layout === 'prefixed') return true;
  throw invalidArgValue('options.layout', "must be 'raw' or 'prefixed'", layout);
}
