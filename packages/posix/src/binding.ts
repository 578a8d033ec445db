import * as path from 'node:path';
import { loadNativeAddon } from '@shm/types';
import type { PosixBinding } from './native';

/** The native addon, loaded once per thread. */
export const binding: PosixBinding = loadNativeAddon<PosixBinding>(path.join(__dirname, '..'), 'shm_posix');
