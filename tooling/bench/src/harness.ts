/**
 * How every comparison is measured: tinybench times each contender, in
 * repeated rounds, with the contenders' order alternating from round to
 * round; a ratio is formed within each round (so the machine's drift cancels)
 * and reported as min / median / max over the rounds.
 */
import { Bench } from 'tinybench';

export interface Contender {
  name: string;
  /** One operation; may be async. Returns nothing the harness reads. */
  run: () => unknown;
  /** Before each operation, untimed. */
  beforeEach?: () => void | Promise<void>;
  /** Whether `run` returns a promise (saves tinybench a probing call). */
  async?: boolean;
}

/** How long to measure: per contender and round, at least `iterations` operations and `timeMs`. */
export interface Budget {
  rounds: number;
  timeMs: number;
  iterations: number;
  warmupIterations: number;
}

/** Min / median / max over rounds. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

/** Median latency of each contender in each round, in milliseconds. */
export type RoundLatencies = Map<string, number[]>;

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { min: sorted[0], median, max: sorted[sorted.length - 1] };
}

/** Measures the contenders side by side; returns each one's per-round median latency. */
export async function measure(contenders: readonly Contender[], budget: Budget): Promise<RoundLatencies> {
  const latencies: RoundLatencies = new Map(contenders.map((contender) => [contender.name, []]));
  for (let round = 0; round < budget.rounds; round++) {
    const bench = new Bench({
      time: budget.timeMs,
      iterations: budget.iterations,
      warmup: budget.warmupIterations > 0,
      warmupIterations: budget.warmupIterations,
      warmupTime: 0,
      throws: true,
    });
    // Odd rounds run the contenders in reverse, so neither always goes first
    // (after the other's garbage, on a warmer or cooler machine).
    const ordered = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of ordered) {
      bench.add(contender.name, contender.run, {
        beforeEach: contender.beforeEach,
        async: contender.async ?? false,
      });
    }
    for (const task of await bench.run()) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
      latencies.get(task.name)!.push(result.latency.p50);
    }
  }
  return latencies;
}

/** Per round, `numerator`'s latency over `denominator`'s; e.g. theirs / ours = how many times faster ours is. */
export function ratio(latencies: RoundLatencies, numerator: string, denominator: string): Spread {
  const over = latencies.get(numerator)!;
  const under = latencies.get(denominator)!;
  return spread(over.map((value, round) => value / under[round]));
}

/** Median over rounds of a contender's median latency, in milliseconds. */
export function typicalMs(latencies: RoundLatencies, name: string): number {
  return spread(latencies.get(name)!).median;
}
