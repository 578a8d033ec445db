/**
 * Argument rules both backends apply, so that every backend (and the
 * umbrella) refuses exactly the same input with exactly the same error.
 * Every rule throws a coded TypeError or RangeError (see errors.ts).
 */
import { codedError, describeValue, invalidArgType, invalidArgValue, outOfRange } from './errors';
import { AttachOptions, BufferType, ElementSize, LengthMax, TypeKey } from './types';

/** The type key, 'Buffer' when omitted; anything else is a TypeError. */
export function resolveTypeKey(typeKey: unknown): TypeKey {
  if (typeKey === undefined) return 'Buffer';
  if (typeof typeKey === 'string' && Object.prototype.hasOwnProperty.call(BufferType, typeKey)) {
    return typeKey as TypeKey;
  }
  const shown = typeof typeKey === 'string' ? typeKey : describeValue(typeKey);
  throw codedError('ERR_INVALID_ARG_VALUE', `Unknown type key ${shown}`);
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
    throw outOfRange(`Permissions should be 0 .. 0o777, got ${describeValue(perm)}`);
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

