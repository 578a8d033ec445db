#!/usr/bin/env node
'use strict';
// The install script of @shm/posix, @shm/sysv and @shm/sync, run in the
// package's directory:
//   shm-build-native           nothing when a prebuilt binary fits and loads;
//                              else build when the addon is missing or older
//                              than its sources (native/, binding.gyp,
//                              @shm/native)
//   shm-build-native --force   always build from source (so does
//                              npm_config_build_from_source=true)
// A published package carries prebuilds/linux-{x64,arm64}/ (glibc): there an
// install prints nothing. Where none fits (musl, another architecture) or the
// one that fits does not load (an older glibc, a damaged file: it is loaded
// in a child process, so a fault there is only a reason) it says so in one
// line and builds from source; when a tool
// the build needs is missing it says which, in one line, instead of a gyp
// stack, in the same line. A workspace checkout has no prebuilds/ (the
// tools that build them there remove them) and builds quietly. The build
// uses the headers of the running Node.js when they are installed beside it
// (nothing downloaded), else node-gyp's default; npm_config_nodedir wins.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { addonFiles, elfProblem } = require('../loader');

const packageRoot = process.cwd();
const packageName = readPackageName();
const addonName = readAddonName();
const releaseDir = path.join(packageRoot, 'build', 'Release');
const prebuildsDir = path.join(packageRoot, 'prebuilds');
const fromSource = process.argv.includes('--force') || process.env.npm_config_build_from_source === 'true';

function readPackageName() {
  try {
    return JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).name;
  } catch {
    return path.basename(packageRoot);
  }
}

/** The addon binding.gyp builds (its first target), or undefined when it names none. */
function readAddonName() {
  try {
    const gyp = fs.readFileSync(path.join(packageRoot, 'binding.gyp'), 'utf8');
    return /["']target_name["']\s*:\s*["']([^"']+)["']/.exec(gyp)?.[1];
  } catch {
    return undefined;
  }
}

function say(line) {
  console.error(`${packageName}: ${line}`);
}

/**
 * Whether a prebuilt binary fits this machine and loads here; when one fits
 * but does not load (a glibc older than the one it was built against, a
 * damaged file), why. It is loaded in a child process: a file that faults
 * in dlopen must not kill the install.
 */
function prebuiltBinary() {
  const file = addonFiles(packageRoot, addonName).find((candidate) => candidate.startsWith(prebuildsDir + path.sep));
  if (!file || !fs.existsSync(file)) return { fits: false };
  const problem = elfProblem(file);
  if (problem) return { fits: true, loads: false, reason: `it ${problem}` };
  const probe = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', file], { encoding: 'utf8', timeout: 60000 });
  if (probe.status === 0) return { fits: true, loads: true };
  if (probe.error) return { fits: true, loads: false, reason: `loading it in a child process failed (${probe.error.message})` };
  const error = probe.stderr.split('\n').find((line) => /Error/.test(line));
  const reason = probe.signal
    ? `loading it was killed by ${probe.signal}`
    : (error ?? `loading it exited with ${probe.status}`).replace(/^\s*Error: /, '').trim();
  return { fits: true, loads: false, reason };
}

/**
 * Newest modification time of the files under `dir` (0 when it does not
 * exist), following links: to a folder (each folder once, so a loop ends),
 * to a file, and to nothing, a loop or a non-folder, which count by the
 * link's own time (the build will say what is missing).
 */
function newestUnder(dir, visited = new Set()) {
  let newest = 0;
  let entries;
  try {
    const real = fs.realpathSync(dir);
    if (visited.has(real)) return 0;
    visited.add(real);
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    let status;
    try {
      status = fs.statSync(full);
    } catch {
      try {
        status = fs.lstatSync(full);
      } catch {
        continue; // gone meanwhile
      }
    }
    newest = Math.max(newest, status.isDirectory() ? newestUnder(full, visited) : status.mtimeMs);
  }
  return newest;
}

function builtAddonTime() {
  try {
    return fs.statSync(path.join(releaseDir, `${addonName}.node`)).mtimeMs;
  } catch {
    return 0;
  }
}

function sourcesTime() {
  return Math.max(
    newestUnder(path.join(packageRoot, 'native')),
    fs.statSync(path.join(packageRoot, 'binding.gyp')).mtimeMs,
    newestUnder(path.join(__dirname, '..', 'include')),
  );
}

/** Whether `command` runs (`--version` exits 0): a CXX that names a failing program counts as missing. */
function runs(command) {
  const [program, ...args] = command.trim().split(/\s+/);
  const result = spawnSync(program, [...args, '--version'], { stdio: 'ignore' });
  return result.status === 0;
}

/** What a source build needs and this machine lacks, looked for as node-gyp and its Makefile look. */
function missingTools() {
  const missing = [];
  const env = process.env;
  // NODE_GYP_FORCE_PYTHON is final; node-gyp passes over a --python or
  // PYTHON that does not run to the ones on PATH.
  const candidates = env.NODE_GYP_FORCE_PYTHON
    ? [env.NODE_GYP_FORCE_PYTHON]
    : [env.npm_config_python, env.PYTHON, 'python3', 'python'].filter(Boolean);
  if (!candidates.some(runs)) missing.push(`python (${candidates.join(' or ')})`);
  if (!runs(env.MAKE || 'make')) missing.push('make');
  const compiler = env.CXX_target || env.CXX || 'g++'; // the Makefile's own default is g++
  if (!runs(compiler)) missing.push(`a C++17 compiler (${env.CXX_target || env.CXX ? `CXX=${compiler}` : 'g++'})`);
  return missing;
}

function localNodeDir() {
  const prefix = path.dirname(path.dirname(process.execPath));
  return fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi')) ? prefix : undefined;
}

function nodeGypCommand() {
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    return ['node-gyp']; // the one npm and pnpm put on PATH for install scripts
  }
}

if (addonName === undefined) {
  say(`found no addon to load or build: ${path.join(packageRoot, 'binding.gyp')} is missing or names no target_name`);
  process.exit(1);
}

const target = `${process.platform}-${process.arch}`;
const built = builtAddonTime();
let why = ''; // why a published package builds from source, said with what follows
if (!fromSource && built === 0 && fs.existsSync(prebuildsDir)) {
  // An installed package: no build of its own, prebuilt binaries beside it.
  const prebuilt = prebuiltBinary();
  if (prebuilt.loads) process.exit(0);
  why = prebuilt.fits
    ? `the prebuilt binary for ${target} does not load here (${prebuilt.reason})`
    : `no prebuilt binary for ${target} (prebuilt: linux-x64 and linux-arm64, glibc)`;
} else if (!fromSource && built > 0 && built >= sourcesTime()) {
  process.exit(0); // a source build that is current: a checkout, or a package built here before
}

const missing = missingTools();
if (missing.length > 0) {
  say(`${why ? `${why}, and ` : ''}cannot build the addon from source: missing ${missing.join(', ')}`);
  process.exit(1);
}
if (why) say(`${why}; building from source`);

const nodeDir = process.env.npm_config_nodedir || localNodeDir();
const [command, ...prefix] = nodeGypCommand();
const args = [...prefix, 'rebuild', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
if (result.error) {
  say(`could not run ${command}: ${result.error.message}`);
  process.exit(1);
}
if (result.status !== 0) {
  process.stderr.write(result.stdout + result.stderr);
  say(`building the addon failed (node-gyp exit ${result.status}); the compiler's output is above`);
}
process.exit(result.status ?? 1);
