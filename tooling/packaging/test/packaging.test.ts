/**
 * What a user gets from the registry: each published package is packed (as
 * `pnpm pack` would publish it, workspace ranges resolved) and installed with
 * npm into an empty project, the backends alone and the umbrella, then used.
 * The tarballs stand in for the registry through npm overrides, so nothing of
 * ours is fetched from outside.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDirectory, useScratch } from '@shm/test-support';

// Segments are made by the installed projects' processes; the scratch removes them even when a test fails.
const scratch = useScratch({});
const root = path.resolve(__dirname, '../../..');
const published = ['types', 'native', 'posix', 'sysv', 'core', 'sync'];
let work: string;
const tarballs: Record<string, string> = {};

/**
 * The workspace's own pnpm: the one running this test's script (turbo runs
 * it through pnpm, which sets npm_execpath), else the pnpm on PATH. Never
 * corepack, which Node 25+ does not ship.
 */
function pnpmCommand(): [string, string[]] {
  const running = process.env.npm_execpath;
  if (running && /pnpm/.test(path.basename(running))) {
    return running.endsWith('.cjs') || running.endsWith('.js') ? [process.execPath, [running]] : [running, []];
  }
  return ['pnpm', []];
}

beforeAll(() => {
  work = tmpDirectory('packaging');
  const [pnpm, pnpmArgs] = pnpmCommand();
  for (const name of published) {
    const output = execFileSync(pnpm, [...pnpmArgs, 'pack', '--pack-destination', work], {
      cwd: path.join(root, 'packages', name),
      encoding: 'utf8',
    });
    tarballs[`@shm/${name}`] = output.trim().split('\n').pop()!.trim();
  }
}, 120000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** An empty project that installs `dependencies` with npm, then runs `script` in it. */
function installAndRun(dependencies: string | string[], script: string): string {
  const project = fs.mkdtempSync(path.join(work, 'project-'));
  const overrides = Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`]));
  const wanted = Object.fromEntries([dependencies].flat().map((name) => [name, `file:${tarballs[name]}`]));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user', private: true, dependencies: wanted, overrides }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, stdio: 'pipe' });
  fs.writeFileSync(path.join(project, 'main.js'), script);
  return execFileSync(process.execPath, ['main.js'], { cwd: project, encoding: 'utf8' });
}

test('every tarball holds what it needs and nothing of the tests', () => {
  for (const [name, file] of Object.entries(tarballs)) {
    const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' });
    expect(listing).toContain('package/package.json');
    expect(listing).not.toMatch(/package\/test\//);
    if (name === '@shm/posix' || name === '@shm/sysv' || name === '@shm/sync') {
      expect(listing).toContain('package/binding.gyp');
      expect(listing).toContain('package/dist/native.d.ts');
      expect(listing).not.toMatch(/package\/build\//); // built on install, for the user's Node
    }
  }
});

test('@shm/posix alone: installs, builds and shares memory', () => {
  const name = scratch.name();
  const output = installAndRun(
    '@shm/posix',
    `const posix = require('@shm/posix');
     const a = posix.create(4, 'Int32Array', ${JSON.stringify(name)});
     posix.get(${JSON.stringify(name)}, 'Int32Array')[2] = 7;
     console.log(a[2], Object.keys(require('./node_modules/@shm/posix/package.json').dependencies).sort().join());
     posix.destroy(${JSON.stringify(name)});`,
  );
  expect(output).toBe('7 @shm/native,@shm/types,node-addon-api\n');
  expect(fs.existsSync(`/dev/shm${name}`)).toBe(false);
}, 180000);

test('@shm/sysv alone: installs, builds and shares memory', () => {
  const key = scratch.key();
  const output = installAndRun(
    '@shm/sysv',
    `const sysv = require('@shm/sysv');
     const a = sysv.create(4, 'Int32Array', ${key});
     sysv.get(${key}, 'Int32Array')[1] = 9;
     console.log(a[1], sysv.destroy(${key}));`,
  );
  expect(output).toBe('9 true\n');
}, 180000);

test('@shm/core: require and import, both kinds', () => {
  const name = scratch.name();
  const output = installAndRun(
    '@shm/core',
    `const shm = require('@shm/core');
     const a = shm.create(2, 'Float64Array', ${JSON.stringify(name)});
     const b = shm.create(2, 'Float64Array');
     a[0] = 1.5; b[0] = 2.5;
     import('@shm/core').then((esm) => {
       console.log(esm.get(${JSON.stringify(name)}, 'Float64Array')[0], esm.get(b.key, 'Float64Array')[0]);
       shm.destroy(${JSON.stringify(name)}); shm.destroy(b.key);
     });`,
  );
  expect(output).toBe('1.5 2.5\n');
}, 180000);

test('@shm/sync with @shm/posix: installs, builds, and a mutex and a channel work over a segment', () => {
  const name = scratch.name();
  const output = installAndRun(
    ['@shm/posix', '@shm/sync'],
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
  expect(fs.existsSync(`/dev/shm${name}`)).toBe(false);
}, 180000);
