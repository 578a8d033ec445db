import { loadNativeAddon } from '@shm/types';
import type { SysvBinding } from './native';

/** The native addon, loaded once per thread. */
export const binding: SysvBinding = loadNativeAddon<SysvBinding>(__dirname, 'shm_sysv');
