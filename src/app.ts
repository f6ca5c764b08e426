// The composition root: builds every part from the config, wires them, and
// owns start() and stop(). The only module that knows all the others.
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { StoreHealth } from "./store/health.ts";
import { tryWriteAsync, type FaultSink } from "./store/faults.ts";
import type { Store } from "./store/store.ts";
import { openSqliteStore } from "./store/sqlite/index.ts";
import { openPgStoreWaiting } from "./store/pg/open.ts";
import { Registry } from "./registry.ts";
import { PresenceBook } from "./presence.ts";
import { PushService } from "./push.ts";
import { Flusher } from "./queue-flush.ts";
import { Settler } from "./settle.ts";
import { BounceHandler } from "./bounce/handler.ts";
import { DeviceFollower } from "./follow/follower.ts";
import { XmppEdge } from "./xmpp/edge.ts";
import { LinkSlot } from "./cluster/link.ts";
import { ClusterRelay } from "./cluster/iq-relay.ts";
import { newInstanceId } from "./cluster/wire.ts";
import { Role } from "./cluster/role.ts";
import { Handoff } from "./cluster/handoff.ts";
import { HopClient } from "./cluster/hop.ts";
import { announceOnGained } from "./cluster/announce.ts";
import { LinkHolderWatcher } from "./store/pg/link-holder.ts";
import type { PushMessage } from "./push.ts";
import type { PgStore } from "./store/pg/index.ts";
import { iqHandlers } from "./xmpp/handlers.ts";
import { createHttpEdge, type HttpEdge } from "./http/server.ts";
import { Metrics } from "./metrics.ts";
import { RateLimiter } from "./ratelimit.ts";
import { NotifyDedupe } from "./matrix-dedupe.ts";
import { mintMessageId, mintToken, type MintToken } from "./tokens.ts";
import { FixedDeadline } from "./deadline.ts";
import { RETRY_AFTER, type PushOutcome } from "./outcomes.ts";

export interface AppDeps {
  now?: () => number;
  mint?: MintToken;
}

export interface Gateway {
  readonly port: number;
  readonly store: Store;
  stop(): Promise<void>;
}

/** How long stop() waits for push IQs still out to be answered (a few seconds: SIGTERM's caller, systemd, waits 90 s). */
const STOP_DRAIN_MS = 5000;
const SWEEP_INTERVAL_MS = 60_000; // expired registrations linger at most a minute (lookups already treat them as gone)

export async function start(config: Config, log: Logger, deps: AppDeps = {}): Promise<Gateway> {
  const now = deps.now ?? Date.now;
  // Metrics, store and flusher are built below; these closures run only once a write fails or heals.
  const health = new StoreHealth({
    probe: () => store.probe(now()),
    log: log.child({ module: "store" }),
    onFault: (op) => metrics.countStoreFault(op),
    onRecovered: () => {
      // what was delivered while the store could not write goes, then what waited for the store
      void queue.retryRemovals().catch((err: unknown) => log.warn({ err }, "delivered messages could not be deleted yet; retried at the next sweep"));
      flusher.wakeAll(); // what waited for the store goes now, not at the next sweep
    },
  });
  const store = await openStore(config, health, log);
  const queue = store.queue;
  const registry = new Registry({
    store: store.registrations,
    now,
    faults: health,
    mint: deps.mint ?? mintToken,
    options: {
      registrationTtl: config.push.registrationTtl,
      allowedDomains: config.xmpp.allowedDomains,
      maxRegistrationsPerJid: config.limits.maxRegistrationsPerJid,
    },
  });
  const presence = new PresenceBook();
  const endpointUrl = (token: string): string => `${config.http.publicUrl}/up/${token}`;

  // isOnline names the link, built below: it runs only at scrape time.
  const metrics = new Metrics({
    registrations: (at) => store.registrations.countLiveByDialect(at),
    isOnline: () => link.online,
    linkHolder: () => role.linkHolder,
    now,
    queueDepth: () => queue.depth(),
    storeProblem: () => health.problem,
  });
  const bounces = new BounceHandler({
    byBare: (bare) => store.registrations.byBare(bare),
    revoke: (e) => registry.revoke(e),
    setBounceSince: (id, since) => store.registrations.setBounceSince(id, since),
    now,
    log: log.child({ module: "bounce" }),
    onBounce: (condition) => metrics.countBounce(condition),
  });

  // Link, push service and flusher need each other: the flusher is built last,
  // and the closures that name it run only once a link is up. Each term of
  // holding the link gets its own edge (src/cluster/link.ts).
  const handlers = iqHandlers({ registry, endpointUrl, onRegistered: (r) => flusher.wake(r.reg.id) });
  // links = "all" (ejabberd): answers and presence that reach another gateway's link are relayed (src/cluster/iq-relay.ts).
  const instance = newInstanceId();
  const relay: ClusterRelay | undefined = config.database.backend === "postgres" && config.cluster.links === "all"
    ? new ClusterRelay({
        url: config.database.url,
        instance,
        presence,
        log: log.child({ module: "relay" }),
        settle: (id, from, answer): boolean => link.settleRelayed(id, from, answer),
      })
    : undefined;
  const link: LinkSlot = new LinkSlot(config.xmpp.domain, (): XmppEdge => new XmppEdge(
    // With the relay, one instance id for the process (one term of the link); else each term its own (the edge picks it).
    { ...config.xmpp, maxInflight: config.push.maxInflight, ...(relay && { instance }) },
    {
      log: log.child({ module: "xmpp" }),
      presence,
      handlers,
      onLink: (up) => {
        role.linkChanged(up);
        if (up) flusher.wakeAll();
      },
      onBounce: (m) => void bounces.handle(m),
      ...(relay && { onStray: relay.publishAnswer, onPresence: relay.publishPresence }),
    },
  ));
  const follower: DeviceFollower = new DeviceFollower({
    presence,
    pushTo: (reg, jid, payload, timeoutMs, late) => pushes.pushTo(reg, jid, payload, timeoutMs, late),
    move: (reg, jid) => registry.move(reg, jid),
    budgetMs: config.push.timeout * 1000,
    log: log.child({ module: "follow" }),
    onMoved: (reg) => flusher.wake(reg.id), // what waited for the old resource goes to the new one
  });
  const settler = new Settler({
    remove: (row, registration) => void queue.remove(row, registration).catch(bug("deleting a delivered message")),
    revoke: (endpoint) => void registry.revoke(endpoint).catch(bug("revoking an endpoint")),
    onFree: (id, failed) => flusher.freed(id, failed),
    log: log.child({ module: "settle" }),
  });
  const pushes: PushService = new PushService({
    registry,
    presence,
    transport: link,
    queue,
    policy: { defaultTtl: config.push.defaultTtl, maxTtl: config.push.maxTtl, maxPerRegistration: config.push.maxQueuePerRegistration },
    now,
    log: log.child({ module: "push" }),
    timeoutMs: config.push.timeout * 1000,
    answerWithinMs: config.push.answerWithin * 1000,
    settler,
    onOutcome: metrics.onOutcome,
    onQueued: (id, failed) => flusher.queued(id, failed),
    follow: follower.follow,
    onSent1: bounces.sent,
    faults: health,
  });
  const flusher = new Flusher({
    queue,
    attempt: (reg, payload, late) => pushes.attempt(reg, payload, late),
    settler,
    lookup: (endpoint) => registry.lookup(endpoint),
    now,
    log: log.child({ module: "queue" }),
    sweepMs: config.push.queueSweepInterval * 1000,
    active: () => role.leading,
  });
  presence.onAvailable((jid) => flusher.wakeJid(jid));
  const role = new Role({
    link,
    links: config.cluster.links,
    ...(config.database.backend === "postgres" && { url: config.database.url }),
    log: log.child({ module: "cluster", instance }),
    onLead: () => flusher.wakeAll(),
  });
  // Another gateway of the cluster queued a message (a standby that kept it): the leader sends it.
  if (store.backend === "postgres") (store as PgStore).waiting.onQueued((id) => flusher.queued(id, false));

  // Several gateways: only the leader sends (src/cluster/role.ts); the others hand each push to it
  // (src/cluster/handoff.ts), which answers it on /internal/push. Only the database says who leads
  // (src/store/pg/link-holder.ts). With links = "all" the others' links only receive, for the relay.
  const policy = { defaultTtl: config.push.defaultTtl, maxTtl: config.push.maxTtl, maxPerRegistration: config.push.maxQueuePerRegistration };
  const cluster = config.database.backend === "postgres"
    ? handover(config.database.url, store as PgStore, pushes, policy)
    : undefined;
  function handover(url: string, pg: PgStore, direct: PushService, p: typeof policy) {
    const watcher = new LinkHolderWatcher({ url, pool: pg.pool, log: log.child({ module: "cluster" }) });
    const hop = new HopClient({ secret: config.xmpp.secret, log: log.child({ module: "hop" }) });
    const handoff = new Handoff({
      holder: watcher.address,
      forward: hop.forward,
      store: pg,
      policy: p,
      answerWithinMs: config.push.answerWithin * 1000,
      now,
      log: log.child({ module: "handoff" }),
      hopFailed: watcher.refresh,
      onOutcome: metrics.onOutcome,
    });
    return {
      watcher,
      hop,
      // what the HTTP edge calls for every POST: the holder pushes itself, a standby hands over
      pushes: { push: (endpoint: string, msg: PushMessage) => (role.leading ? direct.push(endpoint, msg) : handoff.push(endpoint, msg)) },
      internal: { secret: config.xmpp.secret, push: (endpoint: string, msg: PushMessage) => direct.push(endpoint, msg), isHolder: () => role.leading, log: log.child({ module: "hop" }) },
    };
  }

  function bug(what: string): (err: unknown) => void {
    return (err) => log.error({ err }, `${what} failed: a bug`);
  }

  const http: HttpEdge = createHttpEdge({
    log: log.child({ module: "http" }),
    // PostgreSQL: every POST answered within answer_within + 2 s, however long the database makes a store call wait
    pushes: store.backend === "postgres" ? boundedPushes(cluster?.pushes ?? pushes, config.push.answerWithin * 1000 + STORE_SLACK_MS) : pushes,
    ...(cluster && { internal: cluster.internal, standbyReady: () => cluster.watcher.address() !== undefined }),
    registry,
    isOnline: () => link.online,
    linkHolder: () => role.linkHolder,
    publicUrl: config.http.publicUrl,
    messageId: mintMessageId,
    cancel: (id) => tryWriteAsync(health, "cancel", () => queue.cancel(id, now()), (r) => r === "cancelled").then((r) => r ?? "store-failed"),
    storeProblem: () => health.current(),
    requestTimeoutMs: config.http.requestTimeout * 1000,
    limiter: new RateLimiter({ rate: config.limits.endpointRate, burst: config.limits.endpointBurst }, now),
    metrics,
    matrixDedupe: new NotifyDedupe({ now }),
  });

  const sweep = setInterval(() => {
    void bounces.sweep();
    void registry.sweepExpired().then((n) => {
      if (n > 0) log.info({ purged: n }, "expired registrations purged");
    }, bug("purging expired registrations"));
  }, SWEEP_INTERVAL_MS);
  sweep.unref();
  flusher.start();
  health.start();

  // HTTP first: the link holder announces the port it is bound to (0 in tests), so it must be known before the lead.
  const port = await http.listen(config.http.host, config.http.port);
  log.info({ host: config.http.host, port, instance }, "http listening");
  await cluster?.watcher.start();
  const stopAnnouncing = role.elector
    ? announceOnGained({ elector: role.elector, instanceId: instance, listen: { host: config.http.host, port }, now, log: log.child({ module: "cluster" }) })
    : undefined;
  await relay?.start(); // before the link, so the first stray answers are heard
  role.start();

  return {
    port,
    store,
    async stop() {
      clearInterval(sweep);
      health.stop();
      // No new flushes from here; those in flight end by the time the edge has stopped, their messages still queued.
      const flushed = flusher.stop();
      // In-flight POSTs still need the component link for their IQ answers: close HTTP first.
      // Every POST is answered within answer_within (push.ts send()); 2 s more for writing the answers.
      await http.close(config.push.answerWithin * 1000 + 2000);
      // The IQs of POSTs answered at answer_within, and of flushes, run on: their answers, moments
      // away, settle (delete) the stored copies. Stopping the edge now would lose them, and the
      // restarted gateway would send those copies again. Bounded: a phone that stays silent is
      // re-sent after the restart, as before.
      const drained = await link.drain(Math.min(STOP_DRAIN_MS, config.push.timeout * 1000));
      if (!drained) log.info({ inflight: link.inflight }, "stopping with push IQs unanswered: their stored copies are sent again after the restart");
      await role.stop(); // drops the link, then the lead: a standby takes both over within a second
      await relay?.close();
      stopAnnouncing?.();
      await cluster?.watcher.close();
      cluster?.hop.close();
      await flushed;
      await bounces.sweep(); // notifications past their grace end their runs in the store before this memory goes
      await store.close();
      log.info("stopped");
    },
  };
}

/**
 * PostgreSQL while it is down or restarting: each of a POST's store calls (lookup, hasWaiting,
 * enqueue) may wait for a connection (2 s) and then for its query (3 s), one after the other, so
 * without a bound on the whole a POST can be answered after 5 s and more. Past answer_within plus
 * this slack it is answered 503 + Retry-After (the store cannot write now); the push runs on, and
 * whatever it ends in (a message kept after all) is at worst sent once more after the sender retries.
 */
const STORE_SLACK_MS = 2_000;

function boundedPushes(pushes: Pick<PushService, "push">, ms: number): { push(endpoint: string, msg: PushMessage): Promise<PushOutcome> } {
  const deadline = new FixedDeadline(ms);
  const late: PushOutcome = { kind: "store-failed", retryAfter: RETRY_AFTER.storeFailed };
  return {
    async push(endpoint, msg) {
      // settled as data, so that only the deadline gives undefined; a bug's rejection still reaches the HTTP edge
      const first = await deadline.race(pushes.push(endpoint, msg).then((o) => ({ o }), (err: unknown) => ({ err })));
      if (first === undefined) return late;
      if ("err" in first) throw first.err;
      return first.o;
    },
  };
}

/** The one place that picks the backend (src/store/store.ts). */
async function openStore(config: Config, faults: FaultSink, log: Logger): Promise<Store> {
  if (config.database.backend === "sqlite") return openSqliteStore(config.database.path, faults);
  return openPgStoreWaiting(config.database.url, log.child({ module: "postgres" }));
}
