-- The session table of session-sql for MySQL and MariaDB (InnoDB).
-- `SqlDriver::migrate()` runs this with the configured table name in place of `sessions`.
CREATE TABLE IF NOT EXISTS sessions (
    -- The storage key: a 22-character hash of the session id, never the id. Compared byte for
    -- byte (ascii_bin): keys that differ only in case are different sessions.
    id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    -- Incremented on every write; writes and deletes compare it.
    version BIGINT NOT NULL,
    -- Milliseconds since the Unix epoch.
    created_at BIGINT NOT NULL,
    last_active BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- The session's values and flash messages, as a JSON object.
    data LONGTEXT CHARACTER SET utf8mb4 NOT NULL,
    -- The session's tag (`Session::tag`, usually the user's id) as UTF-8 bytes, or NULL: what
    -- lists the sessions of a user. VARBINARY compares byte for byte, without the case folding
    -- or the trailing-space padding of text collations (`_bin` ones included); 256 bytes is
    -- session-core's MAX_TAG_LEN.
    tag VARBINARY(256) NULL,
    INDEX sessions_expires_at (expires_at),
    INDEX sessions_tag (tag)
) ENGINE = InnoDB;
