// Every dialect-2 POST races its push IQ against answer_within. A timer per
// push would be a second timer on the hot path (the IQ has its own timeout);
// since every deadline has the same length, they expire in the order they were
// set, so one FIFO and one timer armed for its head serve them all.

interface Entry {
  at: number; // ms, monotonic
  expire: (() => void) | undefined; // undefined once the raced promise settled
}

export class FixedDeadline {
  private readonly fifo: Entry[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number, private readonly now: () => number = () => performance.now()) {}

  /**
   * The promise's value if it settles within the delay, else undefined (it
   * runs on). A rejection counts as no answer (undefined) as well.
   */
  race<T>(p: Promise<T>): Promise<T | undefined> {
    return new Promise((resolve) => {
      const e: Entry = { at: this.now() + this.ms, expire: () => resolve(undefined) };
      this.fifo.push(e);
      this.timer ??= setTimeout(() => this.tick(), this.ms);
      const settle = (v: T | undefined): void => {
        e.expire = undefined; // the entry stays until its time, holding nothing
        resolve(v);
      };
      p.then(settle, () => settle(undefined));
    });
  }

  /** Deadlines still counted (settled ones included until their time; for tests). */
  get size(): number {
    return this.fifo.length - this.head;
  }

  private tick(): void {
    this.timer = undefined;
    const now = this.now();
    while (this.head < this.fifo.length && this.fifo[this.head]!.at <= now) {
      const e = this.fifo[this.head]!;
      this.fifo[this.head++] = undefined as never;
      e.expire?.();
    }
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo.splice(0, this.head);
      this.head = 0;
    }
    if (this.head < this.fifo.length) this.timer = setTimeout(() => this.tick(), Math.max(1, this.fifo[this.head]!.at - now));
    else {
      this.fifo.length = 0;
      this.head = 0;
    }
  }
}
