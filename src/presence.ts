// Directed presence from distributors, per full JID. Only an explicit
// unavailable marks a JID offline: an unknown JID may well be online.
export class PresenceBook {
  private readonly offline = new Set<string>();
  private readonly listeners: ((jid: string) => void)[] = [];

  available(jid: string): void {
    this.offline.delete(jid);
    for (const fn of this.listeners) fn(jid);
  }

  unavailable(jid: string): void {
    this.offline.add(jid);
  }

  isKnownOffline = (jid: string): boolean => this.offline.has(jid);

  /** Called with the full JID whenever a distributor says it is available. */
  onAvailable(fn: (jid: string) => void): void {
    this.listeners.push(fn);
  }

  /** After the component link drops, what we knew is stale. */
  clear(): void {
    this.offline.clear();
  }
}
