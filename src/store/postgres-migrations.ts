import type { Migration } from './migrations.js';

/**
 * The PostgreSQL schema, as the same numbered migrations as `sqliteMigrations` (same versions and
 * names, so `schema_migrations` reads the same in both stores), written in PostgreSQL's dialect.
 * Never edit a released migration: add a new one, with the version and name of its SQLite twin.
 *
 * The encodings are SQLite's, so both stores share their row mappers (rows.ts) and round-trip
 * values byte for byte: ISO timestamps and JSON are TEXT, booleans are 0/1 integers. Every TEXT
 * column is COLLATE "C": SQLite compares and sorts text byte by byte (BINARY), while a PostgreSQL
 * database's default collation is usually a language's (en_US: 'b' < 'C'), which would reorder
 * listings and change range comparisons. Ids are BIGSERIAL (64-bit like SQLite's rowids).
 */
export const postgresMigrations: Migration[] = [
  {
    version: 1,
    name: 'core loop: incidents, alerts, cards, step runs, approvals, audit, outbox',
    sql: `
      CREATE TABLE incidents (
        id BIGSERIAL PRIMARY KEY,
        group_key TEXT COLLATE "C" NOT NULL,
        episode INTEGER NOT NULL,
        status TEXT COLLATE "C" NOT NULL CHECK (status IN ('firing', 'resolved')),
        severity TEXT COLLATE "C" NOT NULL,
        title TEXT COLLATE "C" NOT NULL,
        receiver TEXT COLLATE "C" NOT NULL,
        group_labels TEXT COLLATE "C" NOT NULL,
        common_labels TEXT COLLATE "C" NOT NULL,
        common_annotations TEXT COLLATE "C" NOT NULL,
        external_url TEXT COLLATE "C" NOT NULL,
        truncated_alerts INTEGER NOT NULL DEFAULT 0,
        previous_incident_id BIGINT REFERENCES incidents(id),
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL,
        last_seen_at TEXT COLLATE "C" NOT NULL,
        resolved_at TEXT COLLATE "C",
        UNIQUE (group_key, episode)
      );
      CREATE INDEX incidents_status ON incidents(status, id);

      CREATE TABLE notifications (
        dedupe_key TEXT COLLATE "C" PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        received_at TEXT COLLATE "C" NOT NULL
      );

      CREATE TABLE alerts (
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        fingerprint TEXT COLLATE "C" NOT NULL,
        status TEXT COLLATE "C" NOT NULL,
        labels TEXT COLLATE "C" NOT NULL,
        annotations TEXT COLLATE "C" NOT NULL,
        starts_at TEXT COLLATE "C" NOT NULL,
        ends_at TEXT COLLATE "C",
        generator_url TEXT COLLATE "C",
        PRIMARY KEY (incident_id, fingerprint)
      );

      CREATE TABLE card_messages (
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        platform TEXT COLLATE "C" NOT NULL,
        channel TEXT COLLATE "C" NOT NULL,
        message_id TEXT COLLATE "C" NOT NULL,
        thread_id TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (incident_id, platform, channel)
      );

      CREATE TABLE step_runs (
        id BIGSERIAL PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        runbook TEXT COLLATE "C" NOT NULL,
        step TEXT COLLATE "C" NOT NULL,
        step_title TEXT COLLATE "C" NOT NULL,
        params TEXT COLLATE "C" NOT NULL,
        platform TEXT COLLATE "C" NOT NULL,
        requested_by TEXT COLLATE "C" NOT NULL,
        requested_by_name TEXT COLLATE "C" NOT NULL,
        changes INTEGER NOT NULL,
        required_approvals INTEGER NOT NULL,
        self_approve INTEGER NOT NULL,
        state TEXT COLLATE "C" NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL,
        started_at TEXT COLLATE "C",
        finished_at TEXT COLLATE "C",
        result TEXT COLLATE "C"
      );
      CREATE INDEX step_runs_incident ON step_runs(incident_id, runbook, step);
      CREATE INDEX step_runs_state ON step_runs(state, id);

      CREATE TABLE approvals (
        run_id BIGINT NOT NULL REFERENCES step_runs(id),
        approver TEXT COLLATE "C" NOT NULL,
        approver_name TEXT COLLATE "C" NOT NULL,
        decision TEXT COLLATE "C" NOT NULL CHECK (decision IN ('approve', 'deny')),
        at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (run_id, approver)
      );

      CREATE TABLE audit_events (
        seq BIGSERIAL PRIMARY KEY,
        at TEXT COLLATE "C" NOT NULL,
        incident_id BIGINT REFERENCES incidents(id),
        actor TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        text TEXT COLLATE "C" NOT NULL,
        data TEXT COLLATE "C" NOT NULL,
        prev_hash TEXT COLLATE "C" NOT NULL,
        hash TEXT COLLATE "C" NOT NULL
      );
      CREATE INDEX audit_events_incident ON audit_events(incident_id, seq);

      -- The kind check is named so that migration 7 can replace it.
      CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        platform TEXT COLLATE "C" NOT NULL,
        channel TEXT COLLATE "C" NOT NULL,
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        kind TEXT COLLATE "C" NOT NULL CONSTRAINT outbox_kind CHECK (kind IN ('card', 'reply')),
        payload TEXT COLLATE "C" NOT NULL,
        state TEXT COLLATE "C" NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT COLLATE "C" NOT NULL,
        last_error TEXT COLLATE "C",
        created_at TEXT COLLATE "C" NOT NULL,
        sent_at TEXT COLLATE "C"
      );
      CREATE INDEX outbox_pending ON outbox(state, id);
    `,
  },
  {
    version: 2,
    name: 'outbox thread heads and per-incident audit chains',
    sql: `
      CREATE INDEX outbox_thread ON outbox(state, platform, channel, incident_id, id);
      CREATE INDEX audit_events_chain ON audit_events(incident_id, seq DESC);
    `,
  },
  {
    version: 3,
    name: 'choices offered in chat (backup pickers)',
    sql: `
      CREATE TABLE choices (
        id BIGSERIAL PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        runbook TEXT COLLATE "C" NOT NULL,
        step TEXT COLLATE "C" NOT NULL,
        param TEXT COLLATE "C" NOT NULL,
        value TEXT COLLATE "C" NOT NULL,
        label TEXT COLLATE "C" NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'per-incident delivery targets (routing by labels)',
    sql: `ALTER TABLE incidents ADD COLUMN targets TEXT COLLATE "C" NOT NULL DEFAULT '[]';`,
  },
  {
    version: 5,
    name: 'outbox: posts whose outcome is not known yet',
    sql: `ALTER TABLE outbox ADD COLUMN sending_since TEXT COLLATE "C";`,
  },
  {
    version: 6,
    name: 'incident lifecycle: acknowledgement, silence, manual resolution, escalation',
    sql: `
      ALTER TABLE incidents ADD COLUMN acknowledgement TEXT COLLATE "C";
      ALTER TABLE incidents ADD COLUMN silence TEXT COLLATE "C";
      ALTER TABLE incidents ADD COLUMN resolution TEXT COLLATE "C";
      ALTER TABLE incidents ADD COLUMN escalation TEXT COLLATE "C";
    `,
  },
  {
    version: 7,
    // SQLite rebuilds the outbox to drop NOT NULL; PostgreSQL alters it in place, keeping rows, ids,
    // indexes and the id sequence as they are.
    name: 'scheduled jobs: channel posts without an incident, last run of each job',
    sql: `
      ALTER TABLE outbox ALTER COLUMN incident_id DROP NOT NULL;
      ALTER TABLE outbox DROP CONSTRAINT outbox_kind;
      ALTER TABLE outbox ADD CONSTRAINT outbox_kind CHECK (kind IN ('card', 'reply', 'post'));
      ALTER TABLE outbox ADD CONSTRAINT outbox_post_without_incident CHECK ((kind = 'post') = (incident_id IS NULL));

      CREATE TABLE job_runs (
        job TEXT COLLATE "C" PRIMARY KEY,
        last_slot TEXT COLLATE "C" NOT NULL,
        running_since TEXT COLLATE "C",
        last_finished_at TEXT COLLATE "C",
        last_status TEXT COLLATE "C"
      );
    `,
  },
  {
    version: 8,
    name: 'replicas: who runs each step, and each replica heartbeat',
    sql: `
      ALTER TABLE step_runs ADD COLUMN runner TEXT COLLATE "C";
      CREATE TABLE replicas (
        id TEXT COLLATE "C" PRIMARY KEY,
        started_at TEXT COLLATE "C" NOT NULL,
        seen_at TEXT COLLATE "C" NOT NULL
      );
    `,
  },
  {
    version: 9,
    name: 'outbox: index of pending channel posts',
    sql: `CREATE INDEX outbox_post_heads ON outbox(state, platform, channel, id) WHERE incident_id IS NULL;`,
  },
  {
    version: 10,
    name: 'inbox: notifications acknowledged before they are recorded',
    sql: `
      CREATE TABLE inbox (
        seq BIGSERIAL PRIMARY KEY,
        group_key TEXT COLLATE "C" NOT NULL,
        received_at TEXT COLLATE "C" NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        failed_at TEXT COLLATE "C"
      );
      CREATE INDEX inbox_waiting_by_group ON inbox(group_key, seq) WHERE failed_at IS NULL;
    `,
  },
  {
    version: 11,
    name: 'outbox: pending channel posts in id order',
    sql: `CREATE INDEX outbox_pending_posts ON outbox(state, id) WHERE incident_id IS NULL;`,
  },
  {
    version: 12,
    name: 'cards waiting for an update the platform would refuse now',
    sql: `
      ALTER TABLE card_messages ADD COLUMN refresh_wanted_at TEXT COLLATE "C";
      CREATE INDEX card_messages_refresh_wanted ON card_messages(platform, refresh_wanted_at) WHERE refresh_wanted_at IS NOT NULL;
    `,
  },
  {
    version: 13,
    name: 'inbox: notifications put aside, for counting them',
    sql: `CREATE INDEX inbox_failed ON inbox(seq) WHERE failed_at IS NOT NULL;`,
  },
  {
    version: 14,
    name: 'step runs: the process group each runs, and when it ended',
    sql: `
      ALTER TABLE step_runs ADD COLUMN proc_pid INTEGER;
      ALTER TABLE step_runs ADD COLUMN proc_pgid INTEGER;
      ALTER TABLE step_runs ADD COLUMN proc_started_at TEXT COLLATE "C";
      ALTER TABLE step_runs ADD COLUMN proc_host TEXT COLLATE "C";
      ALTER TABLE step_runs ADD COLUMN proc_ended_at TEXT COLLATE "C";
      CREATE INDEX step_runs_leftovers ON step_runs(runbook, step) WHERE state = 'interrupted' AND proc_pid IS NOT NULL AND proc_ended_at IS NULL;
    `,
  },
  {
    version: 16,
    name: 'chat requests seen, to recognise a replay',
    sql: `
      CREATE TABLE seen_requests (request_key TEXT COLLATE "C" PRIMARY KEY, expires_at TEXT COLLATE "C" NOT NULL);
      CREATE INDEX seen_requests_expiry ON seen_requests(expires_at);
    `,
  },
  {
    version: 17,
    name: 'approvals and step requests: the console browser session behind them',
    sql: `
      ALTER TABLE approvals ADD COLUMN session TEXT COLLATE "C";
      ALTER TABLE step_runs ADD COLUMN requested_session TEXT COLLATE "C";
    `,
  },
  {
    version: 18,
    name: 'outbox: edits of posted replies',
    sql: `
      ALTER TABLE outbox DROP CONSTRAINT outbox_kind;
      ALTER TABLE outbox ADD CONSTRAINT outbox_kind CHECK (kind IN ('card', 'reply', 'post', 'edit'));
      ALTER TABLE outbox ADD COLUMN subject TEXT COLLATE "C";
      ALTER TABLE outbox ADD COLUMN posted_ref TEXT COLLATE "C";
      CREATE INDEX outbox_subject ON outbox(incident_id, subject) WHERE subject IS NOT NULL;
    `,
  },
];
