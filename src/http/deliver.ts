// One way into the push service for every HTTP route: the endpoint's rate
// limit first, then the push. Matrix deliveries count against the same
// bucket as direct POSTs to that endpoint.
import type { PushOutcome } from "../outcomes.ts";
import type { PushMessage } from "../push.ts";
import type { Take } from "../ratelimit.ts";

export type Deliver = (endpoint: string, msg: PushMessage) => Promise<PushOutcome>;

export interface DeliverDeps {
  pushes: { push(endpoint: string, msg: PushMessage): Promise<PushOutcome> };
  limiter?: { take(key: string): Take };
  countOutcome?: (o: PushOutcome) => void;
}

export function deliverer(d: DeliverDeps): Deliver {
  return async (endpoint, msg) => {
    const took = d.limiter?.take(endpoint);
    if (took && !took.ok) {
      const limited: PushOutcome = { kind: "rate-limited", retryAfter: took.retryAfter };
      d.countOutcome?.(limited);
      return limited;
    }
    return d.pushes.push(endpoint, msg);
  };
}
