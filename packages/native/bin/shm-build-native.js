#!/usr/bin/env node
'use strict';
// Builds the native addon of the package in the current directory with
// node-gyp, against the headers of the running Node.js when they are
// installed beside it (no download needed), else node-gyp's default.
//   shm-build-native           build when the addon is missing or older than
//                              its sources (native/, binding.gyp, @shm/native)
//   shm-build-native --force   always rebuild
// So an install builds each addon once and the workspace build that follows
// finds it current. node-gyp's and the compiler's output is shown only when
// the build fails.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const packageRoot = process.cwd();
const releaseDir = path.join(packageRoot, 'build', 'Release');

/** Newest modification time of the files under `dir` (0 when it does not exist). */
function newestUnder(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

function builtAddonTime() {
  try {
    const addons = fs.readdirSync(releaseDir).filter((file) => file.endsWith('.node'));
    return addons.length === 0 ? 0 : Math.min(...addons.map((file) => fs.statSync(path.join(releaseDir, file)).mtimeMs));
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

const built = builtAddonTime();
if (!process.argv.includes('--force') && built > 0 && built >= sourcesTime()) process.exit(0);

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

const nodeDir = process.env.npm_config_nodedir || localNodeDir();
const [command, ...prefix] = nodeGypCommand();
const args = [...prefix, 'rebuild', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
if (result.error) {
  console.error(`shm-build-native: could not run ${command}: ${result.error.message}`);
  process.exit(1);
}
if (result.status !== 0) {
  process.stderr.write(result.stdout + result.stderr);
  console.error(`shm-build-native: building the addon of ${path.basename(packageRoot)} failed (node-gyp exit ${result.status})`);
}
process.exit(result.status ?? 1);
