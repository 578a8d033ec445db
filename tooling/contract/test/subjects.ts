/** The backends the contract runs against, each with how to make a fresh key. */
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import type { ShmBackend } from '@shm/types';
import type { Scratch } from '@shm/test-support';

export interface Subject {
  label: string;
  /** The package a child process requires to reach the same backend. */
  moduleName: '@shm/posix' | '@shm/sysv';
  backend: ShmBackend<any, any>;
  newKey(scratch: Scratch): number | string;
  /** Options for create / get (the layout, for POSIX). */
  options: Record<string, unknown>;
  /** Bytes a segment maps besides its data (the prefixed layout's header). */
  overhead: number;
}

export const subjects: Subject[] = [
  { label: 'POSIX (raw layout)', moduleName: '@shm/posix', backend: posix.backend, newKey: (s) => s.name(), options: {}, overhead: 0 },
  {
    label: 'POSIX (prefixed layout)',
    moduleName: '@shm/posix',
    backend: posix.backend,
    newKey: (s) => s.name(),
    options: { layout: 'prefixed' },
    overhead: 8,
  },
  { label: 'System V', moduleName: '@shm/sysv', backend: sysv.backend, newKey: (s) => s.key(), options: {}, overhead: 0 },
];
