-- Berth metadata, version 3: browser sessions of the web UI (/api/v1), a pull counter per
-- repository, and indexes for the repository listings of the web UI.

-- A signed-in browser. Only a SHA-256 of the cookie's secret is kept; the CSRF token is
-- handed to the page and must come back on every state-changing request.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    secret_hash   TEXT NOT NULL UNIQUE,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL       -- absolute limit; the idle limit is berthd's
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

ALTER TABLE repositories ADD COLUMN pull_count BIGINT NOT NULL DEFAULT 0;
CREATE INDEX repositories_updated ON repositories(updated_at);
CREATE INDEX repositories_pulls ON repositories(pull_count);
