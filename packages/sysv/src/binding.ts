import { loadAddon } from '@shm/native';
import type { SysvBinding } from './native';

/** The native addon, loaded once per thread. */
export const binding: SysvBinding = loadAddon<SysvBinding>(__dirname, 'shm_sysv');
