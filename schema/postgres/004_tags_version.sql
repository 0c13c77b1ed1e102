-- Berth metadata, version 4, PostgreSQL (the twin of schema/004_tags_version.sql): a
-- per-repository counter of tag changes, bumped by triggers in the transaction that changes
-- a tag, so a node can cache a repository's rendered tag list and know, with one indexed
-- read, whether it is still current (on any node).

ALTER TABLE repositories ADD COLUMN tags_version BIGINT NOT NULL DEFAULT 0;

-- SQLite's three triggers run one statement each; here they share one row-level function.
-- A tag row that goes with its repository (ON DELETE CASCADE) updates no row, as on SQLite.
CREATE FUNCTION tags_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE repositories SET tags_version = tags_version + 1 WHERE id = OLD.repository_id;
    ELSE
        UPDATE repositories SET tags_version = tags_version + 1 WHERE id = NEW.repository_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tags_version_insert AFTER INSERT ON tags
    FOR EACH ROW EXECUTE FUNCTION tags_version_bump();

CREATE TRIGGER tags_version_update AFTER UPDATE ON tags
    FOR EACH ROW EXECUTE FUNCTION tags_version_bump();

CREATE TRIGGER tags_version_delete AFTER DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION tags_version_bump();
