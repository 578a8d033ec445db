import { isMainThread } from 'node:worker_threads';
import { loadAddon } from '@shm/native';
import type { SyncBinding } from './native';

/** The native addon, loaded once per thread. */
export const binding: SyncBinding = loadAddon<SyncBinding>(__dirname, 'shm_sync');

// A worker can be terminated while it waits (worker.terminate(), the main
// thread's process.exit()): its blocking waits look for that, as Atomics.wait
// ends then. The main thread's cannot be: nothing else runs its JavaScript.
binding.configure(!isMainThread);
