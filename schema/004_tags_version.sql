-- Berth metadata, version 4: a per-repository counter of tag changes, bumped by triggers in
-- the transaction that changes a tag, so a node can cache a repository's rendered tag list
-- and know, with one indexed read, whether it is still current (on any node).

ALTER TABLE repositories ADD COLUMN tags_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER tags_version_insert AFTER INSERT ON tags
BEGIN
    UPDATE repositories SET tags_version = tags_version + 1 WHERE id = NEW.repository_id;
END;

CREATE TRIGGER tags_version_update AFTER UPDATE ON tags
BEGIN
    UPDATE repositories SET tags_version = tags_version + 1 WHERE id = NEW.repository_id;
END;

CREATE TRIGGER tags_version_delete AFTER DELETE ON tags
BEGIN
    UPDATE repositories SET tags_version = tags_version + 1 WHERE id = OLD.repository_id;
END;
