/**
 * One round of one lifecycle case, in a process of its own, so that neither
 * package carries state from other rounds (shm-typed-array's record list
 * grows with every cycle it ever ran; see lifecycle-cases.ts).
 * Message in: { spec, budget, reverse, warmUpCycles? }; message out: the
 * median latency of each contender, by name.
 */
import type { Budget } from './harness.js';
import { measure } from './harness.js';
import { CaseSpec, contenders, warmUp } from './lifecycle-cases.js';

interface RoundRequest {
  spec: CaseSpec;
  budget: Budget;
  reverse: boolean;
  warmUpCycles?: number;
}

process.once('message', async ({ spec, budget, reverse, warmUpCycles }: RoundRequest) => {
  try {
    if (warmUpCycles) warmUp(warmUpCycles, spec.key);
    const ordered = contenders(spec);
    const latencies = await measure(reverse ? ordered.reverse() : ordered, { ...budget, rounds: 1 });
    process.send!(Object.fromEntries([...latencies].map(([name, [latency]]) => [name, latency])));
  } catch (error) {
    process.send!({ error: String((error as Error).stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!('ready');
