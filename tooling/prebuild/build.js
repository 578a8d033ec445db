#!/usr/bin/env node
'use strict';
// Builds the prebuilt binaries that the published native packages carry:
//   node tooling/prebuild/build.js [x64] [arm64]      (default: both)
// For each of @shm/posix, @shm/sysv and @shm/sync and each architecture it
// builds the addon with node-gyp in a scratch directory (the package's own
// build/ stays as it is) and writes it, stripped, to
//   packages/<name>/prebuilds/linux-<arch>/<addon>.napi.glibc.node
// which is where the loader (@shm/native's loadAddon) looks.
// One binary serves every Node.js line: the addons use N-API only, version 8.
//
// arm64 is cross-compiled with Debian's g++-aarch64-linux-gnu. The binaries
// link libstdc++ dynamically, as Node.js itself does, and may need at most
// glibc 2.34 and the libstdc++ of GCC 11 (checked after each build: a newer
// build machine would raise the floor). Linking libstdc++ in statically would raise the glibc
// floor to 2.36 (its random_device and unwinder call arc4random and
// _dl_find_object). Where a binary does not load, the install builds from
// source instead (see shm-build-native).
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const packages = ['posix', 'sysv', 'sync'];
const toolchains = {
  x64: { triple: 'x86_64-linux-gnu', cc: 'gcc', cxx: 'g++', strip: 'strip', objdump: 'objdump' },
  arm64: {
    triple: 'aarch64-linux-gnu',
    cc: 'aarch64-linux-gnu-gcc',
    cxx: 'aarch64-linux-gnu-g++',
    strip: 'aarch64-linux-gnu-strip',
    objdump: 'aarch64-linux-gnu-objdump',
  },
};
/** The newest glibc and libstdc++ a binary may need: what the READMEs promise. */
const FLOOR = { GLIBC: '2.34', GLIBCXX: '3.4.29' };
const hostArch = process.arch;
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(toolchains);

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

for (const arch of wanted) if (!toolchains[arch]) fail(`unknown architecture ${arch} (known: ${Object.keys(toolchains).join(', ')})`);

/** The toolchain of `arch`: the host's own compiler for the host's architecture, else the cross compiler. */
function toolchainOf(arch) {
  const chain = toolchains[arch];
  if (arch === hostArch) return { cc: process.env.CC || 'gcc', cxx: process.env.CXX || 'g++', strip: 'strip', objdump: 'objdump' };
  if (spawnSync(chain.cxx, ['--version'], { stdio: 'ignore' }).status !== 0) {
    fail(`${chain.cxx} is missing: apt-get install g++-${chain.triple}`);
  }
  return chain;
}

const newer = (a, b) => {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
};

/** Fails when `file` needs a newer glibc or libstdc++ than FLOOR (a newer build machine would raise it). */
function checkFloor(file, chain) {
  const symbols = execFileSync(chain.objdump, ['-T', file], { encoding: 'utf8' });
  for (const [, library, version] of symbols.matchAll(/\((GLIBC|GLIBCXX)_([\d.]+)\)/g)) {
    if (newer(version, FLOOR[library])) fail(`${file} needs ${library}_${version}, newer than the ${FLOOR[library]} promised`);
  }
}

// The build itself is the install script's (node-gyp against the running
// Node.js's headers, which serve every architecture: N-API's are the same).
const buildNative = path.join(root, 'packages', 'native', 'bin', 'shm-build-native.js');

for (const name of packages) {
  const packageRoot = path.join(root, 'packages', name);
  const addon = JSON.parse(fs.readFileSync(path.join(packageRoot, 'binding.gyp'), 'utf8')).targets[0].target_name;
  for (const arch of wanted) {
    const chain = toolchainOf(arch);
    // Inside the package, so that binding.gyp's require() of node-addon-api
    // and @shm/native resolve as they do for the package itself.
    const scratch = path.join(packageRoot, '.prebuild', arch);
    fs.rmSync(scratch, { recursive: true, force: true });
    fs.mkdirSync(scratch, { recursive: true });
    fs.cpSync(path.join(packageRoot, 'binding.gyp'), path.join(scratch, 'binding.gyp'));
    fs.cpSync(path.join(packageRoot, 'native'), path.join(scratch, 'native'), { recursive: true });
    const env = { ...process.env, CC: chain.cc, CXX: chain.cxx, npm_config_arch: arch };
    const build = spawnSync(process.execPath, [buildNative, '--force'], { cwd: scratch, env, stdio: 'inherit' });
    if (build.status !== 0) fail(`building ${addon} for linux-${arch} failed`);
    const destination = path.join(packageRoot, 'prebuilds', `linux-${arch}`);
    fs.rmSync(destination, { recursive: true, force: true });
    fs.mkdirSync(destination, { recursive: true });
    const file = path.join(destination, `${addon}.napi.glibc.node`);
    execFileSync(chain.strip, ['--strip-unneeded', '-o', file, path.join(scratch, 'build', 'Release', `${addon}.node`)]);
    fs.rmSync(path.join(packageRoot, '.prebuild'), { recursive: true, force: true });
    checkFloor(file, chain);
    console.log(`${path.relative(root, file)}  ${fs.statSync(file).size} bytes`);
  }
}
