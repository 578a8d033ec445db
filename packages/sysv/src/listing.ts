/** What /proc/sysvipc/shm shows: every System V segment this process may see. */
import { readFileSync } from 'node:fs';

/** One System V segment of the machine, as /proc/sysvipc/shm shows it. */
export interface SegmentInfo {
  key: number;
  id: number;
  bytes: number;
  /** Permission bits. */
  mode: number;
  attachCount: number;
  /** The process that created it, and the last one that attached or detached it. */
  creatorPid: number;
  lastPid: number;
  uid: number;
}

/**
 * Every System V segment this process may see (IPC_PRIVATE ones included,
 * with key 0). Segments left by a crashed process show attachCount 0 and a
 * creatorPid that no longer runs: `destroy(info.key)` removes them.
 */
export function listSegments(): SegmentInfo[] {
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n');
  return rows.map((row) => {
    const [key, id, perms, size, cpid, lpid, nattch, uid] = row.trim().split(/\s+/);
    return {
      key: Number(key) >>> 0, // printed as a signed int
      id: Number(id),
      bytes: Number(size),
      mode: Number.parseInt(perms, 8) & 0o777, // printed in octal
      attachCount: Number(nattch),
      creatorPid: Number(cpid),
      lastPid: Number(lpid),
      uid: Number(uid),
    };
  });
}
