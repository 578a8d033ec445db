/**
 * The table of coded errors against everything that depends on it: the
 * codes the sources throw, the C++ copy of the table in @shm/native, and the
 * documentation of each code in docs/errors.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ERROR_CODES, ErrorCode, codedError, invalidArgType, invalidArgValue, outOfRange } from '../src';

const repository = path.join(__dirname, '..', '..', '..');
const tableCodes = Object.keys(ERROR_CODES) as ErrorCode[];

/** Every file below `directory` whose name ends in one of `endings`. */
function filesBelow(directory: string, endings: readonly string[]): string[] {
  if (!fs.existsSync(directory)) return [];
  return fs.readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((name) => endings.some((ending) => name.endsWith(ending)))
    .map((name) => path.join(directory, name));
}

const packagesDirectory = path.join(repository, 'packages');
const packageDirectories = fs.readdirSync(packagesDirectory).map((name) => path.join(packagesDirectory, name));
const typescriptSources = packageDirectories.flatMap((directory) => filesBelow(path.join(directory, 'src'), ['.ts']));
const nativeSources = packageDirectories.flatMap((directory) => [
  ...filesBelow(path.join(directory, 'native'), ['.cc', '.h']),
  ...filesBelow(path.join(directory, 'include'), ['.h']),
]);
// @shm/native's JavaScript (the loader, the install script) throws coded errors too.
const nativeScripts = [path.join(packagesDirectory, 'native', 'index.js'), path.join(packagesDirectory, 'native', 'loader.js'), ...filesBelow(path.join(packagesDirectory, 'native', 'bin'), ['.js'])];
const errorCodesHeader = path.join(packagesDirectory, 'native', 'include', 'shm', 'error_codes.h');
const errorsModule = path.join(packagesDirectory, 'types', 'src', 'errors.ts');

/** The ERR_* codes a text names (in code or comments: a comment naming a code promises it). */
function codesIn(text: string): string[] {
  return [...text.matchAll(/\bERR_[A-Z][A-Z_]*[A-Z]\b/g)].map((match) => match[0]);
}

/** The rows of the one table of docs/errors.md: code and class. */
function documentedCodes(): Map<string, string> {
  const text = fs.readFileSync(path.join(repository, 'docs', 'errors.md'), 'utf8');
  const lines = text.split('\n');
  const header = lines.findIndex((line) => /^\|\s*code\s*\|\s*class\s*\|\s*when\s*\|$/.test(line.trim()));
  expect(header).toBeGreaterThanOrEqual(0);
  const rows = new Map<string, string>();
  for (const line of lines.slice(header + 2)) {
    if (!line.trim().startsWith('|')) break;
    const [code, errorClass] = line.split('|').slice(1, 3).map((cell) => cell.trim());
    expect(code).toMatch(/^`ERR_[A-Z_]+`$/);
    expect(rows.has(code)).toBe(false);
    rows.set(code.slice(1, -1), errorClass.replace(/`/g, ''));
  }
  return rows;
}

test('the table gives each code one of the three classes and a meaning', () => {
  for (const code of tableCodes) {
    expect([Error, TypeError, RangeError]).toContain(ERROR_CODES[code].type);
    expect(ERROR_CODES[code].meaning.length).toBeGreaterThan(0);
  }
});

test.each(tableCodes)('codedError(%s) builds the class the table gives, with the code', (code) => {
  const error = codedError(code, 'message', { extra: 1 });
  expect(error.constructor).toBe(ERROR_CODES[code].type);
  expect(error).toMatchObject({ code, message: 'message', extra: 1 });
});

test("the argument errors are Node's", () => {
  expect(invalidArgType('count', 'of type number', 'x')).toMatchObject({
    constructor: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: `The "count" argument must be of type number. Received 'x'`,
  });
  expect(invalidArgValue('name', 'must not be empty', '')).toMatchObject({ constructor: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  expect(outOfRange('too far')).toMatchObject({ constructor: RangeError, code: 'ERR_OUT_OF_RANGE', message: 'too far' });
});

test.each([
  ['{}', {}],
  ['[]', []],
  ['an Int32Array', new Int32Array(1)],
  ['an object of a class', new (class Cell {})()],
  ['an object without a prototype', Object.create(null)],
])("an object argument is described as Node describes it: %s", (_label, value) => {
  let nodes = '';
  try {
    promisify(value as never); // Node's own ERR_INVALID_ARG_TYPE for anything not a function
  } catch (error) {
    nodes = String((error as Error).message).split('Received ')[1];
  }
  expect(nodes).not.toBe('');
  expect(invalidArgType('value', 'of type function', value).message.split('Received ')[1]).toBe(nodes);
});

test('every code docs/errors.md documents is in the table, with its class, and the other way round', () => {
  const documented = documentedCodes();
  expect([...documented.keys()].sort()).toEqual([...tableCodes].sort());
  for (const code of tableCodes) expect(documented.get(code)).toBe(ERROR_CODES[code].type.name);
});

test('every code a source file names is in the table', () => {
  expect(typescriptSources.length).toBeGreaterThan(10);
  expect(nativeSources.length).toBeGreaterThan(10);
  const unknown = [...typescriptSources, ...nativeScripts, ...nativeSources].flatMap((file) =>
    codesIn(fs.readFileSync(file, 'utf8'))
      .filter((code) => !(code in ERROR_CODES))
      .map((code) => `${path.relative(repository, file)}: ${code}`),
  );
  expect(unknown).toEqual([]);
});

test('every coded error of TypeScript is built by codedError', () => {
  const byHand = typescriptSources
    .concat(nativeScripts)
    .filter((file) => file !== errorsModule)
    .filter((file) => /code: '|new (Type|Range)?Error\(/.test(fs.readFileSync(file, 'utf8')))
    .map((file) => path.relative(repository, file));
  expect(byHand).toEqual([]);
});

test("the C++ table is the TypeScript table's, and every error of C++ is built by its two helpers", () => {
  const header = fs.readFileSync(errorCodesHeader, 'utf8');
  const entries = [...header.matchAll(/\{ErrorCode::k\w+, "(ERR_[A-Z_]+)", ErrorClass::k(Error|TypeError|RangeError)\},/g)];
  const enumerators = header.slice(header.indexOf('enum class ErrorCode'), header.indexOf('};', header.indexOf('enum class ErrorCode')));
  expect(entries.length).toBe([...enumerators.matchAll(/^\s*k\w+,?$/gm)].length); // every row parsed, none in another shape
  for (const [, code, errorClass] of entries) {
    expect(tableCodes).toContain(code);
    expect(errorClass).toBe(ERROR_CODES[code as ErrorCode].type.name);
  }
  const systemErrorHeader = path.join(packagesDirectory, 'native', 'include', 'shm', 'system_error.h');
  const builtByHand = nativeSources
    .filter((file) => file !== errorCodesHeader && file !== systemErrorHeader)
    .filter((file) => /"ERR_|Error::New\(/.test(fs.readFileSync(file, 'utf8')))
    .map((file) => path.relative(repository, file));
  expect(builtByHand).toEqual([]);
});
