-- Berth metadata, version 2: accounts (users and organizations), organization members,
-- per-repository grants, repository visibility, personal access tokens, refresh tokens
-- and the audit log.

-- A user or an organization; either name is a namespace ("alice/app", "acme/api").
CREATE TABLE accounts (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('user', 'org')),
    email          TEXT,
    password_hash  TEXT,                 -- users only: argon2id encoded string
    is_admin       INTEGER NOT NULL DEFAULT 0,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- Members of an organization: owners administer it and everything in its namespace;
-- writers may push and pull every repository of it; readers may pull them.
CREATE TABLE org_members (
    org_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'writer', 'reader')),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members(user_id);

-- Access to one repository for one user, beyond what the namespace gives.
CREATE TABLE repository_grants (
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    permission     TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, user_id)
);
CREATE INDEX repository_grants_user ON repository_grants(user_id);

ALTER TABLE repositories ADD COLUMN namespace TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';
ALTER TABLE repositories ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN full_description TEXT NOT NULL DEFAULT '';
-- Repositories created before accounts existed stay readable as they were: public.
UPDATE repositories SET visibility = 'public',
    namespace = CASE WHEN instr(name, '/') > 0 THEN substr(name, 1, instr(name, '/') - 1) ELSE '' END;
CREATE INDEX repositories_namespace ON repositories(namespace, name);

-- Personal access tokens, usable as a password; only a SHA-256 of the secret is kept.
CREATE TABLE access_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'read-write', 'read-write-delete')),
    secret_hash   TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX access_tokens_user ON access_tokens(user_id);

-- Refresh tokens handed out with offline_token=true or the OAuth2 password grant.
CREATE TABLE refresh_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client_id     TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    scope_cap     TEXT,               -- the personal access token scope it came from, if any
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,         -- account name, or '-' for anonymous
    action       TEXT NOT NULL,         -- login, login_failed, token_create, push, delete, ...
    target       TEXT NOT NULL,
    detail       TEXT,                  -- JSON object text
    remote_addr  TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
