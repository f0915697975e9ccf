-- Per-key request rate: requests per minute; NULL is unlimited.
ALTER TABLE keys ADD COLUMN IF NOT EXISTS rpm_limit BIGINT;
