'use strict';
// @shm/native at run time: where the shared C++ headers are (for
// binding.gyp files), and the one loader of the shm addons.
//
// An addon is found as node-gyp-build finds it: the package's own source
// build first (build/Release, then build/Debug), else the prebuilt binary
// that fits this platform, architecture and libc
// (prebuilds/linux-<arch>/<addon>.napi.<libc>.node). N-API is stable across
// Node.js lines, so one binary serves every line.
const path = require('node:path');

/** What node-gyp-build looks at, in its order, for the package at `packageRoot`. */
function candidatesOf(packageRoot) {
  const platform = process.env.npm_config_platform || process.platform; // as node-gyp-build chooses
  const arch = process.env.npm_config_arch || process.arch;
  const libc = process.env.LIBC || (require('node:fs').existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  return [
    path.join(packageRoot, 'build', 'Release'),
    path.join(packageRoot, 'build', 'Debug'),
    path.join(packageRoot, 'prebuilds', `${platform}-${arch}`, `*.napi.${libc}.node`),
  ];
}

/**
 * Loads the addon of the package whose src/ or dist/ module asks (its
 * `__dirname` is `moduleDirectory`). When none loads, throws
 * ERR_SHM_ADDON_NOT_FOUND: `tried` lists where it looked, and the message
 * says why it failed and how to build it.
 */
function loadAddon(moduleDirectory, addonName) {
  // Required here, not above: binding.gyp reads include_dir while a fresh
  // checkout installs, before @shm/types is built.
  const nodeGypBuild = require('node-gyp-build');
  const { codedError } = require('@shm/types');
  const packageRoot = path.join(moduleDirectory, '..');
  let file;
  try {
    file = nodeGypBuild.path(packageRoot);
    return require(file);
  } catch (error) {
    const reason = String(error && error.message).split('\n')[0];
    const found = file === undefined ? `no build, and no prebuilt binary fits (${reason})` : `${file} does not load: ${reason}`;
    throw codedError(
      'ERR_SHM_ADDON_NOT_FOUND',
      `Cannot load the native addon ${addonName} for ${process.platform}-${process.arch}: ${found}. ` +
        `Tried:\n  ${candidatesOf(packageRoot).join('\n  ')}\n` +
        `Build it with \`npx shm-build-native --force\` in ${packageRoot}.`,
      { tried: candidatesOf(packageRoot) },
    );
  }
}

// Assigned one by one, so that Node's ESM import finds both names (cjs-module-lexer).
exports.include_dir = path.relative('.', path.join(__dirname, 'include')).split(path.sep).join('/');
exports.loadAddon = loadAddon;
