/**
 * Section 6: scaling with segment size and with segments held, measured in
 * scaling-child.ts and drawn as results/scaling.svg.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { lineChartSvg } from './chart.js';
import type { Config } from './config.js';
import { formatBytes } from './config.js';
import { request, scriptPath, stop } from './processes.js';
import type { Row, Section } from './report.js';
import type { Series } from './scaling-child.js';

const CHART = 'scaling.svg';

function formatMicroseconds(us: number): string {
  if (us >= 1e6) return `${us / 1e6} s`;
  if (us >= 1e3) return `${us / 1e3} ms`;
  return `${us} µs`;
}
// A private IPC namespace where SHMMNI allows 32768 segments (root only);
// the machine's own limit is left alone.
const PRIVATE_IPC = ['unshare', '-i', 'sh', '-c', 'echo 32768 > /proc/sys/kernel/shmmni && exec "$0" "$@"'];

function launch(wrapper: string[]): Promise<ChildProcess> {
  const command = [...wrapper, process.execPath, scriptPath('scaling-child.js')];
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced' });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`scaling child exited (${code ?? signal}): ${stderr.trim()}`)));
    child.once('message', () => {
      child.removeAllListeners('exit');
      child.stderr!.pipe(process.stderr);
      resolve(child);
    });
  });
}

function rowsOf(series: Series[], label: (x: number) => string): Row[] {
  const xs = [...new Set(series.flatMap((entry) => entry.points.map(([x]) => x)))].sort((a, b) => a - b);
  return xs.map((x) => ({
    label: label(x),
    timesMs: Object.fromEntries(
      series.flatMap((entry) => entry.points.filter(([pointX]) => pointX === x).map(([, us]) => [entry.name, us / 1000])),
    ),
  }));
}

export async function scaling(config: Config, outDirectory: string): Promise<Section & { charts: string[] }> {
  const findings: string[] = [];
  let child: ChildProcess;
  try {
    if (process.getuid?.() !== 0) throw new Error('not root');
    child = await launch(PRIVATE_IPC);
    const machineLimit = readFileSync('/proc/sys/kernel/shmmni', 'utf8').trim();
    findings.push(`Measured in a private IPC namespace with SHMMNI 32768 (this machine's own SHMMNI, left alone: ${machineLimit}).`);
  } catch (error) {
    findings.push(`No private IPC namespace (${(error as Error).message.split('\n')[0]}): System V counts stop at this machine's SHMMNI.`);
    child = await launch([]);
  }
  let result: { bySize: Series[]; byCount: Series[]; notes: string[] };
  try {
    result = await request(child, { config });
  } finally {
    await stop(child);
  }
  findings.push(...result.notes);
  writeFileSync(
    path.join(outDirectory, CHART),
    lineChartSvg([
      { title: 'Cost against segment size', xLabel: 'segment size', yLabel: 'time per cycle (median)', formatX: formatBytes, formatY: formatMicroseconds, series: result.bySize },
      { title: 'Cost against segments held', xLabel: 'segments this process holds (4 KiB each)', yLabel: 'time per cycle (median)', formatX: String, formatY: formatMicroseconds, series: result.byCount },
    ]),
  );
  return {
    id: 'scaling',
    title: '6. Scaling with segment size and with segments held',
    explanation:
      'Median time of one cycle through @shm/posix and @shm/sysv. Size rows: a segment of that size (get + detach attach one ' +
      'that exists; lazy creates leave the pages unallocated, reserve allocates them). Count rows: a 4 KiB segment while the ' +
      `process holds that many others mapped. Drawn in [${CHART}](${CHART}).`,
    rows: [...rowsOf(result.bySize, (x) => `size ${formatBytes(x)}`), ...rowsOf(result.byCount, (x) => `holding ${x}`)],
    findings,
    charts: [CHART],
  };
}
