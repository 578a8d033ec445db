/**
 * The bench's smoke run: every section, at small sizes and few rounds, so
 * that the full bench cannot rot. Figures are not judged here (this machine
 * is shared and noisy); what is judged is that every section runs, every
 * ratio is a real number, the three result files are written, and no
 * segment is left behind.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const main = path.join(__dirname, '..', 'dist', 'main.js');
let outDirectory: string;
let run: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  // Named as the tests' sweep expects (@shm/test-support), so a killed run's folder is removed by the next.
  outDirectory = mkdtempSync(path.join(tmpdir(), `shm-test-bench-${process.pid}-`));
  run = await new Promise((resolve) => {
    execFile(process.execPath, [main, '--smoke', '--out', outDirectory], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}, 180_000);

afterAll(() => rmSync(outDirectory, { recursive: true, force: true }));

const results = () => JSON.parse(readFileSync(path.join(outDirectory, 'results.json'), 'utf8'));

// main.ts also checks, before it exits 0, that no segment it or its children made is left.
test('the smoke run exits 0 and says where it wrote', () => {
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(path.join(outDirectory, 'results.json'));
});

/** Whether shm-typed-array loads on this Node.js line (its build fails on Node 26). */
function originalLoads(): boolean {
  try {
    require('shm-typed-array');
    return true;
  } catch {
    return false;
  }
}

test('every section ran, in order, with rows; only a section whose contender does not load here says so instead', () => {
  const { sections, smoke } = results();
  expect(smoke).toBe(true);
  expect(sections.map((section: { id: string }) => section.id)).toEqual(['lifecycle', 'transfer', 'access', 'first-touch', 'scaling', 'sync', 'floor', 'release']);
  for (const section of sections) {
    if (section.id === 'lifecycle' && !originalLoads()) {
      expect(section.rows).toEqual([]);
      expect(section.unavailable).toContain(`shm-typed-array 0.1.1 does not load on Node ${process.version}`);
    } else {
      expect(section.unavailable).toBeUndefined();
      expect(section.rows.length).toBeGreaterThan(0);
    }
  }
});

test('every time is a positive number and every ratio is ordered min <= median <= max', () => {
  for (const section of results().sections) {
    for (const row of section.rows) {
      for (const ms of Object.values(row.timesMs) as number[]) {
        expect(Number.isFinite(ms) && ms > 0).toBe(true);
      }
      if (row.ratio) {
        const { min, median, max } = row.ratio;
        expect([min, median, max].every((value: number) => Number.isFinite(value) && value > 0)).toBe(true);
        expect(min).toBeLessThanOrEqual(median);
        expect(median).toBeLessThanOrEqual(max);
        expect(typeof row.ratioOf).toBe('string');
      }
      if (row.goal) expect(typeof row.goal.met).toBe('boolean');
    }
  }
});

test('the lifecycle rows compare both packages, and the transfer rows every path', () => {
  const [lifecycle, transfer] = results().sections;
  for (const row of lifecycle.rows) expect(Object.keys(row.timesMs)).toEqual(['@shm/core', 'shm-typed-array']);
  const paths = transfer.rows.map((row: { label: string }) => row.label.replace(/^[^:]+: /, ''));
  expect(paths).toEqual([
    'shm (POSIX)',
    'shm (System V)',
    'process.send (advanced serialization)',
    'Unix domain socket',
    'worker postMessage (copy)',
    'worker postMessage (transfer)',
    'memcpy: TypedArray.set',
    'memcpy: Buffer.copy',
    'memcpy + hash, one process',
  ]);
});

test('the markdown table and the chart are written', () => {
  const markdown = readFileSync(path.join(outDirectory, 'results.md'), 'utf8');
  for (const section of results().sections) expect(markdown).toContain(`### ${section.title}`);
  expect(markdown).toContain('![scaling.svg](scaling.svg)');
  const svg = readFileSync(path.join(outDirectory, 'scaling.svg'), 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect((svg.match(/<polyline /g) ?? []).length).toBeGreaterThanOrEqual(2);
});
