-- Per-key request rate: requests per minute; NULL is unlimited.
ALTER TABLE keys ADD COLUMN rpm_limit INTEGER;
