/**
 * Versioned schema changes, applied in order at start-up and recorded in `schema_migrations`.
 * Never edit a released migration: add a new one.
 *
 * One list for both stores, so that a migration cannot be added to one only: each has one version
 * and one name (`schema_migrations` reads the same in both), and either one `sql` both dialects
 * run or a `sqlite` and a `postgres` text where they differ. (Over 300 lines: it is the whole
 * schema history, which must stay as released.)
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

type MigrationSource = { version: number; name: string } & ({ sql: string } | { sqlite: string; postgres: string });

/*
 * PostgreSQL: the encodings are SQLite's, so both stores share their row mappers (rows.ts) and round-trip
 * values byte for byte: ISO timestamps and JSON are TEXT, booleans are 0/1 integers. Every TEXT
 * column is COLLATE "C": SQLite compares and sorts text byte by byte (BINARY), while a PostgreSQL
 * database's default collation is usually a language's (en_US: 'b' < 'C'), which would reorder
 * listings and change range comparisons. Ids are BIGSERIAL (64-bit like SQLite's rowids).
 */

const MIGRATIONS: MigrationSource[] = [
  {
    version: 1,
    name: 'core loop: incidents, alerts, cards, step runs, approvals, audit, outbox',
    sqlite: `
      CREATE TABLE incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        group_key TEXT NOT NULL,
        episode INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        receiver TEXT NOT NULL,
        group_labels TEXT NOT NULL,
        common_labels TEXT NOT NULL,
        common_annotations TEXT NOT NULL,
        external_url TEXT NOT NULL,
        truncated_alerts INTEGER NOT NULL DEFAULT 0,
        previous_incident_id INTEGER REFERENCES incidents(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        resolved_at TEXT,
        UNIQUE (group_key, episode)
      );
      CREATE INDEX incidents_status ON incidents(status, id);

      CREATE TABLE notifications (
        dedupe_key TEXT PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        received_at TEXT NOT NULL
      );

      CREATE TABLE alerts (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL,
        labels TEXT NOT NULL,
        annotations TEXT NOT NULL,
        starts_at TEXT NOT NULL,
        ends_at TEXT,
        generator_url TEXT,
        PRIMARY KEY (incident_id, fingerprint)
      );

      CREATE TABLE card_messages (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        message_id TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        PRIMARY KEY (incident_id, platform, channel)
      );

      CREATE TABLE step_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        runbook TEXT NOT NULL,
        step TEXT NOT NULL,
        step_title TEXT NOT NULL,
        params TEXT NOT NULL,
        platform TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        requested_by_name TEXT NOT NULL,
        changes INTEGER NOT NULL,
        required_approvals INTEGER NOT NULL,
        self_approve INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        result TEXT
      );
      CREATE INDEX step_runs_incident ON step_runs(incident_id, runbook, step);
      CREATE INDEX step_runs_state ON step_runs(state, id);

      CREATE TABLE approvals (
        run_id INTEGER NOT NULL REFERENCES step_runs(id),
        approver TEXT NOT NULL,
        approver_name TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
        at TEXT NOT NULL,
        PRIMARY KEY (run_id, approver)
      );

      CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        incident_id INTEGER REFERENCES incidents(id),
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_events_incident ON audit_events(incident_id, seq);

      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        kind TEXT NOT NULL CHECK (kind IN ('card', 'reply')),
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
      );
      CREATE INDEX outbox_pending ON outbox(state, id);
    `,
    postgres: `
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
    sqlite: `
      CREATE TABLE choices (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        runbook TEXT NOT NULL,
        step TEXT NOT NULL,
        param TEXT NOT NULL,
        value TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `,
    postgres: `
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
    sqlite: `ALTER TABLE incidents ADD COLUMN targets TEXT NOT NULL DEFAULT '[]';`,
    postgres: `ALTER TABLE incidents ADD COLUMN targets TEXT COLLATE "C" NOT NULL DEFAULT '[]';`,
  },
  {
    version: 5,
    // Recorded before a post is sent, so a crash or a lost answer leaves a trace: the next attempt
    // then looks for the message on the platform before posting it again.
    name: 'outbox: posts whose outcome is not known yet',
    sqlite: `ALTER TABLE outbox ADD COLUMN sending_since TEXT;`,
    postgres: `ALTER TABLE outbox ADD COLUMN sending_since TEXT COLLATE "C";`,
  },
  {
    version: 6,
    // Each is a small JSON object or NULL (see Incident in core/domain.ts); none is ever queried by content.
    name: 'incident lifecycle: acknowledgement, silence, manual resolution, escalation',
    sqlite: `
      ALTER TABLE incidents ADD COLUMN acknowledgement TEXT;
      ALTER TABLE incidents ADD COLUMN silence TEXT;
      ALTER TABLE incidents ADD COLUMN resolution TEXT;
      ALTER TABLE incidents ADD COLUMN escalation TEXT;
    `,
    postgres: `
      ALTER TABLE incidents ADD COLUMN acknowledgement TEXT COLLATE "C";
      ALTER TABLE incidents ADD COLUMN silence TEXT COLLATE "C";
      ALTER TABLE incidents ADD COLUMN resolution TEXT COLLATE "C";
      ALTER TABLE incidents ADD COLUMN escalation TEXT COLLATE "C";
    `,
  },
  {
    version: 7,
    // Scheduled jobs post to a channel outside any incident: outbox rows of kind 'post' have no
    // incident (SQLite cannot drop NOT NULL in place, so the table is rebuilt with its rows and ids).
    // job_runs keeps each scheduled job's last slot and whether a run is in progress, so that a job
    // runs once per slot, never overlaps itself, and a slot missed while the bot was down is noticed.
    name: 'scheduled jobs: channel posts without an incident, last run of each job',
    sqlite: `
      CREATE TABLE outbox_v7 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        incident_id INTEGER REFERENCES incidents(id),
        kind TEXT NOT NULL CHECK (kind IN ('card', 'reply', 'post')),
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        sending_since TEXT,
        CHECK ((kind = 'post') = (incident_id IS NULL))
      );
      INSERT INTO outbox_v7 (id, platform, channel, incident_id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, sent_at, sending_since)
        SELECT id, platform, channel, incident_id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, sent_at, sending_since FROM outbox;
      DROP TABLE outbox;
      ALTER TABLE outbox_v7 RENAME TO outbox;
      CREATE INDEX outbox_pending ON outbox(state, id);
      CREATE INDEX outbox_thread ON outbox(state, platform, channel, incident_id, id);

      CREATE TABLE job_runs (
        job TEXT PRIMARY KEY,
        last_slot TEXT NOT NULL,
        running_since TEXT,
        last_finished_at TEXT,
        last_status TEXT
      );
    `,
    // SQLite rebuilds the outbox to drop NOT NULL; PostgreSQL alters it in place, keeping rows, ids,
    // indexes and the id sequence as they are.
    postgres: `
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
    // Several replicas can share a PostgreSQL store: each records which replica runs a step, and each
    // replica's heartbeat, so a step left running by a dead replica is reported, while those of live
    // replicas are left alone.
    name: 'replicas: who runs each step, and each replica heartbeat',
    sqlite: `
      ALTER TABLE step_runs ADD COLUMN runner TEXT;
      CREATE TABLE replicas (
        id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        seen_at TEXT NOT NULL
      );
    `,
    postgres: `
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
    // The heads of channel posts (no incident) are looked up by channel among pending posts only; in
    // the thread index they sit among every pending message.
    name: 'outbox: index of pending channel posts',
    sql: `CREATE INDEX outbox_post_heads ON outbox(state, platform, channel, id) WHERE incident_id IS NULL;`,
  },
  {
    version: 10,
    // Notifications acknowledged while the bot was busy wait here, exactly as received, until the
    // inbox worker records them (oldest first, in order within each group). \`seq\` has no
    // AUTOINCREMENT: a reused number is still higher than every row left, which is all order needs.
    // A notification that cannot be recorded is kept with its error (\`failed_at\`), out of the way.
    name: 'inbox: notifications acknowledged before they are recorded',
    sqlite: `
      CREATE TABLE inbox (
        seq INTEGER PRIMARY KEY,
        group_key TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        failed_at TEXT
      );
      CREATE INDEX inbox_waiting_by_group ON inbox(group_key, seq) WHERE failed_at IS NULL;
    `,
    postgres: `
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
    // The channel-post branch of dueThreadHeads walks pending posts in id order. Without an index
    // that has them alone in that order, SQLite walked every pending message to find the few posts
    // (20 ms an outbox tick with 100,000 messages queued behind a channel's pace).
    name: 'outbox: pending channel posts in id order',
    sql: `CREATE INDEX outbox_pending_posts ON outbox(state, id) WHERE incident_id IS NULL;`,
  },
  {
    version: 12,
    // Slack limits chat.update per workspace (about 50 a minute), apart from posts. An update over
    // that pace leaves the outbox, so the thread's replies do not wait behind it, and the card is
    // marked instead: the outbox queues its sync again, at the back of the thread, once it may.
    name: 'cards waiting for an update the platform would refuse now',
    sqlite: `
      ALTER TABLE card_messages ADD COLUMN refresh_wanted_at TEXT;
      CREATE INDEX card_messages_refresh_wanted ON card_messages(platform, refresh_wanted_at) WHERE refresh_wanted_at IS NOT NULL;
    `,
    postgres: `
      ALTER TABLE card_messages ADD COLUMN refresh_wanted_at TEXT COLLATE "C";
      CREATE INDEX card_messages_refresh_wanted ON card_messages(platform, refresh_wanted_at) WHERE refresh_wanted_at IS NOT NULL;
    `,
  },
  {
    version: 13,
    // Counting the inbox (every /metrics scrape, every inbox tick) read every row, bodies and all:
    // 80 ms of blocked event loop with 100,000 notifications waiting. Waiting rows are counted on
    // inbox_waiting_by_group, failed ones on this (few rows, small).
    name: 'inbox: notifications put aside, for counting them',
    sql: `CREATE INDEX inbox_failed ON inbox(seq) WHERE failed_at IS NOT NULL;`,
  },
  {
    version: 14,
    // A step's program runs in a process group of its own, recorded here before the program starts:
    // after a kill -9 of the bot, the restarted bot on the same host (pids mean nothing elsewhere)
    // finds a group still alive by pid and start time, stops it, and sets \`proc_ended_at\`. Until
    // then the step is refused, so a leftover never overlaps a new run.
    name: 'step runs: the process group each runs, and when it ended',
    sqlite: `
      ALTER TABLE step_runs ADD COLUMN proc_pid INTEGER;
      ALTER TABLE step_runs ADD COLUMN proc_pgid INTEGER;
      ALTER TABLE step_runs ADD COLUMN proc_started_at TEXT;
      ALTER TABLE step_runs ADD COLUMN proc_host TEXT;
      ALTER TABLE step_runs ADD COLUMN proc_ended_at TEXT;
      CREATE INDEX step_runs_leftovers ON step_runs(runbook, step) WHERE state = 'interrupted' AND proc_pid IS NOT NULL AND proc_ended_at IS NULL;
    `,
    postgres: `
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
    // Slack and Discord requests are signed and accepted for 5 minutes: one captured in that window
    // could be sent again. Each is remembered here (by every replica) until it could no longer be.
    name: 'chat requests seen, to recognise a replay',
    sqlite: `
      CREATE TABLE seen_requests (request_key TEXT PRIMARY KEY, expires_at TEXT NOT NULL);
      CREATE INDEX seen_requests_expiry ON seen_requests(expires_at);
    `,
    postgres: `
      CREATE TABLE seen_requests (request_key TEXT COLLATE "C" PRIMARY KEY, expires_at TEXT COLLATE "C" NOT NULL);
      CREATE INDEX seen_requests_expiry ON seen_requests(expires_at);
    `,
  },
  {
    version: 17,
    // The console's names are typed, not vouched for: one browser could approve as alice, then as
    // bob. Approvals and requests keep a digest of the browser session they came from (null from
    // chat platforms, whose users the platform identifies), so one session counts as one person.
    name: 'approvals and step requests: the console browser session behind them',
    sqlite: `
      ALTER TABLE approvals ADD COLUMN session TEXT;
      ALTER TABLE step_runs ADD COLUMN requested_session TEXT;
    `,
    postgres: `
      ALTER TABLE approvals ADD COLUMN session TEXT COLLATE "C";
      ALTER TABLE step_runs ADD COLUMN requested_session TEXT COLLATE "C";
    `,
  },
  {
    version: 18,
    // A request for approval is edited once decided: its buttons go, its outcome is added. The edit
    // is an outbox row of kind 'edit' in the request's thread (so it goes out after the request),
    // naming the reply it edits by \`subject\` ('run:<id>'); each posted reply keeps its ref
    // (\`posted_ref\`) for the platform call. SQLite cannot change a CHECK in place: the table is
    // rebuilt with its rows and ids, and its indexes made again.
    name: 'outbox: edits of posted replies',
    sqlite: `
      CREATE TABLE outbox_v18 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        incident_id INTEGER REFERENCES incidents(id),
        kind TEXT NOT NULL CHECK (kind IN ('card', 'reply', 'post', 'edit')),
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        sending_since TEXT,
        subject TEXT,
        posted_ref TEXT,
        CHECK ((kind = 'post') = (incident_id IS NULL))
      );
      INSERT INTO outbox_v18 (id, platform, channel, incident_id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, sent_at, sending_since)
        SELECT id, platform, channel, incident_id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, sent_at, sending_since FROM outbox;
      DROP TABLE outbox;
      ALTER TABLE outbox_v18 RENAME TO outbox;
      CREATE INDEX outbox_pending ON outbox(state, id);
      CREATE INDEX outbox_thread ON outbox(state, platform, channel, incident_id, id);
      CREATE INDEX outbox_post_heads ON outbox(state, platform, channel, id) WHERE incident_id IS NULL;
      CREATE INDEX outbox_pending_posts ON outbox(state, id) WHERE incident_id IS NULL;
      CREATE INDEX outbox_subject ON outbox(incident_id, subject) WHERE subject IS NOT NULL;
    `,
    postgres: `
      ALTER TABLE outbox DROP CONSTRAINT outbox_kind;
      ALTER TABLE outbox ADD CONSTRAINT outbox_kind CHECK (kind IN ('card', 'reply', 'post', 'edit'));
      ALTER TABLE outbox ADD COLUMN subject TEXT COLLATE "C";
      ALTER TABLE outbox ADD COLUMN posted_ref TEXT COLLATE "C";
      CREATE INDEX outbox_subject ON outbox(incident_id, subject) WHERE subject IS NOT NULL;
    `,
  },
  {
    version: 19,
    // Steps may run on runners: agents on the target hosts that connect out to the bot. Each poll is
    // a runner's heartbeat (\`runners\`); each job handed to one is a row of \`runner_jobs\`, claimed once
    // (queued -> running) and finished once, so any replica can hand out a job another queued and take
    // a result another replica's runner reports.
    name: 'runners and their jobs',
    sqlite: `
      CREATE TABLE runners (
        name TEXT PRIMARY KEY,
        labels TEXT NOT NULL,
        version TEXT NOT NULL,
        replica TEXT NOT NULL,
        connected_at TEXT NOT NULL,
        seen_at TEXT NOT NULL
      );
      CREATE TABLE runner_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        runner TEXT NOT NULL,
        run_id INTEGER REFERENCES step_runs(id),
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'refused', 'interrupted', 'cancelled')),
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        claimed_at TEXT,
        started_at TEXT,
        finished_at TEXT,
        output TEXT,
        result TEXT,
        detail TEXT
      );
      CREATE INDEX runner_jobs_open ON runner_jobs(runner, state, id);
      CREATE INDEX runner_jobs_run ON runner_jobs(run_id, id);
    `,
    postgres: `
      CREATE TABLE runners (
        name TEXT COLLATE "C" PRIMARY KEY,
        labels TEXT COLLATE "C" NOT NULL,
        version TEXT COLLATE "C" NOT NULL,
        replica TEXT COLLATE "C" NOT NULL,
        connected_at TEXT COLLATE "C" NOT NULL,
        seen_at TEXT COLLATE "C" NOT NULL
      );
      CREATE TABLE runner_jobs (
        id BIGSERIAL PRIMARY KEY,
        runner TEXT COLLATE "C" NOT NULL,
        run_id BIGINT REFERENCES step_runs(id),
        kind TEXT COLLATE "C" NOT NULL,
        payload TEXT COLLATE "C" NOT NULL,
        state TEXT COLLATE "C" NOT NULL CHECK (state IN ('queued', 'running', 'done', 'refused', 'interrupted', 'cancelled')),
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        created_at TEXT COLLATE "C" NOT NULL,
        claimed_at TEXT COLLATE "C",
        started_at TEXT COLLATE "C",
        finished_at TEXT COLLATE "C",
        output TEXT COLLATE "C",
        result TEXT COLLATE "C",
        detail TEXT COLLATE "C"
      );
      CREATE INDEX runner_jobs_open ON runner_jobs(runner, state, id);
      CREATE INDEX runner_jobs_run ON runner_jobs(run_id, id);
    `,
  },
  {
    version: 20,
    // A storm in one channel (more new cards than its pace posts in a few seconds) lists its
    // incidents in a digest edited in place. The partial unique index allows one open storm per
    // channel, whichever replica tries to start it; \`chat_storm_incidents\` is who is listed.
    name: 'storm digests',
    sqlite: `
      CREATE TABLE chat_storms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        released INTEGER NOT NULL DEFAULT 0,
        pages TEXT NOT NULL DEFAULT '[]',
        posting_since TEXT,
        joined_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX chat_storms_open ON chat_storms(platform, channel) WHERE ended_at IS NULL;
      CREATE INDEX chat_storms_channel ON chat_storms(platform, channel, id);
      CREATE TABLE chat_storm_incidents (
        storm_id INTEGER NOT NULL REFERENCES chat_storms(id),
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        PRIMARY KEY (storm_id, incident_id)
      );
      CREATE INDEX chat_storm_incidents_incident ON chat_storm_incidents(incident_id);
    `,
    postgres: `
      CREATE TABLE chat_storms (
        id BIGSERIAL PRIMARY KEY,
        platform TEXT COLLATE "C" NOT NULL,
        channel TEXT COLLATE "C" NOT NULL,
        started_at TEXT COLLATE "C" NOT NULL,
        ended_at TEXT COLLATE "C",
        released INTEGER NOT NULL DEFAULT 0,
        pages TEXT COLLATE "C" NOT NULL DEFAULT '[]',
        posting_since TEXT COLLATE "C",
        joined_at TEXT COLLATE "C" NOT NULL
      );
      CREATE UNIQUE INDEX chat_storms_open ON chat_storms(platform, channel) WHERE ended_at IS NULL;
      CREATE INDEX chat_storms_channel ON chat_storms(platform, channel, id);
      CREATE TABLE chat_storm_incidents (
        storm_id BIGINT NOT NULL REFERENCES chat_storms(id),
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        PRIMARY KEY (storm_id, incident_id)
      );
      CREATE INDEX chat_storm_incidents_incident ON chat_storm_incidents(incident_id);
    `,
  },
  {
    version: 22,
    // A step's full output (redacted, at most FULL_OUTPUT_MAX_CHARS, 256 KiB), served at
    // GET /incidents/:id/runs/:run/output: a thread shows only a head and a tail of it. Kept apart
    // from step_runs so that listing runs never reads it. Scheduled posts are listed for the console
    // from the audit trail without an incident; the index keeps that a short read.
    name: 'step outputs',
    sqlite: `
      CREATE TABLE step_outputs (
        run_id INTEGER PRIMARY KEY REFERENCES step_runs(id),
        output TEXT NOT NULL,
        at TEXT NOT NULL
      );
      CREATE INDEX audit_events_unbound_kind ON audit_events(kind, seq) WHERE incident_id IS NULL;
    `,
    postgres: `
      CREATE TABLE step_outputs (
        run_id BIGINT PRIMARY KEY REFERENCES step_runs(id),
        output TEXT COLLATE "C" NOT NULL,
        at TEXT COLLATE "C" NOT NULL
      );
      CREATE INDEX audit_events_unbound_kind ON audit_events(kind, seq) WHERE incident_id IS NULL;
    `,
  },
];

const forDialect = (dialect: 'sqlite' | 'postgres'): Migration[] =>
  MIGRATIONS.map((m) => ({ version: m.version, name: m.name, sql: 'sql' in m ? m.sql : m[dialect] }));

export const sqliteMigrations: Migration[] = forDialect('sqlite');
export const postgresMigrations: Migration[] = forDialect('postgres');
