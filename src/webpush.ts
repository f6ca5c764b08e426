// WebPush request headers (RFC 8030 §5, RFC 8291, RFC 8292): pure parsing,
// no I/O. The body is never looked at: it stays the sender's bytes.

/** The payload limit of a push: what WebPush senders and UnifiedPush distributors expect (PROTOCOL.md, HTTP edge). */
export const MAX_PAYLOAD = 4096; // bytes

export type RequestHeaders = Record<string, string | string[] | undefined>;

export const URGENCIES = ["very-low", "low", "normal", "high"] as const;
export type Urgency = (typeof URGENCIES)[number];
/**
 * aes128gcm (RFC 8291) carries its salt and sender key inside the body.
 * aesgcm (its draft, still sent by older Mastodon) carries them in the
 * Encryption and Crypto-Key headers, which neither XMPP dialect can carry:
 * its body is still forwarded unchanged (apps that only wake up on a push
 * need no more), but an app that decrypts needs its sender to use aes128gcm.
 */
export const CONTENT_ENCODINGS = ["aes128gcm", "aesgcm"] as const;
export type ContentEncoding = (typeof CONTENT_ENCODINGS)[number];

/** RFC 8292 §3 (`vapid t=JWT, k=KEY`) or the draft form Mastodon sends with aesgcm (`WebPush JWT` + `Crypto-Key: p256ecdsa=KEY`). */
export interface Vapid {
  jwt: string;
  key?: string;
}

export interface WebPushMeta {
  ttl?: number; // s
  urgency?: Urgency;
  topic?: string;
  contentEncoding?: ContentEncoding;
  vapid?: Vapid;
}

export type HeaderProblem = { problem: "bad-header" | "unsupported-encoding"; message: string };

/** RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31. */
export const TTL_CEILING = 2 ** 31;
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/; // RFC 8030 §5.4: at most 32 characters of the RFC 4648 §5 alphabet

export function parseWebPushHeaders(h: RequestHeaders): WebPushMeta | HeaderProblem {
  const meta: WebPushMeta = {};

  const ttl = value(h, "ttl");
  if (ttl !== undefined) {
    // RFC 8030 §5.2: TTL = 1*DIGIT
    if (!/^\d+$/.test(ttl)) return bad(`TTL must be a whole number of seconds (RFC 8030 §5.2), got ${quote(ttl)}`);
    meta.ttl = Math.min(Number(ttl), TTL_CEILING);
  }

  // An unknown Urgency is ignored rather than refused: RFC 8030 §5.3 gives no
  // error for it, and a missing Urgency means "normal" anyway.
  const urgency = value(h, "urgency")?.toLowerCase();
  if (urgency !== undefined && (URGENCIES as readonly string[]).includes(urgency)) meta.urgency = urgency as Urgency;

  const topic = value(h, "topic");
  if (topic !== undefined) {
    if (!TOPIC.test(topic)) {
      return bad(`Topic must be at most 32 characters of the URL-safe base64 alphabet (RFC 8030 §5.4), got ${quote(topic)}`);
    }
    meta.topic = topic;
  }

  // Content codings are case-insensitive (RFC 9110 §8.4.1). Anything but the two
  // WebPush encryptions (or none) would reach the app without the header that
  // says how to undo it, so it is refused now rather than lost later.
  const coding = value(h, "content-encoding")?.toLowerCase();
  if (coding !== undefined && coding !== "identity") {
    if (!(CONTENT_ENCODINGS as readonly string[]).includes(coding)) {
      return { problem: "unsupported-encoding", message: `Content-Encoding must be aes128gcm, aesgcm or absent, got ${quote(coding)}` };
    }
    meta.contentEncoding = coding as ContentEncoding;
  }

  const vapid = parseVapid(value(h, "authorization"), value(h, "crypto-key"));
  if (vapid) meta.vapid = vapid;
  return meta;
}

/**
 * Never refuses: no subscription here is bound to an application server key
 * (neither XMPP dialect carries one), so there is nothing to check a token
 * against, and senders format this header in several ways.
 */
export function parseVapid(authorization: string | undefined, cryptoKey: string | undefined): Vapid | undefined {
  if (!authorization) return undefined;
  const m = /^(\S+)\s+(.*)$/s.exec(authorization.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme === "vapid") {
    const params = paramList(m[2]!, ",");
    return params.t ? { jwt: params.t, ...(params.k ? { key: params.k } : {}) } : undefined;
  }
  if (scheme === "webpush") {
    const key = cryptoKey ? paramList(cryptoKey, ";").p256ecdsa : undefined;
    return { jwt: m[2]!.trim(), ...(key ? { key } : {}) };
  }
  return undefined;
}

/** `a=1, b="2"` into {a: "1", b: "2"}; names lowercased, quotes dropped. */
function paramList(s: string, sep: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(sep)) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
  }
  return out;
}

/** A header's trimmed value; an empty one counts as absent. Node joins repeated headers with ", ". */
function value(h: RequestHeaders, name: string): string | undefined {
  const raw = h[name];
  const v = (Array.isArray(raw) ? raw.join(", ") : raw)?.trim();
  return v === undefined || v === "" ? undefined : v;
}

const bad = (message: string): HeaderProblem => ({ problem: "bad-header", message });
const quote = (s: string): string => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

export const isHeaderProblem = (r: WebPushMeta | HeaderProblem): r is HeaderProblem => "problem" in r;
