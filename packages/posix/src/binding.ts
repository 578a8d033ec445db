import { loadAddon } from '@shm/native';
import type { PosixBinding } from './native';

/** The native addon, loaded once per thread. */
export const binding: PosixBinding = loadAddon<PosixBinding>(__dirname, 'shm_posix');
