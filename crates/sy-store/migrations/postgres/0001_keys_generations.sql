-- Keys: the secret is never stored, only its SHA-256 (hex).
CREATE TABLE IF NOT EXISTS keys (
    id          TEXT             PRIMARY KEY,
    secret_hash TEXT             NOT NULL UNIQUE,
    label       TEXT             NOT NULL,
    limit_usd   DOUBLE PRECISION,                    -- NULL: unlimited
    usage_usd   DOUBLE PRECISION NOT NULL DEFAULT 0, -- only ever `usage_usd = usage_usd + cost`
    created_at  BIGINT           NOT NULL            -- unix seconds
);

-- One row per finished request. No foreign key to keys: a record outlives
-- its key, and may arrive after the key was deleted. `record` is TEXT, not
-- JSONB: JSONB refuses "\u0000", and one such string must not wedge the
-- writer's queue; cast with `record::jsonb` to query inside it.
CREATE TABLE IF NOT EXISTS generations (
    id         TEXT             PRIMARY KEY,
    key_id     TEXT,
    created_at BIGINT           NOT NULL,
    cost       DOUBLE PRECISION NOT NULL,
    record     TEXT             NOT NULL
);

CREATE INDEX IF NOT EXISTS generations_key_created ON generations (key_id, created_at);
CREATE INDEX IF NOT EXISTS generations_created ON generations (created_at);
