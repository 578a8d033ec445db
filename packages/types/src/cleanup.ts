/**
 * Cleanup that reaches everything: steps that all run even when some fail,
 * and the process-wide signal cleanup every package's cleanupOnSignals()
 * installs.
 */
import { codedError, invalidArgValue } from './errors';

/**
 * Runs every step, even after one throws, and returns their results; then
 * reports what failed, once: the error itself when one step failed, or one
 * ERR_SHM_CLEANUP error listing them all (`errors`) when several did.
 * Cleanup that stopped at its first error (a segment that reports
 * ERR_SHM_TRUNCATED, one this process may not remove) would leave every later
 * segment behind.
 */
export function runEvery<T>(steps: ReadonlyArray<() => T>): T[] {
  const results: T[] = [];
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      results.push(step());
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    const reasons = errors.map((error) => (error instanceof Error ? error.message : String(error)));
    throw codedError('ERR_SHM_CLEANUP', `${errors.length} of ${steps.length} cleanup steps failed: ${reasons.join('; ')}`, { errors });
  }
  return results;
}

/**
 * Destroys each of `items` with `destroyOne` (which answers whether it
 * destroyed something), trying every one as runEvery does; returns how many
 * were destroyed.
 */
export function destroyEach<T>(items: readonly T[], destroyOne: (item: T) => boolean): number {
  return runEvery(items.map((item) => () => destroyOne(item))).filter(Boolean).length;
}

// ---------------------------------------------------------------------------
// Cleanup on signals.

export type CleanupSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGQUIT';

const CLEANUP_SIGNALS: readonly CleanupSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** Per signal: our one listener, and how many installs asked for each cleanup. */
type SignalCleanups = Map<CleanupSignal, { listener: () => void; cleanups: Map<() => void, number> }>;

/**
 * The process's one table of signal cleanups. Every copy of this module (two
 * versions of @shm/types may be installed side by side) finds the same table
 * through the global symbol registry, so each signal has one listener of
 * ours however many helpers are installed. With one listener per helper,
 * each took the others for the application's own and stood aside, and the
 * signal did nothing at all.
 */
function signalCleanups(): SignalCleanups {
  const key = Symbol.for('@shm/types.signalCleanups');
  const global = globalThis as { [key: symbol]: SignalCleanups | undefined };
  return (global[key] ??= new Map());
}

/**
 * On each of `signals`, runs `cleanup` and then lets the signal do what it
 * would have done without this helper: the listener removes itself and sends
 * the signal again, so the process ends by that signal (exit status 128 + n,
 * as a shell sees it). When the application listens to that signal itself,
 * the helper stands aside: the application has taken over that signal, and
 * whether (and when) the process ends is its decision.
 *
 * Idempotent and process-wide: installing the same cleanup again, from any
 * package, adds nothing; different cleanups all run, each once, and a failure
 * in one skips none of the others. Returns a function that undoes this
 * install (the cleanup stays while another install of it remains). Signals
 * reach only the main thread; the backends' cleanups destroy what any thread
 * of the process created.
 */
export function installSignalCleanup(cleanup: () => void, signals: readonly CleanupSignal[]): () => void {
  if (!Array.isArray(signals) || signals.some((signal) => !CLEANUP_SIGNALS.includes(signal))) {
    throw invalidArgValue('signals', "must list some of 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'", signals);
  }
  const table = signalCleanups();
  const installed = [...new Set(signals)].map((signal) => {
    let entry = table.get(signal);
    if (!entry) {
      const cleanups = new Map<() => void, number>();
      const listener = () => {
        if (process.listenerCount(signal) > 1) return; // the application's own listener decides
        table.delete(signal);
        process.removeListener(signal, listener);
        try {
          runEvery([...cleanups.keys()]);
        } catch (error) {
          console.error(error); // reported once; the signal still ends the process
        }
        process.kill(process.pid, signal);
      };
      entry = { listener, cleanups };
      table.set(signal, entry);
      process.on(signal, listener);
    }
    entry.cleanups.set(cleanup, (entry.cleanups.get(cleanup) ?? 0) + 1);
    return { signal, entry };
  });
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    for (const { signal, entry } of installed) {
      const count = (entry.cleanups.get(cleanup) ?? 0) - 1;
      if (count > 0) entry.cleanups.set(cleanup, count);
      else entry.cleanups.delete(cleanup);
      if (entry.cleanups.size === 0 && table.get(signal) === entry) {
        table.delete(signal);
        process.removeListener(signal, entry.listener);
      }
    }
  };
}

/** The signals cleanupOnSignals() handles unless told otherwise. */
export const DEFAULT_CLEANUP_SIGNALS: readonly CleanupSignal[] = Object.freeze(['SIGINT', 'SIGTERM']);

/**
 * A package's cleanupOnSignals(): opt-in; on SIGINT / SIGTERM (or the
 * `signals` given) it runs `destroyCreated` (what this process created, in
 * any thread), then lets the signal end the process as it would have. It
 * stands aside for a signal the application listens to itself, and returns a
 * function that removes the listeners (see installSignalCleanup).
 */
export function cleanupOnSignalsOf(destroyCreated: () => void): (signals?: readonly CleanupSignal[]) => () => void {
  return function cleanupOnSignals(signals = DEFAULT_CLEANUP_SIGNALS) {
    return installSignalCleanup(destroyCreated, signals);
  };
}
