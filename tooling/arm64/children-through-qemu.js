'use strict';
// Preloaded (NODE_OPTIONS=--require) into an arm64 Node.js run by
// qemu-user: a child started with process.execPath, an aarch64 program the
// x86-64 kernel cannot run without binfmt_misc, is started through qemu
// instead, with the same arguments. The children inherit NODE_OPTIONS and do
// the same for theirs. Nothing else changes: every other program (ipcs, sh)
// runs natively, as qemu passes its execve to the kernel.
const childProcess = require('node:child_process');

const qemu = process.env.SHM_QEMU;
const sysroot = process.env.QEMU_LD_PREFIX;
const node = process.execPath;
const throughQemu = (args) => ['-L', sysroot, node, ...args];

// fork(modulePath[, args][, options]) and spawn / execFile(file[, args][, options][, callback]),
// with args omitted, null or undefined as Node itself accepts them.
const fork = childProcess.fork;
childProcess.fork = function forkThroughQemu(modulePath, args, options) {
  if (args != null && !Array.isArray(args)) [args, options] = [[], args];
  const chosen = { ...options };
  if (chosen.execPath === undefined || chosen.execPath === node) {
    chosen.execArgv = throughQemu(chosen.execArgv ?? process.execArgv);
    chosen.execPath = qemu;
  }
  return fork.call(this, modulePath, args ?? [], chosen);
};

for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) {
  const start = childProcess[name];
  childProcess[name] = function startThroughQemu(file, ...rest) {
    if (file !== node) return start.call(this, file, ...rest);
    const args = Array.isArray(rest[0]) ? rest.shift() : rest[0] == null && rest.length > 0 ? (rest.shift(), []) : [];
    return start.call(this, qemu, throughQemu(args), ...rest);
  };
}
