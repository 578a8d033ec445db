/** loadAddon: the package's own build first, else the prebuilt binary that fits, else one clear error. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAddon } from '@shm/native';

const posixBuild = path.join(path.dirname(require.resolve('@shm/posix/package.json')), 'build', 'Release', 'shm_posix.node');
let root: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), `shm-test-loader-${process.pid}-`));
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'loader-test' }));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function place(relative: string, contents: string | Buffer): string {
  const file = path.join(root, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, contents);
  return file;
}

function loadError(): any {
  try {
    loadAddon(path.join(root, 'dist'), 'missing'); // as a module in the package's dist/ asks
  } catch (error) {
    return error;
  }
  throw new Error('loadAddon loaded something');
}

test('with neither a build nor a prebuilt binary, it names where it looked and how to build', () => {
  const error = loadError();
  expect(error.code).toBe('ERR_SHM_ADDON_NOT_FOUND');
  expect(error.tried).toEqual([
    path.join(root, 'build', 'Release'),
    path.join(root, 'build', 'Debug'),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, '*.napi.glibc.node'),
  ]);
  expect(error.message).toContain(`missing for ${process.platform}-${process.arch}: no build, and no prebuilt binary fits`);
  expect(error.message).toContain('shm-build-native');
});

test('a file that is no addon is named with the reason it does not load', () => {
  const file = place('build/Debug/missing.node', 'not an ELF file');
  const error = loadError();
  expect(error.code).toBe('ERR_SHM_ADDON_NOT_FOUND');
  expect(error.message).toContain(`${file} does not load: `);
});

test('a prebuilt binary for this platform loads, and one for another architecture or libc is passed over', () => {
  const otherArch = process.arch === 'arm64' ? 'x64' : 'arm64';
  place(`prebuilds/linux-${otherArch}/missing.napi.glibc.node`, 'for another architecture');
  place(`prebuilds/linux-${process.arch}/missing.napi.musl.node`, 'for another libc');
  place(`prebuilds/linux-${process.arch}/missing.napi.glibc.node`, fs.readFileSync(posixBuild));
  const addon = loadAddon<{ open: unknown }>(path.join(root, 'dist'), 'missing');
  expect(typeof addon.open).toBe('function');
});

test("the package's own build wins over a prebuilt binary", () => {
  place(`prebuilds/linux-${process.arch}/missing.napi.glibc.node`, 'a prebuilt binary that would not load');
  place('build/Release/missing.node', fs.readFileSync(posixBuild));
  expect(typeof loadAddon<{ open: unknown }>(path.join(root, 'dist'), 'missing').open).toBe('function');
});

test("a build of the package's own that does not load (another machine's) gives way to the prebuilt binary that fits", () => {
  place('build/Release/missing.node', 'built for another architecture');
  place(`prebuilds/linux-${process.arch}/missing.napi.glibc.node`, fs.readFileSync(posixBuild));
  expect(typeof loadAddon<{ open: unknown }>(path.join(root, 'dist'), 'missing').open).toBe('function');
});
