/**
 * Scenario 6, limits and resource faults, each in a child inside a namespace
 * of its own so the machine's real limits are never touched (the tests run as
 * root, as CI does): a full /dev/shm fails the create with ENOSPC instead of
 * a later SIGBUS (and without the reservation, the SIGBUS of the write that
 * finds no room is caught and reported instead of killing the process);
 * SHMMAX, SHMMNI and EMFILE give errors with their codes; the
 * process keeps working after each.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { uniqueName, useScratch } from '@shm/test-support';

const child = path.join(__dirname, 'children', 'limits.js');
const scratch = useScratch({});

/** Runs limits.js <mode> through `command` (a namespace wrapper), collecting its IPC messages. */
function inNamespace(wrapper: string[], mode: string, extra: string[] = []) {
  return new Promise<{ messages: any[]; code: number | null; signal: string | null; stderr: string }>((resolve) => {
    const [command, ...args] = wrapper;
    const process = spawn(command, [...args, child, mode, ...extra], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const result = { messages: [] as any[], code: null as number | null, signal: null as string | null, stderr: '' };
    process.stderr!.on('data', (chunk) => (result.stderr += chunk));
    process.on('message', (message) => result.messages.push(message));
    process.on('exit', (code, signal) => resolve({ ...result, code, signal }));
  });
}

// unshare -m: a private mount namespace whose /dev/shm is a 1 MiB tmpfs; the sh -c
// mounts it, then execs node with the child's arguments.
const smallShm = ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs /dev/shm && exec "$0" "$@"', process.execPath];
// unshare -i: a private IPC namespace with SHMMAX 4096 and SHMMNI 3.
const smallIpc = [
  'unshare', '-i', 'sh', '-c',
  'echo 4096 > /proc/sys/kernel/shmmax && echo 3 > /proc/sys/kernel/shmmni && exec "$0" "$@"', process.execPath,
];

test('a POSIX object larger than the free /dev/shm fails at create with ENOSPC, and leaves nothing', async () => {
  const result = await inNamespace(smallShm, 'enospc');
  expect(result.stderr).toBe('');
  expect(result.messages).toEqual([
    {
      tooLarge: { code: 'ENOSPC', errno: -28, syscall: 'posix_fallocate', message: "ENOSPC: no space left on device, posix_fallocate '/too-large'" },
      leftBehind: [],
      keptWorking: true,
    },
  ]);
});

test('without the reservation, the write that finds no room lands in private pages, and destroy reports ERR_SHM_TRUNCATED', async () => {
  const result = await inNamespace(smallShm, 'no-room');
  expect({ signal: result.signal, stderr: result.stderr }).toEqual({ signal: null, stderr: '' });
  expect(result.messages).toEqual([{ survived: true, destroyed: { code: 'ERR_SHM_TRUNCATED', path: '/sparse' }, leftBehind: [] }]);
});

test('with populate, an object larger than the free /dev/shm fails at create with ENOSPC instead of a later SIGBUS', async () => {
  const result = await inNamespace(smallShm, 'populate');
  expect(result.stderr).toBe('');
  expect(result.messages).toEqual([
    {
      sparse: { code: 'ENOSPC', errno: -28, syscall: 'madvise', message: "ENOSPC: no space left on device, madvise '/sparse'" },
      leftBehind: [],
      keptWorking: true,
    },
  ]);
});

test('SHMMAX and SHMMNI give EINVAL and ENOSPC from shmget; the process keeps working', async () => {
  const result = await inNamespace(smallIpc, 'sysv');
  expect(result.stderr).toBe('');
  expect(result.messages).toEqual([
    {
      tooLarge: { code: 'EINVAL', errno: -22, syscall: 'shmget', message: 'EINVAL: invalid argument, shmget 1' },
      made: [true, true, true],
      oneTooMany: { code: 'ENOSPC', errno: -28, syscall: 'shmget', message: 'ENOSPC: no space left on device, shmget 4' },
      keptWorking: true,
    },
  ]);
});

test('no file descriptor left: EMFILE from shm_open; the process keeps working', async () => {
  const name = uniqueName();
  scratch.track(name);
  const result = await inNamespace(['prlimit', '--nofile=256:256', process.execPath], 'emfile', [name]);
  expect(result.stderr).toBe('');
  expect(result.messages).toEqual([
    {
      noDescriptor: { code: 'EMFILE', errno: -24, syscall: 'shm_open', message: `EMFILE: too many open files, shm_open '${name}'` },
      keptWorking: true,
    },
  ]);
});

