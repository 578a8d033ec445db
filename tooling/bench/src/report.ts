/**
 * What a run produces: rows grouped in sections, printed as a table and
 * written as JSON and as markdown.
 */
import type { Spread } from './harness.js';

export interface Row {
  label: string;
  /** Typical (median) milliseconds per operation of each contender, by name. */
  timesMs: Record<string, number>;
  /** What the ratio compares, e.g. 'shm-typed-array / @shm/core (time)'. */
  ratioOf?: string;
  ratio?: Spread;
  /** A goal the ratio must meet, e.g. { atLeast: 1 }; `met` compares its median. */
  goal?: { atLeast?: number; atMost?: number; met: boolean };
  note?: string;
}

export interface Section {
  id: string;
  title: string;
  /** How to read the rows. */
  explanation: string;
  rows: Row[];
  /** Facts found on the way (e.g. why hugepages are not available). */
  findings?: string[];
  /** Why the section compared nothing on this Node.js line (its other contender does not load here). */
  unavailable?: string;
}

export interface Results {
  startedAt: string;
  smoke: boolean;
  machine: { node: string; v8: string; kernel: string; cpu: string; cores: number; memoryGiB: number };
  sections: Section[];
  charts: string[];
}

export function withGoal(ratio: Spread, goal: { atLeast?: number; atMost?: number }): Row['goal'] {
  const met = (goal.atLeast === undefined || ratio.median >= goal.atLeast) && (goal.atMost === undefined || ratio.median <= goal.atMost);
  return { ...goal, met };
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toFixed(2)} µs`;
  return `${(ms * 1e6).toFixed(0)} ns`;
}

function formatRatio(ratio: Spread | undefined): string {
  if (!ratio) return '';
  const digits = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
  return `${digits(ratio.median)} (${digits(ratio.min)} – ${digits(ratio.max)})`;
}

function formatGoal(goal: Row['goal']): string {
  if (!goal) return '';
  const bound = goal.atLeast !== undefined ? `≥ ${goal.atLeast}` : `≤ ${goal.atMost}`;
  return `${bound} ${goal.met ? 'met' : 'MISSED'}`;
}

function rowCells(row: Row): string[] {
  const times = Object.entries(row.timesMs)
    .map(([name, ms]) => `${name} ${formatMs(ms)}`)
    .join('; ');
  return [row.label, times, row.ratioOf ?? '', formatRatio(row.ratio), formatGoal(row.goal), row.note ?? ''];
}

const HEADER = ['case', 'median time per operation', 'ratio of', 'ratio: median (min – max)', 'goal', 'note'];

export function toMarkdown(results: Results): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  const lines = [
    `Measured ${results.startedAt}${results.smoke ? ' (smoke run: small sizes, few rounds)' : ''} on Node ${results.machine.node} (V8 ${results.machine.v8}), Linux ${results.machine.kernel}, ${results.machine.cores} × ${results.machine.cpu}, ${results.machine.memoryGiB} GiB.`,
    '',
  ];
  for (const section of results.sections) {
    lines.push(`### ${section.title}`, '', section.explanation, '');
    lines.push(`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`);
    for (const row of section.rows) lines.push(`| ${rowCells(row).map(escape).join(' | ')} |`);
    if (section.findings?.length) lines.push('', ...section.findings.map((finding) => `- ${finding}`));
    lines.push('');
  }
  for (const chart of results.charts) lines.push(`![${chart}](${chart})`, '');
  return lines.join('\n');
}

export function printSection(section: Section): void {
  console.log(`\n== ${section.title}`);
  const table = section.rows.map(rowCells);
  const widths = HEADER.map((title, column) => Math.max(title.length, ...table.map((cells) => cells[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
  console.log(line(HEADER));
  for (const cells of table) console.log(line(cells));
  for (const finding of section.findings ?? []) console.log(`  * ${finding}`);
}
