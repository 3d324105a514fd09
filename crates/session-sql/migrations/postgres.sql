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
    data TEXT NOT NULL,
    -- The session's tag (`Session::tag`, usually the user's id) as UTF-8 bytes, or NULL: what
    -- lists the sessions of a user. Bytes rather than text, because a tag may hold a NUL, which
    -- TEXT cannot; `=` on BYTEA compares byte for byte.
    tag BYTEA
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
-- Partial: untagged sessions are left out, so they cost the index nothing.
CREATE INDEX IF NOT EXISTS sessions_tag ON sessions (tag) WHERE tag IS NOT NULL;
