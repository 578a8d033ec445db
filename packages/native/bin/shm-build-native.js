#!/usr/bin/env node
'use strict';
// Builds the native addon of the package in the current directory with
// node-gyp, against the headers of the running Node.js when they are
// installed beside it (no download needed), else node-gyp's default.
//   shm-build-native              always rebuild
//   shm-build-native --if-missing build only when no addon is built yet
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const releaseDir = path.resolve('build', 'Release');
if (process.argv.includes('--if-missing') && fs.existsSync(releaseDir) &&
    fs.readdirSync(releaseDir).some((file) => file.endsWith('.node'))) {
  process.exit(0);
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

const nodeDir = process.env.npm_config_nodedir || localNodeDir();
const [command, ...prefix] = nodeGypCommand();
const args = [...prefix, 'rebuild', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
const result = spawnSync(command, args, { stdio: 'inherit' });
if (result.error) {
  console.error(`shm-build-native: could not run ${command}: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
