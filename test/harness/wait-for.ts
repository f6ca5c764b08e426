import { setTimeout as sleep } from "node:timers/promises";

export const POLL_MS = 25;

/**
 * Polls `fn` until it returns something other than undefined, null or false,
 * and returns that value. Polling (rather than events) keeps callers simple:
 * a predicate over what has been received so far also sees items that
 * arrived before the wait began.
 */
export async function waitFor<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs: number,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(POLL_MS);
  }
}
