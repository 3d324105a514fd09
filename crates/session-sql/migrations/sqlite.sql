-- The session table of session-sql for SQLite.
-- `SqlDriver::migrate()` runs this with the configured table name in place of `sessions`.
CREATE TABLE IF NOT EXISTS sessions (
    -- The storage key: a 22-character hash of the session id, never the id.
    id TEXT PRIMARY KEY NOT NULL,
    -- Incremented on every write; writes and deletes compare it.
    version INTEGER NOT NULL,
    -- Milliseconds since the Unix epoch.
    created_at INTEGER NOT NULL,
    last_active INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- The session's values and flash messages, as a JSON object.
    data TEXT NOT NULL,
    -- The session's tag (`Session::tag`, usually the user's id) as UTF-8 bytes, or NULL: what
    -- lists the sessions of a user. A BLOB compares byte for byte, a NUL included.
    tag BLOB
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
-- Partial: untagged sessions are left out, so they cost the index nothing.
CREATE INDEX IF NOT EXISTS sessions_tag ON sessions (tag) WHERE tag IS NOT NULL;
