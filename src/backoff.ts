/**
 * Delay before the n-th retry (n >= 1): doubles from `baseMs`, capped at
 * `maxMs`, with jitter in the upper half of that ceiling, so gateways
 * reconnecting to a restarted XMPP server, or registrations whose pushes
 * failed together, do not all retry at the same instant.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
