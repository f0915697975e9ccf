-- When a record reached the store (ms since the epoch, the database's clock: the writing
-- transaction's start), so that a shared counter rebuilt from the store can leave out the last
-- moment's records, which their instances then send again (see sy-server cluster/keys.rs).
-- NULL for older rows.
ALTER TABLE generations ADD COLUMN IF NOT EXISTS stored_ms BIGINT;
CREATE INDEX IF NOT EXISTS generations_key_stored ON generations (key_id, stored_ms);
