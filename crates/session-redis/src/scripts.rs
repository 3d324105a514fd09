//! The server-side Lua scripts. Each driver operation but `destroy` is one of them, sent as one
//! `EVALSHA` (or, when the server's script cache was flushed, one `EVAL` that reloads it).
//!
//! Layout of a session: one hash per session with the fields
//! - `v`: the record's version (decimal), compared by the conditional write;
//! - `c`: the creation time (ms since the Unix epoch), for the absolute lifetime;
//! - `a`: the last activity (ms), moved by reads and touches;
//! - `d`: the record in session-core's versioned JSON encoding.
//!
//! Times come from the application's clock (`ARGV`), never from Redis's: the key's TTL is set
//! relative to that clock (`PEXPIRE`), so clock skew between the application and Redis does not
//! change how long a session lives. A record past its idle or absolute lifetime according to the
//! application's clock is treated as absent and is never refreshed.
//!
//! The scripts call `TYPE`, `HMGET`, `HSET`, `PEXPIRE` and `UNLINK` only; the driver itself sends
//! `EVALSHA`, `EVAL` and `DEL`. Keeping those sets apart lets tests count round trips in
//! `INFO commandstats`, which counts the commands run inside scripts too.

use redis::Script;

/// Shared Lua prelude: `deadline(...)` tells when a record ends if marked active at `a`.
///
/// `FRESH` (ms): a record marked active less than this long ago keeps its mark and its TTL on a
/// read or a touch. Under load one session is read many times a second; rewriting the mark and
/// the TTL each time was most of the work Redis did for a read (two of its five commands), for
/// an idle deadline that moves by less than a second. The idle lifetime is therefore exact to
/// within one second. The driver skips the script when it saw a mark that recent itself
/// (`marks.rs`, whose `FRESH_MS` must be the same).
const PRELUDE: &str = r"
local FRESH = 1000
local function num(x) return tonumber(x) end
local function deadline(c, a, idle, abs)
  local d = a + idle
  if abs > 0 and c + abs < d then d = c + abs end
  return d
end
";

/// Reads a record and, when it is live, marks it active now and slides its TTL (unless it was
/// marked less than `FRESH` ago). `HMGET` comes first: `TYPE` only runs, through the error
/// path, for a key of another type.
///
/// `KEYS[1]` = the session key; `ARGV` = now, idle ms, absolute ms (0 = none).
/// Returns nil (no record, or expired), `{"foreign", <type>}` (a value this driver did not
/// write), or `{"ok", v, d, a}`.
const READ: &str = r"
local f = redis.pcall('HMGET', KEYS[1], 'v', 'c', 'a', 'd')
if f['err'] then return {'foreign', redis.call('TYPE', KEYS[1])['ok']} end
if not (f[1] or f[2] or f[3] or f[4]) then return nil end
local now, idle, abs = num(ARGV[1]), num(ARGV[2]), num(ARGV[3])
local c, a = num(f[2]), num(f[3])
if not (f[1] and c and a and f[4]) then return {'foreign', 'hash'} end
if now >= deadline(c, a, idle, abs) then return nil end
local shown = f[3]
if now - a >= FRESH then
  redis.call('HSET', KEYS[1], 'a', ARGV[1])
  shown = ARGV[1]
  redis.call('PEXPIRE', KEYS[1], math.max(1, deadline(c, now, idle, abs) - now))
end
return {'ok', f[1], f[4], shown}
";

/// Writes a record only if the stored one is in the expected state. `HMGET` comes first, as in
/// the read: a key of another type answers it with an error, so no `TYPE` is needed.
///
/// `KEYS[1]` = the session key; `ARGV` = expected version (empty = absent expected, `*` = write
/// whatever is stored), new version, created, last active, encoded record, TTL ms, now, idle ms,
/// absolute ms. Returns `written`, `conflict` or `gone`.
const WRITE_IF: &str = r"
local now, idle, abs = num(ARGV[7]), num(ARGV[8]), num(ARGV[9])
local f = redis.pcall('HMGET', KEYS[1], 'v', 'c', 'a')
local foreign = f['err'] ~= nil
local current = nil
if not foreign then
  local c, a = num(f[2]), num(f[3])
  if f[1] and c and a and now < deadline(c, a, idle, abs) then current = f[1] end
end
if ARGV[1] == '*' then
  if foreign then redis.call('UNLINK', KEYS[1]) end
elseif ARGV[1] == '' then
  if current ~= nil or foreign then return 'conflict' end
else
  if current == nil then return 'gone' end
  if current ~= ARGV[1] then return 'conflict' end
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'c', ARGV[3], 'a', ARGV[4], 'd', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 'written'
";

/// Removes a record only if it is still at the given version.
///
/// `KEYS[1]` = the session key; `ARGV` = version, now, idle ms, absolute ms.
/// Returns `written`, `conflict` or `gone`.
const DESTROY_IF: &str = r"
local f = redis.pcall('HMGET', KEYS[1], 'v', 'c', 'a')
if f['err'] then return 'gone' end
local now, idle, abs = num(ARGV[2]), num(ARGV[3]), num(ARGV[4])
local c, a = num(f[2]), num(f[3])
if not (f[1] and c and a) or now >= deadline(c, a, idle, abs) then return 'gone' end
if f[1] ~= ARGV[1] then return 'conflict' end
redis.call('UNLINK', KEYS[1])
return 'written'
";

/// Marks an existing, live record active and slides its TTL (unless it was marked less than
/// `FRESH` ago). Never creates a record.
///
/// `KEYS[1]` = the session key; `ARGV` = now, idle ms, absolute ms. Returns the record's activity
/// mark (ms) after the call when it is live, 0 when there is none.
const TOUCH: &str = r"
local f = redis.pcall('HMGET', KEYS[1], 'c', 'a')
if f['err'] then return 0 end
local now, idle, abs = num(ARGV[1]), num(ARGV[2]), num(ARGV[3])
local c, a = num(f[1]), num(f[2])
if not (c and a) or now >= deadline(c, a, idle, abs) then return 0 end
if now - a < FRESH then return a end
redis.call('HSET', KEYS[1], 'a', ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.max(1, deadline(c, now, idle, abs) - now))
return now
";

/// A script's source and its SHA-1 digest (what `EVALSHA` names it by).
#[derive(Debug)]
pub(crate) struct Lua {
    pub(crate) code: String,
    pub(crate) sha: String,
}

impl Lua {
    fn new(body: &str) -> Self {
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
    pub(crate) fn new() -> Self {
        let with_prelude = Lua::new;
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

    #[test]
    fn the_scripts_and_the_driver_agree_on_fresh() {
        let line = format!("local FRESH = {}\n", crate::marks::FRESH_MS);
        assert!(PRELUDE.contains(&line), "{PRELUDE}");
    }
}
