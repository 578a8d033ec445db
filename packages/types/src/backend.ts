/**
 * What every backend module exports beside its own calls, written once. A
 * backend supplies what differs (create, get, detach, detachAll,
 * destroyCreated and its addon's byte counts); this makes the rest: destroy,
 * the byte totals, `backend` (the module as a ShmBackend, for code that takes
 * any backend) and cleanupOnSignals.
 */
import { CleanupSignal, cleanupOnSignalsOf } from './cleanup';
import { AttachOptions, BufferType, LengthMax, ShmBackend } from './types';

/** What a backend implements itself. */
export interface BackendCalls<Key, Options extends AttachOptions>
  extends Pick<ShmBackend<Key, Options>, 'create' | 'get' | 'detach' | 'detachAll'> {
  /** Destroys every segment this process created, in any thread, and has not destroyed; returns how many. */
  destroyCreated(): number;
  /** The addon's byte counts: mapped by this thread now, created by it and not destroyed. */
  bytes: { mappedBytes(): number; createdBytes(): number };
}

export interface BackendSurface<Key, Options extends AttachOptions> {
  /** Unmaps and removes the segment: `detach(key, true) === 0`. */
  destroy(key: Key): boolean;
  /** Bytes this thread has mapped now. */
  getTotalSize(): number;
  /** Bytes of the segments this thread created and has not destroyed. */
  getTotalCreatedSize(): number;
  backend: ShmBackend<Key, Options>;
  /** See cleanupOnSignalsOf: destroys what this process created when a signal ends it. */
  cleanupOnSignals(signals?: readonly CleanupSignal[]): () => void;
}

export function backendSurface<Key, Options extends AttachOptions>(
  calls: BackendCalls<Key, Options>,
): BackendSurface<Key, Options> {
  const { create, get, detach, detachAll, destroyCreated, bytes } = calls;
  const destroy = (key: Key): boolean => detach(key, true) === 0;
  const getTotalSize = (): number => bytes.mappedBytes();
  const getTotalCreatedSize = (): number => bytes.createdBytes();
  return {
    destroy,
    getTotalSize,
    getTotalCreatedSize,
    backend: { create, get, detach, destroy, detachAll, getTotalSize, getTotalCreatedSize, BufferType, LengthMax },
    cleanupOnSignals: cleanupOnSignalsOf(destroyCreated),
  };
}
