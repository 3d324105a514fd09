//! The server-side Lua scripts. Each driver operation but `destroy` and the plain read is one of
//! them, sent as one `EVALSHA` (or, when the server's script cache was flushed, one `EVAL` that
//! reloads it).
//!
//! Layout of a session: one string per session, a fixed-size header and the record:
//!
//! ```text
//! s1:<version>:<created>:<active>:<record>
//! ```
//!
//! - `s1` names this layout;
//! - `version`: the record's version, compared by the conditional write;
//! - `created`: the creation time (ms since the Unix epoch), for the absolute lifetime;
//! - `active`: the last activity (ms), moved by reads and touches;
//! - each of the three numbers is written in decimal with 20 digits (zero-padded: any `u64`
//!   fits), so the header is always `HEAD` (66) bytes and the activity mark is always at
//!   `ACTIVE_AT` (45): a read or a touch moves it in place with `SETRANGE`, whatever the size of
//!   the record;
//! - `record`: the record in session-core's versioned JSON encoding.
//!
//! One string instead of a hash with a field each: a conditional write is one `GETRANGE` of the
//! header and one `SET … PX` of the whole value (the TTL in the same command), where the hash
//! needed `HMGET`, `HSET` and `PEXPIRE`. Inside a script each command costs Redis several times
//! what it costs on its own, so this halves the server's work per write (measured in the
//! performance notes).
//!
//! Times come from the application's clock (`ARGV`), never from Redis's: the key's TTL is set
//! relative to that clock (`PX`, `PEXPIRE`), so clock skew between the application and Redis does
//! not change how long a session lives. A record past its idle or absolute lifetime according to
//! the application's clock is treated as absent and is never refreshed.
//!
//! The scripts call `TYPE`, `GETRANGE`, `SET`, `SETRANGE`, `PEXPIRE`, `UNLINK` and (with the
//! local cache) `STRLEN` only; the
//! driver itself sends `EVALSHA`, `EVAL`, `GET` and `DEL`. Keeping those sets apart lets tests
//! count round trips in `INFO commandstats`, which counts the commands run inside scripts too.

use redis::Script;

/// Shared Lua prelude: `head(h)` parses a header (the version as text, the two times as numbers;
/// nil for anything else) with one match against `PATTERN`, written out in full (20 `%d` per
/// number) so that no call builds it; `deadline(...)` tells when a record ends if marked active at `a`;
/// `retrack()` follows each change the script makes to the session (see [`RETRACK`]).
///
/// `FRESH` (ms): a record marked active less than this long ago keeps its mark and its TTL on a
/// read or a touch. Under load one session is read many times a second; rewriting the mark and
/// the TTL each time was most of the work Redis did for a read. The idle lifetime is therefore
/// exact to within one second. The driver skips the script when it saw a mark that recent itself
/// (`marks.rs`, whose `FRESH_MS` must be the same).
const PRELUDE: &str = r"
local FRESH = 1000
local HEAD = 66
local ACTIVE_AT = 45
local PATTERN = '^s1:(%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d):(%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d):(%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d):'
local function num(x) return tonumber(x) end
local function head(h)
  local v, c, a = string.match(h, PATTERN)
  if not v then return nil end
  return v, tonumber(c), tonumber(a)
end
local function deadline(c, a, idle, abs)
  local d = a + idle
  if abs > 0 and c + abs < d then d = c + abs end
  return d
end
";

/// `retrack()` with the local cache: reads the key once more after the script changed it.
///
/// With the local cache, Redis tracks the keys each connection reads and reports the next change
/// to each of them once (`CLIENT TRACKING ON NOLOOP`, see `cache.rs`); a change forgets who
/// tracked the key. `NOLOOP` spares the connection the report of its own change, so without a
/// read after it, the driver would keep a copy of what it wrote and hear of no later change.
/// Inside a script, a read counts for the client that called the script: one `STRLEN` (the
/// cheapest read of a string) after the change puts the key back on the connection's list.
/// Without the cache nothing is tracked, and the function does nothing.
const RETRACK: &str = "local function retrack() redis.call('STRLEN', KEYS[1]) end\n";

/// `retrack()` without the local cache.
const NO_RETRACK: &str = "local function retrack() end\n";

/// Reads a record and, when it is live, marks it active now and slides its TTL (unless it was
/// marked less than `FRESH` ago). `GETRANGE` comes first: `TYPE` only runs, through the error
/// path, for a key of another type.
///
/// `KEYS[1]` = the session key; `ARGV` = now, idle ms, absolute ms (0 = none), now in the
/// header's 20 digits. Returns nil (no record, or expired), `{"foreign", <type>}` (a value this
/// driver did not write), or the value as it was before the script moved the mark: the driver
/// knows the mark it then holds (`now` when the stored one was `FRESH` old, else the stored one).
const READ: &str = r"
local s = redis.pcall('GETRANGE', KEYS[1], 0, -1)
if type(s) == 'table' then return {'foreign', redis.call('TYPE', KEYS[1])['ok']} end
if s == '' then return nil end
local v, c, a = head(s)
if not v then return {'foreign', 'string'} end
local now, idle, abs = num(ARGV[1]), num(ARGV[2]), num(ARGV[3])
if now >= deadline(c, a, idle, abs) then return nil end
if now - a >= FRESH then
  redis.call('SETRANGE', KEYS[1], ACTIVE_AT, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.max(1, deadline(c, now, idle, abs) - now))
  retrack()
end
return s
";

/// Writes a record only if the stored one is in the expected state. Only the header is read.
///
/// `KEYS[1]` = the session key; `ARGV` = expected version in the header's 20 digits (empty =
/// absent expected, `*` = write whatever is stored), the new value (header and record), TTL ms,
/// now, idle ms, absolute ms. Returns `written`, `conflict` or `gone`.
const WRITE_IF: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], 0, HEAD - 1)
local foreign = type(h) == 'table'
local current = nil
if not foreign and h ~= '' then
  local v, c, a = head(h)
  if not v then
    foreign = true
  elseif num(ARGV[4]) < deadline(c, a, num(ARGV[5]), num(ARGV[6])) then
    current = v
  end
end
if ARGV[1] == '' then
  if current ~= nil or foreign then return 'conflict' end
elseif ARGV[1] ~= '*' then
  if current == nil then return 'gone' end
  if current ~= ARGV[1] then return 'conflict' end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
retrack()
return 'written'
";

/// Removes a record only if it is still at the given version.
///
/// `KEYS[1]` = the session key; `ARGV` = version in the header's 20 digits, now, idle ms,
/// absolute ms. Returns `written`, `conflict` or `gone`.
const DESTROY_IF: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], 0, HEAD - 1)
if type(h) == 'table' then return 'gone' end
local v, c, a = head(h)
if not v or num(ARGV[2]) >= deadline(c, a, num(ARGV[3]), num(ARGV[4])) then return 'gone' end
if v ~= ARGV[1] then return 'conflict' end
redis.call('UNLINK', KEYS[1])
return 'written'
";

/// Marks an existing, live record active and slides its TTL (unless it was marked less than
/// `FRESH` ago). Never creates a record.
///
/// `KEYS[1]` = the session key; `ARGV` = now, idle ms, absolute ms, now in the header's 20
/// digits. Returns the record's activity mark (ms) after the call when it is live, 0 when there
/// is none.
const TOUCH: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], 0, HEAD - 1)
if type(h) == 'table' then return 0 end
local v, c, a = head(h)
if not v then return 0 end
local now, idle, abs = num(ARGV[1]), num(ARGV[2]), num(ARGV[3])
if now >= deadline(c, a, idle, abs) then return 0 end
if now - a < FRESH then return a end
redis.call('SETRANGE', KEYS[1], ACTIVE_AT, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.max(1, deadline(c, now, idle, abs) - now))
retrack()
return now
";

/// A script's source and its SHA-1 digest (what `EVALSHA` names it by).
#[derive(Debug)]
pub(crate) struct Lua {
    pub(crate) code: String,
    pub(crate) sha: String,
}

impl Lua {
    fn new(retrack: &str, body: &str) -> Self {
        let code = format!("{PRELUDE}{retrack}{body}");
        let sha = Script::new(&code).get_hash().to_owned();
        Self { code, sha }
    }
}

/// The four scripts, with their digests computed once.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) read: Lua,
    pub(crate) write_if: Lua,
    pub(crate) destroy_if: Lua,
    pub(crate) touch: Lua,
}

impl Scripts {
    /// The scripts; `retrack` when the local cache is on (see [`RETRACK`]).
    pub(crate) fn new(retrack: bool) -> Self {
        let with_prelude = |body| Lua::new(if retrack { RETRACK } else { NO_RETRACK }, body);
        Self {
            read: with_prelude(READ),
            write_if: with_prelude(WRITE_IF),
            destroy_if: with_prelude(DESTROY_IF),
            touch: with_prelude(TOUCH),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{ACTIVE_AT, DIGITS, HEAD, TAG};

    #[test]
    fn the_scripts_and_the_driver_agree_on_fresh_and_the_header() {
        for line in [
            format!("local FRESH = {}\n", crate::marks::FRESH_MS),
            format!("local HEAD = {HEAD}\n"),
            format!("local ACTIVE_AT = {ACTIVE_AT}\n"),
            format!(
                "local PATTERN = '^{tag}({n}):({n}):({n}):'\n",
                tag = std::str::from_utf8(TAG).expect("ASCII"),
                n = "%d".repeat(DIGITS)
            ),
        ] {
            assert!(PRELUDE.contains(&line), "{line:?} not in {PRELUDE}");
        }
        assert_eq!((HEAD, ACTIVE_AT), (66, 45));
    }
}
