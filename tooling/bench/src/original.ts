/**
 * The real shm-typed-array 0.1.1, when this Node.js line can run it. It is
 * an optional dependency compiled at install against the running line's V8
 * API, which it uses directly: on Node 26 its build fails (it calls
 * v8::Object::GetIsolate, which V8 removed), the install skips it, and the
 * lifecycle section then says what it could not compare instead of failing.
 */
import { createRequire } from 'node:module';

export type Original = typeof import('shm-typed-array');

export type OriginalPackage = { module: Original; unavailable?: undefined } | { module?: undefined; unavailable: string };

function load(): OriginalPackage {
  const require = createRequire(import.meta.url);
  try {
    return { module: require('shm-typed-array') as Original };
  } catch (error) {
    const reason = String((error as Error).message).split('\n')[0];
    return { unavailable: `shm-typed-array 0.1.1 does not load on Node ${process.version} (${reason}): its install-time build fails on this line` };
  }
}

export const originalPackage: OriginalPackage = load();
