/**
 * shm-build-native, the install script, on a package of its own making: a
 * prebuilt binary that does not load (damaged, or one that faults as it
 * loads) is answered in one line, never with the install killed; and the
 * tools a source build lacks are looked for as node-gyp looks.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { placeFile, tmpDirectory } from '@shm/test-support';

const script = path.join(path.dirname(require.resolve('@shm/native/package.json')), 'bin', 'shm-build-native.js');
const posixBuild = path.join(path.dirname(require.resolve('@shm/posix/package.json')), 'build', 'Release', 'shm_posix.node');
const prebuilt = `prebuilds/linux-${process.arch}/shm_probe.napi.glibc.node`;
let root: string;
let bin: string;

beforeEach(() => {
  root = tmpDirectory('install');
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'probe-package' }));
  fs.writeFileSync(path.join(root, 'binding.gyp'), JSON.stringify({ targets: [{ target_name: 'shm_probe', sources: [] }] }));
  fs.mkdirSync(path.join(root, 'native'));
  // A PATH with Node.js alone: no python, make or compiler.
  bin = path.join(root, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const place = (relative: string, contents: string | Buffer) => placeFile(root, relative, contents);

function install(env: Record<string, string> = {}) {
  const settings = /^(PYTHON|NODE_GYP_FORCE_PYTHON|npm_config_python|CXX|CXX_target|MAKE|npm_config_build_from_source|LIBC|PREBUILDS_ONLY)$/;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !settings.test(name)));
  const result = spawnSync(process.execPath, [script], { cwd: root, encoding: 'utf8', env: { ...clean, PATH: bin, ...env } });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

const noTools = 'missing python (python3 or python), make, a C++17 compiler (g++)';

test('a prebuilt binary that fits and loads: the install prints nothing', () => {
  place(prebuilt, fs.readFileSync(posixBuild));
  expect(install()).toEqual({ status: 0, signal: null, stdout: '', stderr: '' });
});

test('a truncated prebuilt binary: one line saying so, then the source build (here: what it lacks), never a fault', () => {
  const whole = fs.readFileSync(posixBuild);
  place(prebuilt, whole.subarray(0, 20000));
  expect(install()).toEqual({
    status: 1,
    signal: null, // before: SIGBUS, as dlopen read past the end of the file
    stdout: '',
    stderr: `probe-package: the prebuilt binary for linux-${process.arch} does not load here (it is truncated (20000 bytes of the ${whole.length} it needs)), and cannot build the addon from source: ${noTools}\n`,
  });
});

test('a binding.gyp that names no target: one line, no stack', () => {
  fs.writeFileSync(path.join(root, 'binding.gyp'), '# no targets yet\n{}\n');
  expect(install()).toEqual({
    status: 1,
    signal: null,
    stdout: '',
    stderr: `probe-package: found no addon to load or build: ${path.join(root, 'binding.gyp')} is missing or names no target_name\n`,
  });
});

test('a FIFO where the prebuilt binary would be: one line, never a hang', () => {
  const fifo = place(prebuilt, '');
  fs.rmSync(fifo);
  execFileSync('mkfifo', [fifo]);
  expect(install()).toEqual({
    status: 1,
    signal: null, // before: the install blocked reading it
    stdout: '',
    stderr: `probe-package: the prebuilt binary for linux-${process.arch} does not load here (it is not a regular file), and cannot build the addon from source: ${noTools}\n`,
  });
});

test('a link to nothing, a link loop, or a link through a file among the sources: the script still decides, never a stack', () => {
  fs.symlinkSync('/nonexistent', path.join(root, 'native', 'editor-lock.cc'));
  fs.symlinkSync('loop', path.join(root, 'native', 'loop')); // ELOOP; before: a stack
  fs.symlinkSync(path.join(root, 'binding.gyp', 'below'), path.join(root, 'native', 'through-a-file')); // ENOTDIR
  fs.symlinkSync('.', path.join(root, 'native', 'self')); // a folder that holds itself: visited once
  const build = place('build/Release/shm_probe.node', fs.readFileSync(posixBuild));
  const later = new Date(Date.now() + 60_000);
  fs.utimesSync(build, later, later); // newer than every source, whatever the clock's grain
  expect(install()).toEqual({ status: 0, signal: null, stdout: '', stderr: '' }); // the build is newer than every source
});

test('a source in a linked folder counts: newer than the build, it is built again', () => {
  const shared = tmpDirectory('install-shared');
  fs.symlinkSync(shared, path.join(root, 'native', 'shared'));
  const build = place('build/Release/shm_probe.node', fs.readFileSync(posixBuild));
  const source = path.join(shared, 'common.h');
  fs.writeFileSync(source, '');
  const later = new Date(Date.now() + 60_000);
  fs.utimesSync(source, later, later);
  // Before: the link was not followed, the build judged new enough, and the
  // change never built. Now it is built, which this PATH cannot do.
  expect(install()).toEqual(expect.objectContaining({ status: 1, signal: null }));
  expect(fs.existsSync(build)).toBe(true);
  fs.rmSync(shared, { recursive: true, force: true });
});

test('a prebuilt binary that kills the process loading it does not kill the install', () => {
  // A whole ELF object whose constructor faults, as a damaged relocation would.
  const source = place('faults.c', '#include <signal.h>\n__attribute__((constructor)) static void fault(void) { raise(SIGSEGV); }\n');
  const output = place(prebuilt, '');
  execFileSync('cc', ['-shared', '-fPIC', '-o', output, source]);
  expect(install()).toEqual({
    status: 1,
    signal: null,
    stdout: '',
    stderr: `probe-package: the prebuilt binary for linux-${process.arch} does not load here (loading it was killed by SIGSEGV), and cannot build the addon from source: ${noTools}\n`,
  });
});

test('python is looked for as node-gyp looks: a PYTHON that does not run gives way to python3; NODE_GYP_FORCE_PYTHON is final', () => {
  // The interpreter itself (a shim on PATH may need the rest of PATH).
  const python3 = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  fs.symlinkSync(python3, path.join(bin, 'python3'));
  const missing = (env: Record<string, string>) => install({ npm_config_build_from_source: 'true', ...env }).stderr;
  expect(missing({ PYTHON: '/nonexistent/python' })).toBe('probe-package: cannot build the addon from source: missing make, a C++17 compiler (g++)\n'); // before: "missing python"
  expect(missing({ npm_config_python: '/nonexistent/python' })).toBe('probe-package: cannot build the addon from source: missing make, a C++17 compiler (g++)\n');
  expect(missing({ NODE_GYP_FORCE_PYTHON: '/nonexistent/python' })).toBe(
    'probe-package: cannot build the addon from source: missing python (/nonexistent/python), make, a C++17 compiler (g++)\n',
  );
});
