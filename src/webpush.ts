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

/** A header the sender got wrong, ignored rather than refused (PROTOCOL.md: no 4xx may cost a live subscription). */
export type IgnoredHeader = { header: "ttl" | "topic" | "urgency" | "content-encoding" | "authorization"; reason: string };

export interface ParsedHeaders {
  meta: WebPushMeta;
  ignored: IgnoredHeader[];
}

/** RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31. */
export const TTL_CEILING = 2 ** 31;
const TOPIC = /^[A-Za-z0-9_-]{1,32}$/; // RFC 8030 §5.4: at most 32 characters of the RFC 4648 §5 alphabet

/**
 * Never refuses a push. Mastodon deletes a subscription on a 4xx and
 * common-proxies on any status it does not expect, so a malformed optional
 * header costing the user their notifications for good would be far worse
 * than what ignoring it costs: the default TTL, no Topic, no VAPID key kept.
 */
export function parseWebPushHeaders(h: RequestHeaders): ParsedHeaders {
  const meta: WebPushMeta = {};
  const ignored: IgnoredHeader[] = [];

  const ttl = value(h, "ttl");
  if (ttl !== undefined) {
    // RFC 8030 §5.2: TTL = 1*DIGIT; anything else means the default TTL
    if (/^\d+$/.test(ttl)) meta.ttl = Math.min(Number(ttl), TTL_CEILING);
    else ignored.push({ header: "ttl", reason: `not a whole number of seconds: ${quote(ttl)}` });
  }

  // RFC 8030 §5.3 gives no error for an unknown Urgency; a missing one means "normal".
  const urgency = value(h, "urgency")?.toLowerCase();
  if (urgency !== undefined) {
    if ((URGENCIES as readonly string[]).includes(urgency)) meta.urgency = urgency as Urgency;
    else ignored.push({ header: "urgency", reason: `unknown: ${quote(urgency)}` });
  }

  const topic = value(h, "topic");
  if (topic !== undefined) {
    if (TOPIC.test(topic)) meta.topic = topic;
    else ignored.push({ header: "topic", reason: `not 1 to 32 URL-safe base64 characters: ${quote(topic)}` });
  }

  // Content codings are case-insensitive (RFC 9110 §8.4.1). The body is the
  // app's business and goes to it untouched whatever its coding; only the two
  // WebPush encryptions are kept with a stored message.
  const coding = value(h, "content-encoding")?.toLowerCase();
  if (coding !== undefined && coding !== "identity") {
    if ((CONTENT_ENCODINGS as readonly string[]).includes(coding)) meta.contentEncoding = coding as ContentEncoding;
    else ignored.push({ header: "content-encoding", reason: `not aes128gcm or aesgcm: ${quote(coding)}` });
  }

  const authorization = value(h, "authorization");
  const vapid = parseVapid(authorization, value(h, "crypto-key"));
  if (vapid) meta.vapid = vapid;
  else if (authorization !== undefined) ignored.push({ header: "authorization", reason: "not VAPID (RFC 8292 vapid t=...,k=... or WebPush JWT)" });
  return { meta, ignored };
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

const quote = (s: string): string => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
