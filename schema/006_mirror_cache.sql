-- Berth metadata, version 6: the pull-through cache. A repository filled from an upstream
-- registry (berthd --mirror) is recorded with where it comes from and when it was last
-- checked there; each cached tag remembers when the upstream last confirmed it, so it is
-- revalidated (HEAD) only once its TTL has passed.

CREATE TABLE mirror_repositories (
    repository_id  INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    upstream       TEXT NOT NULL,     -- "https://host/upstream/repository"
    last_checked   BIGINT NOT NULL
);

CREATE TABLE mirror_tags (
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    checked_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);
