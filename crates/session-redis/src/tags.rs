//! The index of a tag's sessions (session-core's `TaggedStore`): what it holds, how it is kept,
//! and why the listing never misses a live session of the tag.
//!
//! # Layout
//!
//! One sorted set per tag at `<prefix>tag:<digest>`, the digest being base64url of SHA-256 of the
//! tag (43 characters): the tag is the application's data (a user id, an e-mail address), so it
//! never reaches a key name, and key names have one length. Its members are the storage keys of
//! the sessions of the tag, each with a score:
//!
//! - a new session's (a write expecting no record): minus the time of the write (ms since the
//!   Unix epoch, by the driver's clock);
//! - a record that gets the tag by an update (a write expecting a version): the version
//!   written, a positive number.
//!
//! A score is only ever raised while the member is there (the `INDEX` script in `scripts.rs`),
//! so every update's score is above every new session's.
//!
//! # Writes
//!
//! Redis Cluster puts the index in another slot than the session (a session's keys are in the
//! slot of its own `{…}` hash tag), so no script can change both: the index is updated before the
//! record, by a command of its own, and a write that then fails leaves a member too many, never
//! one too few.
//!
//! - A tagged new session: the index first (one `EVALSHA`), then the record.
//! - A tagged update whose record already carries the same tag (the usual one: a logged-in
//!   user's request): no index update. The write's script checks, next to the version, that the
//!   stored value goes on after its header with the tag's start (`layout::tag_start`: the value
//!   is written with the tag first), atomically with the write; the index already names the
//!   session (see below).
//! - A tagged update of a record that does not carry the tag yet (tagging an existing session
//!   without a new id): that script answers `index` and changes nothing; the index is updated,
//!   then the record written with the plain conditional write.
//! - Untagged records, deletes and refreshes never touch an index: a refresh carries no record,
//!   and a record whose tag changes or goes stays in its old tag's index until a listing or a
//!   new session of that tag finds it stale.
//!
//! # Cleanup
//!
//! The listing reads the index (its members and their scores), then the records, and removes a
//! member when its record is
//!
//! 1. stored with another tag or none, at a version at least its score: any write that indexed
//!    it with that score wrote that version or a lower one, so it is applied (and replaced
//!    since) or will fail its version check;
//! 2. gone (no key) with a positive score: an update indexed it, so the record existed, and a
//!    storage key is never written as new twice (session-core stores every new session under a
//!    fresh random id), so it never comes back;
//! 3. gone with a new session's score older than [`PENDING`] (5 minutes): the new session's
//!    write either happened within [`CREATE_WITHIN`] (1 minute) of its index update, and the key
//!    was there before this listing read it, or the driver reported it as failed and its id never
//!    reached a browser;
//! 4. stored but expired for more than [`PENDING`] by the driver's clock (Redis drops the key at
//!    its TTL anyway; the margin keeps a record that an instance whose clock is behind could still
//!    refresh).
//!
//! and only if its score is still the one read: an index update in between (a write in flight)
//! keeps it. Anything else stays: a member whose write may be in flight (a score above the
//! stored version, a new session younger than 5 minutes), or a key holding a value this driver
//! did not write. An index whose last member goes disappears (Redis removes an empty sorted set).
//!
//! Why no live session of the tag is ever missed: a record tagged `t` is stored by a new
//! session's write, or an update that gave it the tag (both update the index first), or an
//! update that kept the tag (its script saw the tag on the record it replaced, which was indexed
//! by the same reasoning). For the member to go, a listing must read a state of the record that
//! the rules above accept; a state before the write that indexed it has a version below the
//! score (rule 1), or no key before a new session (rules 2 and 3: no update can index a record
//! that does not exist yet, and the new session's score is young, or its write came in time and
//! the listing, reading after it, saw it); a state after it carries the tag until a later write
//! changes it. The clocks of the application's instances must agree within a few minutes, as
//! they must for the sessions' expiry.
//!
//! # Growth
//!
//! An index only grows by new sessions of its tag, and refreshes, which cannot say a session's
//! tag, keep live sessions alive without a write, so an index has no TTL (it could end before
//! one of its sessions). Instead a new session whose index update leaves the index with more than
//! [`PRUNE_ABOVE`] members checks up to [`PRUNE_SAMPLE`] of them (all of them up to that many; a
//! window at a random rank above) and removes the stale ones, as a listing would. An index thus
//! holds its live sessions, the ones that ended in the last 5 minutes, and at most about
//! [`PRUNE_ABOVE`] more, whether or not anyone lists it.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use redis::Cmd;
use ring::digest;
use session_core::{DriverError, Record, StorageKey, TaggedStore, WriteOutcome};

use crate::{layout, outcome, RedisDriver, Request, DRIVER_NAME};

/// Keys per `MGET` of a listing.
const MGET_KEYS: usize = 512;

/// Sessions an index holds before a new session of its tag checks them for stale ones.
pub(crate) const PRUNE_ABOVE: usize = 32;

/// Sessions such a check reads at most.
pub(crate) const PRUNE_SAMPLE: usize = 64;

/// How long a new tagged session's write may take, from its index update to the record's reply,
/// for the driver to report it written (a slower one is reported as a timeout, and its id never
/// reaches a browser). Far above the default bounds of the two commands (4 s each).
pub(crate) const CREATE_WITHIN: Duration = Duration::from_secs(60);

/// How old a new session's index entry must be (ms) for a listing to drop it when its key is
/// missing, and how long ago a stored record must have expired to be dropped. Well above
/// [`CREATE_WITHIN`], for the clocks of the application's instances.
pub(crate) const PENDING: u64 = 5 * 60 * 1000;

/// The index key of `tag`: `<prefix>tag:<base64url of SHA-256 of the tag>`.
pub(crate) fn index_key(prefix: &str, tag: &str) -> String {
    let digest = digest::digest(&digest::SHA256, tag.as_bytes());
    let mut key = String::with_capacity(prefix.len() + 4 + 43);
    key.push_str(prefix);
    key.push_str("tag:");
    URL_SAFE_NO_PAD.encode_string(digest.as_ref(), &mut key);
    key
}

/// The score of a new session's entry, written at `now` (ms since the Unix epoch).
pub(crate) fn new_session_score(now: u64) -> i64 {
    -i64::try_from(now).unwrap_or(i64::MAX)
}

/// The score of an update's entry: the version it writes, as the header stores it.
pub(crate) fn update_score(version: u64) -> i64 {
    // 48 bits: always a positive `i64`, and exact in a sorted set's score (a double).
    i64::try_from(layout::stored_version(version)).unwrap_or(i64::MAX)
}

/// One member of an index as read: a storage key (`None` for a member that is not one) and its
/// score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) key: Option<StorageKey>,
    pub(crate) score: i64,
}

/// The members in a reply of the `MEMBERS` script: names and scores, one after the other.
/// `None` for a reply of another shape.
pub(crate) fn members(reply: redis::Value) -> Option<Vec<Member>> {
    let redis::Value::Array(items) = reply else {
        return None;
    };
    let text = |value: &redis::Value| match value {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    let mut out = Vec::with_capacity(items.len() / 2);
    for pair in items.chunks(2) {
        let [name, score] = pair else {
            return None;
        };
        let name = text(name)?;
        // Scores are whole numbers well within a double's exact range; Redis writes them so.
        let score = text(score)?.parse::<f64>().ok()? as i64;
        out.push(Member {
            key: StorageKey::parse(&name),
            name,
            score,
        });
    }
    Some(out)
}

/// What a listing makes of one member, given what its key holds.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// A record of the tag (expired or not: the manager filters): listed, kept.
    Listed(Record),
    /// Kept: the session may still be (or become) one of the tag's.
    Keep,
    /// Removed, if its score is still the one read (see the module's rules).
    Stale,
}

/// The [`Verdict`] on `member` of `tag`'s index, whose key holds `stored` (`None`: no key, or a
/// key of another type, which `MGET` answers alike), at `now` by the driver's clock, taken before
/// the index was read.
pub(crate) fn verdict(tag: &str, member: &Member, stored: Option<&[u8]>, now: u64) -> Verdict {
    if member.key.is_none() {
        // Not a storage key: never a session's.
        return Verdict::Stale;
    }
    let Some(stored) = stored else {
        let written_at = member.score.unsigned_abs();
        return if member.score > 0 || now.saturating_sub(written_at) > PENDING {
            Verdict::Stale
        } else {
            Verdict::Keep
        };
    };
    let Some(record) = layout::decode(stored) else {
        // Not a value of this driver's: it never becomes a session (the writes refuse to
        // replace it), but it is not this driver's to judge either.
        return Verdict::Keep;
    };
    if record.expires_at.saturating_add(PENDING) <= now {
        return Verdict::Stale;
    }
    if record.tag() == Some(tag) {
        return Verdict::Listed(record);
    }
    let version = i64::try_from(record.version).unwrap_or(i64::MAX);
    if member.score <= version {
        Verdict::Stale
    } else {
        Verdict::Keep
    }
}

/// The ranks of a window of `PRUNE_SAMPLE` members of an index of `len` starting at `start`, as
/// the `MEMBERS` script takes them: first and last rank, and the last rank from 0 on when the
/// window goes past the end (empty when it does not). All of them when there are no more.
pub(crate) fn window(len: usize, start: usize) -> [String; 3] {
    if len <= PRUNE_SAMPLE {
        return ["0".to_owned(), "-1".to_owned(), String::new()];
    }
    let start = start % len;
    let last = start + PRUNE_SAMPLE - 1;
    if last < len {
        [start.to_string(), last.to_string(), String::new()]
    } else {
        [start.to_string(), "-1".to_owned(), (last - len).to_string()]
    }
}

/// The ranks of a whole index, as the `MEMBERS` script takes them.
fn all() -> [String; 3] {
    ["0".to_owned(), "-1".to_owned(), String::new()]
}

#[async_trait]
impl TaggedStore for RedisDriver {
    /// Reads the tag's index (one `EVALSHA`), then its sessions from Redis (one `MGET` per 512;
    /// never from the local cache), and removes the stale members (one more `EVALSHA`, when
    /// there are any); see the crate's "Tags".
    async fn tagged(&self, tag: &str) -> Result<Vec<(StorageKey, Record)>, DriverError> {
        let index = self.tag_key(tag);
        // For log lines: the first characters of the digest.
        let label = &index[self.prefix.len() + 4..][..8];
        let slot = self.current.any();
        // Taken before anything is read (see `verdict`).
        let now = self.clock.now_ms();
        let members = self.members(&index, label, slot, all()).await?;
        let (listed, stale) = self.check(tag, &members, label, slot, now).await?;
        // The listing stands without the cleanup: a failure leaves members for the next one
        // (and is logged by `run`).
        let _ = self.prune(&index, label, slot, &stale).await;
        Ok(listed)
    }
}

impl RedisDriver {
    /// Writes a tagged record (`ttl` above 0) and keeps its tag's index current: a new
    /// session is added to the index first; an update is written if the record it replaces
    /// carries the same tag, and otherwise added to the index first too.
    pub(crate) async fn write_tagged(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
        tag: &str,
        now: u64,
        ttl: u64,
    ) -> Result<WriteOutcome, DriverError> {
        let index = self.tag_key(tag);
        let slot = self.current.index(key);
        let Some(version) = expected else {
            let started = Instant::now();
            let members = self.add(&index, key, slot, new_session_score(now)).await?;
            let written = self.write_record(key, record, None, now, ttl).await?;
            if written == WriteOutcome::Written && started.elapsed() > CREATE_WITHIN {
                // A listing may have judged the index entry abandoned: the session must never
                // be used (see the rules).
                tracing::warn!(target: "session_kit::redis", key = key.short(), "a new tagged session took too long to store; reporting it as failed");
                return Err(DriverError::Timeout {
                    driver: DRIVER_NAME,
                    after: CREATE_WITHIN,
                });
            }
            if written == WriteOutcome::Written && members > PRUNE_ABOVE {
                // The session is stored: a failed cleanup is left to the next one (and is
                // logged by `run`).
                let _ = self.prune_some(&index, tag, key, slot, members).await;
            }
            return Ok(written);
        };
        if let Some(written) = self
            .write_keeping_tag(key, record, version, tag, now, ttl, slot)
            .await?
        {
            return Ok(written);
        }
        self.add(&index, key, slot, update_score(record.version))
            .await?;
        self.write_record(key, record, expected, now, ttl).await
    }

    /// The `WRITE_TAGGED` script: the conditional write, if the record it replaces carries
    /// `tag` too. `None` when it does not (nothing was written).
    #[allow(clippy::too_many_arguments)]
    async fn write_keeping_tag(
        &self,
        key: &StorageKey,
        record: &Record,
        version: u64,
        tag: &str,
        now: u64,
        ttl: u64,
        slot: usize,
    ) -> Result<Option<WriteOutcome>, DriverError> {
        let value = layout::value(record);
        let start = layout::tag_start(tag);
        let last = (layout::HEAD - 1 + start.len()).to_string();
        let extra = value.len() + start.len();
        let change = self.changing(key, slot);
        let args = |cmd: &mut Cmd| {
            cmd.arg(&layout::number(version))
                .arg(value)
                .arg(ttl)
                .arg(&layout::number(now))
                .arg(last)
                .arg(start);
        };
        let reply: String = self
            .run(
                "write",
                key.short(),
                slot,
                self.script(&self.scripts.write_tagged, key, extra, args),
                false,
            )
            .await?;
        let written = match reply.as_str() {
            "index" => None,
            other => Some(outcome(other)?),
        };
        if let Some(change) = change {
            change.settle((written == Some(WriteOutcome::Written)).then_some(record));
        }
        Ok(written)
    }

    /// Adds `key` to `index` with `score`, or raises its score (the `INDEX` script); how many
    /// sessions the index then names.
    async fn add(
        &self,
        index: &str,
        key: &StorageKey,
        slot: usize,
        score: i64,
    ) -> Result<usize, DriverError> {
        let args = |cmd: &mut Cmd| {
            cmd.arg(key.as_str()).arg(score);
        };
        let members: i64 = self
            .run(
                "index",
                key.short(),
                slot,
                Self::script_on(&self.scripts.index, index, 0, args),
                true,
            )
            .await?;
        Ok(usize::try_from(members).unwrap_or(0))
    }

    /// The members of `index` in the ranks of `window` (the `MEMBERS` script).
    async fn members(
        &self,
        index: &str,
        label: &str,
        slot: usize,
        window: [String; 3],
    ) -> Result<Vec<Member>, DriverError> {
        let args = |cmd: &mut Cmd| {
            for rank in &window {
                cmd.arg(rank);
            }
        };
        let reply: redis::Value = self
            .run(
                "list",
                label,
                slot,
                Self::script_on(&self.scripts.members, index, 0, args),
                true,
            )
            .await?;
        members(reply).ok_or_else(|| {
            DriverError::unavailable(DRIVER_NAME, "unexpected reply reading a tag's index")
        })
    }

    /// Reads the records of `members` from Redis (`MGET`) and judges each (see [`verdict`]):
    /// the records of `tag`, and the stale members.
    async fn check<'m>(
        &self,
        tag: &str,
        members: &'m [Member],
        label: &str,
        slot: usize,
        now: u64,
    ) -> Result<(Vec<(StorageKey, Record)>, Vec<&'m Member>), DriverError> {
        let mut listed = Vec::new();
        let mut stale = Vec::new();
        let mut judge =
            |member: &'m Member, stored: Option<&[u8]>| match verdict(tag, member, stored, now) {
                Verdict::Listed(record) => {
                    if let Some(key) = &member.key {
                        listed.push((key.clone(), record));
                    }
                }
                Verdict::Keep => {}
                Verdict::Stale => stale.push(member),
            };
        let (keyed, other): (Vec<&Member>, Vec<&Member>) =
            members.iter().partition(|m| m.key.is_some());
        for member in other {
            judge(member, None);
        }
        for chunk in keyed.chunks(MGET_KEYS) {
            let mut cmd =
                Cmd::with_capacity(chunk.len() + 1, chunk.len() * (self.prefix.len() + 24) + 8);
            cmd.arg("MGET");
            for member in chunk {
                if let Some(key) = &member.key {
                    cmd.arg(self.key(key));
                }
            }
            let values: Vec<Option<Vec<u8>>> = self
                .run("list", label, slot, Request::Plain(cmd), true)
                .await?;
            if values.len() != chunk.len() {
                return Err(DriverError::unavailable(
                    DRIVER_NAME,
                    format!(
                        "MGET of {} keys answered {} values",
                        chunk.len(),
                        values.len()
                    ),
                ));
            }
            for (member, stored) in chunk.iter().zip(&values) {
                judge(member, stored.as_deref());
            }
        }
        Ok((listed, stale))
    }

    /// Removes the `stale` members from `index`, each only if its score is still the one read
    /// (the `PRUNE` script); how many went.
    async fn prune(
        &self,
        index: &str,
        label: &str,
        slot: usize,
        stale: &[&Member],
    ) -> Result<usize, DriverError> {
        if stale.is_empty() {
            return Ok(0);
        }
        let args = |cmd: &mut Cmd| {
            for member in stale {
                cmd.arg(&member.name).arg(member.score);
            }
        };
        let removed: i64 = self
            .run(
                "prune",
                label,
                slot,
                Self::script_on(&self.scripts.prune, index, stale.len() * 48, args),
                true,
            )
            .await?;
        Ok(usize::try_from(removed).unwrap_or(0))
    }

    /// The cleanup of a large index by a new session of its tag (`key`): a window of
    /// [`PRUNE_SAMPLE`] members at a rank picked by the new session's random key, checked and
    /// pruned as a listing does.
    async fn prune_some(
        &self,
        index: &str,
        tag: &str,
        key: &StorageKey,
        slot: usize,
        len: usize,
    ) -> Result<usize, DriverError> {
        let now = self.clock.now_ms();
        let label = key.short();
        let members = self
            .members(index, label, slot, window(len, key.slot(len)))
            .await?;
        let (_, stale) = self.check(tag, &members, label, slot, now).await?;
        self.prune(index, label, slot, &stale).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use session_core::{SessionId, TAG_KEY};

    fn member(score: i64) -> Member {
        let key = SessionId::generate().storage_key();
        Member {
            name: key.as_str().to_owned(),
            key: Some(key),
            score,
        }
    }

    fn stored(tag: Option<&str>, version: u64, expires_at: u64) -> Vec<u8> {
        let mut record = Record::new(Default::default(), 1_000, expires_at);
        record.version = version;
        if let Some(tag) = tag {
            record
                .data
                .insert(TAG_KEY.into(), json!({ "value": tag, "at": 1_000 }));
        }
        layout::value(&record)
    }

    #[test]
    fn index_keys_hold_a_digest_of_the_tag() {
        let key = index_key("app:", "ada@example.com");
        assert!(key.starts_with("app:tag:"), "{key}");
        assert_eq!(key.len(), "app:tag:".len() + 43);
        assert!(!key.contains("ada"));
        assert!(!key.contains('{') && !key.contains('}'), "no hash tag");
        assert_ne!(key, index_key("app:", "ada@example.org"));
        assert_eq!(key, index_key("app:", "ada@example.com"));
        let long = "x".repeat(session_core::MAX_TAG_LEN);
        assert_eq!(index_key("app:", &long).len(), key.len());
    }

    #[test]
    fn scores_put_updates_above_new_sessions() {
        let now = 1_764_000_000_000;
        assert_eq!(new_session_score(now), -1_764_000_000_000);
        assert!(new_session_score(now) < update_score(1));
        assert_eq!(update_score(7), 7);
        assert_eq!(update_score((1 << 48) + 2), 2, "as the header stores it");
    }

    #[test]
    fn the_members_reply_is_read_in_pairs() {
        let key = SessionId::generate().storage_key();
        let bulk = |s: &str| redis::Value::BulkString(s.as_bytes().to_vec());
        let reply = redis::Value::Array(vec![
            bulk(key.as_str()),
            bulk("-1764000000123"),
            bulk("not a key"),
            bulk("5"),
        ]);
        let read = members(reply).expect("pairs");
        assert_eq!(read.len(), 2);
        assert_eq!(
            (read[0].key.as_ref(), read[0].score),
            (Some(&key), -1_764_000_000_123)
        );
        assert_eq!((read[1].key.as_ref(), read[1].score), (None, 5));
        assert_eq!(members(redis::Value::Array(vec![bulk("odd")])), None);
        assert_eq!(members(redis::Value::Nil), None);
        assert_eq!(members(redis::Value::Array(Vec::new())), Some(Vec::new()));
    }

    #[test]
    fn a_listing_keeps_what_may_still_be_the_tags() {
        let now = 10_000_000;
        let live = now + 60_000;
        let is_listed = |v: Verdict| matches!(v, Verdict::Listed(_));

        // The tag's records are listed, even expired (the manager filters), until long expired.
        assert!(is_listed(verdict(
            "t",
            &member(3),
            Some(&stored(Some("t"), 3, live)),
            now
        )));
        assert!(is_listed(verdict(
            "t",
            &member(-(now as i64)),
            Some(&stored(Some("t"), 1, now)),
            now
        )));
        let long_ago = now - PENDING;
        let gone = stored(Some("t"), 3, long_ago);
        assert_eq!(verdict("t", &member(3), Some(&gone), now), Verdict::Stale);
        assert!(is_listed(verdict("t", &member(3), Some(&gone), now - 1)));

        // Another tag, or none: stale once the record's version reached the score.
        for tag in [None, Some("u"), Some("t2")] {
            let record = stored(tag, 5, live);
            assert_eq!(verdict("t", &member(5), Some(&record), now), Verdict::Stale);
            assert_eq!(verdict("t", &member(4), Some(&record), now), Verdict::Stale);
            assert_eq!(
                verdict("t", &member(-1), Some(&record), now),
                Verdict::Stale
            );
            assert_eq!(
                verdict("t", &member(6), Some(&record), now),
                Verdict::Keep,
                "a write of version 6 tagging it may be in flight"
            );
        }

        // No key: an update's entry is stale, a new session's once it is old enough.
        assert_eq!(verdict("t", &member(1), None, now), Verdict::Stale);
        let young = -i64::try_from(now - PENDING).expect("small");
        assert_eq!(verdict("t", &member(young), None, now), Verdict::Keep);
        assert_eq!(
            verdict("t", &member(young + 1), None, now),
            Verdict::Stale,
            "older"
        );

        // A value this driver did not write stays; a member that is no storage key goes.
        assert_eq!(
            verdict("t", &member(1), Some(b"someone else's".as_slice()), now),
            Verdict::Keep
        );
        let odd = Member {
            name: "odd".into(),
            key: None,
            score: 1,
        };
        assert_eq!(verdict("t", &odd, None, now), Verdict::Stale);
    }

    #[test]
    fn a_window_covers_every_rank_alike() {
        assert_eq!(window(10, 7), ["0", "-1", ""]);
        assert_eq!(window(PRUNE_SAMPLE, 3), ["0", "-1", ""]);
        let len = PRUNE_SAMPLE + 36;
        assert_eq!(window(len, 5), ["5", &(PRUNE_SAMPLE + 4).to_string(), ""]);
        assert_eq!(
            window(len, 50),
            ["50", "-1", &(50 + PRUNE_SAMPLE - 1 - len).to_string()]
        );
        // Each rank is in exactly PRUNE_SAMPLE of the `len` windows.
        let mut seen = vec![0; len];
        for start in 0..len {
            let [first, last, wrap] = window(len, start);
            let first: usize = first.parse().expect("a rank");
            let last = if last == "-1" {
                len - 1
            } else {
                last.parse().expect("a rank")
            };
            (first..=last).for_each(|r| seen[r] += 1);
            if !wrap.is_empty() {
                (0..=wrap.parse::<usize>().expect("a rank")).for_each(|r| seen[r] += 1);
            }
        }
        assert!(seen.iter().all(|&n| n == PRUNE_SAMPLE), "{seen:?}");
    }
}
