/** What /dev/shm holds: every POSIX shared memory object of the machine. */
import { readdirSync, statSync } from 'node:fs';

/** Where Linux keeps POSIX shared memory objects (a tmpfs). */
const SHM_DIRECTORY = '/dev/shm';

/** One POSIX shared memory object of the machine, as /dev/shm shows it. */
export interface ObjectInfo {
  /** As shm_open takes it: '/name'. */
  name: string;
  bytes: number;
  /** Permission bits. */
  mode: number;
  uid: number;
  modified: Date;
}

/**
 * Every POSIX shared memory object under /dev/shm (glibc's named semaphores,
 * 'sem.*', left out). The kernel keeps no attach count for them: an object
 * outlives every process that mapped it until someone destroys it, so a
 * crashed process's objects are found by name, owner or age, and removed with
 * `destroy(info.name)`.
 */
export function listObjects(): ObjectInfo[] {
  const objects: ObjectInfo[] = [];
  for (const entry of readdirSync(SHM_DIRECTORY, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('sem.')) continue;
    try {
      const status = statSync(`${SHM_DIRECTORY}/${entry.name}`);
      objects.push({ name: `/${entry.name}`, bytes: status.size, mode: status.mode & 0o777, uid: status.uid, modified: status.mtime });
    } catch {
      // removed meanwhile
    }
  }
  return objects;
}
