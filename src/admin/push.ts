// `up-gateway-admin push`: a test notification through the running gateway's
// own HTTP port, the path every app server's push takes (rate limit, queue,
// answer table), and what became of it per registration.
import { short, table } from "./format.ts";

export interface Target {
  token: string; // the whole endpoint token: it goes into the URL, never into the output
  jid: string | null; // null: not in the database (unknown or revoked)
}

export type Result = "delivered" | "queued" | "gone" | "refused" | "unreachable";

export interface Sent {
  endpoint: string; // shortened
  jid: string | null;
  result: Result;
  status: number | null;
  ttl?: number; // s kept, when queued
  retryAfter?: number;
  reason?: string;
  ms: number;
}

/** The gateway's answer, read as the table in src/http/status.ts writes it. */
export function classify(status: number, headers: { ttl: string | null; retryAfter: string | null }, body: string): Pick<Sent, "result" | "ttl" | "retryAfter" | "reason"> {
  const ttl = Number(headers.ttl ?? "0");
  if (status === 201) return ttl > 0 ? { result: "queued", ttl } : { result: "delivered" };
  if (status === 404) return { result: "gone", reason: "unknown, expired or revoked" };
  let reason: string | undefined;
  try {
    reason = (JSON.parse(body) as { error?: string }).error;
  } catch {
    // no JSON body: the status says enough
  }
  return { result: "refused", ...(headers.retryAfter !== null && { retryAfter: Number(headers.retryAfter) }), ...(reason && { reason }) };
}

export interface PushOptions {
  base: string; // e.g. http://127.0.0.1:8080, from [http] listen
  text: string;
  ttl?: number;
  timeoutMs: number;
}

export async function pushAll(targets: readonly Target[], o: PushOptions): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (const t of targets) sent.push(await pushOne(t, o)); // one after another: each time is that push's own
  return sent;
}

async function pushOne(t: Target, o: PushOptions): Promise<Sent> {
  const started = performance.now();
  const head = { endpoint: short(t.token), jid: t.jid };
  const ms = (): number => Math.round(performance.now() - started);
  try {
    const res = await fetch(`${o.base}/up/${t.token}`, {
      method: "POST",
      body: o.text,
      headers: { "content-type": "text/plain; charset=utf-8", ...(o.ttl !== undefined && { ttl: String(o.ttl) }) },
      signal: AbortSignal.timeout(o.timeoutMs),
    });
    const body = await res.text();
    return { ...head, status: res.status, ...classify(res.status, { ttl: res.headers.get("ttl"), retryAfter: res.headers.get("retry-after") }, body), ms: ms() };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return { ...head, result: "unreachable", status: null, reason: `no answer from the gateway at ${o.base} ([http] listen): ${cause}`, ms: ms() };
  }
}

/** Exit status 0 only when at least one message was delivered or kept. */
export const anyTaken = (sent: readonly Sent[]): boolean => sent.some((s) => s.result === "delivered" || s.result === "queued");

export function sentText(sent: readonly Sent[]): string {
  const what = (s: Sent): string => {
    switch (s.result) {
      case "delivered":
        return "delivered";
      case "queued":
        return `queued, kept ${s.ttl} s (the phone did not take it now)`;
      case "gone":
        return "gone: unknown, expired or revoked";
      case "refused":
        return `refused: ${s.reason ?? "see the status"}${s.retryAfter !== undefined ? `, retry after ${s.retryAfter} s` : ""}`;
      case "unreachable":
        return s.reason ?? "unreachable";
    }
  };
  return table(["ENDPOINT", "JID", "HTTP", "TIME", "RESULT"], sent.map((s) => [s.endpoint, s.jid ?? "-", s.status === null ? "-" : String(s.status), `${s.ms} ms`, what(s)]));
}
