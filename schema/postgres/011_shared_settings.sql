-- Berth metadata, version 11, PostgreSQL (the twin of schema/011_shared_settings.sql):
-- values every berthd node sharing this database must agree on, such as the token signing
-- key of a multi-node deployment. One row per setting; the first node to need a value
-- creates it (INSERT ... ON CONFLICT DO NOTHING, then read back), the others read it.
CREATE TABLE shared_settings (
    name        TEXT COLLATE "C" PRIMARY KEY,
    value       TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL
);
