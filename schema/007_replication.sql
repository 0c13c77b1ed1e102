-- Berth metadata, version 7: replication rules (`berthd mirror add`, /api/v1/replication):
-- images copied from another registry into local repositories on a schedule, and each
-- rule's last outcome.
CREATE TABLE replication_rules (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    source            TEXT NOT NULL,        -- "https://host[:port]" or "http://host[:port]"
    username          TEXT,                 -- source credentials; NULL: anonymous
    password          TEXT,                 -- kept as given: berthd must present it upstream
    repositories      TEXT NOT NULL,        -- glob over the source's repository names
    tags              TEXT NOT NULL,        -- glob, or /regex/ (POSIX extended, whole tag)
    destination       TEXT NOT NULL,        -- local namespace prefix; '' keeps the names
    interval_seconds  BIGINT NOT NULL,      -- between scheduled runs; 0: only when asked
    created_at        BIGINT NOT NULL,
    run_requested     INTEGER NOT NULL DEFAULT 0,
    last_started_at   BIGINT,
    last_finished_at  BIGINT,
    last_result       TEXT,                 -- 'running', 'ok', 'partial', 'failed'
    last_images       BIGINT NOT NULL DEFAULT 0,  -- images copied by the last run
    last_unchanged    BIGINT NOT NULL DEFAULT 0,  -- tags already up to date
    last_errors       BIGINT NOT NULL DEFAULT 0,
    last_message      TEXT,
    total_images      BIGINT NOT NULL DEFAULT 0
);
