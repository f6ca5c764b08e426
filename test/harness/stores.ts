// The two store backends as the contract tests see them: an empty database
// (a SQLite file in a temp dir, or a new database on the harness's
// PostgreSQL) and a way to open a store on it, as many times as a test wants
// (each open is another gateway instance on the same data).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openPgStore } from "../../src/store/pg/index.ts";
import { openSqliteStore } from "../../src/store/sqlite/index.ts";
import type { Store } from "../../src/store/store.ts";
import { trackTempDir } from "./children.ts";
import { type Postgres, startPostgres } from "./postgres.ts";

export interface Backend {
  readonly name: "sqlite" | "postgres";
  /** An empty database: a file path or a URL. */
  fresh(): Promise<string>;
  open(where: string): Promise<Store>;
  /** Versions recorded as applied, ascending. */
  appliedVersions(where: string): Promise<number[]>;
  /** Records one more migration than this gateway knows, as a newer gateway would have. */
  pretendNewerSchema(where: string): Promise<void>;
  stop(): Promise<void>;
}

export async function sqliteBackend(): Promise<Backend> {
  const dir = await mkdtemp(join(tmpdir(), "up-store-sqlite-"));
  trackTempDir(dir);
  let n = 0;
  return {
    name: "sqlite",
    fresh: async () => join(dir, `store-${++n}.db`),
    open: async (path) => openSqliteStore(path),
    async appliedVersions(path) {
      const s = openSqliteStore(path);
      const v = s.db.pragma("user_version", { simple: true }) as number;
      await s.close();
      return Array.from({ length: v }, (_, i) => i + 1);
    },
    async pretendNewerSchema(path) {
      const s = openSqliteStore(path);
      s.db.pragma(`user_version = ${(s.db.pragma("user_version", { simple: true }) as number) + 1}`);
      await s.close();
    },
    stop: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function postgresBackend(server?: Postgres): Promise<Backend & { server: Postgres }> {
  const pgServer = server ?? (await startPostgres());
  return {
    name: "postgres",
    server: pgServer,
    fresh: () => pgServer.createSchema(),
    open: (url) => openPgStore({ url }),
    appliedVersions: async (url) =>
      (await sql<{ version: number }>(url, "SELECT version FROM schema_migrations ORDER BY version")).map((r) => r.version),
    async pretendNewerSchema(url) {
      await sql(url, "INSERT INTO schema_migrations (version) SELECT max(version) + 1 FROM schema_migrations");
    },
    stop: () => (server ? Promise.resolve() : pgServer.stop()),
  };
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}
