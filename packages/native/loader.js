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
// process, and of another architecture's says only that it cannot open it.
// A file that is whole but damaged inside is dlopen's to judge.
const fs = require('node:fs');
const path = require('node:path');

const os = require('node:os');

const ELF_MACHINES = { x64: 62, arm64: 183 }; // EM_X86_64, EM_AARCH64: the prebuilt architectures
const ARCHES_64_BIT = new Set(['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el']);
const PT_LOAD = 1;
const PN_XNUM = 0xffff; // the program header count is elsewhere: its check is left to dlopen

function libcTag() {
  return process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
}

/** The files the addon `addonName` of the package at `packageRoot` may be, in the order they are tried. */
function addonFiles(packageRoot, addonName) {
  const builds = ['Release', 'Debug'].map((kind) => path.join(packageRoot, 'build', kind, `${addonName}.node`));
  const prebuilt = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, `${addonName}.napi.${libcTag()}.node`);
  return process.env.PREBUILDS_ONLY ? [prebuilt] : [...builds, prebuilt];
}

/**
 * Why `file` is not a whole ELF shared object of this machine, or undefined
 * when it is one. Only what stat calls a regular file is opened (opening a
 * device can act: arm a watchdog, rewind a tape), and only its headers are
 * read, from that descriptor. A name swapped between the stat and the open
 * is not guarded against: whoever can write build/ can run code anyway.
 */
function elfProblem(file) {
  let fd;
  try {
    if (!fs.statSync(file).isFile()) return 'is not a regular file';
    // O_NONBLOCK and O_NOCTTY: should the name be swapped for a FIFO or a
    // terminal meanwhile, the open neither waits nor takes it; fstat then says.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    const status = fs.fstatSync(fd);
    if (!status.isFile()) return 'is not a regular file';
    const readAt = (position, length) => {
      const bytes = Buffer.alloc(length);
      return bytes.subarray(0, fs.readSync(fd, bytes, 0, length, position));
    };
    return headerProblem(readAt, status.size);
  } catch (error) {
    return `cannot be read (${error.code})`;
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // nothing was written: nothing a close could lose
      }
    }
  }
}

/**
 * elfProblem's reading of the headers of a file of `size` bytes, through
 * `readAt(position, length)`. Every field is read inside what was read: a
 * header that points outside the file is a reason, never a throw.
 */
function headerProblem(readAt, size) {
  const header = readAt(0, Math.min(size, 64)); // Elf64_Ehdr is 64 bytes, Elf32_Ehdr 52
  if (header.length < 52 || header.readUInt32BE(0) !== 0x7f454c46) return 'is not an ELF object';
  const wide = ARCHES_64_BIT.has(process.arch);
  const little = os.endianness() === 'LE';
  if (header[4] !== (wide ? 2 : 1) || header[5] !== (little ? 1 : 2)) {
    return `is not a ${wide ? 64 : 32}-bit ${little ? 'little' : 'big'}-endian ELF object`;
  }
  // Elf64_Ehdr / Elf32_Ehdr and _Phdr fields, in the machine's byte order.
  const half = (bytes, at) => (little ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const word = (bytes, at) => (little ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  const address = (bytes, at) => (wide ? Number(little ? bytes.readBigUInt64LE(at) : bytes.readBigUInt64BE(at)) : word(bytes, at));
  const field = wide
    ? { phoff: 0x20, shoff: 0x28, phentsize: 0x36, phnum: 0x38, shentsize: 0x3a, shnum: 0x3c, header: 64, pOffset: 8, pFilesz: 32 }
    : { phoff: 0x1c, shoff: 0x20, phentsize: 0x2a, phnum: 0x2c, shentsize: 0x2e, shnum: 0x30, header: 52, pOffset: 4, pFilesz: 16 };
  if (header.length < field.header) return 'is not an ELF object';
  const minimumEntry = wide ? 56 : 32; // sizeof(Elf64_Phdr), sizeof(Elf32_Phdr)
  if (half(header, 16) !== 3) return 'is not an ELF shared object';
  const machine = half(header, 18);
  const expected = ELF_MACHINES[process.arch];
  if (expected !== undefined && machine !== expected) {
    const name = Object.keys(ELF_MACHINES).find((arch) => ELF_MACHINES[arch] === machine) ?? `ELF machine ${machine}`;
    return `is built for ${name}, not ${process.arch}`;
  }
  // What dlopen maps (each loadable segment) and what the tools read (the
  // section headers) must lie inside the file.
  let needed = address(header, field.shoff) + half(header, field.shentsize) * half(header, field.shnum);
  const count = half(header, field.phnum);
  const entry = half(header, field.phentsize);
  if (count !== 0 && entry < minimumEntry) return 'is not a valid ELF object (its program headers are too small)';
  if (count !== PN_XNUM && count !== 0) {
    const tableAt = address(header, field.phoff);
    // Real objects have a few dozen; a hostile count must not make this read gigabytes.
    if (count * entry > 1 << 20) return 'is not a valid ELF object (its program header table is too large)';
    if (tableAt + count * entry > size) return `is truncated (${size} bytes, cut inside its program headers)`;
    const table = readAt(tableAt, count * entry);
    if (table.length < count * entry) return `is truncated (${tableAt + table.length} bytes, cut inside its program headers)`;
    for (let index = 0; index < count; index++) {
      const at = index * entry;
      if (word(table, at) === PT_LOAD) needed = Math.max(needed, address(table, at + field.pOffset) + address(table, at + field.pFilesz));
    }
  }
  return size < needed ? `is truncated (${size} bytes of the ${needed} it needs)` : undefined;
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
