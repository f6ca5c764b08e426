// A token bucket per endpoint, never per client IP: one Mastodon or Matrix
// server sends for thousands of users from one address.
//
// Memory stays bounded: a bucket that has refilled completely is the same as
// no bucket at all, so full buckets are dropped, and a hard cap drops the
// least recently used ones beyond it (which can only make the limit more
// lenient, never refuse a sender wrongly).

export interface RateLimitOptions {
  rate: number; // tokens per second
  burst: number; // bucket size
  maxBuckets?: number;
}

export type Take = { ok: true } | { ok: false; retryAfter: number }; // retryAfter: whole seconds, >= 1

interface Bucket {
  tokens: number;
  at: number; // ms, when `tokens` was last brought up to date
}

export const DEFAULT_MAX_BUCKETS = 100_000; // ~100 bytes each: about 10 MB at most
const MIN_SWEEP = 1024; // buckets before the first sweep

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxBuckets: number;
  private sweepAt = MIN_SWEEP;

  constructor(private readonly o: RateLimitOptions, private readonly now: () => number) {
    if (!(o.rate > 0) || !(o.burst >= 1)) throw new RangeError("rate must be above 0 and burst at least 1");
    this.maxBuckets = o.maxBuckets ?? DEFAULT_MAX_BUCKETS;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `key`, or says how long until one is there. */
  take(key: string): Take {
    const t = this.now();
    const b = this.buckets.get(key);
    const tokens = b ? this.refilled(b, t) : this.o.burst;
    // Delete then set: Map order is insertion order, which makes it least-recently-used
    // order, and a flooding endpoint (refused or not) is never the one evicted.
    this.buckets.delete(key);
    if (tokens < 1) {
      // Refused requests cost nothing, so a sender that keeps trying still gets through at `rate`.
      this.buckets.set(key, b!);
      return { ok: false, retryAfter: Math.max(1, Math.ceil((1 - tokens) / this.o.rate)) };
    }
    this.buckets.set(key, { tokens: tokens - 1, at: t });
    if (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
    if (this.buckets.size > this.sweepAt) this.sweep(t);
    return { ok: true };
  }

  /** Drops the buckets that have refilled completely. */
  sweep(t = this.now()): void {
    for (const [key, b] of this.buckets) if (this.refilled(b, t) >= this.o.burst) this.buckets.delete(key);
    // Sweeping again only once the map has doubled keeps take() O(1) on average.
    this.sweepAt = Math.max(MIN_SWEEP, this.buckets.size * 2);
  }

  private refilled(b: Bucket, t: number): number {
    const elapsed = Math.max(0, t - b.at) / 1000; // a clock stepping back refills nothing
    return Math.min(this.o.burst, b.tokens + elapsed * this.o.rate);
  }
}
