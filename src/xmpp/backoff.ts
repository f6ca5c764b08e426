/**
 * Reconnect delay for the n-th failed attempt (n >= 1): exponential from 1 s,
 * capped, with "full jitter" in the upper half so a fleet of gateways does not
 * hammer a restarted XMPP server in lockstep.
 */
export function backoffMs(attempt: number, maxSeconds: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxSeconds * 1000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
