import { loadNativeAddon } from '@shm/types';
import type { PosixBinding } from './native';

/** The native addon, loaded once per thread. */
export const binding: PosixBinding = loadNativeAddon<PosixBinding>(__dirname, 'shm_posix');
