/**
 * Every coded error of the shm packages: one table (code, class, meaning)
 * and one helper that builds them. A failed system call is not here: the
 * addons build those as Node's fs does (`EACCES: permission denied,
 * shm_open '/name'`, with `code`, negative `errno`, `syscall`, and `path` or
 * `key`; see <shm/system_error.h> in @shm/native).
 *
 * The addons throw a few of these codes themselves, from the same table
 * written once in C++ (<shm/error_codes.h> in @shm/native); a test checks
 * that the two agree, that every code any source file throws is here, and
 * that docs/errors.md documents each one.
 */
import { inspect } from 'node:util';

/** The classes a coded error can have. */
type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;

interface ErrorCodeEntry {
  readonly type: ErrorClass;
  /** When it is thrown, in a few words (docs/errors.md says more). */
  readonly meaning: string;
}

export const ERROR_CODES = Object.freeze({
  // Node's own codes, for what Node's APIs would answer the same way.
  ERR_INVALID_ARG_TYPE: { type: TypeError, meaning: 'an argument has the wrong type' },
  ERR_INVALID_ARG_VALUE: { type: TypeError, meaning: 'an argument has a value that is refused' },
  ERR_OUT_OF_RANGE: { type: RangeError, meaning: 'a number is outside the range it must be in' },
  ERR_INVALID_STATE: { type: Error, meaning: "an array's segment was detached or destroyed" },
  // The shm packages' codes.
  ERR_SHM_ADDON_NOT_FOUND: { type: Error, meaning: 'no native addon of the package could be loaded' },
  ERR_SHM_TRUNCATED: { type: Error, meaning: 'a POSIX object lost pages while mapped here' },
  ERR_SHM_MAPPING_LIMIT: { type: Error, meaning: "the process's shm mappings reached their budget" },
  ERR_SHM_NO_MEMORY: { type: Error, meaning: "no memory for a mapping's bookkeeping" },
  ERR_SHM_LAYOUT: { type: Error, meaning: 'a prefixed get found no valid length header' },
  ERR_SHM_NO_FREE_KEY: { type: Error, meaning: 'create found no free System V key' },
  ERR_SHM_NOT_REGULAR_FILE: { type: Error, meaning: 'a POSIX get found something other than a regular file' },
  ERR_SHM_CLEANUP: { type: Error, meaning: 'several steps of a cleanup failed' },
  ERR_SHM_TOO_MANY_WAITS: { type: Error, meaning: 'too many waitAsync calls pending in the process' },
  ERR_SHM_MUTEX_TIMEOUT: { type: Error, meaning: 'lock timed out' },
  ERR_SHM_MUTEX_RELOCK: { type: Error, meaning: 'this thread holds the mutex already' },
  ERR_SHM_MUTEX_NOT_OWNER: { type: Error, meaning: 'unlock by a thread that does not hold the mutex' },
  ERR_SHM_CHANNEL_CLOSED: { type: Error, meaning: 'send after close' },
  ERR_SHM_CHANNEL_LAYOUT: { type: Error, meaning: 'Channel.attach found no channel' },
  ERR_SHM_CHANNEL_CORRUPT: { type: Error, meaning: 'a peer wrote a cursor or length the ring cannot hold' },
  ERR_SHM_BUSY: { type: Error, meaning: 'a blocking call behind a pending async call on the same Channel' },
} satisfies Record<string, ErrorCodeEntry>);

export type ErrorCode = keyof typeof ERROR_CODES;

/** The error a code's class makes: a TypeError for ERR_INVALID_ARG_TYPE, and so on. */
export type CodedError<C extends ErrorCode> = InstanceType<(typeof ERROR_CODES)[C]['type']> & { code: C };

/**
 * The one way the shm packages build a coded error: `message`, of the class
 * the table gives `code`, with `code` and any further `properties` (such as
 * `errors` of ERR_SHM_CLEANUP, `path` of ERR_SHM_TRUNCATED).
 */
export function codedError<C extends ErrorCode>(code: C, message: string, properties?: object): CodedError<C> {
  const error = new ERROR_CODES[code].type(message);
  return Object.assign(error, { code }, properties) as CodedError<C>; // `code` first, as Node's errors have it
}

/** A value as an error message shows it: short, and never the whole of a large object. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return String(value.toString());
  if (value === null || typeof value !== 'object') return String(value);
  // As Node says it: the constructor's name where there is one, else the
  // object inspected to depth 0 ("[Object: null prototype] {}").
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? `an instance of ${name}` : inspect(value, { depth: -1 });
}

/** Node's message for an argument of the wrong type. */
export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  return codedError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}. Received ${describeValue(value)}`);
}

/** Node's message for an argument whose value is refused. */
export function invalidArgValue(name: string, reason: string, value: unknown): TypeError {
  return codedError('ERR_INVALID_ARG_VALUE', `The "${name}" argument ${reason}. Received ${describeValue(value)}`);
}

export function outOfRange(message: string): RangeError {
  return codedError('ERR_OUT_OF_RANGE', message);
}
