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
//! driver itself sends `EVALSHA`, `EVAL`, `GET`, `DEL` and, for a new session, `SET … NX PX`
//! (which the write script stands behind when the key exists). Apart from that `SET`, those sets
//! are apart, which lets tests count round trips in `INFO commandstats` (it counts the commands
//! run inside scripts too).

use redis::Script;

/// Shared Lua prelude: `head(h)` splits a header into its three numbers, as text (nil for a
/// value that does not start like one).
///
/// The scripts compare the numbers as text and never convert them on the path every write
/// takes: zero-padded to the same width, decimal numbers compare as text the way they compare
/// as numbers, and the driver sends the thresholds a live session's numbers must exceed
/// (`now - idle` for the activity mark, `now - absolute` for the creation time, `now - FRESH`
/// for a mark that is due to move) in the same 20 digits, or as an empty string when every
/// number exceeds it. (Lua compares strings with `strcoll`, and Redis sets the collation from
/// its environment; the C locale and glibc's locales collate the ten digits in their numeric
/// order, so digit strings of one length still compare as numbers, and the empty string comes
/// before all of them.) Measured with callgrind on `redis-server`, a header parsed with a
/// pattern and `tonumber` took about a third of the write script's instructions.
///
/// The arguments the scripts pass to `redis.call` are strings (`'0'`, `'65'`, `ACTIVE_AT`, the
/// `ARGV` as received), never Lua numbers: Redis turns a number argument into text with a
/// printf-style conversion, about 2,000 instructions each by callgrind on `redis-server`, which
/// was a fifth of the write script's `GETRANGE`. `ttl` returns the idle lifetime as the driver
/// sent it when there is no absolute lifetime, and converts only to compare with one.
///
/// `FRESH` (1 s, `marks::FRESH_MS`): a record marked active less than this long ago keeps its
/// mark and its TTL on a read or a touch. Under load one session is read many times a second;
/// rewriting the mark and the TTL each time was most of the work Redis did for a read. The idle
/// lifetime is therefore exact to within one second. The driver skips the script when it saw a
/// mark that recent itself (`marks.rs`).
const PRELUDE: &str = r"
local ACTIVE_AT = '45'
local function head(h)
  if #h < 66 or string.sub(h, 1, 3) ~= 's1:' then return nil end
  return string.sub(h, 4, 23), string.sub(h, 25, 44), string.sub(h, 46, 65)
end
local function ttl(c, now, idle, abs)
  if abs == '0' then return idle end
  local t = tonumber(idle)
  local left = tonumber(c) + tonumber(abs) - tonumber(now)
  if left < t then t = left end
  return math.max(1, t)
end
";

/// Where each script that changes a session follows the change with [`RETRACK`] (with the local
/// cache) or nothing.
const RETRACK_AT: &str = "--retrack\n";

/// With the local cache: reads the key once more after the script changed it.
///
/// With the local cache, Redis tracks the keys each connection reads and reports the next change
/// to each of them once (`CLIENT TRACKING ON NOLOOP`, see `cache.rs`); a change forgets who
/// tracked the key. `NOLOOP` spares the connection the report of its own change, so without a
/// read after it, the driver would keep a copy of what it wrote and hear of no later change.
/// Inside a script, a read counts for the client that called the script: one `STRLEN` (the
/// cheapest read of a string) after the change puts the key back on the connection's list.
/// Without the cache nothing is tracked, and the scripts leave it out.
const RETRACK: &str = "redis.call('STRLEN', KEYS[1])\n";

/// Reads a record and, when it is live, marks it active now and slides its TTL (unless it was
/// marked less than `FRESH` ago). `GETRANGE` comes first: `TYPE` only runs, through the error
/// path, for a key of another type.
///
/// `KEYS[1]` = the session key; `ARGV` = the idle threshold, the absolute threshold, the fresh
/// threshold (see [`PRELUDE`]), now in the header's 20 digits, now, idle ms, absolute ms (0 =
/// none). Returns nil (no record, or expired), `{"foreign", <type>}` (a value this driver did not
/// write), or the value as it was before the script moved the mark: the driver knows the mark it
/// then holds (`now` when the stored one was `FRESH` old, else the stored one).
const READ: &str = r"
local s = redis.pcall('GETRANGE', KEYS[1], '0', '-1')
if type(s) == 'table' then return {'foreign', redis.call('TYPE', KEYS[1])['ok']} end
if s == '' then return nil end
local v, c, a = head(s)
if not v then return {'foreign', 'string'} end
if a <= ARGV[1] or c <= ARGV[2] then return nil end
if a <= ARGV[3] then
  redis.call('SETRANGE', KEYS[1], ACTIVE_AT, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ttl(c, ARGV[5], ARGV[6], ARGV[7]))
  --retrack
end
return s
";

/// Writes a record only if the stored one is in the expected state. Only the header is read.
///
/// `KEYS[1]` = the session key; `ARGV` = expected version in the header's 20 digits (empty =
/// absent expected, `*` = write whatever is stored), the new value (header and record), TTL ms,
/// the idle threshold, the absolute threshold (see [`PRELUDE`]). Returns `written`, `conflict`
/// or `gone`.
const WRITE_IF: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], '0', '65')
local foreign = type(h) == 'table'
local current = nil
if not foreign and h ~= '' then
  local v, c, a = head(h)
  if not v then
    foreign = true
  elseif a > ARGV[4] and c > ARGV[5] then
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
--retrack
return 'written'
";

/// Removes a record only if it is still at the given version.
///
/// `KEYS[1]` = the session key; `ARGV` = version in the header's 20 digits, the idle threshold,
/// the absolute threshold. Returns `written`, `conflict` or `gone`.
const DESTROY_IF: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], '0', '65')
if type(h) == 'table' then return 'gone' end
local v, c, a = head(h)
if not v or a <= ARGV[2] or c <= ARGV[3] then return 'gone' end
if v ~= ARGV[1] then return 'conflict' end
redis.call('UNLINK', KEYS[1])
return 'written'
";

/// Marks an existing, live record active and slides its TTL (unless it was marked less than
/// `FRESH` ago). Never creates a record.
///
/// `KEYS[1]` = the session key; `ARGV` as for the read. Returns the record's activity mark (ms)
/// after the call when it is live, 0 when there is none.
const TOUCH: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], '0', '65')
if type(h) == 'table' then return 0 end
local v, c, a = head(h)
if not v or a <= ARGV[1] or c <= ARGV[2] then return 0 end
if a > ARGV[3] then return tonumber(a) or 0 end
redis.call('SETRANGE', KEYS[1], ACTIVE_AT, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl(c, ARGV[5], ARGV[6], ARGV[7]))
--retrack
return tonumber(ARGV[5])
";

/// A script's source and its SHA-1 digest (what `EVALSHA` names it by).
#[derive(Debug)]
pub(crate) struct Lua {
    pub(crate) code: String,
    pub(crate) sha: String,
}

impl Lua {
    fn new(retrack: bool, body: &str) -> Self {
        let body = body.replace(RETRACK_AT, if retrack { RETRACK } else { "" });
        let code = format!("{PRELUDE}{body}");
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
        let with_prelude = |body| Lua::new(retrack, body);
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
    fn the_scripts_and_the_driver_agree_on_the_header() {
        assert!(PRELUDE.contains(&format!("local ACTIVE_AT = '{ACTIVE_AT}'\n")));
        // The tag, and where each number starts and ends (Lua counts from 1, inclusive).
        let at = |i: usize| TAG.len() + i * (DIGITS + 1);
        let head = format!(
            "if #h < {HEAD} or string.sub(h, 1, {}) ~= '{}' then return nil end\n  \
             return string.sub(h, {}, {}), string.sub(h, {}, {}), string.sub(h, {}, {})\n",
            TAG.len(),
            std::str::from_utf8(TAG).expect("ASCII"),
            at(0) + 1,
            at(0) + DIGITS,
            at(1) + 1,
            at(1) + DIGITS,
            at(2) + 1,
            at(2) + DIGITS,
        );
        assert!(PRELUDE.contains(&head), "{head}");
        assert_eq!(at(2), ACTIVE_AT);
        for script in [WRITE_IF, DESTROY_IF, TOUCH] {
            assert!(script.contains(&format!("'GETRANGE', KEYS[1], '0', '{}'", HEAD - 1)));
        }
    }

    #[test]
    fn only_the_cache_adds_the_read_after_a_change() {
        let with = Scripts::new(true);
        let without = Scripts::new(false);
        for (a, b) in [
            (&with.read, &without.read),
            (&with.write_if, &without.write_if),
            (&with.touch, &without.touch),
        ] {
            assert!(a.code.contains(RETRACK) && !b.code.contains(RETRACK));
            assert!(!a.code.contains(RETRACK_AT) && !b.code.contains(RETRACK_AT));
            assert_ne!(a.sha, b.sha);
        }
        assert!(
            !with.destroy_if.code.contains(RETRACK),
            "a deleted key needs no tracking"
        );
    }
}
