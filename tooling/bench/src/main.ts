/**
 * The bench command: `pnpm bench` (full run, results in tooling/bench/results/)
 * or `node dist/main.js --smoke --out DIR` (seconds; what the test command runs).
 * Options: --smoke, --out DIR, --only id[,id...].
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fullConfig, smokeConfig } from './config.js';
import type { Config } from './config.js';
import { lifecycle } from './lifecycle.js';
import { transfer } from './transfer.js';
import { access } from './access.js';
import { firstTouch } from './first-touch.js';
import { scaling } from './scaling.js';
import { syncSection } from './sync.js';
import { floorSection } from './floor.js';
import { release } from './release.js';
import { printSection, Results, Section, toMarkdown } from './report.js';
import { leftovers, removeAll } from './segments.js';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});

const sections: Record<string, (config: Config, outDirectory: string) => Promise<Section & { charts?: string[] }>> = {
  lifecycle,
  transfer,
  access,
  'first-touch': firstTouch,
  scaling,
  sync: syncSection,
  floor: floorSection,
  release,
};

async function main(): Promise<void> {
  const config = values.smoke ? smokeConfig : fullConfig;
  const outDirectory = path.resolve(values.out ?? fileURLToPath(new URL('../results', import.meta.url)));
  mkdirSync(outDirectory, { recursive: true });
  const only = values.only?.split(',');
  for (const id of only ?? []) if (!(id in sections)) throw new Error(`--only: no section '${id}' (sections: ${Object.keys(sections).join(', ')})`);

  const results: Results = {
    startedAt: new Date().toISOString(),
    smoke: config.smoke,
    machine: {
      node: process.versions.node,
      v8: process.versions.v8,
      kernel: os.release(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    },
    sections: [],
    charts: [],
  };
  for (const [id, run] of Object.entries(sections)) {
    if (only && !only.includes(id)) continue;
    const section = await run(config, outDirectory);
    printSection(section);
    results.sections.push(section);
    results.charts.push(...(section.charts ?? []));
  }
  writeFileSync(path.join(outDirectory, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(outDirectory, 'results.md'), toMarkdown(results));
  console.log(`\nWritten: ${path.join(outDirectory, 'results.json')}, results.md${results.charts.map((chart) => `, ${chart}`).join('')}`);

  removeAll();
  const left = leftovers();
  if (left.length > 0) throw new Error(`the bench left segments behind: ${left.join(', ')}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
