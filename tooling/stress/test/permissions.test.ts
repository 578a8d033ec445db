/**
 * Scenario 7, permissions: another user can neither open nor remove what was
 * made with mode 0o600, of either kind; the errors say EACCES / EPERM and the
 * segments survive. (Names that would leave /dev/shm are refused by
 * normalizeName: packages/posix/test/posix.test.ts.)
 */
import * as path from 'node:path';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ posix, sysv });

test('mode 0o600 keeps another user out: no open, no read-only open, no removal', async () => {
  const [name, key] = [scratch.name(), scratch.key()];
  posix.create(16, 'Buffer', name, 0o600)![0] = 1;
  sysv.create(16, 'Buffer', key, 0o600)![0] = 2;
  const result = await runChild(path.join(__dirname, 'children', 'intruder.js'), [name, String(key)], undefined, { uid: 65534, gid: 65534 });
  expect(result.stderr).toBe('');
  expect(result.messages).toEqual([
    {
      uid: 65534,
      posixGet: { code: 'EACCES', syscall: 'shm_open' },
      posixReadonly: { code: 'EACCES', syscall: 'shm_open' },
      posixDestroy: { code: 'EACCES', syscall: 'shm_unlink' },
      sysvGet: { code: 'EACCES', syscall: 'shmget' },
      sysvReadonly: { code: 'EACCES', syscall: 'shmget' },
      sysvDestroy: { code: 'EPERM', syscall: 'shmctl' },
    },
  ]);
  expect(posix.get(name)![0]).toBe(1);
  expect(sysv.get(key)![0]).toBe(2);
});
