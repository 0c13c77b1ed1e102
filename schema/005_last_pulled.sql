-- Berth metadata, version 5: when each manifest was last pulled (a manifest GET, by tag or
-- by digest), which the web UI shows per tag. berthd gathers these in memory and writes
-- them in one transaction every few seconds, with the pull counts.

ALTER TABLE manifests ADD COLUMN last_pulled_at BIGINT;
