-- Berth metadata, version 5, PostgreSQL (the twin of schema/005_web_ui.sql), for the web
-- UI: when each manifest was last pulled (a manifest GET, by tag or by digest), shown per
-- tag; berthd gathers these in memory and writes them in one transaction every few
-- seconds, with the pull counts. And indexes that match the repository listing's sort
-- orders whole (ties broken by name), so a page of the most pulled or recently pushed
-- repositories is read from an index, not sorted.

ALTER TABLE manifests ADD COLUMN last_pulled_at BIGINT;

CREATE INDEX repositories_pulls_name ON repositories(pull_count DESC, name);
CREATE INDEX repositories_updated_name ON repositories(updated_at DESC, name);
