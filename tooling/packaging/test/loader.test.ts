/** loadAddon: the package's own build first, else the prebuilt binary that fits, else one clear error. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { placeFile, tmpDirectory } from '@shm/test-support';
import { loadAddon } from '@shm/native';

const posixBuild = path.join(path.dirname(require.resolve('@shm/posix/package.json')), 'build', 'Release', 'shm_posix.node');
let root: string;

beforeEach(() => {
  root = tmpDirectory('loader');
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'loader-test' }));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const place = (relative: string, contents: string | Buffer) => placeFile(root, relative, contents);

function loadError(): any {
  try {
    loadAddon(path.join(root, 'dist'), 'missing'); // as a module in the package's dist/ asks
  } catch (error) {
    return error;
  }
  throw new Error('loadAddon loaded something');
}

const prebuiltOf = (arch: string, libc = 'glibc') => `prebuilds/linux-${arch}/missing.napi.${libc}.node`;
const otherArch = process.arch === 'arm64' ? 'x64' : 'arm64';

test('with neither a build nor a prebuilt binary, it names the files it looked for and how to build', () => {
  const error = loadError();
  expect(error.code).toBe('ERR_SHM_ADDON_NOT_FOUND');
  expect(error.tried).toEqual([
    path.join(root, 'build', 'Release', 'missing.node'),
    path.join(root, 'build', 'Debug', 'missing.node'),
    path.join(root, prebuiltOf(process.arch)),
  ]);
  expect(error.message).toContain(`missing for ${process.platform}-${process.arch}: no build, and no prebuilt binary fits`);
  expect(error.message).toContain('shm-build-native');
});

test('a file that is no addon is named with the reason it does not load', () => {
  const file = place('build/Debug/missing.node', 'not an ELF file');
  const error = loadError();
  expect(error.code).toBe('ERR_SHM_ADDON_NOT_FOUND');
  expect(error.message).toContain(`${file} does not load: it is not an ELF object`);
});

test('a prebuilt binary for this platform loads, and one for another architecture or libc is passed over', () => {
  place(prebuiltOf(otherArch), 'for another architecture');
  place(prebuiltOf(process.arch, 'musl'), 'for another libc');
  place(prebuiltOf(process.arch), fs.readFileSync(posixBuild));
  const addon = loadAddon<{ open: unknown }>(path.join(root, 'dist'), 'missing');
  expect(typeof addon.open).toBe('function');
});

test("the package's own build wins over a prebuilt binary", () => {
  place(prebuiltOf(process.arch), 'a prebuilt binary that would not load');
  place('build/Release/missing.node', fs.readFileSync(posixBuild));
  expect(typeof loadAddon<{ open: unknown }>(path.join(root, 'dist'), 'missing').open).toBe('function');
});

test("a build of the package's own that does not load (another machine's) gives way to the prebuilt binary that fits", () => {
  place('build/Release/missing.node', 'built for another architecture');
  place(prebuiltOf(process.arch), fs.readFileSync(posixBuild));
  expect(typeof loadAddon<{ open: unknown }>(path.join(root, 'dist'), 'missing').open).toBe('function');
});

test('npm_config_arch (what an install builds for) does not change what this process loads', () => {
  place(prebuiltOf(process.arch), fs.readFileSync(posixBuild));
  // In a fresh process: a loader may read the variable once, when it is first required.
  const script = `const { loadAddon } = require(${JSON.stringify(require.resolve('@shm/native'))});
    process.stdout.write(typeof loadAddon(${JSON.stringify(path.join(root, 'dist'))}, 'missing').open);`;
  const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, npm_config_arch: otherArch } });
  expect(output).toBe('function'); // before: it looked only in prebuilds/linux-<npm_config_arch>
});

test('the addon is found by its name: another .node file beside it, or a Release folder without it, changes nothing', () => {
  place('build/Release/aaa-stray.node', 'not ours'); // first in the folder, and not ours
  place('build/Debug/missing.node', fs.readFileSync(posixBuild));
  expect(typeof loadAddon<{ open: unknown }>(path.join(root, 'dist'), 'missing').open).toBe('function'); // before: the stray file was loaded, and Debug never
});

test('a truncated binary is refused before dlopen sees it (which would fault), with the reason', () => {
  const whole = fs.readFileSync(posixBuild);
  const file = place(prebuiltOf(process.arch), whole.subarray(0, Math.floor(whole.length / 2)));
  const error = loadError();
  expect(error.message).toContain(`${file} does not load: it is truncated (${Math.floor(whole.length / 2)} bytes of the ${whole.length} it needs)`);
});

test('an object of another word size is named as such', () => {
  const narrow = Buffer.from(fs.readFileSync(posixBuild));
  narrow[4] = 1; // ELFCLASS32
  const file = place('build/Release/missing.node', narrow);
  expect(loadError().message).toContain(`${file} does not load: it is not a 64-bit little-endian ELF object`);
});

test('a binary of another architecture is named as such', () => {
  const foreign = Buffer.from(fs.readFileSync(posixBuild));
  foreign.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18); // e_machine
  const file = place('build/Release/missing.node', foreign);
  expect(loadError().message).toContain(`${file} does not load: it is built for ${otherArch}, not ${process.arch}`);
});

test('a FIFO, or an object whose headers point outside it, is passed over with its reason: never a hang or a bare RangeError', () => {
  const fifo = path.join(root, 'build', 'Release', 'missing.node');
  fs.mkdirSync(path.dirname(fifo), { recursive: true });
  execFileSync('mkfifo', [fifo]); // before: readFileSync blocked for ever
  const bad = Buffer.from(fs.readFileSync(posixBuild).subarray(0, 4096));
  bad.writeBigUInt64LE(BigInt(bad.length - 2), 0x20); // e_phoff at the end of the file
  bad.writeUInt16LE(0, 0x36); // e_phentsize 0
  bad.writeUInt16LE(100, 0x38); // e_phnum
  const debug = place('build/Debug/missing.node', bad); // before: RangeError ERR_OUT_OF_RANGE out of loadAddon
  place(prebuiltOf(process.arch), fs.readFileSync(posixBuild));
  expect(typeof loadAddon<{ open: unknown }>(path.join(root, 'dist'), 'missing').open).toBe('function');
  fs.rmSync(path.join(root, 'prebuilds'), { recursive: true });
  const { message } = loadError();
  expect(message).toContain(`${fifo} does not load: it is not a regular file`);
  expect(message).toContain(`${debug} does not load: it is not a valid ELF object (its program headers are too small)`);
});

test('an object whose header claims gigabytes of program headers is passed over without reading them', () => {
  const huge = Buffer.from(fs.readFileSync(posixBuild));
  huge.writeUInt16LE(0xffff, 0x36); // e_phentsize
  huge.writeUInt16LE(0xfffe, 0x38); // e_phnum: 4 GiB of table
  const file = place('build/Release/missing.node', huge);
  expect(loadError().message).toContain(`${file} does not load: it is not a valid ELF object (its program header table is too large)`);
});
