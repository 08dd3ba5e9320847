//! The database schema: its migrations, in order, each applied once and counted in
//! `PRAGMA user_version` (a newer database than this program knows is refused).

pub(super) const MIGRATIONS: &[&str] = &[
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE kiosks (
         kiosk_id        TEXT PRIMARY KEY,
         number          INTEGER NOT NULL DEFAULT 0,
         name            TEXT NOT NULL,
         grp             TEXT NOT NULL,
         credential_hash TEXT,
         enrolled_at     INTEGER,
         last_seen       INTEGER,
         agent_version   TEXT,
         outbox_len      INTEGER
     );
     CREATE TABLE bootstrap_tokens (
         token_hash TEXT PRIMARY KEY,
         kiosk_id   TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         expires_at INTEGER NOT NULL,
         used_by    TEXT,
         used_at    INTEGER
     );
     CREATE TABLE submissions (
         id            TEXT PRIMARY KEY,
         tracking_code TEXT NOT NULL UNIQUE,
         kiosk_id      TEXT NOT NULL,
         service_id    TEXT NOT NULL,
         form_version  INTEGER NOT NULL,
         language      TEXT NOT NULL,
         body          TEXT NOT NULL,
         created_at    INTEGER NOT NULL,
         received_at   INTEGER NOT NULL
     );
     CREATE INDEX submissions_by_kiosk ON submissions (kiosk_id, received_at);
     CREATE TABLE statuses (
         tracking_code TEXT PRIMARY KEY,
         service_id    TEXT NOT NULL,
         state         TEXT NOT NULL,
         note          TEXT,
         updated_at    INTEGER NOT NULL
     );
     CREATE TABLE deliveries (
         submission_id   TEXT PRIMARY KEY,
         next_attempt_at INTEGER NOT NULL,
         attempts        INTEGER NOT NULL DEFAULT 0,
         last_error      TEXT,
         delivered_at    INTEGER
     );
     CREATE INDEX deliveries_due ON deliveries (delivered_at, next_attempt_at);
     CREATE TABLE catalogs (
         version      INTEGER PRIMARY KEY,
         document     TEXT NOT NULL,
         published_at INTEGER NOT NULL
     );
     CREATE TABLE forms (
         service_id TEXT NOT NULL,
         version    INTEGER NOT NULL,
         definition TEXT NOT NULL,
         PRIMARY KEY (service_id, version)
     );
     CREATE TABLE heartbeats (
         kiosk_id    TEXT NOT NULL,
         sampled_at  INTEGER NOT NULL,
         received_at INTEGER NOT NULL,
         body        TEXT NOT NULL
     );
     CREATE INDEX heartbeats_by_kiosk ON heartbeats (kiosk_id, sampled_at);",
    // 2: "my requests": submissions found by the keyed hash of the citizen's card.
    "ALTER TABLE submissions ADD COLUMN identity TEXT;
     UPDATE submissions SET identity = json_extract(body, '$.identity');
     CREATE INDEX submissions_by_identity ON submissions (identity, received_at)
         WHERE identity IS NOT NULL;",
    // 3: each kiosk's newest heartbeat beside it, for metrics and the dashboard (no scan of
    // the history).
    "ALTER TABLE kiosks ADD COLUMN last_heartbeat TEXT;
     UPDATE kiosks SET last_heartbeat = (SELECT body FROM heartbeats h
         WHERE h.kiosk_id = kiosks.kiosk_id ORDER BY sampled_at DESC LIMIT 1);",
    // 4: alerts, and each kiosk's clock skew.
    "CREATE TABLE alerts (
         id          INTEGER PRIMARY KEY,
         kiosk_id    TEXT NOT NULL,
         kind        TEXT NOT NULL,
         detail      TEXT NOT NULL,
         opened_at   INTEGER NOT NULL,
         acked_at    INTEGER,
         acked_by    TEXT,
         ack_comment TEXT,
         resolved_at INTEGER
     );
     CREATE UNIQUE INDEX alerts_open ON alerts (kiosk_id, kind) WHERE resolved_at IS NULL;
     CREATE INDEX alerts_by_time ON alerts (opened_at);
     ALTER TABLE kiosks ADD COLUMN clock_skew_ms INTEGER;",
    // 5: remote commands, delivered in heartbeat replies until their result arrives.
    "CREATE TABLE commands (
         id           INTEGER PRIMARY KEY,
         kiosk_id     TEXT NOT NULL,
         action       TEXT NOT NULL,
         issued_by    TEXT NOT NULL,
         issued_at    INTEGER NOT NULL,
         delivered_at INTEGER,
         finished_at  INTEGER,
         ok           INTEGER,
         output       TEXT
     );
     CREATE INDEX commands_by_kiosk ON commands (kiosk_id, id);",
    // 6: availability bitmaps (a bit per local minute with a heartbeat), and hourly health
    // aggregates that replace raw heartbeats after `history.raw_days`.
    "CREATE TABLE uptime (
         kiosk_id TEXT NOT NULL,
         day      TEXT NOT NULL,
         minutes  BLOB NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     ) WITHOUT ROWID;
     CREATE TABLE health_hourly (
         kiosk_id        TEXT NOT NULL,
         hour            INTEGER NOT NULL,
         samples         INTEGER NOT NULL,
         temperature_max REAL,
         disk_used_max   REAL,
         outbox_max      INTEGER NOT NULL,
         PRIMARY KEY (kiosk_id, hour)
     ) WITHOUT ROWID;",
    // 7: daily aggregates replace hourly ones after 90 days.
    "CREATE TABLE health_daily (
         kiosk_id        TEXT NOT NULL,
         day             INTEGER NOT NULL,
         samples         INTEGER NOT NULL,
         temperature_max REAL,
         disk_used_max   REAL,
         outbox_max      INTEGER NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     ) WITHOUT ROWID;",
    // 8: the audit log: every change staff make, who, what, when.
    "CREATE TABLE audit (
         id     INTEGER PRIMARY KEY,
         at     INTEGER NOT NULL,
         actor  TEXT NOT NULL,
         action TEXT NOT NULL,
         target TEXT NOT NULL,
         detail TEXT NOT NULL
     );",
    // 9: staff accounts and their sessions (only hashes of session tokens are kept).
    "CREATE TABLE staff (
         username      TEXT PRIMARY KEY,
         role          TEXT NOT NULL,
         password_hash TEXT NOT NULL,
         created_at    INTEGER NOT NULL,
         disabled      INTEGER NOT NULL DEFAULT 0,
         failed_logins INTEGER NOT NULL DEFAULT 0,
         locked_until  INTEGER,
         last_login    INTEGER
     );
     CREATE TABLE staff_sessions (
         id_hash    TEXT PRIMARY KEY,
         username   TEXT NOT NULL REFERENCES staff (username) ON DELETE CASCADE,
         csrf       TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         last_seen  INTEGER NOT NULL
     );
     CREATE INDEX staff_sessions_by_user ON staff_sessions (username);",
    // 10: heartbeats are aggregated per hour as they arrive (see `HourlyCache`); the raw
    // history is folded into the hourly aggregates and goes. The newest heartbeat of each
    // kiosk stays beside it.
    "INSERT INTO health_hourly (kiosk_id, hour, samples, temperature_max, disk_used_max,
                                outbox_max)
         SELECT kiosk_id, sampled_at / 3600000, COUNT(*),
                MAX(json_extract(body, '$.system.temperature_c')),
                MAX(1.0 - CAST(json_extract(body, '$.system.disk_free_kb') AS REAL)
                          / json_extract(body, '$.system.disk_total_kb')),
                COALESCE(MAX(json_extract(body, '$.outbox_len')), 0)
         FROM heartbeats GROUP BY kiosk_id, sampled_at / 3600000
         ON CONFLICT (kiosk_id, hour) DO UPDATE SET
             samples = samples + excluded.samples,
             temperature_max = MAX(COALESCE(temperature_max, excluded.temperature_max),
                                   COALESCE(excluded.temperature_max, temperature_max)),
             disk_used_max = MAX(COALESCE(disk_used_max, excluded.disk_used_max),
                                 COALESCE(excluded.disk_used_max, disk_used_max)),
             outbox_max = MAX(outbox_max, excluded.outbox_max);
     DROP TABLE heartbeats;",
    // 11: a kiosk's alerts for its page.
    "CREATE INDEX alerts_by_kiosk ON alerts (kiosk_id, opened_at);",
    // 12: releases, rollouts and each kiosk's update (small tables, kept as JSON documents).
    "CREATE TABLE releases (version TEXT PRIMARY KEY, body TEXT NOT NULL);
     CREATE TABLE rollouts (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
     CREATE TABLE kiosk_updates (kiosk_id TEXT PRIMARY KEY, body TEXT NOT NULL);",
    // 13: wrong sign-ins counted per name and source (`*`: every source), whether or not the
    // name exists; the counters on `staff` are no longer written.
    "CREATE TABLE login_failures (
         username     TEXT NOT NULL,
         source       TEXT NOT NULL,
         failures     INTEGER NOT NULL,
         locked_until INTEGER,
         updated_at   INTEGER NOT NULL,
         PRIMARY KEY (username, source)
     );
     CREATE INDEX login_failures_by_age ON login_failures (updated_at);",
    // 14: a delivered submission's values leave the server (`purge_delivered`).
    "ALTER TABLE submissions ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
     CREATE INDEX deliveries_done ON deliveries (delivered_at) WHERE delivered_at IS NOT NULL;",
    // 15: minutes known only from late (buffered) heartbeats, for the availability report.
    "CREATE TABLE uptime_late (
         kiosk_id TEXT NOT NULL,
         day      TEXT NOT NULL,
         minutes  BLOB NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     ) WITHOUT ROWID;",
    // 16: leases of the jobs that run on one instance at a time (one instance serves a SQLite
    // file; the table keeps both stores alike).
    "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);",
    // 17: notices to citizens (their address kept apart, sealed) and requests' history.
    "CREATE TABLE request_contacts (
         tracking_code TEXT PRIMARY KEY,
         channel       TEXT NOT NULL,
         sealed        TEXT NOT NULL,
         address_key   TEXT NOT NULL,
         masked        TEXT NOT NULL,
         language      TEXT NOT NULL,
         created_at    INTEGER NOT NULL
     );
     CREATE INDEX request_contacts_by_age ON request_contacts (created_at);
     CREATE TABLE request_events (
         id            INTEGER PRIMARY KEY,
         tracking_code TEXT NOT NULL,
         at            INTEGER NOT NULL,
         state         TEXT,
         actor         TEXT NOT NULL,
         text          TEXT
     );
     CREATE INDEX request_events_by_code ON request_events (tracking_code, id);
     CREATE TABLE notices (
         id              INTEGER PRIMARY KEY,
         tracking_code   TEXT NOT NULL,
         state           TEXT NOT NULL,
         channel         TEXT NOT NULL,
         masked          TEXT NOT NULL,
         address_key     TEXT NOT NULL,
         status          TEXT NOT NULL,
         attempts        INTEGER NOT NULL DEFAULT 0,
         next_attempt_at INTEGER NOT NULL,
         claimed_until   INTEGER NOT NULL DEFAULT 0,
         last_error      TEXT,
         created_at      INTEGER NOT NULL,
         sent_at         INTEGER,
         requested_by    TEXT NOT NULL
     );
     CREATE INDEX notices_due ON notices (next_attempt_at) WHERE status = 'pending';
     CREATE INDEX notices_by_code ON notices (tracking_code, id);
     CREATE INDEX notices_by_address ON notices (address_key, sent_at);",
];
