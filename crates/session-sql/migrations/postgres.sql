-- The session table of session-sql for PostgreSQL (9.5 or later).
-- `SqlDriver::migrate()` runs this with the configured table name in place of `sessions`.
CREATE TABLE IF NOT EXISTS sessions (
    -- The storage key: a 22-character hash of the session id, never the id.
    id TEXT PRIMARY KEY,
    -- Incremented on every write; writes and deletes compare it.
    version BIGINT NOT NULL,
    -- Milliseconds since the Unix epoch.
    created_at BIGINT NOT NULL,
    last_active BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- The session's values and flash messages, as a JSON object.
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
