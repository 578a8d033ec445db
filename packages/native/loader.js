'use strict';
// The one loader of the shm addons. Follows dlopen(3) (which is what
// require() of a .node file calls) and elf(5).
//
// An addon is looked for by its own name, in this order:
//   build/Release/<addon>.node                     the package's own source build
//   build/Debug/<addon>.node
//   prebuilds/linux-<arch>/<addon>.napi.<libc>.node   the prebuilt binary that fits
// <arch> is the running process's (process.arch): npm_config_arch says what
// an install builds for, never what runs. Any other file in those folders
// is no concern of the loader's. PREBUILDS_ONLY=1 passes over the builds
// (the arm64 run: an x86-64 checkout's build beside the arm64 binaries).
// N-API is stable across Node.js lines, so one binary serves every line.
//
// A file is checked to be a whole ELF shared object of this machine before
// dlopen sees it: dlopen of a truncated file faults (SIGBUS) and kills the
// process, and of another architecture's says only "wrong ELF class".
const fs = require('node:fs');
const path = require('node:path');

const ELF_MACHINES = { x64: 62, arm64: 183 }; // EM_X86_64, EM_AARCH64
const PT_LOAD = 1;

function libcTag() {
  return process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
}

/** The files the addon `addonName` of the package at `packageRoot` may be, in the order they are tried. */
function addonFiles(packageRoot, addonName) {
  const builds = ['Release', 'Debug'].map((kind) => path.join(packageRoot, 'build', kind, `${addonName}.node`));
  const prebuilt = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, `${addonName}.napi.${libcTag()}.node`);
  return process.env.PREBUILDS_ONLY ? [prebuilt] : [...builds, prebuilt];
}

/** Why `file` is not a whole ELF shared object of this machine, or undefined when it is one. */
function elfProblem(file) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    return `cannot be read (${error.code})`;
  }
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) return 'is not an ELF object';
  if (bytes[4] !== 2 || bytes[5] !== 1) return 'is not a 64-bit little-endian ELF object';
  if (bytes.readUInt16LE(16) !== 3) return 'is not an ELF shared object';
  const machine = bytes.readUInt16LE(18);
  const expected = ELF_MACHINES[process.arch];
  if (expected !== undefined && machine !== expected) {
    const name = Object.keys(ELF_MACHINES).find((arch) => ELF_MACHINES[arch] === machine) ?? `ELF machine ${machine}`;
    return `is built for ${name}, not ${process.arch}`;
  }
  // What dlopen maps (each loadable segment) and what the tools read (the
  // section headers, at the file's end) must lie inside the file.
  let needed = Number(bytes.readBigUInt64LE(0x28)) + bytes.readUInt16LE(0x3a) * bytes.readUInt16LE(0x3c);
  const programHeaders = Number(bytes.readBigUInt64LE(0x20));
  const programHeaderSize = bytes.readUInt16LE(0x36);
  for (let index = 0; index < bytes.readUInt16LE(0x38); index++) {
    const at = programHeaders + index * programHeaderSize;
    if (at + 56 > bytes.length) return `is truncated (${bytes.length} bytes, cut inside its program headers)`;
    if (bytes.readUInt32LE(at) === PT_LOAD) {
      needed = Math.max(needed, Number(bytes.readBigUInt64LE(at + 8) + bytes.readBigUInt64LE(at + 32)));
    }
  }
  return bytes.length < needed ? `is truncated (${bytes.length} bytes of the ${needed} it needs)` : undefined;
}

const firstLine = (error) => String(error && error.message).split('\n')[0];

/**
 * Loads the addon of the package whose src/ or dist/ module asks (its
 * `__dirname` is `moduleDirectory`): the first of addonFiles that exists and
 * loads. A build of the package's own that does not load (one made for
 * another architecture, copied along with node_modules) gives way to the
 * prebuilt binary that fits. When none loads, throws ERR_SHM_ADDON_NOT_FOUND:
 * `tried` lists the files, and the message says why each failed and how to
 * build it.
 */
function loadAddon(moduleDirectory, addonName) {
  // Required here, not above: binding.gyp reads include_dir while a fresh
  // checkout installs, before @shm/types is built.
  const { codedError } = require('@shm/types');
  const packageRoot = path.join(moduleDirectory, '..');
  const tried = addonFiles(packageRoot, addonName);
  const failures = [];
  for (const file of tried.filter((file) => fs.existsSync(file))) {
    const problem = elfProblem(file);
    if (problem) {
      failures.push(`${file} does not load: it ${problem}`);
      continue;
    }
    try {
      return require(file);
    } catch (error) {
      failures.push(`${file} does not load: ${firstLine(error)}`);
    }
  }
  if (failures.length === 0) failures.push('no build, and no prebuilt binary fits');
  throw codedError(
    'ERR_SHM_ADDON_NOT_FOUND',
    `Cannot load the native addon ${addonName} for ${process.platform}-${process.arch}: ${failures.join('; ')}. ` +
      `Tried:\n  ${tried.join('\n  ')}\n` +
      `Build it with \`npx shm-build-native --force\` in ${packageRoot}.`,
    { tried },
  );
}

exports.addonFiles = addonFiles;
exports.elfProblem = elfProblem;
exports.loadAddon = loadAddon;
