// The Matrix push gateway API (spec: push-gateway-api, POST /_matrix/push/v1/notify),
// pure: which pushkeys a request names, which of them are our endpoints, and
// what payload each gets. No I/O here.
import type { PushOutcome } from "./outcomes.ts";
import { isTokenShaped } from "./tokens.ts";
import { MAX_PAYLOAD } from "./webpush.ts";

/**
 * A notify request may be larger than one payload: a full-format
 * notification carries the event content, and a Matrix event may be up to
 * 65,536 bytes. Reading up to this keeps memory bounded without answering
 * 413 to a homeserver for a notification we can still deliver in short form.
 */
export const MAX_NOTIFY_REQUEST = 80 * 1024; // bytes

export const DISCOVERY = Object.freeze({ unifiedpush: { gateway: "matrix" } });

export type Notify = { pushkeys: string[]; notification: Record<string, unknown> };

/** Matrix API standards: M_NOT_JSON for a body that does not parse, M_BAD_JSON for JSON of the wrong shape. */
export type NotifyError = { error: string; errcode: "M_NOT_JSON" | "M_BAD_JSON" };

/** The distinct pushkeys of `notification.devices[]`, in order: each device is served once. */
export function parseNotify(body: Buffer): Notify | NotifyError {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    return { error: "request body is not JSON", errcode: "M_NOT_JSON" };
  }
  const notification = isObject(doc) ? doc.notification : undefined;
  if (!isObject(notification)) return { error: 'missing "notification" object', errcode: "M_BAD_JSON" };
  if (!Array.isArray(notification.devices)) return { error: 'missing "notification.devices" array', errcode: "M_BAD_JSON" };
  const pushkeys = new Set<string>();
  for (const device of notification.devices) {
    // A device without a string pushkey cannot be delivered nor named in `rejected`: skip it.
    if (isObject(device) && typeof device.pushkey === "string" && device.pushkey !== "") pushkeys.add(device.pushkey);
  }
  return { pushkeys: [...pushkeys], notification };
}

/** The endpoint token a pushkey names, if it is exactly one of our endpoint URLs. */
export function endpointOf(pushkey: string, publicUrl: string): string | undefined {
  const prefix = `${publicUrl}/up/`;
  if (!pushkey.startsWith(prefix)) return undefined;
  const token = pushkey.slice(prefix.length);
  return isTokenShaped(token) ? token : undefined;
}

/**
 * What the distributor gets: the request body byte for byte, as ntfy's
 * gateway does (Matrix UnifiedPush clients read its `notification`). A body
 * over the payload limit is cut to the event_id_only shape: the notification
 * without `content` and `devices`, which is what such clients ask for anyway.
 * Undefined if even that does not fit.
 */
export function payloadFor(body: Buffer, n: Notify): Buffer | undefined {
  if (body.length <= MAX_PAYLOAD) return body;
  const { content: _content, devices: _devices, ...short } = n.notification;
  const out = Buffer.from(JSON.stringify({ notification: short }), "utf8");
  return out.length <= MAX_PAYLOAD ? out : undefined;
}

/** The event a notification is about; badge-only notifications have none. */
export function eventIdOf(n: Notify): string | undefined {
  const id = n.notification.event_id;
  return typeof id === "string" && id !== "" ? id : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export type Delivered = { pushkey: string; outcome: PushOutcome };

/**
 * Outcomes after which a retry of the notify could ring the phone twice
 * ("sent": TTL 0, the IQ is out): the answer is 200, and the dedupe
 * (src/matrix-dedupe.ts) suppresses a retry. The one reading of "accepted".
 */
const ACCEPTED: ReadonlySet<PushOutcome["kind"]> = new Set(["delivered", "queued", "sent"]);
export const isAccepted = (o: PushOutcome): boolean => ACCEPTED.has(o.kind);

/**
 * The homeserver's answer. A pushkey whose endpoint is gone goes into
 * `rejected` (the homeserver then drops it). When nothing was delivered and
 * some device failed only for now, the whole request is answered with that
 * temporary outcome so the homeserver retries; once anything was delivered,
 * a retry would duplicate it, so the answer is 200.
 */
export function notifyAnswer(results: readonly Delivered[]): { rejected: string[] } | { retry: PushOutcome } {
  const rejected = results.filter((r) => r.outcome.kind === "gone").map((r) => r.pushkey);
  const accepted = results.some((r) => isAccepted(r.outcome));
  const temporary = results.find((r) => !isAccepted(r.outcome) && r.outcome.kind !== "gone");
  return temporary && !accepted ? { retry: temporary.outcome } : { rejected };
}
