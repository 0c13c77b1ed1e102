-- Berth metadata, PostgreSQL (the twin of schema/010_namespace_quotas.sql): per-namespace
-- storage quotas and usage. A namespace's usage is the sum of the sizes of the distinct
-- stored blobs (configs and layers) that its manifests reference: a blob shared by several
-- repositories of one namespace counts once there, and a blob shared by two namespaces
-- counts in each. Manifest bytes and foreign (not stored) layers do not count. Triggers
-- keep the counters in the transaction that changes a manifest, so reading a namespace's
-- usage is one primary-key lookup.

CREATE TABLE namespace_usage (
    namespace  TEXT COLLATE "C" PRIMARY KEY,
    quota      BIGINT,                    -- bytes; NULL: no quota
    used       BIGINT NOT NULL DEFAULT 0  -- bytes, the sum of namespace_blobs.size
);

-- How many manifest references each blob has in each namespace.
CREATE TABLE namespace_blobs (
    namespace  TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    size       BIGINT NOT NULL,
    refs       BIGINT NOT NULL,
    PRIMARY KEY (namespace, digest)
);

INSERT INTO namespace_blobs (namespace, digest, size, refs)
    SELECT r.namespace, mr.digest, b.size, COUNT(*)
    FROM manifest_references mr
    JOIN manifests m ON m.id = mr.manifest_id
    JOIN repositories r ON r.id = m.repository_id
    JOIN blobs b ON b.digest = mr.digest
    WHERE mr.kind IN (0, 1)
    GROUP BY r.namespace, mr.digest, b.size;

INSERT INTO namespace_usage (namespace, used)
    SELECT namespace, SUM(size) FROM namespace_blobs GROUP BY namespace;

-- The triggers below run, row by row, the statements of SQLite's triggers of the same
-- names. A PostgreSQL trigger's WHEN cannot hold a subquery, so the blob's existence is
-- checked in the function.

-- A config or layer reference added: count the blob in the namespace unless already there.
CREATE FUNCTION namespace_usage_ref_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM blobs WHERE digest = NEW.digest) THEN
        RETURN NULL;
    END IF;
    INSERT INTO namespace_usage (namespace, used)
        SELECT r.namespace, 0 FROM manifests m JOIN repositories r ON r.id = m.repository_id
        WHERE m.id = NEW.manifest_id
        ON CONFLICT (namespace) DO NOTHING;
    UPDATE namespace_usage SET used = used + (SELECT size FROM blobs WHERE digest = NEW.digest)
        WHERE namespace = (SELECT r.namespace FROM manifests m JOIN repositories r ON r.id = m.repository_id
                           WHERE m.id = NEW.manifest_id)
        AND NOT EXISTS (SELECT 1 FROM namespace_blobs nb
                        WHERE nb.namespace = namespace_usage.namespace AND nb.digest = NEW.digest);
    INSERT INTO namespace_blobs (namespace, digest, size, refs)
        SELECT r.namespace, NEW.digest, b.size, 1
        FROM manifests m JOIN repositories r ON r.id = m.repository_id JOIN blobs b ON b.digest = NEW.digest
        WHERE m.id = NEW.manifest_id
        ON CONFLICT (namespace, digest) DO UPDATE SET refs = namespace_blobs.refs + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER namespace_usage_ref_insert AFTER INSERT ON manifest_references
    FOR EACH ROW WHEN (NEW.kind IN (0, 1)) EXECUTE FUNCTION namespace_usage_ref_insert();

-- A manifest deleted (its references go with it, by the cascade that runs after this):
-- release its blobs while its repository row still names the namespace.
CREATE FUNCTION namespace_usage_manifest_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE namespace_blobs SET refs = refs - (
            SELECT COUNT(*) FROM manifest_references mr
            WHERE mr.manifest_id = OLD.id AND mr.kind IN (0, 1) AND mr.digest = namespace_blobs.digest)
        WHERE namespace = (SELECT namespace FROM repositories WHERE id = OLD.repository_id)
        AND digest IN (SELECT digest FROM manifest_references WHERE manifest_id = OLD.id AND kind IN (0, 1));
    UPDATE namespace_usage SET used = used - (
            SELECT COALESCE(SUM(nb.size), 0) FROM namespace_blobs nb
            WHERE nb.namespace = namespace_usage.namespace AND nb.refs <= 0
            AND nb.digest IN (SELECT digest FROM manifest_references WHERE manifest_id = OLD.id AND kind IN (0, 1)))
        WHERE namespace = (SELECT namespace FROM repositories WHERE id = OLD.repository_id);
    DELETE FROM namespace_blobs
        WHERE namespace = (SELECT namespace FROM repositories WHERE id = OLD.repository_id) AND refs <= 0
        AND digest IN (SELECT digest FROM manifest_references WHERE manifest_id = OLD.id AND kind IN (0, 1));
    RETURN OLD;
END;
$$;
CREATE TRIGGER namespace_usage_manifest_delete BEFORE DELETE ON manifests
    FOR EACH ROW EXECUTE FUNCTION namespace_usage_manifest_delete();

-- A repository deleted: release every blob of its manifests first (the manifests then go by
-- cascade, when the repository row is already gone and their own trigger does nothing).
CREATE FUNCTION namespace_usage_repository_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE namespace_blobs SET refs = refs - (
            SELECT COUNT(*) FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id
            WHERE m.repository_id = OLD.id AND mr.kind IN (0, 1) AND mr.digest = namespace_blobs.digest)
        WHERE namespace = OLD.namespace
        AND digest IN (SELECT mr.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id
                       WHERE m.repository_id = OLD.id AND mr.kind IN (0, 1));
    UPDATE namespace_usage SET used = used - (
            SELECT COALESCE(SUM(nb.size), 0) FROM namespace_blobs nb
            WHERE nb.namespace = OLD.namespace AND nb.refs <= 0)
        WHERE namespace = OLD.namespace;
    DELETE FROM namespace_blobs WHERE namespace = OLD.namespace AND refs <= 0;
    RETURN OLD;
END;
$$;
CREATE TRIGGER namespace_usage_repository_delete BEFORE DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION namespace_usage_repository_delete();
