// The database schema, as numbered migrations applied in order and recorded in ferry_schema. A
// migration is never edited once released: a change is a new one at the end of the list.
import type * as pg from 'pg';
import { FerryError } from '../errors.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The advisory lock class of a cut record's key (the key a hash of user and path), taken by
 * ferry_cut_put. A fixed number: it is part of migration 3.
 */
export const CUT_LOCK = 0x46657275; // "Feru"

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, bans, usage, sessions, change log',
    sql: `
      CREATE TABLE ferry_accounts (
        username text PRIMARY KEY,
        -- the account as the users file writes it (name, passwordHash, home, limits…)
        data jsonb NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      -- Every change of shared state, so that each node can follow it: NOTIFY wakes the nodes up,
      -- and a periodic read of the recent rows catches what a lost notification missed.
      CREATE TABLE ferry_changes (
        seq bigserial PRIMARY KEY,
        kind text NOT NULL,
        key text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX ferry_changes_at ON ferry_changes (at);
      -- Times in milliseconds since the epoch, as the defender keeps them.
      CREATE TABLE ferry_bans (
        address text PRIMARY KEY,
        since bigint NOT NULL,
        until bigint NOT NULL,
        bans integer NOT NULL
      );
      CREATE INDEX ferry_bans_until ON ferry_bans (until);
      CREATE TABLE ferry_usage (
        username text PRIMARY KEY,
        bytes bigint NOT NULL CHECK (bytes >= 0),
        files bigint NOT NULL CHECK (files >= 0)
      );
      -- One row per logged-in session of a user with a session limit, on a lease the node renews.
      CREATE TABLE ferry_sessions (
        id text PRIMARY KEY,
        node text NOT NULL,
        username text NOT NULL,
        expires timestamptz NOT NULL
      );
      CREATE INDEX ferry_sessions_user ON ferry_sessions (username);
      CREATE INDEX ferry_sessions_node ON ferry_sessions (node);
    `,
  },
  {
    version: 2,
    name: 'cut uploads',
    sql: `
      -- The file versions cut replacing uploads left (server/cut-uploads.ts), which a resume on any
      -- node must not continue. Times in milliseconds since the epoch, as the server keeps them.
      CREATE TABLE ferry_cut_uploads (
        username text NOT NULL,
        path text NOT NULL,
        id text,
        size bigint NOT NULL,
        modified bigint NOT NULL,
        at bigint NOT NULL,
        PRIMARY KEY (username, path)
      );
      CREATE INDEX ferry_cut_uploads_at ON ferry_cut_uploads (at);
    `,
  },
  {
    version: 3,
    name: 'cut upload tags',
    sql: `
      -- The process that recorded a cut (CutRecord.tag): nodes recording the same file in the same
      -- millisecond each drop only their own row. NULL in rows written before.
      ALTER TABLE ferry_cut_uploads ADD COLUMN tag text;
      -- A put of a cut record in one round trip (db/cut-uploads.ts): gives the row it replaced.
      -- Statements of a VOLATILE function each take a fresh snapshot (READ COMMITTED), so the
      -- upsert, run once the key's lock is held, sees the row of another node's put that held it.
      CREATE FUNCTION ferry_cut_put(
        k_username text, k_path text, r_id text, r_size bigint, r_modified bigint, r_at bigint,
        r_tag text, expired_before bigint, keep integer
      ) RETURNS TABLE (id text, size bigint, modified bigint, at bigint, tag text)
      LANGUAGE plpgsql VOLATILE AS $$
      #variable_conflict use_column
      BEGIN
        PERFORM pg_advisory_xact_lock(${CUT_LOCK}, hashtext(k_username || k_path));
        -- before sees the row as it stood (a WITH's parts share one snapshot).
        RETURN QUERY WITH before AS (
          SELECT id, size, modified, at, tag FROM ferry_cut_uploads
            WHERE username = k_username AND path = k_path
        ), put AS (
          INSERT INTO ferry_cut_uploads (username, path, id, size, modified, at, tag)
            VALUES (k_username, k_path, r_id, r_size, r_modified, r_at, r_tag)
          ON CONFLICT (username, path) DO UPDATE
            SET id = EXCLUDED.id, size = EXCLUDED.size, modified = EXCLUDED.modified,
              at = EXCLUDED.at, tag = EXCLUDED.tag
        )
        SELECT b.id, b.size, b.modified, b.at, b.tag FROM before b;
        -- Bounded whatever clients do: the expired, then the oldest beyond keep. Rows another put
        -- holds are skipped (it is renewing them): waiting for them could deadlock with its prune.
        DELETE FROM ferry_cut_uploads WHERE (username, path) IN (
          SELECT username, path FROM ferry_cut_uploads
            WHERE at < expired_before
              OR at < (SELECT at FROM ferry_cut_uploads ORDER BY at DESC OFFSET keep - 1 LIMIT 1)
            FOR UPDATE SKIP LOCKED);
      END
      $$;
    `,
  },
  {
    version: 4,
    name: 'cut uploads per user, path digests',
    sql: `
      -- A row's path is the SHA-256 (hex) of the virtual path (server/cut-uploads.ts cutKey), so that
      -- its size does not grow with the path's: the rows written before are turned into it.
      UPDATE ferry_cut_uploads SET path = encode(sha256(convert_to(path, 'UTF8')), 'hex')
        WHERE path LIKE '/%';
      CREATE INDEX ferry_cut_uploads_user_at ON ferry_cut_uploads (username, at);
      -- ferry_cut_put with a per-user bound (keep_per_user): one user's cuts push out only that
      -- user's oldest rows. The 9-argument one of migration 3 stays for nodes not upgraded yet.
      CREATE FUNCTION ferry_cut_put(
        k_username text, k_path text, r_id text, r_size bigint, r_modified bigint, r_at bigint,
        r_tag text, expired_before bigint, keep integer, keep_per_user integer
      ) RETURNS TABLE (id text, size bigint, modified bigint, at bigint, tag text)
      LANGUAGE plpgsql VOLATILE AS $$
      #variable_conflict use_column
      BEGIN
        PERFORM pg_advisory_xact_lock(${CUT_LOCK}, hashtext(k_username || k_path));
        -- before sees the row as it stood (a WITH's parts share one snapshot).
        RETURN QUERY WITH before AS (
          SELECT id, size, modified, at, tag FROM ferry_cut_uploads
            WHERE username = k_username AND path = k_path
        ), put AS (
          INSERT INTO ferry_cut_uploads (username, path, id, size, modified, at, tag)
            VALUES (k_username, k_path, r_id, r_size, r_modified, r_at, r_tag)
          ON CONFLICT (username, path) DO UPDATE
            SET id = EXCLUDED.id, size = EXCLUDED.size, modified = EXCLUDED.modified,
              at = EXCLUDED.at, tag = EXCLUDED.tag
        )
        SELECT b.id, b.size, b.modified, b.at, b.tag FROM before b;
        -- Bounded whatever clients do: the expired, this user's oldest beyond keep_per_user, then the
        -- oldest of all beyond keep. Rows another put holds are skipped (it is renewing them):
        -- waiting for them could deadlock with its prune.
        DELETE FROM ferry_cut_uploads WHERE (username, path) IN (
          SELECT username, path FROM ferry_cut_uploads
            WHERE at < expired_before
              OR (username = k_username AND at < (SELECT at FROM ferry_cut_uploads
                WHERE username = k_username ORDER BY at DESC OFFSET keep_per_user - 1 LIMIT 1))
              OR at < (SELECT at FROM ferry_cut_uploads ORDER BY at DESC OFFSET keep - 1 LIMIT 1)
            FOR UPDATE SKIP LOCKED);
      END
      $$;
    `,
  },
  {
    version: 5,
    name: 'usage charges by id',
    sql: `
      -- What each usage change of a node did (db/usage.ts), by an id the node gives it: a change the
      -- node gave up on (a database that hung) may still have been applied once the database ran
      -- again, and its retry sets the change's effect to what the node counted instead of adding it
      -- a second time. Kept an hour after it was applied: the retry comes when the node gets through.
      CREATE TABLE ferry_usage_charges (
        id text PRIMARY KEY,
        bytes bigint NOT NULL,
        files bigint NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX ferry_usage_charges_at ON ferry_usage_charges (at);
      -- An upload's charge: the delta when it fits the limit, else the release (what the refused
      -- upload held given back), decided and applied in one step; NULL when the user has no row.
      -- Nothing when its retry came first (ferry_usage_settle): that set its effect.
      CREATE FUNCTION ferry_usage_charge(
        c_id text, c_username text, d_bytes bigint, d_files bigint, l_bytes bigint, l_files bigint,
        r_bytes bigint, r_files bigint
      ) RETURNS boolean
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        u ferry_usage%ROWTYPE;
        fits boolean;
        e_bytes bigint;
        e_files bigint;
      BEGIN
        SELECT * INTO u FROM ferry_usage WHERE username = c_username FOR UPDATE;
        IF NOT FOUND THEN RETURN NULL; END IF;
        PERFORM 1 FROM ferry_usage_charges WHERE id = c_id;
        IF FOUND THEN RETURN true; END IF;
        fits := (d_bytes <= 0 OR l_bytes IS NULL OR u.bytes + d_bytes <= l_bytes)
          AND (d_files <= 0 OR l_files IS NULL OR u.files + d_files <= l_files);
        e_bytes := CASE WHEN fits THEN d_bytes ELSE -r_bytes END;
        e_files := CASE WHEN fits THEN d_files ELSE -r_files END;
        UPDATE ferry_usage SET bytes = GREATEST(0, bytes + e_bytes), files = GREATEST(0, files + e_files)
          WHERE username = c_username;
        INSERT INTO ferry_usage_charges (id, bytes, files) VALUES (c_id, e_bytes, e_files);
        -- Bounded in steps: rows another charge is deleting are skipped, not waited for.
        DELETE FROM ferry_usage_charges WHERE id IN (
          SELECT id FROM ferry_usage_charges WHERE at < clock_timestamp() - interval '1 hour'
          LIMIT 10 FOR UPDATE SKIP LOCKED);
        RETURN fits;
      END
      $$;
      -- A change written (or written again) by id: its effect becomes the delta, whatever an earlier
      -- try of it did. The user's row is locked first, as a charge does: a try of this id still
      -- running has committed by then, and the next statement (a fresh snapshot) sees it.
      CREATE FUNCTION ferry_usage_settle(c_id text, c_username text, d_bytes bigint, d_files bigint)
      RETURNS void
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        prev ferry_usage_charges%ROWTYPE;
      BEGIN
        PERFORM 1 FROM ferry_usage WHERE username = c_username FOR UPDATE;
        SELECT * INTO prev FROM ferry_usage_charges WHERE id = c_id;
        INSERT INTO ferry_usage_charges (id, bytes, files) VALUES (c_id, d_bytes, d_files)
          ON CONFLICT (id) DO UPDATE SET bytes = EXCLUDED.bytes, files = EXCLUDED.files;
        UPDATE ferry_usage SET
            bytes = GREATEST(0, bytes + d_bytes - COALESCE(prev.bytes, 0)),
            files = GREATEST(0, files + d_files - COALESCE(prev.files, 0))
          WHERE username = c_username;
      END
      $$;
    `,
  },
];

/** Any fixed number: the advisory lock all Ferry nodes take to migrate one at a time. */
const MIGRATION_LOCK = 0x46657272; // "Ferr"

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Brings the schema up to date under a session advisory lock: the first node migrates, the others
 * wait for the lock and then find nothing left to do. Returns the migrations applied here.
 */
export async function migrate(client: pg.ClientBase): Promise<Migration[]> {
  const applied: Migration[] = [];
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS ferry_schema (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM ferry_schema');
    const current = rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new FerryError(
        'ERR_INVALID_OPTION',
        `the database schema is at version ${current}, newer than this Ferry knows (${SCHEMA_VERSION}): upgrade Ferry.`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO ferry_schema (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new FerryError(
          'ERR_INVALID_OPTION',
          `database migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
        );
      }
      applied.push(m);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
  }
  return applied;
}

/** The version the database is at (0: never migrated). Reads only: creates nothing. */
export async function schemaVersion(pool: Pick<pg.Pool, 'query'>): Promise<number> {
  // Two queries: PostgreSQL resolves every table a statement names before it runs, so one that
  // reads ferry_schema fails on a database without it, in a CASE branch not taken too.
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('ferry_schema')::text AS t");
  if (exists.rows[0]?.t == null) return 0;
  const { rows } = await pool.query<{ v: number | null }>('SELECT max(version) AS v FROM ferry_schema');
  return rows[0]?.v ?? 0;
}

/**
 * A schema at version `v`, as `ferry db status` reports it: whether this Ferry can use it as it
 * is (`current`), and what it is and what to do.
 */
export function describeSchema(v: number): { current: boolean; text: string } {
  const knows = `this Ferry knows ${SCHEMA_VERSION}`;
  if (v === SCHEMA_VERSION) return { current: true, text: `schema at version ${v}; ${knows}: up to date` };
  if (v > SCHEMA_VERSION)
    return { current: false, text: `schema at version ${v}, newer than ${knows}: upgrade Ferry` };
  const what = v === 0 ? 'schema not created (version 0)' : `schema at version ${v}`;
  return { current: false, text: `${what}; ${knows}: run \`ferry db migrate\`` };
}
