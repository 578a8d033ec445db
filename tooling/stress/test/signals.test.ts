/**
 * Scenario 8, signals: cleanupOnSignals() destroys what the process created on
 * SIGINT / SIGTERM and the process still ends by that signal; beside an
 * application's own listener it stands aside.
 */
import * as path from 'node:path';
import * as shm from '@shm/core';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import { runChild, useScratch } from '@shm/test-support';

const scratch = useScratch({ posix: shm, sysv: shm });

const child = path.join(__dirname, 'children', 'signals.js');

function exists(name: string, key: number) {
  return { posix: posix.listObjects().some((object) => object.name === name), sysv: sysv.attachCount(key) >= 0 };
}

test.each(['SIGINT', 'SIGTERM'] as const)('%s: everything created is destroyed, then the signal ends the process', async (signal) => {
  const [name, key] = [scratch.name(), scratch.key()];
  const result = await runChild(child, ['helper', name, String(key)], (message, process) => {
    expect(exists(name, key)).toEqual({ posix: true, sysv: true });
    process.kill(signal);
  });
  expect(result.messages).toEqual([{ ready: true }]);
  expect({ signal: result.signal, code: result.code }).toEqual({ signal, code: null });
  expect(exists(name, key)).toEqual({ posix: false, sysv: false });
});

test.each(['every-helper', 'worker'])('%s: SIGTERM still destroys everything and ends the process', async (mode) => {
  // every-helper: before, each helper took the others for the application's
  // own listener and stood aside, and SIGTERM did nothing. worker: before,
  // what a worker created was in that thread's ledger, out of the handler's reach.
  const [name, key] = [scratch.name(), scratch.key()];
  const result = await runChild(child, [mode, name, String(key)], (message, process) => {
    expect(exists(name, key)).toEqual({ posix: true, sysv: true });
    process.kill('SIGTERM');
  }, { timeoutMs: 10000 });
  expect(result.messages).toEqual([{ ready: true }]);
  expect({ signal: result.signal, code: result.code }).toEqual({ signal: 'SIGTERM', code: null });
  expect(exists(name, key)).toEqual({ posix: false, sysv: false });
});

test("an application's own SIGTERM listener keeps the signal: the helper stands aside", async () => {
  const [name, key] = [scratch.name(), scratch.key()];
  const result = await runChild(child, ['app-handler', name, String(key)], (message, process) => {
    if ((message as { ready?: boolean }).ready) process.kill('SIGTERM');
  });
  expect(result.messages).toEqual([{ ready: true }, { appHandled: true }]);
  expect({ signal: result.signal, code: result.code }).toEqual({ signal: null, code: 7 });
  expect(exists(name, key).posix).toBe(true); // the application did not ask for cleanup
});

test('refuses signals it does not handle', () => {
  expect(() => shm.cleanupOnSignals(['SIGKILL' as never])).toThrow(TypeError);
  expect(() => shm.cleanupOnSignals('SIGINT' as never)).toThrow(TypeError);
});

test('the returned function removes its listeners', () => {
  const before = process.listenerCount('SIGTERM');
  const remove = shm.cleanupOnSignals(['SIGTERM']);
  expect(process.listenerCount('SIGTERM')).toBe(before + 1);
  remove();
  expect(process.listenerCount('SIGTERM')).toBe(before);
});
