/** The argument rules of @shm/sysv alone: keys. What both backends share is in @shm/types. */
import { invalidArgType, outOfRange } from '@shm/types';

/** Keys are 1 .. 2^32 - 2: 0 is IPC_PRIVATE and 2^32 - 1 is (key_t)-1. */
export const KEY_MIN = 1;
export const KEY_MAX = 2 ** 32 - 2;

export function validateKey(key: unknown): number {
  if (typeof key !== 'number') throw invalidArgType('key', 'of type number', key);
  if (!(Number.isSafeInteger(key) && key >= KEY_MIN && key <= KEY_MAX)) {
    throw outOfRange(`Shm key should be ${KEY_MIN} .. ${KEY_MAX}`);
  }
  return key;
}
