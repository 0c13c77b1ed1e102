-- Berth metadata, version 6, PostgreSQL (the twin of schema/006_mirror_cache.sql): the
-- pull-through cache. A repository filled from an upstream registry (berthd --mirror) is
-- recorded with where it comes from and when it was last checked there; each cached tag
-- remembers when the upstream last confirmed it, so it is revalidated (HEAD) only once its
-- TTL has passed.

-- repository_id is the repository's id, always given: no identity of its own.
CREATE TABLE mirror_repositories (
    repository_id  BIGINT PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    upstream       TEXT COLLATE "C" NOT NULL,     -- "https://host/upstream/repository"
    last_checked   BIGINT NOT NULL
);

CREATE TABLE mirror_tags (
    repository_id  BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name           TEXT COLLATE "C" NOT NULL,
    checked_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);
