import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
// Elements come from @xmpp/xml like in src/; @xmpp/client builds on the same
// ltx Element class, so its iqCallee accepts them as replies.
import { type Client, client } from "@xmpp/client";
import xml, { type Element } from "@xmpp/xml";
import { endpointOf1, registerIq1, unregisterIq1 } from "./dialect1.ts";
import {
  NS_UP2,
  type Push2,
  type PushAnswer,
  type Registration2,
  hash,
  parsePush2,
  parseRegistered2,
  pushReply,
  registerIq2,
} from "./dialect2.ts";
import { request } from "./iq.ts";
import type { Prosody } from "./prosody.ts";
import { waitFor } from "./wait-for.ts";

export { StanzaError } from "./iq.ts";
export { endpointOf1, parseMessage1 } from "./dialect1.ts";
export { hash, type Push2, type PushAnswer, type Registration2 } from "./dialect2.ts";

type Authenticate = (credentials: { username: string; password: string }, mechanism: string | undefined) => Promise<void>;

const DEFAULT_WAIT_MS = 5_000;
const CONNECT_RETRY_MS = 5_000;

export interface DistributorOptions {
  username: string;
  /** Defaults to the password the user was registered with, or a derived one. */
  password?: string;
  resource?: string;
  /** The gateway JID; defaults to Prosody's first component. */
  component?: string;
  /** Send `<presence/>` after login like a real client (default true). */
  initialPresence?: boolean;
  /**
   * Answer item-not-found to a push for an application/instance this
   * distributor did not register, as Conversations does (default false:
   * every push is answered with `pushAnswer`). Refused pushes go to
   * `refused`, never to `pushes`.
   */
  knownAppsOnly?: boolean;
}

export interface Distributor {
  /** Full JID of the current connection. */
  readonly jid: string;
  readonly component: string;
  /** The underlying @xmpp/client, for stanzas the helpers do not cover. */
  readonly client: Client;
  readonly online: boolean;
  /** 'error' events of the client (socket resets when Prosody restarts, ...). */
  readonly errors: Error[];

  register1(token: string, opts?: { type?: "set" | "get" }): Promise<Element>;
  /** Convenience: register1 and return the `<endpoint>` text. */
  endpoint1(token: string): Promise<string>;
  unregister1(token: string): Promise<Element>;
  /** Every `<message>` received from the component's domain, raw. */
  readonly messages: Element[];
  waitForMessage(pred?: (m: Element) => boolean, timeoutMs?: number): Promise<Element>;

  hash(...components: string[]): string;
  register2(application: string, instance: string): Promise<Registration2>;
  register2Raw(attrs: Record<string, string | undefined>): Promise<Element>;
  readonly pushes: Push2[];
  /** Pushes refused with item-not-found because of `knownAppsOnly`. */
  readonly refused: Push2[];
  waitForPush(pred?: (p: Push2) => boolean, timeoutMs?: number): Promise<Push2>;
  /** How the next incoming pushes are answered; "result" by default. */
  pushAnswer: PushAnswer;
  /** Answers pushes this many ms late, like a phone on a slow network (default 0). */
  pushDelayMs: number;
  /** Directed presence to the component, as Conversations sends after connecting. */
  sendPresence(type?: "unavailable"): Promise<void>;

  /** Drops the connection and logs in again, optionally with a new resource. */
  reconnect(resource?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function connectDistributor(prosody: Prosody, opts: DistributorOptions): Promise<Distributor> {
  const { username } = opts;
  const password = opts.password ?? prosody.users.get(username) ?? `pw-${username}`;
  if (prosody.users.get(username) !== password) await prosody.registerUser(username, password);
  const component = opts.component ?? prosody.components[0]?.domain ?? `up.${prosody.domain}`;
  const messages: Element[] = [];
  const pushes: Push2[] = [];
  const refused: Push2[] = [];
  const known = new Set<string>(); // application + instance pairs registered, across reconnects (one device)
  const errors: Error[] = [];
  const state = { pushAnswer: "result" as PushAnswer, pushDelayMs: 0 };

  function onStanza(stanza: Element): void {
    const from = stanza.attrs.from ?? "";
    if (stanza.is("message") && (from === component || from.startsWith(`${component}/`))) {
      messages.push(stanza);
    }
  }

  async function login(resource: string): Promise<Client> {
    const cl = client({
      service: `xmpp://127.0.0.1:${prosody.c2sPort}`,
      domain: prosody.domain,
      username,
      resource,
      // @xmpp/client never picks PLAIN without TLS on its own; choosing the
      // mechanism here is its documented hook. See prosody-config.ts for why PLAIN.
      credentials: (authenticate: Authenticate, mechanisms: string[]) =>
        authenticate({ username, password }, mechanisms.includes("PLAIN") ? "PLAIN" : mechanisms[0]),
    });
    // Reconnection is explicit (reconnect()) so tests decide when the
    // distributor comes back, as a phone leaving a tunnel would.
    cl.reconnect.stop();
    cl.on("error", (error: Error) => errors.push(error));
    cl.on("stanza", onStanza);
    cl.iqCallee.set(NS_UP2, "push", (ctx: { stanza: Element }) => {
      const push = parsePush2(ctx.stanza);
      if (opts.knownAppsOnly && !known.has(`${push.application}\0${push.instance}`)) {
        refused.push(push);
        return pushReply("item-not-found");
      }
      pushes.push(push);
      const reply = pushReply(state.pushAnswer);
      return state.pushDelayMs > 0 ? new Promise((r) => setTimeout(() => r(reply), state.pushDelayMs)) : reply;
    });
    try {
      await cl.start();
      // Like the children in children.ts: a forgotten stop() must not keep
      // the test process alive; pending waits hold their own timers.
      (cl as unknown as { socket: Socket | null }).socket?.unref();
      if (opts.initialPresence ?? true) await cl.send(xml("presence"));
    } catch (error) {
      await cl.stop().catch(() => {});
      throw error;
    }
    return cl;
  }

  async function loginWithRetry(resource: string): Promise<Client> {
    // Right after a Prosody restart a first attempt can still be refused.
    let last: unknown;
    return waitFor(
      () => login(resource).catch((error: unknown) => void (last = error)),
      CONNECT_RETRY_MS,
      `${username} to log in`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last attempt: ${String(last)}`);
    });
  }

  let resource = opts.resource ?? `dist-${randomBytes(3).toString("hex")}`;
  let cl = await login(resource);

  return {
    get jid() {
      return cl.jid?.toString() ?? `${username}@${prosody.domain}/${resource}`;
    },
    component,
    get client() {
      return cl;
    },
    get online() {
      return cl.status === "online";
    },
    errors,
    register1: (token, { type = "set" } = {}) => request(cl, registerIq1(component, token, type)),
    async endpoint1(token) {
      const endpoint = endpointOf1(await request(cl, registerIq1(component, token, "set")));
      if (endpoint === undefined) throw new Error("register result has no <endpoint>");
      return endpoint;
    },
    unregister1: (token) => request(cl, unregisterIq1(component, token)),
    messages,
    waitForMessage: (pred = () => true, timeoutMs = DEFAULT_WAIT_MS) =>
      waitFor(() => messages.find(pred), timeoutMs, `a message to ${username}`),
    hash,
    async register2(application, instance) {
      const registered = parseRegistered2(await request(cl, registerIq2(component, { application, instance })));
      known.add(`${application}\0${instance}`);
      return registered;
    },
    register2Raw: (attrs) => request(cl, registerIq2(component, attrs)),
    pushes,
    refused,
    waitForPush: (pred = () => true, timeoutMs = DEFAULT_WAIT_MS) =>
      waitFor(() => pushes.find(pred), timeoutMs, `a push to ${username}`),
    get pushAnswer() {
      return state.pushAnswer;
    },
    set pushAnswer(answer: PushAnswer) {
      state.pushAnswer = answer;
    },
    get pushDelayMs() {
      return state.pushDelayMs;
    },
    set pushDelayMs(ms: number) {
      state.pushDelayMs = ms;
    },
    sendPresence: (type) => cl.send(xml("presence", { to: component, type })),
    async reconnect(newResource) {
      await cl.stop().catch(() => {});
      resource = newResource ?? resource;
      cl = await loginWithRetry(resource);
    },
    async stop() {
      await cl.stop().catch(() => {});
    },
  };
}
