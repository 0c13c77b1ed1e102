-- Berth metadata, version 1: repositories, blobs and their links to repositories,
-- manifests with what they reference, tags, and upload sessions.
-- Portable SQL: runs on SQLite and PostgreSQL (BIGINT ids, TEXT, BYTEA/BLOB via the
-- driver's type map; times are Unix seconds).

CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Every complete, verified blob in the store, once whatever the number of repositories.
CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- A repository may serve a blob only through a link: pushed or mounted into it.
CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest        TEXT NOT NULL REFERENCES blobs(digest),
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs(digest);

-- The exact bytes pushed, their digest and media type, and what the referrers API lists.
CREATE TABLE manifests (
    id             INTEGER PRIMARY KEY,
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest         TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    artifact_type  TEXT,
    subject        TEXT,
    annotations    TEXT,
    size           BIGINT NOT NULL,
    content        BLOB NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests(repository_id, subject);

-- What a manifest references: config (0), layers (1), child manifests (2).
CREATE TABLE manifest_references (
    manifest_id  INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    kind         INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    digest       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    media_type   TEXT NOT NULL,
    PRIMARY KEY (manifest_id, kind, position)
);
CREATE INDEX manifest_references_digest ON manifest_references(digest);

CREATE TABLE tags (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    manifest_id   INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest ON tags(manifest_id);

-- An upload in progress; its bytes are the blob store's staging object of the same id.
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
