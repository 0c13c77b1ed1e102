-- Berth metadata, version 8: what online garbage collection needs. A blob's last use (its
-- upload or a link into a repository) and a manifest's last push start their grace period;
-- each collection run is recorded for the admin API and `berthd gc`.

ALTER TABLE blobs ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
UPDATE blobs SET last_used_at = created_at;
CREATE INDEX blobs_last_used ON blobs(last_used_at);

ALTER TABLE manifests ADD COLUMN pushed_at BIGINT NOT NULL DEFAULT 0;
UPDATE manifests SET pushed_at = created_at;

-- Bumped by every manifest push into the repository (new or again), in the pushing
-- transaction: garbage collection deletes an untagged manifest only if neither this nor
-- tags_version changed since it found the manifest unreachable.
ALTER TABLE repositories ADD COLUMN manifests_version BIGINT NOT NULL DEFAULT 0;

CREATE INDEX uploads_updated ON uploads(updated_at);

CREATE TABLE gc_runs (
    id                 INTEGER PRIMARY KEY,
    started_at         BIGINT NOT NULL,
    finished_at        BIGINT NOT NULL,
    trigger_source     TEXT NOT NULL,      -- schedule, api, command
    dry_run            INTEGER NOT NULL,
    manifests_deleted  BIGINT NOT NULL,
    blobs_deleted      BIGINT NOT NULL,
    bytes_freed        BIGINT NOT NULL,
    files_removed      BIGINT NOT NULL,    -- blob files no row owned
    uploads_expired    BIGINT NOT NULL,
    error              TEXT                -- NULL when the run completed
);
CREATE INDEX gc_runs_started ON gc_runs(started_at);
