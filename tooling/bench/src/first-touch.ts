/**
 * Section 5: how long until every page of a segment is usable. A "touch"
 * writes one byte per page; the rows differ in when the kernel does the work:
 * at the first touch (lazy), at create (posix_fallocate, the POSIX default),
 * or at create / get (populate: madvise MADV_POPULATE_READ).
 */
import { readFileSync } from 'node:fs';
import * as posix from '@shm/posix';
import * as sysv from '@shm/sysv';
import type { Config } from './config.js';
import { formatBytes } from './config.js';
import type { Contender } from './harness.js';
import { measure, ratio, typicalMs } from './harness.js';
import type { Row, Section } from './report.js';
import { request, start, stop } from './processes.js';
import { newKey, newName } from './segments.js';

const PAGE = 4096;

function touch(bytes: Uint8Array | null, what: string): void {
  if (bytes === null) throw new Error(`${what}: the segment to touch does not exist`);
  for (let offset = 0; offset < bytes.length; offset += PAGE) bytes[offset] = 1;
}

/** Why hugepages can or cannot be used here, from what the kernel reports. */
function hugepageFindings(bytes: number): string[] {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
  const free = field('HugePages_Free');
  const pageKiB = field('Hugepagesize');
  let shmemThp = 'unknown';
  try {
    shmemThp = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/shmem_enabled', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    shmemThp = 'not offered by this kernel';
  }
  const needed = Math.ceil(bytes / (pageKiB * 1024));
  const findings = [];
  findings.push(
    free >= needed
      ? `System V hugepages (SHM_HUGETLB): available, ${free} free ${pageKiB} KiB pages.`
      : `System V hugepages (SHM_HUGETLB): not available: ${free} free ${pageKiB} KiB hugepages, ${needed} needed (vm.nr_hugepages reserves them; root only).`,
  );
  findings.push(
    ['always', 'within_size', 'advise', 'force'].includes(shmemThp)
      ? `Transparent hugepages for shmem: '${shmemThp}', so /dev/shm mappings may get 2 MiB pages.`
      : `Transparent hugepages for shmem (POSIX objects): not available: /sys/kernel/mm/transparent_hugepage/shmem_enabled is '${shmemThp}'.`,
  );
  return findings;
}

export async function firstTouch(config: Config): Promise<Section> {
  const bytes = config.firstTouchBytes;
  const posixName = newName();
  const sysvKey = newKey();
  // Written segments to attach. The System V one is made and held by another
  // process: a detach that leaves it unattached would destroy it.
  const pool = await start('pool.js');
  const [sysvWritten] = await request<number[]>(pool, { backend: 'sysv', bytes, count: 1 });
  const written = { posix: newName(), sysv: sysvWritten };
  posix.create(bytes, 'Uint8Array', written.posix)!.fill(1);
  sysv.get(written.sysv, 'Uint8Array')!.fill(1);
  posix.detachAll();
  sysv.detach(written.sysv);

  const createCase = (name: string, make: () => Uint8Array | null, destroy: () => void): Contender => ({
    name,
    run: () => {
      touch(make(), name);
      destroy();
    },
  });
  const attachCase = (name: string, attach: () => Uint8Array | null, detach: () => void): Contender => ({
    name,
    run: () => {
      touch(attach(), name);
      detach();
    },
  });
  const destroyPosix = () => posix.destroy(posixName);
  const destroySysv = () => sysv.destroy(sysvKey);
  const groups: Array<{ baseline: string; contenders: Contender[] }> = [
    {
      baseline: 'POSIX create, lazy',
      contenders: [
        createCase('POSIX create, lazy', () => posix.create(bytes, 'Uint8Array', posixName, undefined, { reserve: false }), destroyPosix),
        createCase('POSIX create, reserve (default)', () => posix.create(bytes, 'Uint8Array', posixName), destroyPosix),
        createCase('POSIX create, populate', () => posix.create(bytes, 'Uint8Array', posixName, undefined, { reserve: false, populate: true }), destroyPosix),
        createCase('POSIX create, reserve + populate', () => posix.create(bytes, 'Uint8Array', posixName, undefined, { populate: true }), destroyPosix),
      ],
    },
    {
      baseline: 'System V create, lazy',
      contenders: [
        createCase('System V create, lazy', () => sysv.create(bytes, 'Uint8Array', sysvKey), destroySysv),
        createCase('System V create, populate', () => sysv.create(bytes, 'Uint8Array', sysvKey, undefined, { populate: true }), destroySysv),
      ],
    },
    {
      baseline: 'POSIX get of a written object, lazy',
      contenders: [
        attachCase('POSIX get of a written object, lazy', () => posix.get(written.posix, 'Uint8Array'), () => posix.detach(written.posix)),
        attachCase('POSIX get of a written object, populate', () => posix.get(written.posix, 'Uint8Array', { populate: true }), () => posix.detach(written.posix)),
      ],
    },
    {
      baseline: 'System V get of a written segment, lazy',
      contenders: [
        attachCase('System V get of a written segment, lazy', () => sysv.get(written.sysv, 'Uint8Array'), () => sysv.detach(written.sysv)),
        attachCase('System V get of a written segment, populate', () => sysv.get(written.sysv, 'Uint8Array', { populate: true }), () => sysv.detach(written.sysv)),
      ],
    },
  ];
  const rows: Row[] = [];
  try {
    for (const { baseline, contenders } of groups) {
      const latencies = await measure(contenders, config.slow);
      for (const { name } of contenders) {
        rows.push({
          label: `${formatBytes(bytes)}: ${name}`,
          timesMs: { [name]: typicalMs(latencies, name) },
          ratioOf: name === baseline ? undefined : `${baseline} / this (time)`,
          ratio: name === baseline ? undefined : ratio(latencies, baseline, name),
        });
      }
    }
  } finally {
    posix.destroy(written.posix);
    await stop(pool); // destroys what it made
  }
  return {
    id: 'first-touch',
    title: '5. First touch: until every page is usable',
    explanation:
      'Each row maps the segment and writes one byte per 4 KiB page (create rows: then destroys it; get rows: then detaches). ' +
      'The ratio is the lazy row\'s time over this row\'s: above 1 means sooner usable.',
    rows,
    findings: hugepageFindings(bytes),
  };
}
