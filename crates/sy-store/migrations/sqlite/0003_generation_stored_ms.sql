-- When a record reached the store (ms since the epoch, the database's clock), so that a shared
-- counter rebuilt from the store can leave out the last moment's records, which their
-- instances then send again (see sy-server cluster/keys.rs). NULL for older rows.
ALTER TABLE generations ADD COLUMN stored_ms INTEGER;
CREATE INDEX IF NOT EXISTS generations_key_stored ON generations (key_id, stored_ms);
