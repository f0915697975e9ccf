-- Stored Responses (SPEC §4.7): the response object under the key that made it (owner: the
-- key's id, '' for the master key or an open gateway), the conversation's input items up to it
-- (stored history included) and the provider that answered, so that `previous_response_id`
-- replays the conversation on any endpoint.
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    provider TEXT NOT NULL,
    items TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_owner ON responses (owner, created_at);
