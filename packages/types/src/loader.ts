/**
 * Finding a package's native addon. The addons are built per package
 * (`npx shm-build-native`), into build/Release, or build/Debug for a debug
 * build.
 */
import * as path from 'node:path';
import { codedError } from './errors';

/**
 * Loads `<packageRoot>/build/{Release,Debug}/<addonName>.node`, where the
 * package root is the parent of `moduleDirectory` (the `__dirname` of the
 * package's src/ or dist/ module that asks). When none loads, the error lists
 * every path tried and why each failed.
 */
export function loadNativeAddon<Binding>(moduleDirectory: string, addonName: string): Binding {
  const packageRoot = path.join(moduleDirectory, '..');
  const candidates = ['Release', 'Debug'].map((config) =>
    path.join(packageRoot, 'build', config, `${addonName}.node`),
  );
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return require(candidate) as Binding;
    } catch (error) {
      failures.push(`${candidate}: ${String((error as Error).message).split('\n')[0]}`);
    }
  }
  throw codedError(
    'ERR_SHM_ADDON_NOT_FOUND',
    `Cannot load the native addon ${addonName}. Tried:\n  ${failures.join('\n  ')}\n` +
      `Build it with \`npx shm-build-native\` in ${packageRoot}.`,
    { tried: candidates },
  );
}

