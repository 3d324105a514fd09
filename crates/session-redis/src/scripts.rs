//! The server-side Lua scripts: the conditional write, the conditional delete and the refresh,
//! each sent as one `EVALSHA` (or, when the server's script cache was flushed, one `EVAL` that
//! reloads it). A read is a plain `GET`, and a new session's first write a plain `SET … NX PX`.
//!
//! Layout of a session: one string per session, a fixed-size header and the record:
//!
//! ```text
//! s3<version><active><expires><created><data>
//! ```
//!
//! - `s3` names this layout;
//! - `version`: the record's version, compared by the conditional write and delete;
//! - `active`: the last activity (ms since the Unix epoch), set by writes and refreshes;
//! - `expires`: when the record expires (ms since the Unix epoch, the record's `expires_at`),
//!   set by writes and refreshes; the scripts treat a record whose expiry has come as absent;
//! - `created`: when the session was created (ms since the Unix epoch);
//! - each of the four numbers is written in 12 lowercase hex digits (zero-padded, 48 bits), so
//!   the header is always `HEAD` (50) bytes and the activity mark and the expiry are always at
//!   `ACTIVE_AT` (14), one after the other: a refresh rewrites both in place with one
//!   `SETRANGE`, whatever the size of the data;
//! - `data`: the session's values as a JSON object. Each number is stored once, in the header
//!   (the `s2` layout repeated them in a JSON envelope: 176 bytes for `{"n":1}`, 57 now).
//!
//! One string instead of a hash with a field each: a conditional write is one `GETRANGE` of the
//! header and one `SET … PX` of the whole value (the TTL in the same command), where a hash
//! needed `HMGET`, `HSET` and `PEXPIRE`. Inside a script each command costs Redis several times
//! what it costs on its own, so this halves the server's work per write.
//!
//! Times come from the application's clock (`ARGV`), never from Redis's: the key's TTL is set
//! relative to that clock (`PX`, `PEXPIRE`), so clock skew between the application and Redis does
//! not change how long a session lives. A record whose expiry has come by the application's clock
//! is treated as absent and is never refreshed.
//!
//! The scripts call `GETRANGE`, `SET`, `SETRANGE`, `PEXPIRE`, `UNLINK` and (with the local
//! cache) `STRLEN` on sessions, and `ZSCORE`, `ZADD`, `ZCARD`, `ZRANGE` and `ZREM` on the tags'
//! indexes (see `tags.rs`); the driver itself sends `EVALSHA`, `EVAL`, `GET`, `MGET` (a tag's
//! listing) and, for a new session, `SET … NX PX` (which the write script stands behind when the
//! key exists). Apart from that `SET`, those sets are apart, which lets tests count round trips
//! in `INFO commandstats` (it counts the commands run inside scripts too).

use redis::Script;

/// Shared Lua prelude: `head(h)` returns the version and the expiry of a header, as text (nil for
/// a value that does not start like one).
///
/// The scripts compare the numbers as text and never convert them: zero-padded to the same
/// width, lowercase hex numbers compare as text the way they compare as numbers, and the driver
/// sends the time a live record's expiry must exceed (now) in the same 12 digits. (Lua compares
/// strings with `strcoll`, and Redis sets the collation from its environment; the C locale and
/// glibc's locales collate `0`-`9` before `a`-`f`, each run in its order, so hex strings of one
/// length still compare as numbers.) Measured with callgrind on `redis-server`, a header parsed with a pattern
/// and `tonumber` took about a third of the write script's instructions.
///
/// The arguments the scripts pass to `redis.call` are strings (`'0'`, `'65'`, `ACTIVE_AT`, the
/// `ARGV` as received), never Lua numbers: Redis turns a number argument into text with a
/// printf-style conversion, about 2,000 instructions each by callgrind on `redis-server`.
const PRELUDE: &str = r"
local ACTIVE_AT = '14'
local function head(h)
  if #h < 50 or string.sub(h, 1, 2) ~= 's3' then return nil end
  return string.sub(h, 3, 14), string.sub(h, 27, 38)
end
";

/// Where each script that leaves a session in place follows its change with [`RETRACK`] (with
/// the local cache) or nothing.
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

/// Writes a record only if the stored one is in the expected state. Only the header is read.
///
/// `KEYS[1]` = the session key; `ARGV` = the expected version in the header's 12 digits (empty =
/// no live record expected), the new value (header and data), the TTL in ms (empty: the record
/// is expired as given, so the key is removed instead), now in the header's 12 digits. A value
/// of another kind counts as a record that is there (it is never overwritten). Returns
/// `written`, `conflict` or `gone`.
const WRITE: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], '0', '49')
local foreign = type(h) == 'table'
local current = nil
if not foreign and h ~= '' then
  local v, e = head(h)
  if not v then
    foreign = true
  elseif e > ARGV[4] then
    current = v
  end
end
if ARGV[1] == '' then
  if current ~= nil or foreign then return 'conflict' end
else
  if current == nil then return 'gone' end
  if current ~= ARGV[1] then return 'conflict' end
end
if ARGV[3] == '' then
  redis.call('UNLINK', KEYS[1])
  return 'written'
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
--retrack
return 'written'
";

/// Removes a record only if it is live and still at the given version.
///
/// `KEYS[1]` = the session key; `ARGV` = the version in the header's 12 digits, now in the
/// header's 12 digits. Returns `written`, `conflict` or `gone`.
const DESTROY: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], '0', '49')
if type(h) == 'table' then return 'gone' end
local v, e = head(h)
if not v or e <= ARGV[2] then return 'gone' end
if v ~= ARGV[1] then return 'conflict' end
redis.call('UNLINK', KEYS[1])
return 'written'
";

/// Sets a live record's activity mark and expiry and slides its TTL. Never creates a record and
/// never revives one whose expiry has come.
///
/// `KEYS[1]` = the session key; `ARGV` = now in the header's 12 digits, the new
/// `<active><expires>` in the header's digits, the TTL in ms (above 0). Returns 1 when the
/// record was live and refreshed, 0 when there is none.
const REFRESH: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], '0', '49')
if type(h) == 'table' then return 0 end
local v, e = head(h)
if not v or e <= ARGV[1] then return 0 end
redis.call('SETRANGE', KEYS[1], ACTIVE_AT, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
--retrack
return 1
";

/// The conditional write of a tagged record over a record that may carry the same tag: like
/// [`WRITE`] with a version expected, and only if the stored value goes on, after its header,
/// with the tag's start (`layout::tag_start`: the record it replaces carries the same tag, so the
/// tag's index already names the session; see `tags.rs`). Otherwise it changes nothing and
/// answers `index`: the driver adds the session to the index and writes with [`WRITE`].
///
/// `KEYS[1]` = the session key; `ARGV` = the expected version in the header's 12 digits, the
/// new value, the TTL in ms (above 0), now in the header's 12 digits, the last byte to read
/// (49 plus the length of the tag's start, in decimal), the tag's start. Returns `written`,
/// `conflict`, `gone` or `index`.
const WRITE_TAGGED: &str = r"
local h = redis.pcall('GETRANGE', KEYS[1], '0', ARGV[5])
if type(h) == 'table' then return 'gone' end
local v, e = head(h)
if not v or e <= ARGV[4] then return 'gone' end
if v ~= ARGV[1] then return 'conflict' end
if string.sub(h, 51) ~= ARGV[6] then return 'index' end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
--retrack
return 'written'
";

/// Adds a session to a tag's index, or raises its score: never lowers it (see `tags.rs` for
/// what the scores mean). Works on any Redis version (`ZADD GT` needs 6.2).
///
/// `KEYS[1]` = the tag's index; `ARGV` = the session's storage key, its score (a whole number in
/// decimal). Returns how many sessions the index names.
const INDEX: &str = r"
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
return redis.call('ZCARD', KEYS[1])
";

/// Reads a tag's index, whole or a window of it: the members of ranks `ARGV[1]` to `ARGV[2]`
/// (`0`, `-1`: all), and, when `ARGV[3]` is not empty, those of ranks 0 to `ARGV[3]` (a window
/// that goes past the end goes on at the start). Returns members and scores, one after the
/// other, as `ZRANGE … WITHSCORES` does over RESP2 (a script answers so whatever the client
/// speaks).
const MEMBERS: &str = r"
local got = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
if ARGV[3] ~= '' then
  local more = redis.call('ZRANGE', KEYS[1], '0', ARGV[3], 'WITHSCORES')
  for i = 1, #more do got[#got + 1] = more[i] end
end
return got
";

/// Removes sessions from a tag's index, each only if its score is still the one it was read
/// with: an index update since then (a write in flight) keeps it.
///
/// `KEYS[1]` = the tag's index; `ARGV` = pairs of a storage key and its score as read (a whole
/// number in decimal). Returns how many were removed.
const PRUNE: &str = r"
local removed = 0
for i = 1, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
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
        Self::bare(&format!("{PRELUDE}{body}"))
    }

    /// A script of a tag's index, which reads no session header: without the prelude.
    fn bare(code: &str) -> Self {
        let sha = Script::new(code).get_hash().to_owned();
        Self {
            code: code.to_owned(),
            sha,
        }
    }
}

/// The scripts, with their digests computed once.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) write: Lua,
    pub(crate) destroy: Lua,
    pub(crate) refresh: Lua,
    pub(crate) write_tagged: Lua,
    pub(crate) index: Lua,
    pub(crate) members: Lua,
    pub(crate) prune: Lua,
}

impl Scripts {
    /// The scripts; `retrack` when the local cache is on (see [`RETRACK`]).
    pub(crate) fn new(retrack: bool) -> Self {
        let with_prelude = |body| Lua::new(retrack, body);
        Self {
            write: with_prelude(WRITE),
            destroy: with_prelude(DESTROY),
            refresh: with_prelude(REFRESH),
            write_tagged: with_prelude(WRITE_TAGGED),
            index: Lua::bare(INDEX),
            members: Lua::bare(MEMBERS),
            prune: Lua::bare(PRUNE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{ACTIVE_AT, DIGITS, EXPIRES_AT, HEAD, TAG};

    #[test]
    fn the_scripts_and_the_driver_agree_on_the_header() {
        assert!(PRELUDE.contains(&format!("local ACTIVE_AT = '{ACTIVE_AT}'\n")));
        // The tag, and where the version and the expiry start and end (Lua counts from 1,
        // inclusive).
        let head = format!(
            "if #h < {HEAD} or string.sub(h, 1, {}) ~= '{}' then return nil end\n  \
             return string.sub(h, {}, {}), string.sub(h, {}, {})\n",
            TAG.len(),
            std::str::from_utf8(TAG).expect("ASCII"),
            TAG.len() + 1,
            TAG.len() + DIGITS,
            EXPIRES_AT + 1,
            EXPIRES_AT + DIGITS,
        );
        assert!(PRELUDE.contains(&head), "{head}");
        assert_eq!(
            ACTIVE_AT + DIGITS,
            EXPIRES_AT,
            "the activity mark, then the expiry"
        );
        for script in [WRITE, DESTROY, REFRESH] {
            assert!(script.contains(&format!("'GETRANGE', KEYS[1], '0', '{}'", HEAD - 1)));
        }
        // The tagged write reads the header and the tag's start after it (the driver sends
        // the last byte to read: `HEAD - 1` plus the start's length).
        assert!(WRITE_TAGGED.contains("'GETRANGE', KEYS[1], '0', ARGV[5]"));
        assert!(WRITE_TAGGED.contains(&format!("string.sub(h, {}) ~= ARGV[6]", HEAD + 1)));
    }

    #[test]
    fn only_the_cache_adds_the_read_after_a_change() {
        let with = Scripts::new(true);
        let without = Scripts::new(false);
        for (a, b) in [
            (&with.write, &without.write),
            (&with.refresh, &without.refresh),
            (&with.write_tagged, &without.write_tagged),
        ] {
            assert!(a.code.contains(RETRACK) && !b.code.contains(RETRACK));
            assert!(!a.code.contains(RETRACK_AT) && !b.code.contains(RETRACK_AT));
            assert_ne!(a.sha, b.sha);
        }
        assert!(
            !with.destroy.code.contains(RETRACK),
            "a deleted key needs no tracking"
        );
        for (a, b) in [
            (&with.index, &without.index),
            (&with.members, &without.members),
            (&with.prune, &without.prune),
        ] {
            assert!(!a.code.contains("KEYS[2]") && !a.code.contains(RETRACK));
            assert_eq!(a.sha, b.sha, "an index's scripts touch no session");
        }
    }
}
