// Schema migrations keyed by version (PRAGMA user_version = index + 1).
// Append only: never edit a migration that has shipped.
export const MIGRATIONS: readonly string[] = [
  // 1: registrations of both dialects. Times are ms since the epoch.
  `CREATE TABLE registrations (
     id          INTEGER PRIMARY KEY,
     endpoint    TEXT NOT NULL UNIQUE,            -- endpoint token, a bearer capability
     dialect     INTEGER NOT NULL CHECK (dialect IN (1, 2)),
     jid         TEXT NOT NULL,                   -- full JID that pushes go to
     bare        TEXT NOT NULL,
     token       TEXT,                            -- dialect 1 public token
     application TEXT,                            -- dialect 2
     instance    TEXT,                            -- dialect 2
     created_at  INTEGER NOT NULL,
     renewed_at  INTEGER NOT NULL,
     expires_at  INTEGER                          -- NULL: dialect 1 has no renewal, so no expiry
   );
   CREATE UNIQUE INDEX registrations_d1 ON registrations (bare, token) WHERE dialect = 1;
   CREATE UNIQUE INDEX registrations_d2 ON registrations (bare, application, instance) WHERE dialect = 2;
   CREATE INDEX registrations_bare ON registrations (bare);
   CREATE INDEX registrations_expiry ON registrations (expires_at) WHERE expires_at IS NOT NULL;`,
  // 2: store and forward. A message row belongs to its registration, so
  // revoking or purging the registration drops its queue. Delivery order is
  // `id`. Without AUTOINCREMENT SQLite gives max(rowid) + 1, so the id of a
  // deleted top row comes back: migration 6 makes ids never reused.
  `CREATE TABLE queue (
     id               INTEGER PRIMARY KEY,
     registration     INTEGER NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
     payload          BLOB NOT NULL,                  -- the exact POST body, never logged
     ttl              INTEGER NOT NULL,               -- s kept, as answered in the TTL header
     topic            TEXT,                           -- RFC 8030 §5.4
     urgency          TEXT,                           -- RFC 8030 §5.3
     content_encoding TEXT,
     created_at       INTEGER NOT NULL,
     expires_at       INTEGER NOT NULL
   );
   CREATE INDEX queue_order ON queue (registration, id);
   CREATE UNIQUE INDEX queue_topic ON queue (registration, topic) WHERE topic IS NOT NULL;
   CREATE INDEX queue_expiry ON queue (expires_at);`,
  // 3: the sender's VAPID public key (RFC 8292 §3.2, `k=`), kept with a stored
  // message like its other WebPush headers. The JWT is not kept: it expires.
  `ALTER TABLE queue ADD COLUMN vapid_key TEXT;`,
  // 4: the public id in a 201's Location (DELETE /message/<id> cancels a stored
  // message), and one row the store health probe rewrites (store/health.ts).
  `ALTER TABLE queue ADD COLUMN public_id TEXT;
   CREATE UNIQUE INDEX queue_public_id ON queue (public_id) WHERE public_id IS NOT NULL;
   CREATE TABLE store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);`,
  // 5: dialect-1 bounces (src/bounce/). When the current run of bounced
  // notifications began, NULL when none: a registration is revoked only
  // after every notification bounced for 7 days, so the start must survive
  // a restart.
  `ALTER TABLE registrations ADD COLUMN bounce_since INTEGER;`,
  // 6: queue ids are never reused. The settler holds and deletes a stored copy
  // by row id after its IQ is answered, maybe minutes later (src/settle.ts);
  // a plain INTEGER PRIMARY KEY hands a deleted top row's id (Topic
  // replacement, DELETE /message, expiry, revocation) to the next message,
  // which the old IQ's result would then delete. AUTOINCREMENT needs a
  // rebuild (https://www.sqlite.org/lang_altertable.html#otheralter): migrate()
  // runs it with foreign keys off and checks them before the commit. Same
  // columns in the same order, so `SELECT q.*` reads what it read before.
  `CREATE TABLE queue_new (
     id               INTEGER PRIMARY KEY AUTOINCREMENT,
     registration     INTEGER NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
     payload          BLOB NOT NULL,
     ttl              INTEGER NOT NULL,
     topic            TEXT,
     urgency          TEXT,
     content_encoding TEXT,
     created_at       INTEGER NOT NULL,
     expires_at       INTEGER NOT NULL,
     vapid_key        TEXT,
     public_id        TEXT
   );
   INSERT INTO queue_new (id, registration, payload, ttl, topic, urgency, content_encoding, created_at, expires_at, vapid_key, public_id)
     SELECT id, registration, payload, ttl, topic, urgency, content_encoding, created_at, expires_at, vapid_key, public_id FROM queue;
   DROP TABLE queue;
   ALTER TABLE queue_new RENAME TO queue;
   CREATE INDEX queue_order ON queue (registration, id);
   CREATE UNIQUE INDEX queue_topic ON queue (registration, topic) WHERE topic IS NOT NULL;
   CREATE INDEX queue_expiry ON queue (expires_at);
   CREATE UNIQUE INDEX queue_public_id ON queue (public_id) WHERE public_id IS NOT NULL;`,
];
