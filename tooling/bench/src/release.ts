/**
 * Section 9: releasing many attachments of one name. Each release must cost
 * the same however many attachments the name has (the registry's lists are
 * intrusive: O(1) a release), so the time per attachment released stays flat
 * from the smallest count to four times as many, both through one detach(name)
 * and through the garbage collector. Each measurement runs in a fresh process
 * (release-child.ts); the ratio is per-attachment time at 4n over that at n,
 * within a round.
 */
import type { Config } from './config.js';
import { spread } from './harness.js';
import { request, start, stop } from './processes.js';
import type { Row, Section } from './report.js';
import { withGoal } from './report.js';
import { newName } from './segments.js';

/** Per-attachment time at 4n over n: 1 is flat; quadratic releases would give 4. */
const GOAL = 1.5;

async function perAttachmentNs(attachments: number, how: string): Promise<number> {
  const child = await start('release-child.js');
  try {
    return await request<number>(child, [newName(), attachments, how]);
  } finally {
    await stop(child);
  }
}

export async function release(config: Config): Promise<Section> {
  const base = config.smoke ? 1000 : 10000;
  const counts = [base, 2 * base, 4 * base];
  const rows: Row[] = [];
  for (const how of ['detach', 'collect']) {
    const byCount = new Map<number, number[]>(counts.map((count) => [count, []]));
    for (let round = 0; round < config.slow.rounds; round++) {
      const ordered = round % 2 === 0 ? counts : [...counts].reverse();
      for (const count of ordered) byCount.get(count)!.push(await perAttachmentNs(count, how));
    }
    const smallest = byCount.get(base)!;
    const largest = byCount.get(4 * base)!;
    const ratio = spread(largest.map((value, round) => value / smallest[round]));
    rows.push({
      label: how === 'detach' ? `one detach(name) of n attachments` : `n dropped attachments, released by the collector`,
      timesMs: Object.fromEntries(counts.map((count) => [`per attachment, n = ${count}`, spread(byCount.get(count)!).median / 1e6])),
      ratioOf: `per attachment at n = ${4 * base} / at n = ${base} (time)`,
      ratio,
      goal: withGoal(ratio, { atMost: GOAL }),
    });
  }
  return {
    id: 'release',
    title: '9. Releasing many attachments of one name',
    explanation:
      `Each row maps n attachments of one POSIX object in a fresh process, then releases them all, and reports the time ` +
      `per attachment released. Flat is O(1) a release: the goal is at most ${GOAL} from n = ${base} to n = ${4 * base} ` +
      `(a release that walked the name's other attachments would give 4).`,
    rows,
  };
}
