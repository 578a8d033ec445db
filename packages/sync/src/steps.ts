/**
 * Blocking and async forms from one algorithm. A Mutex or Channel operation
 * is written once as a generator that yields each wait it needs; runBlocking
 * performs the waits with wait(), runAsync with waitAsync().
 */
import { wait, waitAsync, WaitableArray, WaitResult } from './futex';

export interface WaitRequest {
  array: WaitableArray;
  index: number;
  expected: number | bigint;
  timeoutMs: number;
}

export type WaitSteps<T> = Generator<WaitRequest, T, WaitResult>;

export function runBlocking<T>(steps: WaitSteps<T>): T {
  let next = steps.next();
  while (!next.done) {
    const { array, index, expected, timeoutMs } = next.value;
    let result: WaitResult;
    try {
      result = wait(array, index, expected, timeoutMs);
    } catch (error) {
      next = steps.throw(error); // runs the operation's cleanup, then rethrows
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

export async function runAsync<T>(steps: WaitSteps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const { array, index, expected, timeoutMs } = next.value;
    let result: WaitResult;
    try {
      result = await waitAsync(array, index, expected, timeoutMs);
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}
