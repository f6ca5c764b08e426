// What one timed run measured, computed where it was measured (the load
// generator or the bare relay), and the medians over rounds.

export interface RunStats {
  /** Pushes answered as delivered: HTTP 201, or an IQ result for the bare relay. */
  ok: number;
  /** Everything else, by HTTP status or "iq-error:condition" / "timeout" / "net:CODE". */
  errors: Record<string, number>;
  seconds: number;
  perSecond: number;
  /** ms, over the successful pushes. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Collects latencies (ms) into a growable typed array: no object per sample. */
export class Recorder {
  private samples = new Float64Array(1 << 16);
  private n = 0;
  ok = 0;
  readonly errors: Record<string, number> = {};

  success(ms: number): void {
    if (this.n === this.samples.length) {
      const bigger = new Float64Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.n++] = ms;
    this.ok++;
  }

  failure(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  stats(seconds: number): RunStats {
    const sorted = this.samples.subarray(0, this.n).sort();
    const at = (q: number): number => (this.n === 0 ? NaN : sorted[Math.min(this.n - 1, Math.floor(q * this.n))]!);
    return {
      ok: this.ok,
      errors: this.errors,
      seconds,
      perSecond: this.ok / seconds,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: at(1),
    };
  }
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export const errorCount = (s: RunStats): number => Object.values(s.errors).reduce((a, b) => a + b, 0);

export const fmtErrors = (e: Record<string, number>): string =>
  Object.keys(e).length === 0 ? "none" : Object.entries(e).map(([k, n]) => `${k}×${n}`).join(" ");

export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
