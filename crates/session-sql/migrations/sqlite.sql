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
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
