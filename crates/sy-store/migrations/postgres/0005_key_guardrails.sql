-- Keys as guardrails (SPEC §8): the key's guardrails as one JSON object (limit_reset, tpm,
-- expires_at, allowed_models, allowed_providers, provider; NULL: none), the team it belongs
-- to (at most one), and when it was last changed (unix seconds).
ALTER TABLE keys ADD COLUMN IF NOT EXISTS guardrails TEXT;
ALTER TABLE keys ADD COLUMN IF NOT EXISTS team TEXT;
ALTER TABLE keys ADD COLUMN IF NOT EXISTS updated_at BIGINT;
CREATE INDEX IF NOT EXISTS keys_team ON keys (team);

-- Teams: a limit (USD; NULL unlimited) over the spend of their keys, reset daily, weekly or
-- monthly on UTC boundaries (NULL: never).
CREATE TABLE IF NOT EXISTS teams (
    name        TEXT             PRIMARY KEY,
    limit_usd   DOUBLE PRECISION,
    limit_reset TEXT,
    created_at  BIGINT           NOT NULL,
    updated_at  BIGINT
);
