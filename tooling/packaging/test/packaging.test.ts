/**
 * What a user gets from the registry. Each published package is packed (as
 * `pnpm pack` would publish it, workspace ranges resolved, the linux-x64
 * prebuilt binaries inside) and installed into an empty project on a view of
 * this machine without any compiler, make or python, with npm and with pnpm.
 * Each package is then required and imported, and two processes share a
 * segment through it. The tarballs stand in for the registry through
 * overrides, so nothing of ours is fetched from outside.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDirectory, useScratch } from '@shm/test-support';

// Segments are made by the installed projects' processes; the scratch removes them even when a test fails.
const scratch = useScratch({});
const root = path.resolve(__dirname, '../../..');
const published = ['types', 'native', 'posix', 'sysv', 'core', 'sync'];
const nativePackages = ['@shm/posix', '@shm/sysv', '@shm/sync'];
let work: string;
let machine: { PATH: string; CC: string; CXX: string };
const tarballs: Record<string, string> = {};

/**
 * The workspace's own pnpm, run by the Node.js under test: the one
 * tooling/pnpm.sh installed for package.json's packageManager, else the one
 * running this test's script (turbo runs it through pnpm, which sets
 * npm_execpath). Never corepack, which Node 25+ does not ship.
 */
function pnpmCommand(): [string, string[]] {
  const version = require(path.join(root, 'package.json')).packageManager.split('@')[1];
  const pinned = path.join(root, '.cache', `pnpm-${version}`, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
  if (fs.existsSync(pinned)) return [process.execPath, [pinned]];
  const running = process.env.npm_execpath;
  if (running && /pnpm/.test(path.basename(running))) {
    return running.endsWith('.cjs') || running.endsWith('.js') ? [process.execPath, [running]] : [running, []];
  }
  throw new Error('no pnpm: run the tests through tooling/pnpm.sh (npm test does)');
}

/** What a build needs and the view below leaves out: compilers, linkers, make, python. */
const BUILD_TOOL = /^(cc|c\+\+|gcc|g\+\+|cpp|clang|clang\+\+|ld|ld\..*|as|make|gmake|python|python3.*|node|nodejs)(-[\d.]+)?$|-(gcc|g\+\+|cc|c\+\+|ld|as)(-[\d.]+)?$/;

/**
 * A view of this machine without any compiler: PATH is one folder of links
 * to the running Node.js and to every program of /usr/local/bin, /usr/bin
 * and /bin but the build tools; CC and CXX name a program that fails.
 */
function machineWithoutCompiler(): { PATH: string; CC: string; CXX: string } {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  for (const directory of ['/usr/local/bin', '/usr/bin', '/bin']) {
    for (const program of fs.readdirSync(directory)) {
      if (BUILD_TOOL.test(program) || fs.existsSync(path.join(bin, program))) continue;
      fs.symlinkSync(path.join(directory, program), path.join(bin, program));
    }
  }
  fs.symlinkSync(process.execPath, path.join(bin, 'node')); // the Node.js line under test, not the machine's
  const failing = path.join(work, 'no-compiler');
  fs.writeFileSync(failing, '#!/bin/sh\necho "no compiler here" >&2\nexit 1\n', { mode: 0o755 });
  return { PATH: bin, CC: failing, CXX: failing };
}

/**
 * The architectures whose binaries the tarballs must carry: this machine's,
 * or, for a rehearsed release (tooling/release/rehearse.sh), the ones it lists.
 */
const architectures = (process.env.SHM_RELEASE_ARCHES ?? process.arch).split(/\s+/).filter(Boolean);

/** The tarballs a rehearsed release packed (SHM_PACKED names their folder), else this tree's, packed now. */
function packTarballs(): void {
  const packed = process.env.SHM_PACKED;
  for (const name of published) {
    if (packed) {
      const file = fs.readdirSync(packed).find((entry) => new RegExp(`^shm-${name}-\\d.*\\.tgz$`).test(entry));
      if (!file) throw new Error(`no tarball of @shm/${name} in ${packed}`);
      tarballs[`@shm/${name}`] = path.join(packed, file);
      continue;
    }
    const [pnpm, pnpmArgs] = pnpmCommand();
    const output = execFileSync(pnpm, [...pnpmArgs, 'pack', '--pack-destination', work], {
      cwd: path.join(root, 'packages', name),
      encoding: 'utf8',
    });
    tarballs[`@shm/${name}`] = output.trim().split('\n').pop()!.trim();
  }
}

beforeAll(() => {
  work = tmpDirectory('packaging');
  if (process.env.SHM_PACKED) {
    packTarballs();
  } else {
    // The binaries a release carries for this machine (the release rehearsal
    // builds linux-arm64 too), packed and then removed: left in the checkout,
    // an install there would take them for current whatever native/ says.
    const prebuildsOf = (name: string) => path.join(root, 'packages', name, 'prebuilds');
    try {
      execFileSync(process.execPath, [path.join(root, 'tooling', 'prebuild', 'build.js'), process.arch], { stdio: 'pipe' });
      packTarballs();
    } finally {
      for (const name of published) fs.rmSync(prebuildsOf(name), { recursive: true, force: true });
    }
  }
  machine = machineWithoutCompiler();
}, 180000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

type Installer = 'npm' | 'pnpm';

/** The version a tarball of ours carries (a rehearsed release's differs from the checkout's). */
function versionOf(name: string): string {
  return path.basename(tarballs[name]).replace(/^shm-\w+-(.*)\.tgz$/, '$1');
}

/**
 * An empty project that installs `dependencies` from the tarballs with
 * `installer`, on the machine without a compiler. Returns the project and
 * what the install printed.
 */
function install(installer: Installer, dependencies: string[], env: Record<string, string> = {}) {
  const project = fs.mkdtempSync(path.join(work, `${installer}-`));
  const files = Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`]));
  const wanted = Object.fromEntries(dependencies.map((name) => [name, files[name]]));
  const manifest = { name: 'user', private: true, dependencies: wanted, overrides: files, pnpm: { overrides: files } };
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(manifest));
  // pnpm 10 runs no install script of a dependency it was not told to trust
  // (by name, which a file: tarball does not match): there the prebuilt
  // binary must load with no script run at all.
  const [command, args] =
    installer === 'npm'
      ? ['npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--foreground-scripts']] // script output shown
      : [pnpmCommand()[0], [...pnpmCommand()[1], 'install', '--loglevel=warn']]; // warnings shown
  const result = spawnSync(command, args, {
    cwd: project,
    encoding: 'utf8',
    env: { ...process.env, ...machine, npm_config_nodedir: '', npm_config_update_notifier: 'false', ...env },
  });
  return { project, status: result.status, output: `${result.stdout}${result.stderr}`, error: result.error };
}

/** Runs `script` (a .js or .mjs file's text) in `project` on the machine without a compiler. */
function run(project: string, file: string, script: string): string {
  fs.writeFileSync(path.join(project, file), script);
  return execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8', env: { ...process.env, ...machine } });
}

test('every tarball holds what it needs and nothing of the tests', () => {
  for (const [name, file] of Object.entries(tarballs)) {
    const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' });
    expect(listing).toContain('package/package.json');
    expect(listing).toContain('package/README.md');
    expect(listing).not.toMatch(/package\/test\//);
    expect(listing).not.toMatch(/package\/(build|\.prebuild)\//); // never a build of this machine's own
    if (nativePackages.includes(name)) {
      expect(listing).toContain('package/binding.gyp'); // for the source build where no prebuilt binary fits
      expect(listing).toContain('package/dist/native.d.ts');
      for (const arch of architectures) {
        expect(listing).toMatch(new RegExp(`package/prebuilds/linux-${arch}/shm_\\w+\\.napi\\.glibc\\.node`));
      }
    }
  }
});

test('the types are right for CommonJS and ESM consumers, under node16 and bundler resolution', () => {
  const attw = path.join(__dirname, '..', 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
  for (const [name, file] of Object.entries(tarballs)) {
    const result = spawnSync(process.execPath, [attw, file, '--format', 'json', '--profile', 'strict'], { encoding: 'utf8' });
    const report = JSON.parse(result.stdout);
    expect({ name, problems: report.analysis.problems }).toEqual({ name, problems: [] });
    expect(result.status).toBe(0);
  }
}, 120000);

describe.each<Installer>(['npm', 'pnpm'])('installed with %s on a machine without a compiler', (installer) => {
  let project: string;

  beforeAll(() => {
    const installed = install(installer, published.map((name) => `@shm/${name}`));
    expect(installed.error).toBeUndefined();
    expect({ status: installed.status, output: installed.output }).toEqual({ status: 0, output: expect.any(String) });
    // Quiet: no gyp log, no line of our install scripts, no warning. npm
    // shows each script it runs (--foreground-scripts): they ran, and said
    // nothing.
    expect(installed.output).not.toMatch(/gyp|@shm\/\w+: |WARN|Ignored build scripts/);
    if (installer === 'npm') {
      const lines = installed.output.split('\n').map((line) => line.trim()).filter(Boolean);
      const banners = lines.filter((line) => line.startsWith('> '));
      for (const name of nativePackages) expect(banners).toContain(`> ${name}@${versionOf(name)} install`);
      expect(lines.filter((line) => !line.startsWith('> ') && !/^added \d+ packages/.test(line))).toEqual([]);
    }
    project = installed.project;
    for (const name of nativePackages) {
      expect(fs.existsSync(path.join(project, 'node_modules', name, 'build'))).toBe(false); // nothing was compiled
    }
  }, 180000);

  test('every package loads with require and with import', () => {
    const names = JSON.stringify(published.map((name) => `@shm/${name}`));
    const script = `const names = ${names};
      const required = names.map((name) => Object.keys(require(name)).length > 0);
      Promise.all(names.map((name) => import(name))).then((modules) => {
        console.log(JSON.stringify({ required, imported: modules.map((module) => Object.keys(module).length > 0) }));
      });`;
    const all = published.map(() => true);
    expect(JSON.parse(run(project, 'load.js', script))).toEqual({ required: all, imported: all });
  });

  test('two processes share a POSIX object and a System V segment, and wait on each other', () => {
    const name = scratch.name();
    const key = scratch.key();
    fs.writeFileSync(
      path.join(project, 'peer.mjs'),
      `import * as shm from '@shm/core';
       import { notify } from '@shm/sync';
       const cells = shm.get(${JSON.stringify(name)}, 'Int32Array');
       const table = shm.get(${key}, 'Float64Array');
       table[0] = 2.5;
       Atomics.store(cells, 0, 7);
       notify(cells, 0);`,
    );
    const output = run(
      project,
      'share.js',
      `const { spawn } = require('node:child_process');
       const shm = require('@shm/core');
       const { wait } = require('@shm/sync');
       const cells = shm.create(4, 'Int32Array', ${JSON.stringify(name)});
       const table = shm.create(2, 'Float64Array', ${key});
       const peer = spawn(process.execPath, ['peer.mjs'], { stdio: 'inherit' });
       const answer = wait(cells, 0, 0, 20000);
       peer.on('exit', (code) => {
         console.log(answer, Atomics.load(cells, 0), table[0], code);
         shm.destroy(${JSON.stringify(name)});
         shm.destroy(${key});
       });`,
    );
    expect(output.trim().split('\n').pop()).toMatch(/^(ok|not-equal) 7 2.5 0$/);
    expect(fs.existsSync(`/dev/shm${name}`)).toBe(false);
  });

  test('a mutex and a channel work over a segment', () => {
    const name = scratch.name();
    const output = run(
      project,
      'sync.js',
      `const { Channel, Mutex } = require('@shm/sync');
       const posix = require('@shm/posix');
       const memory = posix.create(Channel.bytesFor(64) + 16, 'Buffer', ${JSON.stringify(name)});
       const guard = new Mutex(memory, 0).lock();
       const channel = Channel.create(memory, 16);
       channel.send(Buffer.from('hi'));
       console.log(guard.recovered, Buffer.from(channel.receive()).toString());
       guard.unlock();
       posix.destroy(${JSON.stringify(name)});`,
    );
    expect(output).toBe('false hi\n');
  });
});

test('@shm/posix alone brings only what it needs', () => {
  const { project, status } = install('npm', ['@shm/posix']);
  expect(status).toBe(0);
  const installed = fs.readdirSync(path.join(project, 'node_modules', '@shm')).sort();
  expect(installed).toEqual(['native', 'posix', 'types']);
  const name = scratch.name();
  const output = run(
    project,
    'main.js',
    `const posix = require('@shm/posix');
     const a = posix.create(4, 'Int32Array', ${JSON.stringify(name)});
     posix.get(${JSON.stringify(name)}, 'Int32Array')[2] = 7;
     console.log(a[2]);
     posix.destroy(${JSON.stringify(name)});`,
  );
  expect(output).toBe('7\n');
}, 180000);

// npm only: pnpm runs no untrusted dependency's install script (see install).
test.each<Installer>(['npm'])('with %s, where a source build is needed and cannot be made, the install says what is missing in one line', (installer) => {
  // Also the proof that the installer runs the install script at all.
  const { status, output } = install(installer, ['@shm/posix'], { npm_config_build_from_source: 'true' });
  expect({ status, output }).toEqual({ status: 1, output: expect.anything() });
  expect(output).toContain('@shm/posix: cannot build the addon from source: missing python (python3 or python), make, a C++17 compiler (CXX=');
  expect(output).not.toMatch(/gyp (info|ERR)/);
}, 180000);
