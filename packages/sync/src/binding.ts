import * as path from 'node:path';
import { loadNativeAddon } from '@shm/types';
import type { SyncBinding } from './native';

/** The native addon, loaded once per thread. */
export const binding: SyncBinding = loadNativeAddon<SyncBinding>(path.join(__dirname, '..'), 'shm_sync');
