/**
 * One table of the same sections run under several Node.js lines:
 *   node dist/lines.js <results.json> [<results.json> ...] > lines.md
 * Each file is one run's results (main.ts --out DIR); a row's ratio, median
 * (min – max), is given per line, with its goal and whether it was met.
 */
import { readFileSync } from 'node:fs';
import type { Results, Row } from './report.js';

const digits = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));

function cell(row: Row | undefined): string {
  if (!row?.ratio) return '–';
  const { min, median, max } = row.ratio;
  const mark = row.goal ? (row.goal.met ? ' ✓' : ' ✗') : '';
  return `${digits(median)} (${digits(min)} – ${digits(max)})${mark}`;
}

const runs = process.argv.slice(2).map((file) => JSON.parse(readFileSync(file, 'utf8')) as Results);
const lines = runs.map((run) => `Node ${run.machine.node}`);
const out: string[] = [];
for (const section of runs[0].sections) {
  out.push(`### ${section.title}`, '');
  for (const run of runs) {
    const same = run.sections.find((candidate) => candidate.id === section.id);
    if (same?.unavailable) out.push(`- Node ${run.machine.node}: ${same.unavailable}`);
  }
  const labels = [...new Set(runs.flatMap((run) => run.sections.find((s) => s.id === section.id)?.rows.map((row) => row.label) ?? []))];
  const withRatio = labels.filter((label) => runs.some((run) => run.sections.find((s) => s.id === section.id)?.rows.find((row) => row.label === label)?.ratio));
  if (withRatio.length === 0) continue;
  const ratioOf = runs.flatMap((run) => run.sections.find((s) => s.id === section.id)?.rows ?? []).find((row) => row.ratio)?.ratioOf;
  out.push('', `Ratio: ${ratioOf}; goal met ✓, missed ✗.`, '', `| case | ${lines.join(' | ')} |`, `| --- |${lines.map(() => ' --- |').join('')}`);
  for (const label of withRatio) {
    const cells = runs.map((run) => cell(run.sections.find((s) => s.id === section.id)?.rows.find((row) => row.label === label)));
    out.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  out.push('');
}
console.log(out.join('\n'));
