// The config against the rules the docs give (docs/configuration.md, PROTOCOL.md):
// pure, so each rule is a unit test away from its reason.
import { DEFAULTS, type Config } from "../../config.ts";
import { fail, ok, warn, type Check } from "./check.ts";

const HOUR = 3600;
const DAY = 86400;
/** Conversations renews a registration once it has less than 24 h left, hourly and on each reconnect. */
export const RENEWAL_WINDOW = DAY;
/** Mastodon reads for 10 s, common-proxies waits 10 s (2 s for hosts on its allow-list). */
export const SENDER_TIMEOUT = 10;
const ALLOW_LISTED_TIMEOUT = 2;

export function configRules(c: Config): Check[] {
  return [registrationTtl(c.push.registrationTtl), storedTtl(c), rateLimits(c), answerTime(c)];
}

function registrationTtl(ttl: number): Check {
  const name = "registration_ttl";
  const hint = `set [push] registration_ttl well above ${RENEWAL_WINDOW} (default ${7 * DAY}, 7 days)`;
  // The config refuses the same values (src/config.ts); the doctor judges whatever it is handed by the same threshold.
  if (ttl < DEFAULTS.minRegistrationTtl) {
    return fail(name, `${ttl} s is below the ${DEFAULTS.minRegistrationTtl} s the config allows: Conversations renews what has less than 24 h left, hourly, so every registration is renewed every hour and apps wait for an endpoint; ${hint}`);
  }
  if (ttl < 3 * DAY) return warn(name, `${ttl} s: a phone switched off over a long weekend loses its endpoints; ${hint}`);
  return ok(name, `${ttl} s (Conversations renews below 24 h left)`);
}

function storedTtl(c: Config): Check {
  const name = "default_ttl / max_ttl";
  if (c.push.maxTtl === 0) return warn(name, "max_ttl is 0: nothing is ever kept, so a phone that is offline misses every message; the default is 2419200 (28 days)");
  if (c.push.defaultTtl === 0) return warn(name, "default_ttl is 0: messages from senders that give no TTL header are not kept for offline phones; the default is 86400 (1 day)");
  if (c.push.defaultTtl < HOUR) return warn(name, `default_ttl ${c.push.defaultTtl} s: a phone offline for more than that misses messages from senders without a TTL header; the default is 86400`);
  return ok(name, `${c.push.defaultTtl} s by default, at most ${c.push.maxTtl} s`);
}

function rateLimits(c: Config): Check {
  const name = "rate limits";
  const { endpointRate: rate, endpointBurst: burst } = c.limits;
  if (burst < 10) return warn(name, `endpoint_burst ${burst}: a busy Mastodon account (boosts, mentions) sends bursts; they get 429 and are retried late; use at least 10 (default 100)`);
  if (rate < 0.1) return warn(name, `endpoint_rate ${rate}/s: fewer than one message per 10 s per endpoint; senders get 429 (default 10)`);
  return ok(name, `${rate}/s per endpoint, bursts of ${burst}`);
}

/** The config allows 0.5 to 5 s; the rule still judges any value it is handed. */
function answerTime(c: Config): Check {
  const within = c.push.answerWithin;
  const name = "answer_within";
  if (within >= SENDER_TIMEOUT) return fail(name, `${within} s: senders give up after ${SENDER_TIMEOUT} s and retry, so phones get messages twice; use 2`);
  if (within > ALLOW_LISTED_TIMEOUT) return warn(name, `${within} s: common-proxies waits only ${ALLOW_LISTED_TIMEOUT} s for hosts on its allow-list and then marks the whole host unavailable; use 2 (the default)`);
  return ok(name, `senders are answered within ${within} s (they time out at ${SENDER_TIMEOUT} s)`);
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;
export const isLoopbackHost = (host: string): boolean => LOOPBACK.test(host);

export function publicUrlScheme(publicUrl: string): Check {
  const u = new URL(publicUrl);
  const name = "public_url";
  if (u.protocol === "https:") return ok(name, `${publicUrl} uses https`);
  if (isLoopbackHost(u.hostname)) return ok(name, `${publicUrl}: http on loopback (tests only: phones and app servers need https)`);
  return warn(name, `${publicUrl} is plain http on a public host: app servers refuse or leak push endpoints over http; serve it behind a TLS reverse proxy (docs/reverse-proxy.md) and set https://`);
}
