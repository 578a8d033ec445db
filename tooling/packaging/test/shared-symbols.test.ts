/**
 * What the addons of one process share. glibc binds a GNU "unique" symbol
 * (an inline variable, a static local of an inline function) across every
 * addon of the process, RTLD_LOCAL or not: one table for all, whichever
 * addon loaded first, even when the addons are of different versions. Some
 * sharing is the point (one mapping budget, one announcement of released
 * ranges per process); any other would be an accident, as the C++ error
 * table once was. The list below is the decision.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const MAPPING_BOOKKEEPING = [
  'guard variable for shm::MappingBudget()::budget',
  'shm::MappingBudget()::budget',
  'shm::MappingRegistry::nextSerial_',
  'shm::ProcessMappings()::block',
  'shm::liveRanges',
  'shm::nextMappingsCheck',
  'shm::rangeChanges',
  'shm::rangeReleaseWatchers',
];
const shared: Record<string, string[]> = {
  '@shm/posix': MAPPING_BOOKKEEPING,
  '@shm/sysv': MAPPING_BOOKKEEPING,
  '@shm/sync': ['shm::rangeReleaseWatchers'],
};

/** The unique symbols of an addon, demangled; the C++ library's own left out. */
function uniqueSymbols(addon: string): string[] {
  const table = execFileSync('readelf', ['-sW', '--dyn-syms', addon], { encoding: 'utf8' });
  const mangled = [...new Set(table.split('\n').map((line) => line.trim().split(/\s+/)).filter((fields) => fields[4] === 'UNIQUE').map((fields) => fields[7]))];
  const names = execFileSync('c++filt', { input: mangled.join('\n'), encoding: 'utf8' }).split('\n').filter(Boolean);
  return names.filter((name) => !name.startsWith('std::')).sort();
}

test.each(Object.keys(shared))('%s shares with the other addons only what it means to', (name) => {
  const root = path.dirname(require.resolve(`${name}/package.json`));
  const release = path.join(root, 'build', 'Release');
  const addon = path.join(release, fs.readdirSync(release).find((file) => file.endsWith('.node'))!);
  expect(uniqueSymbols(addon)).toEqual([...shared[name]].sort());
});
