-- Operations: tag immutability and retention rules, webhooks and their persisted delivery
-- queue. (Retention by pull time reads manifests.last_pulled_at, from 005_web_ui.sql.)

-- A rule applies to one repository (scope_kind 'repository', scope = its full name) or to
-- every repository of a namespace (scope_kind 'namespace', scope = the namespace), and to
-- the tags matching pattern (a shell glob: * ? [...]).
-- kind 'immutable': a matching tag, once it exists, cannot be moved or deleted.
-- kind 'retention': of the matching tags, keep the keep_last most recently pushed
-- (keep_last set), or those pushed or pulled within keep_days days (keep_days set);
-- the others are untagged when retention runs.
CREATE TABLE tag_rules (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('immutable', 'retention')),
    scope_kind  TEXT NOT NULL CHECK (scope_kind IN ('repository', 'namespace')),
    scope       TEXT NOT NULL,
    pattern     TEXT NOT NULL,
    keep_last   BIGINT,
    keep_days   BIGINT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CHECK (kind = 'immutable' OR (keep_last IS NULL) <> (keep_days IS NULL))
);
CREATE INDEX tag_rules_scope ON tag_rules(scope_kind, scope);

-- Webhooks: a POST of a JSON event to url, signed with HMAC-SHA256 under secret.
-- events is a comma-separated list of 'push' and 'delete'.
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    scope_kind  TEXT NOT NULL CHECK (scope_kind IN ('repository', 'namespace')),
    scope       TEXT NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX webhooks_scope ON webhooks(scope_kind, scope);

-- One event for one webhook: queued, retried with backoff until delivered or out of
-- attempts. Rows stay as the delivery history.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);

