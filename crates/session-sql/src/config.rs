//! The driver's options: from a configuration section (`postgres`, `mysql` or `sqlite`) or set
//! in code on [`SqlDriverBuilder`](crate::SqlDriverBuilder).

use std::time::Duration;

use serde_json::Value;
use session_core::ConfigError;

/// Default table name.
pub const DEFAULT_TABLE: &str = "sessions";
/// Default most connections the pool opens.
pub const DEFAULT_POOL_SIZE: u32 = 10;
/// Default time to get a connection (from the pool, or a new one).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default time one statement may take.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest table name accepted (PostgreSQL's identifier limit is 63 bytes).
pub const MAX_TABLE_NAME: usize = 63;

/// Checks a table name: one or two identifiers (`sessions`, `auth.sessions`) of ASCII letters,
/// digits and `_`, not starting with a digit, at most [`MAX_TABLE_NAME`] bytes each. The name
/// goes into the SQL text (a statement cannot take it as a parameter), so nothing else passes.
///
/// ```
/// use session_sql::check_table_name;
///
/// assert!(check_table_name("sessions").is_ok());
/// assert!(check_table_name("auth.web_sessions").is_ok());
/// assert!(check_table_name("sessions; DROP TABLE users").is_err());
/// assert!(check_table_name("1sessions").is_err());
/// assert!(check_table_name("a.b.c").is_err());
/// ```
pub fn check_table_name(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    let identifier = |part: &str| {
        !part.is_empty()
            && part.len() <= MAX_TABLE_NAME
            && !part.starts_with(|c: char| c.is_ascii_digit())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if parts.len() <= 2 && parts.iter().all(|p| identifier(p)) {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a table name: use letters, digits and _ (not first), \
             optionally after a schema and a dot, at most {MAX_TABLE_NAME} characters each"
        ))
    }
}

/// The options read from a section, each already checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct SectionOptions {
    pub(crate) url: Option<String>,
    pub(crate) table: Option<String>,
    pub(crate) pool_size: Option<u32>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) statement_timeout: Option<Duration>,
}

impl SectionOptions {
    /// Reads the section of the driver `name`; an unknown option or a bad value fails naming it
    /// (`postgres.pool_size`).
    pub(crate) fn parse(name: &str, section: Option<&Value>) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        let map = match section {
            None | Some(Value::Null) => return Ok(out),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(ConfigError::new(name, "expected a table of options")),
        };
        for (key, value) in map {
            let option = format!("{name}.{key}");
            let err = |message: String| ConfigError::new(option.clone(), message);
            match key.as_str() {
                "url" => out.url = Some(text(value).map_err(err)?),
                "table" => {
                    let table = text(value).map_err(err)?;
                    check_table_name(&table).map_err(err)?;
                    out.table = Some(table);
                }
                "pool_size" => {
                    let size = value
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| (1..=10_000).contains(n))
                        .ok_or_else(|| {
                            err(format!("expected 1 to 10000 connections, got {value}"))
                        })?;
                    out.pool_size = Some(size);
                }
                "connect_timeout" => out.connect_timeout = Some(duration(value).map_err(err)?),
                "statement_timeout" => {
                    out.statement_timeout = Some(duration(value).map_err(err)?);
                }
                _ => {
                    return Err(err(
                        "unknown option; expected url, table, pool_size, connect_timeout or \
                         statement_timeout"
                            .to_owned(),
                    ))
                }
            }
        }
        Ok(out)
    }
}

fn text(value: &Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, got {value}"))
}

/// A duration: a number of seconds or a string such as `"500ms"` (session-core's syntax, as
/// the other drivers read it); more than zero.
fn duration(value: &Value) -> Result<Duration, String> {
    let parsed = match value {
        Value::String(s) => session_core::parse_duration(s),
        Value::Number(n) => session_core::parse_duration(&n.to_string()),
        _ => Err(format!(
            "expected a duration such as \"500ms\" or \"2s\", got {value}"
        )),
    }?;
    if parsed.is_zero() {
        return Err("must be more than zero".to_owned());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_option_is_read_and_checked() {
        let o = SectionOptions::parse(
            "postgres",
            Some(&json!({
                "url": "postgres://localhost/app",
                "table": "auth.sessions",
                "pool_size": 4,
                "connect_timeout": "250ms",
                "statement_timeout": 2
            })),
        )
        .unwrap();
        assert_eq!(o.url.as_deref(), Some("postgres://localhost/app"));
        assert_eq!(o.table.as_deref(), Some("auth.sessions"));
        assert_eq!(o.pool_size, Some(4));
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(250)));
        assert_eq!(o.statement_timeout, Some(Duration::from_secs(2)));

        let bad = |section| {
            SectionOptions::parse("mysql", Some(&section))
                .unwrap_err()
                .option()
                .to_owned()
        };
        assert_eq!(bad(json!({"table": "x;y"})), "mysql.table");
        assert_eq!(bad(json!({"pool_size": 0})), "mysql.pool_size");
        assert_eq!(
            bad(json!({"connect_timeout": "0s"})),
            "mysql.connect_timeout"
        );
        assert_eq!(
            bad(json!({"statement_timeout": "soon"})),
            "mysql.statement_timeout"
        );
        assert_eq!(bad(json!({"tabel": "x"})), "mysql.tabel");
        assert_eq!(bad(json!("x")), "mysql");
    }
}
