//! The SQL each driver runs, per database, with the table name filled in once at start-up.

use crate::Backend;

/// The statements of one table on one database.
#[derive(Debug, Clone)]
pub(crate) struct Statements {
    /// `key, now` → `version, created_at, last_active, expires_at, data` of a live row.
    pub(crate) read: String,
    /// `key, version, created_at, last_active, expires_at, data, tag, now`: inserts a new row,
    /// or replaces an expired one; affects no row when a live one is there. PostgreSQL and
    /// SQLite do it in one statement (an upsert whose update is conditional).
    pub(crate) insert_or_replace_expired: Option<String>,
    /// `key, version, created_at, last_active, expires_at, data, tag`: a plain insert (MySQL,
    /// where a duplicate key is answered by [`Statements::delete_expired_key`] and a second
    /// try).
    pub(crate) insert: String,
    /// `key, now`: removes the row under `key` if it has expired.
    pub(crate) delete_expired_key: String,
    /// `version, created_at, last_active, expires_at, data, tag, key, expected, now`: the
    /// conditional write of a live row.
    pub(crate) update: String,
    /// `key, now` → the version of a live row: tells a conflict from a gone row.
    pub(crate) version: String,
    /// `key, version, now`: the conditional delete.
    pub(crate) destroy: String,
    /// `last_active, expires_at, key, now`: slides the times of a live row.
    pub(crate) refresh: String,
    /// `now, batch`: deletes at most `batch` expired rows.
    pub(crate) sweep: String,
    /// `tag, now` → `id, version, created_at, last_active, expires_at, data` of the live rows of
    /// a tag, through the index on `tag`.
    pub(crate) tagged: String,
    /// The migration, one statement per entry.
    pub(crate) migration: Vec<String>,
}

impl Statements {
    pub(crate) fn new(backend: Backend, table: &str) -> Self {
        // `$1`, `$2`, … for PostgreSQL; `?` for MySQL and SQLite (which number them in order).
        let p = |n: usize| match backend {
            Backend::Postgres => format!("${n}"),
            Backend::MySql | Backend::Sqlite => "?".to_owned(),
        };
        let columns = "id, version, created_at, last_active, expires_at, data, tag";
        let values = (1..=7).map(p).collect::<Vec<_>>().join(", ");
        let insert = format!("INSERT INTO {table} ({columns}) VALUES ({values})");
        let insert_or_replace_expired = match backend {
            // The alias names the existing row in the update's condition, also when the table
            // name carries a schema.
            Backend::Postgres => Some(format!(
                "INSERT INTO {table} AS t ({columns}) VALUES ({values}) ON CONFLICT (id) DO UPDATE \
                 SET version = excluded.version, created_at = excluded.created_at, \
                 last_active = excluded.last_active, expires_at = excluded.expires_at, \
                 data = excluded.data, tag = excluded.tag WHERE t.expires_at <= {}",
                p(8)
            )),
            Backend::Sqlite => Some(format!(
                "INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT (id) DO UPDATE \
                 SET version = excluded.version, created_at = excluded.created_at, \
                 last_active = excluded.last_active, expires_at = excluded.expires_at, \
                 data = excluded.data, tag = excluded.tag WHERE {table}.expires_at <= {}",
                p(8)
            )),
            // MySQL's `ON DUPLICATE KEY UPDATE` has no condition on the whole update.
            Backend::MySql => None,
        };
        let sweep = match backend {
            Backend::MySql => format!("DELETE FROM {table} WHERE expires_at <= ? LIMIT ?"),
            Backend::Postgres | Backend::Sqlite => format!(
                "DELETE FROM {table} WHERE id IN \
                 (SELECT id FROM {table} WHERE expires_at <= {} LIMIT {})",
                p(1),
                p(2)
            ),
        };
        Self {
            read: format!(
                "SELECT version, created_at, last_active, expires_at, data FROM {table} \
                 WHERE id = {} AND expires_at > {}",
                p(1),
                p(2)
            ),
            insert_or_replace_expired,
            insert,
            delete_expired_key: format!(
                "DELETE FROM {table} WHERE id = {} AND expires_at <= {}",
                p(1),
                p(2)
            ),
            update: format!(
                "UPDATE {table} SET version = {}, created_at = {}, last_active = {}, \
                 expires_at = {}, data = {}, tag = {} \
                 WHERE id = {} AND version = {} AND expires_at > {}",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9)
            ),
            version: format!(
                "SELECT version FROM {table} WHERE id = {} AND expires_at > {}",
                p(1),
                p(2)
            ),
            destroy: format!(
                "DELETE FROM {table} WHERE id = {} AND version = {} AND expires_at > {}",
                p(1),
                p(2),
                p(3)
            ),
            refresh: format!(
                "UPDATE {table} SET last_active = {}, expires_at = {} \
                 WHERE id = {} AND expires_at > {}",
                p(1),
                p(2),
                p(3),
                p(4)
            ),
            sweep,
            tagged: format!(
                "SELECT id, version, created_at, last_active, expires_at, data FROM {table} \
                 WHERE tag = {} AND expires_at > {}",
                p(1),
                p(2)
            ),
            migration: migration(backend, table),
        }
    }
}

/// The statements of `migrations/<backend>.sql` with `table` in place of `sessions`: the table,
/// and its indexes on `expires_at` and `tag`, named `<table>_expires_at` and `<table>_tag`
/// (without the schema).
fn migration(backend: Backend, table: &str) -> Vec<String> {
    let file = match backend {
        Backend::Postgres => include_str!("../migrations/postgres.sql"),
        Backend::MySql => include_str!("../migrations/mysql.sql"),
        Backend::Sqlite => include_str!("../migrations/sqlite.sql"),
    };
    let unqualified = table.rsplit('.').next().unwrap_or(table);
    let sql: String = file
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    sql.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            // The index names first, out of the way of the table's, then back with the table
            // name without its schema.
            s.replace("sessions_", "\u{0}")
                .replace("sessions", table)
                .replace('\u{0}', &format!("{unqualified}_"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_names_the_table_and_its_index() {
        let m = migration(Backend::Postgres, "auth.web_sessions");
        assert_eq!(m.len(), 3);
        assert!(m[0].starts_with("CREATE TABLE IF NOT EXISTS auth.web_sessions ("));
        assert!(m[0].contains("tag BYTEA"));
        assert_eq!(
            m[1],
            "CREATE INDEX IF NOT EXISTS web_sessions_expires_at ON auth.web_sessions (expires_at)"
        );
        assert_eq!(
            m[2],
            "CREATE INDEX IF NOT EXISTS web_sessions_tag ON auth.web_sessions (tag) \
             WHERE tag IS NOT NULL"
        );
        let m = migration(Backend::MySql, "sessions");
        assert_eq!(m.len(), 1);
        assert!(m[0].contains("INDEX sessions_expires_at (expires_at)"));
        assert!(m[0].contains("tag VARBINARY(256) NULL"));
        assert!(m[0].contains("INDEX sessions_tag (tag)"));
        assert!(!m[0].contains("--"));
        let m = migration(Backend::Sqlite, "app_sessions");
        assert_eq!(m.len(), 3);
        assert!(m[0].contains("tag BLOB"));
        assert_eq!(
            m[2],
            "CREATE INDEX IF NOT EXISTS app_sessions_tag ON app_sessions (tag) WHERE tag IS NOT NULL"
        );
    }

    #[test]
    fn every_write_sets_the_tag_and_the_refresh_leaves_it() {
        for backend in [Backend::Postgres, Backend::MySql, Backend::Sqlite] {
            let s = Statements::new(backend, "sessions");
            assert!(
                s.insert
                    .starts_with("INSERT INTO sessions (id, version, created_at, last_active, expires_at, data, tag) VALUES"),
                "{}",
                s.insert
            );
            assert!(s.update.contains(", tag = "), "{}", s.update);
            if let Some(upsert) = &s.insert_or_replace_expired {
                assert!(upsert.contains("tag = excluded.tag"), "{upsert}");
            }
            assert!(!s.refresh.contains("tag"), "{}", s.refresh);
        }
        let pg = Statements::new(Backend::Postgres, "sessions");
        assert!(pg
            .update
            .ends_with("WHERE id = $7 AND version = $8 AND expires_at > $9"));
        assert!(pg
            .insert_or_replace_expired
            .as_deref()
            .is_some_and(|s| s.ends_with("WHERE t.expires_at <= $8")));
        assert_eq!(
            pg.tagged,
            "SELECT id, version, created_at, last_active, expires_at, data FROM sessions WHERE tag = $1 AND expires_at > $2"
        );
    }

    #[test]
    fn placeholders_follow_the_database() {
        let pg = Statements::new(Backend::Postgres, "sessions");
        assert_eq!(
            pg.read,
            "SELECT version, created_at, last_active, expires_at, data FROM sessions WHERE id = $1 AND expires_at > $2"
        );
        let my = Statements::new(Backend::MySql, "sessions");
        assert!(my
            .destroy
            .ends_with("WHERE id = ? AND version = ? AND expires_at > ?"));
        assert!(my.insert_or_replace_expired.is_none());
    }
}
