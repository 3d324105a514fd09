//! The commit: what a request's changes become in the driver, and the id cookie.

use std::sync::Arc;
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};

use crate::driver::{ClientStore, Driver, Record, SessionStore, WriteOutcome};
use crate::error::Error;
use crate::group::{Joined, Turn};
use crate::id::{IdKind, SessionId, StorageKey};
use crate::session::{Loaded, Session, State};
use crate::store;
use crate::store::Op;
use crate::tags::Mark;
use crate::FLASH_KEY;

impl Session {
    // ----- commit ----------------------------------------------------------------------------

    /// Persists the request's changes and sets the id cookie. Adapters call it after the
    /// handler (through [`RequestSession::commit`](crate::RequestSession::commit)); a handler
    /// may call it earlier, before a long streaming answer for one. A second call is a no-op,
    /// and a change made after the commit is refused with [`Error::Committed`].
    ///
    /// | situation | driver calls |
    /// |---|---|
    /// | readonly | none, and no cookie |
    /// | never initiated | `touch` when a valid id cookie came in |
    /// | store empty | `destroy` if a record existed |
    /// | not modified | `touch` (skipped when the driver's read already refreshed the expiry) |
    /// | modified | `write_if` at the version read; on conflict re-read, replay, retry |
    /// | regenerated | `write_if` under the new id, then `destroy` the old record |
    ///
    /// The id cookie is sent on every response but readonly ones, with a refreshed Max-Age.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let session = manager.start_request(std::iter::empty()).session().await?;
    /// session.put("cart_total", 1900)?;
    /// session.commit().await?;
    /// session.commit().await?; // no-op
    /// assert!(session.put("late", 1).is_err()); // refused: it would never be stored
    /// let cookie = cookie_of(&session);
    ///
    /// let readonly = manager.start_request([cookie.as_str()]);
    /// assert_eq!(readonly.reader().await?.get::<u32>("cart_total")?, Some(1900));
    /// readonly.commit().await?;
    /// assert!(readonly.context().response_cookies().is_empty()); // no cookie for readonly
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn commit(&self) -> Result<(), Error> {
        let manager = &self.inner.manager;
        let client = matches!(manager.inner().driver, Driver::Client(_));
        let now = manager.inner().clock.now_ms();
        let next = {
            let mut state = self.state();
            if state.committed {
                return Ok(());
            }
            state.committed = true;
            if state.failed {
                return Ok(());
            }
            if !state.initiated {
                Next::Lazy
            } else if state.readonly {
                return Ok(());
            } else {
                let Some(id) = state.id.clone() else {
                    return Ok(()); // `initiate` sets the id
                };
                let outgoing = state.outgoing.assemble();
                let modified = !state.ops.is_empty()
                    || state.consumed.is_some()
                    || !outgoing.is_empty()
                    || state.regenerated;
                if !modified {
                    // An unchanged session is refreshed only when due (see `refresh`), or
                    // when its cookie lacks the current key's MAC (key rotation): otherwise
                    // the response carries no cookie and the storage is not touched. The
                    // older of the two refresh times counts, the cookie's or the record's.
                    let last = match (&state.loaded, state.cookie) {
                        (Some(l), Some((stamp, _))) => Some(stamp.min(l.record.last_active)),
                        (Some(l), None) => Some(l.record.last_active),
                        (None, cookie) => cookie.map(|(stamp, _)| stamp),
                    };
                    let current = state.cookie.is_some_and(|(_, current)| current);
                    if current && last.is_some_and(|t| !manager.refresh_due(t, now)) {
                        return Ok(());
                    }
                    let mut loaded = state.loaded.take();
                    if let (true, Some(loaded)) = (client, loaded.as_mut()) {
                        // A client-side store sends the whole record again to slide its expiry.
                        loaded.record.data = state.values.clone();
                    }
                    Next::Unmodified { id, loaded }
                } else {
                    let first = Some(first_data(&state, &outgoing));
                    let id = if state.adopted_empty && !state.regenerated {
                        let moved = SessionId::generate();
                        state.id = Some(moved.clone());
                        state.adopted_empty = false;
                        moved
                    } else {
                        id
                    };
                    Next::Write(Box::new(Plan {
                        id,
                        first,
                        created_at: state.created_at,
                        // Taken, not cloned: nothing reads it after the commit, and a large
                        // session's record is costly to copy.
                        loaded: state.loaded.take(),
                        log: Arc::new(ChangeLog {
                            ops: std::mem::take(&mut state.ops),
                            consumed: state.consumed.take(),
                            outgoing,
                        }),
                        old_key: state.old_key.take(),
                        regenerated: state.regenerated,
                    }))
                }
            }
        };
        match next {
            Next::Lazy => self.commit_lazy(now).await,
            Next::Unmodified { id, loaded } => {
                let created_at = loaded.as_ref().map_or(now, |l| l.record.created_at);
                let mut key = None;
                if let Some(loaded) = loaded {
                    self.refresh(&loaded.key, loaded.record, now).await?;
                    key = Some(loaded.key);
                }
                let cx = &self.inner.cx;
                self.inner
                    .manager
                    .set_id_cookie(cx, &id, key.as_ref(), created_at, now);
                Ok(())
            }
            // The write path is boxed: its state is large, and a request that only reads
            // should not carry (and copy) it.
            Next::Write(mut plan) => {
                let (id, key) = match &self.inner.manager.inner().driver {
                    Driver::Server(store) => {
                        Box::pin(self.commit_server(&**store, &mut plan, now)).await?
                    }
                    Driver::Client(store) => self.commit_client(&**store, &mut plan, now)?,
                };
                let cx = &self.inner.cx;
                self.inner
                    .manager
                    .set_id_cookie(cx, &id, key.as_ref(), plan.created_at, now);
                Ok(())
            }
        }
    }

    /// A request that never opened the session still counts as activity: the expiry of the
    /// session the id cookie names is slid. Without an absolute lifetime the new expiry depends
    /// on nothing stored, so a server-side store gets one `refresh` and no read (the cost of the
    /// seed's `touch`); with one, the record is read first, for its creation time, which bounds
    /// the new expiry. A failure is logged, not surfaced: a route that never uses the session (a
    /// health check, a static file) must not fail because the session store is down.
    async fn commit_lazy(&self, now: u64) -> Result<(), Error> {
        let manager = &self.inner.manager;
        let cx = &self.inner.cx;
        let (id, key) = match manager.incoming_id(cx) {
            // Not due for a refresh (see `refresh`): nothing to do, no cookie.
            Some((signed, _))
                if signed.current
                    && !manager.refresh_due(signed.stamp.saturating_mul(1000), now) =>
            {
                return Ok(());
            }
            Some((signed, key)) if signed.kind == IdKind::Stored => (signed.id, key),
            // An id that never stored anything: its cookie is sent again, nothing is read.
            Some((signed, _)) => {
                manager.set_id_cookie(cx, &signed.id, None, now, now);
                return Ok(());
            }
            None => {
                // A new visitor's id is not hashed: nothing is stored for it, and a visitor who
                // never comes back would not repay the hash.
                manager.set_id_cookie(cx, &SessionId::generate(), None, now, now);
                return Ok(());
            }
        };
        let lifetimes = manager.inner().lifetimes;
        if let (Driver::Server(store), None) = (&manager.inner().driver, lifetimes.absolute()) {
            let expires_at = lifetimes.expires_at(now, now);
            if let Err(e) = manager.call(store.refresh(&key, now, expires_at)).await {
                tracing::warn!(target: "session", key = key.short(), error = %e, "refreshing the session's expiry failed");
            }
            manager.set_id_cookie(cx, &id, Some(&key), now, now);
            return Ok(());
        }
        let read = match &manager.inner().driver {
            Driver::Server(store) => manager.call(store.read(&key)).await,
            Driver::Client(store) => match store.read(cx, &key) {
                // A session of a tag logged out everywhere since: its cookies go.
                Some(record) => match manager.check_mark(&key, &record).await {
                    Ok(Mark::Revoked) => {
                        manager.apply_cookie_changes(cx, store.clear(cx), now, now);
                        Ok(None)
                    }
                    mark => mark.map(|_| Some(record)),
                },
                None => Ok(None),
            },
        };
        let mut created_at = now;
        match read {
            Ok(Some(record)) if !record.is_expired_at(now) => {
                created_at = record.created_at;
                if let Err(e) = self.refresh(&key, record, now).await {
                    tracing::warn!(target: "session", key = key.short(), error = %e, "refreshing the session's expiry failed");
                }
            }
            // The session ended (destroyed or expired): its id is not sent again.
            Ok(_) => {
                manager.set_id_cookie(cx, &SessionId::generate(), None, now, now);
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(target: "session", key = key.short(), error = %e, "reading the session to refresh its expiry failed");
            }
        }
        manager.set_id_cookie(cx, &id, Some(&key), created_at, now);
        Ok(())
    }

    /// Slides the expiry of an unchanged session: `refresh` on a server-side store; on a
    /// client-side one, the record sent again with its new times (if the store asks for it).
    async fn refresh(&self, key: &StorageKey, mut record: Record, now: u64) -> Result<(), Error> {
        let manager = &self.inner.manager;
        let expires_at = manager.inner().lifetimes.expires_at(record.created_at, now);
        match &manager.inner().driver {
            Driver::Server(store) => manager.call(store.refresh(key, now, expires_at)).await,
            Driver::Client(store) => {
                (record.last_active, record.expires_at) = (now, expires_at);
                let changes = store.refresh(&self.inner.cx, key, &record)?;
                manager.apply_cookie_changes(&self.inner.cx, changes, expires_at, now);
                Ok(())
            }
        }
    }

    /// Writes a changed session to a client-side store: no versions to compare, the browser
    /// holding the only copy. Returns the id the cookie carries and its storage key.
    fn commit_client(
        &self,
        store: &dyn ClientStore,
        plan: &mut Plan,
        now: u64,
    ) -> Result<(SessionId, Option<StorageKey>), Error> {
        let manager = &self.inner.manager;
        let cx = &self.inner.cx;
        let base = plan.loaded.take();
        let key = match &base {
            Some(loaded) if !plan.regenerated => loaded.key.clone(),
            _ => plan.id.storage_key(),
        };
        let data = plan.data(base.as_ref().map(|l| &l.record.data))?;
        let expires_at = manager.inner().lifetimes.expires_at(plan.created_at, now);
        if data.is_empty() {
            manager.apply_cookie_changes(cx, store.clear(cx), expires_at, now);
            return Ok(self.emptied(plan, base.is_some()));
        }
        let changes = {
            let record = Record {
                data,
                version: base
                    .as_ref()
                    .map_or(1, |l| l.record.version.wrapping_add(1)),
                created_at: plan.created_at,
                last_active: now,
                expires_at,
            };
            store.write(cx, &key, &record)?
        };
        manager.apply_cookie_changes(cx, changes, expires_at, now);
        Ok((plan.id.clone(), Some(key)))
    }

    /// Writes a changed session to a server-side store, in one retry loop of small steps:
    ///
    /// 1. build the data: the store as the handler left it, or after a conflict the change log
    ///    replayed on the record as it is now;
    /// 2. put it under the id the cookie will carry (`write` at the version read, or `destroy`
    ///    when the session was emptied); after a regenerate, under the new id, which nobody
    ///    else knows yet;
    /// 3. after a regenerate, retire the old record (`destroy` at the version read);
    /// 4. on `Conflict`, re-read and go back to 1; on `Gone` (destroyed or expired meanwhile),
    ///    drop the changes and start a fresh session.
    ///
    /// Returns the id the cookie carries and, when known, its storage key.
    async fn commit_server(
        &self,
        store: &dyn SessionStore,
        plan: &mut Plan,
        now: u64,
    ) -> Result<(SessionId, Option<StorageKey>), Error> {
        if plan.regenerated {
            return self.commit_alone(store, plan, now).await;
        }
        match plan.loaded.take() {
            Some(loaded) => self.commit_grouped(store, plan, loaded, now).await,
            None => self.commit_alone(store, plan, now).await,
        }
    }

    /// An update of a stored session, in its group (see `group.rs`): written by this commit,
    /// possibly with the commits that queued meanwhile, or by the commit ahead of it.
    async fn commit_grouped(
        &self,
        store: &dyn SessionStore,
        plan: &mut Plan,
        loaded: Loaded,
        now: u64,
    ) -> Result<(SessionId, Option<StorageKey>), Error> {
        let manager = &self.inner.manager;
        let key = loaded.key.clone();
        let (guard, mut base, followers) = match manager.inner().groups.join(&key, &plan.log) {
            Joined::Lead(guard) => (guard, Some(loaded.record), Vec::new()),
            Joined::Wait(turn) => match turn.await {
                Ok(Turn::Stored { emptied: false }) => return Ok((plan.id.clone(), Some(key))),
                Ok(Turn::Stored { emptied: true }) => return Ok(self.emptied(plan, true)),
                Ok(Turn::Gone) => return Ok(self.restart(store, &key, None).await),
                Ok(Turn::Lead {
                    guard,
                    base,
                    followers,
                }) => {
                    // The first attempt's data was built on the record read, which the
                    // commits ahead have changed since.
                    plan.first = None;
                    (guard, base, followers)
                }
                Ok(Turn::Alone) | Err(_) => {
                    plan.loaded = Some(loaded);
                    return self.commit_alone(store, plan, now).await;
                }
            },
        };
        if base.is_none() {
            // The commit ahead went away without saying what it left: read it.
            base = match manager.call(store.read(&key)).await {
                Ok(read) => read.filter(|r| !r.is_expired_at(now)),
                Err(e) => {
                    guard.give_up(followers, None);
                    return Err(e);
                }
            };
        }
        let lifetimes = manager.inner().lifetimes;
        let attempts = manager.commit_attempts();
        let mut attempt = 0;
        let mut pending = followers;
        loop {
            attempt += 1;
            let Some(current) = base.as_ref() else {
                // Destroyed meanwhile (a logout elsewhere): nobody's changes bring it back.
                for follower in pending {
                    follower.tell(Turn::Gone);
                }
                guard.hand_over(None);
                let emptying = plan.log.build(None).is_ok_and(|data| data.is_empty());
                return Ok(if emptying {
                    self.emptied(plan, true)
                } else {
                    self.restart(store, &key, None).await
                });
            };
            let mut data = match plan.data(Some(&current.data)) {
                Ok(data) => data,
                Err(e) => {
                    guard.give_up(pending, base);
                    return Err(e);
                }
            };
            // The followers' changes, in the order they came, on what the ones before left; a
            // change that no longer applies (a path through a value another changed) is that
            // commit's to report, on its own. A commit that empties the session (a logout) ends
            // the batch: the record is destroyed, and the commits after it find it gone, as
            // they would one by one (no resurrection).
            let mut members = Vec::with_capacity(pending.len());
            let mut rest = pending.into_iter();
            if !data.is_empty() {
                for follower in rest.by_ref() {
                    match follower.log.build(Some(&data)) {
                        Ok(next) => {
                            data = next;
                            members.push(follower);
                            if data.is_empty() {
                                break;
                            }
                        }
                        Err(_) => follower.tell(Turn::Alone),
                    }
                }
            }
            for follower in rest {
                follower.tell(Turn::Gone);
            }
            let emptied = data.is_empty();
            let record = Record {
                data,
                version: current.version.wrapping_add(1),
                created_at: current.created_at,
                last_active: now,
                expires_at: lifetimes.expires_at(current.created_at, now),
            };
            let next_base = (!emptied && guard.has_waiters()).then(|| record.clone());
            let outcome = match self.put_same(store, &key, record, base.as_ref()).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    guard.give_up(members, None);
                    return Err(e);
                }
            };
            match outcome {
                WriteOutcome::Written => {
                    for member in members {
                        member.tell(Turn::Stored { emptied });
                    }
                    guard.hand_over(next_base);
                    return Ok(if emptied {
                        self.emptied(plan, true)
                    } else {
                        (plan.id.clone(), Some(key))
                    });
                }
                WriteOutcome::Gone => base = None,
                WriteOutcome::Conflict if attempt >= attempts => {
                    guard.give_up(members, None);
                    return Err(Error::Conflict { attempts });
                }
                // Another process wrote: read what it left, and replay every change on it.
                WriteOutcome::Conflict => {
                    backoff(attempt).await;
                    base = match manager.call(store.read(&key)).await {
                        Ok(read) => read.filter(|r| !r.is_expired_at(now)),
                        Err(e) => {
                            guard.give_up(members, None);
                            return Err(e);
                        }
                    };
                }
            }
            pending = members;
        }
    }

    /// A commit on its own: a new session, a regenerated one, or an update that could not be
    /// grouped. The retry loop of the commit protocol.
    async fn commit_alone(
        &self,
        store: &dyn SessionStore,
        plan: &mut Plan,
        now: u64,
    ) -> Result<(SessionId, Option<StorageKey>), Error> {
        let manager = &self.inner.manager;
        let lifetimes = manager.inner().lifetimes;
        let (loaded_key, mut base) = match plan.loaded.take() {
            Some(Loaded { key, record }) => (Some(key), Some(record)),
            None => (None, None),
        };
        // Where the data goes, and where the record it builds on is read from.
        let target = match loaded_key {
            Some(key) if !plan.regenerated => key,
            _ => plan.id.storage_key(),
        };
        let source = if plan.regenerated {
            plan.old_key.clone()
        } else {
            Some(target.clone())
        };
        // The version this commit stored under a regenerated id, if any.
        let mut written: Option<u64> = None;
        let attempts = manager.commit_attempts();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let data = plan.data(base.as_ref().map(|r| &r.data))?;
            let emptied = data.is_empty();
            let created_at = base.as_ref().map_or(plan.created_at, |r| r.created_at);
            let record = Record {
                data,
                version: 0,
                created_at,
                last_active: now,
                expires_at: lifetimes.expires_at(created_at, now),
            };
            let outcome = if plan.regenerated {
                self.put_new(store, &target, record, &mut written, attempt)
                    .await?;
                match (&plan.old_key, &base) {
                    (Some(old), Some(current)) => self.retire(store, old, current.version).await,
                    _ => WriteOutcome::Written,
                }
            } else {
                self.put_same(store, &target, record, base.as_ref()).await?
            };
            match outcome {
                WriteOutcome::Written if emptied => {
                    return Ok(self.emptied(plan, base.is_some()));
                }
                WriteOutcome::Written => return Ok((plan.id.clone(), Some(target))),
                // A session being emptied that is already gone needs nothing more.
                WriteOutcome::Gone if emptied && !plan.regenerated => {
                    return Ok(self.emptied(plan, true));
                }
                WriteOutcome::Gone => return Ok(self.restart(store, &target, written).await),
                WriteOutcome::Conflict if attempt >= attempts => {
                    return Err(Error::Conflict { attempts })
                }
                WriteOutcome::Conflict => {
                    backoff(attempt).await;
                    let fresh = match &source {
                        Some(key) => manager.call(store.read(key)).await?,
                        None => None,
                    };
                    match fresh {
                        Some(fresh) if !fresh.is_expired_at(now) => base = Some(fresh),
                        _ if emptied && !plan.regenerated => return Ok(self.emptied(plan, true)),
                        _ => return Ok(self.restart(store, &target, written).await),
                    }
                }
            }
        }
    }

    /// The id the cookie carries after a commit left nothing stored, and no storage key (a
    /// cookie of the empty kind). When a session was destroyed under the id, the id is retired
    /// with it: a new one serves the visitor, so the old cookie never opens anything again.
    fn emptied(&self, plan: &Plan, destroyed: bool) -> (SessionId, Option<StorageKey>) {
        if !destroyed || plan.regenerated {
            return (plan.id.clone(), None);
        }
        (self.renew(), None)
    }

    /// A new id for the rest of the request and its cookie, the old one's session being gone.
    fn renew(&self) -> SessionId {
        let id = SessionId::generate();
        let mut state = self.state();
        state.id = Some(id.clone());
        state.fresh = true;
        id
    }

    /// Step 2 without a regenerate: `write` the record at the version read (`destroy` it when
    /// the session was emptied).
    async fn put_same(
        &self,
        store: &dyn SessionStore,
        key: &StorageKey,
        mut record: Record,
        base: Option<&Record>,
    ) -> Result<WriteOutcome, Error> {
        let manager = &self.inner.manager;
        let outcome = match base {
            None if record.data.is_empty() => WriteOutcome::Written,
            Some(current) if record.data.is_empty() => {
                manager.call(store.destroy(key, current.version)).await?
            }
            _ => {
                // Wrapping: a stored record at `u64::MAX` (a corrupt or foreign one) goes on at
                // 0, which still differs from the version read.
                record.version = base.map_or(1, |r| r.version.wrapping_add(1));
                let expected = base.map(|r| r.version);
                manager.call(store.write(key, &record, expected)).await?
            }
        };
        if outcome == WriteOutcome::Written {
            match (base, record.data.is_empty()) {
                (None, false) => {
                    tracing::info!(target: "session", event = "created", key = key.short(), "session created")
                }
                (Some(_), true) => {
                    tracing::info!(target: "session", event = "destroyed", key = key.short(), "session emptied and destroyed")
                }
                _ => {}
            }
        }
        Ok(outcome)
    }

    /// Step 2 after a regenerate: the data under the new id (or the copy written by an earlier
    /// attempt removed, when the session was emptied). Nobody else knows the new id, so anything
    /// but `Written` is a collision.
    async fn put_new(
        &self,
        store: &dyn SessionStore,
        key: &StorageKey,
        mut record: Record,
        written: &mut Option<u64>,
        attempt: u32,
    ) -> Result<(), Error> {
        let manager = &self.inner.manager;
        let outcome = if record.data.is_empty() {
            match written.take() {
                Some(version) => manager.call(store.destroy(key, version)).await?,
                None => WriteOutcome::Written,
            }
        } else {
            record.version = written.map_or(1, |v| v.wrapping_add(1));
            let outcome = manager.call(store.write(key, &record, *written)).await?;
            *written = Some(record.version);
            outcome
        };
        match outcome {
            WriteOutcome::Written => Ok(()),
            _ => Err(Error::Conflict { attempts: attempt }),
        }
    }

    /// Step 3: the old record goes if it is still the one read. A failure is logged: the new
    /// record is safely written, and the old one expires by itself.
    async fn retire(
        &self,
        store: &dyn SessionStore,
        old: &StorageKey,
        version: u64,
    ) -> WriteOutcome {
        match self.inner.manager.call(store.destroy(old, version)).await {
            Ok(outcome) => {
                if outcome == WriteOutcome::Written {
                    tracing::info!(target: "session", event = "regenerated", key = old.short(), "session id regenerated");
                }
                outcome
            }
            Err(e) => {
                tracing::warn!(target: "session", key = old.short(), error = %e, "destroying the old record after regenerate failed; it will expire");
                WriteOutcome::Written
            }
        }
    }

    /// The session was destroyed by a concurrent request (or expired) while this one changed it:
    /// the changes are dropped, a copy written under a regenerated id is removed, and the
    /// response starts a fresh session.
    async fn restart(
        &self,
        store: &dyn SessionStore,
        key: &StorageKey,
        written: Option<u64>,
    ) -> (SessionId, Option<StorageKey>) {
        if let Some(version) = written {
            if let Err(e) = self.inner.manager.call(store.destroy(key, version)).await {
                tracing::warn!(target: "session", key = key.short(), error = %e, "removing the regenerated copy of a destroyed session failed; it will expire");
            }
        }
        tracing::warn!(target: "session", event = "destroyed-meanwhile", key = key.short(), "session was destroyed by a concurrent request; this request's changes are dropped");
        (self.renew(), None)
    }
}

/// What a commit needs, taken out of the state so no lock is held across `.await`.
/// What a commit does, decided under the state lock.
enum Next {
    /// The handler never initiated the session.
    Lazy,
    /// Initiated, nothing to write.
    Unmodified {
        id: SessionId,
        loaded: Option<Loaded>,
    },
    /// Changes to write (boxed: the plan is large and rare next to reads).
    Write(Box<Plan>),
}

struct Plan {
    id: SessionId,
    /// The data of the first attempt: the store as the handler left it, with the outgoing flash
    /// messages. `None` once the first attempt has used it.
    first: Option<Map<String, Value>>,
    created_at: u64,
    loaded: Option<Loaded>,
    /// What the request changed, shared with the commits of the same session it may be
    /// grouped with (see `group.rs`).
    log: Arc<ChangeLog>,
    old_key: Option<StorageKey>,
    regenerated: bool,
}

impl Plan {
    /// The data to write: the first attempt's, then the changes replayed onto each fresh read.
    fn data(&mut self, base: Option<&Map<String, Value>>) -> Result<Map<String, Value>, Error> {
        match self.first.take() {
            Some(first) => Ok(first),
            None => self.log.build(base),
        }
    }
}

/// A request's changes to its session: the store operations in order, the flash messages it
/// consumed, the ones it prepared for the next request.
pub(crate) struct ChangeLog {
    ops: Vec<Op>,
    consumed: Option<Map<String, Value>>,
    outgoing: Map<String, Value>,
}

impl ChangeLog {
    /// The data to store: the change log replayed on `base` (the record as it is now), the
    /// consumed messages taken out, the outgoing ones merged in.
    pub(crate) fn build(
        &self,
        base: Option<&Map<String, Value>>,
    ) -> Result<Map<String, Value>, Error> {
        let mut values = base.cloned().unwrap_or_default();
        let messages = match values.shift_remove(FLASH_KEY) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for op in &self.ops {
            op.apply(&mut values)?;
        }
        put_messages(
            &mut values,
            messages,
            self.consumed.as_ref(),
            &self.outgoing,
        );
        Ok(values)
    }
}

/// Stores the flash messages for the next request in `values`: the stored `messages` less those
/// this request consumed, plus the outgoing ones.
fn put_messages(
    values: &mut Map<String, Value>,
    mut messages: Map<String, Value>,
    consumed: Option<&Map<String, Value>>,
    outgoing: &Map<String, Value>,
) {
    if let Some(consumed) = consumed {
        // Only the messages this request saw go; a message flashed meanwhile by a concurrent
        // request stays for the next one.
        for (k, v) in consumed {
            if messages.get(k) == Some(v) {
                messages.shift_remove(k);
            }
        }
    }
    store::deep_merge(&mut messages, outgoing.clone());
    if !messages.is_empty() {
        values.insert(FLASH_KEY.to_owned(), Value::Object(messages));
    }
}

/// What the first commit attempt writes. The store already holds the record read with this
/// request's changes applied, so replaying them is only needed after a conflict; the messages are
/// worked out as [`Plan::build`] does, from the messages of the record read.
fn first_data(state: &State, outgoing: &Map<String, Value>) -> Map<String, Value> {
    let mut values = state.values.clone();
    put_messages(
        &mut values,
        state.incoming.map().clone(),
        state.consumed.as_ref(),
        outgoing,
    );
    values
}

/// A short random pause before retrying a conflicting commit: up to 2^attempt ms, capped at 64,
/// so that many requests contending for one session spread out instead of colliding again.
async fn backoff(attempt: u32) {
    let cap = 1u64 << attempt.min(6);
    let mut b = [0u8; 2];
    let jitter = match SystemRandom::new().fill(&mut b) {
        Ok(()) => u64::from(u16::from_le_bytes(b)) % (cap * 1000 + 1),
        Err(_) => cap * 500,
    };
    tokio::time::sleep(Duration::from_micros(jitter)).await;
}
