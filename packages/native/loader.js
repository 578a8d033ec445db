'use strict';
// The one loader of the shm addons. An addon is found as node-gyp-build
// finds it: the package's own source build first (build/Release, then
// build/Debug), else the prebuilt binary that fits this platform,
// architecture and libc (prebuilds/linux-<arch>/<addon>.napi.<libc>.node).
// N-API is stable across Node.js lines, so one binary serves every line.
const path = require('node:path');

const fs = require('node:fs');

/** The prebuilt binaries' folder for this machine, and their libc tag, chosen as node-gyp-build chooses. */
function prebuiltTarget(packageRoot) {
  const platform = process.env.npm_config_platform || process.platform;
  const arch = process.env.npm_config_arch || process.arch;
  const libc = process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  return { folder: path.join(packageRoot, 'prebuilds', `${platform}-${arch}`), libc };
}

/** Where it looks, in its order, for the package at `packageRoot`. */
function candidatesOf(packageRoot) {
  const { folder, libc } = prebuiltTarget(packageRoot);
  return [path.join(packageRoot, 'build', 'Release'), path.join(packageRoot, 'build', 'Debug'), path.join(folder, `*.napi.${libc}.node`)];
}

/** The prebuilt binary that fits this machine, if the package has one. */
function prebuiltFile(packageRoot) {
  const { folder, libc } = prebuiltTarget(packageRoot);
  let files;
  try {
    files = fs.readdirSync(folder);
  } catch {
    return undefined;
  }
  const fitting = files.find((file) => file.endsWith(`.napi.${libc}.node`));
  return fitting && path.join(folder, fitting);
}

const firstLine = (error) => String(error && error.message).split('\n')[0];

/**
 * Loads the addon of the package whose src/ or dist/ module asks (its
 * `__dirname` is `moduleDirectory`): what node-gyp-build finds first, and
 * when that is a build of the package's own that does not load (one made
 * for another architecture, copied along with node_modules), the prebuilt
 * binary that fits. When none loads, throws ERR_SHM_ADDON_NOT_FOUND:
 * `tried` lists where it looked, and the message says why each failed and
 * how to build it.
 */
function loadAddon(moduleDirectory, addonName) {
  // Required here, not above: binding.gyp reads include_dir while a fresh
  // checkout installs, before @shm/types is built.
  const nodeGypBuild = require('node-gyp-build');
  const { codedError } = require('@shm/types');
  const packageRoot = path.join(moduleDirectory, '..');
  const failures = [];
  let first;
  try {
    first = nodeGypBuild.path(packageRoot);
  } catch (error) {
    failures.push(`no build, and no prebuilt binary fits (${firstLine(error)})`);
  }
  const prebuilt = prebuiltFile(packageRoot);
  for (const file of [first, prebuilt].filter((file, index, all) => file !== undefined && all.indexOf(file) === index)) {
    try {
      return require(file);
    } catch (error) {
      failures.push(`${file} does not load: ${firstLine(error)}`);
    }
  }
  throw codedError(
    'ERR_SHM_ADDON_NOT_FOUND',
    `Cannot load the native addon ${addonName} for ${process.platform}-${process.arch}: ${failures.join('; ')}. ` +
      `Tried:\n  ${candidatesOf(packageRoot).join('\n  ')}\n` +
      `Build it with \`npx shm-build-native --force\` in ${packageRoot}.`,
    { tried: candidatesOf(packageRoot) },
  );
}

exports.loadAddon = loadAddon;
