//! Group commit: the commits of one session in one process take turns, and the commits that
//! arrive while one writes are written together, in one conditional write, by the first of them.
//!
//! Without it, concurrent requests of one session (a page firing twenty requests) each read the
//! same version, and all but one conflict, re-read and retry through the storage, with back-off
//! pauses in between. With it, a commit that finds another commit of its session writing queues
//! its change log; when the write ends, the first queued commit takes the turn and writes every
//! queued change log replayed, in order, on the record just written. The conditional write then
//! conflicts only when another process wrote. Each commit still learns whether its changes were
//! stored, and the rules of a lone commit hold: no lost update (each change log is replayed on
//! the latest record), no resurrection (a destroyed session stays destroyed: the queued commits
//! are told so and start a fresh session).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::commit::ChangeLog;
use crate::driver::Record;
use crate::id::StorageKey;

/// What a queued commit is told when its turn comes.
pub(crate) enum Turn {
    /// Its changes were stored by the write of the commit that led; `emptied` when that write
    /// left no data (the record was destroyed).
    Stored { emptied: bool },
    /// The session was destroyed meanwhile: its changes are dropped.
    Gone,
    /// It writes next: its own changes and its followers', on `base` (the record as last
    /// written; `None`: read it first).
    Lead {
        guard: LeadGuard,
        base: Option<Record>,
        followers: Vec<Waiter>,
    },
    /// It commits on its own: the shared write failed, or its changes do not apply to the
    /// record the others left.
    Alone,
}

/// A queued commit: its change log, and where to tell it its turn.
pub(crate) struct Waiter {
    pub(crate) log: Arc<ChangeLog>,
    tx: oneshot::Sender<Turn>,
}

impl Waiter {
    /// Tells the commit its turn (a commit that went away, a cancelled request, hears nothing).
    pub(crate) fn tell(self, turn: Turn) {
        let _ = self.tx.send(turn);
    }
}

/// The sessions being committed in this process, with the commits queued behind each.
#[derive(Default)]
pub(crate) struct Groups {
    waiting: Mutex<HashMap<StorageKey, Vec<Waiter>>>,
}

/// What joining a session's group gives.
pub(crate) enum Joined {
    /// Nobody is committing the session: the caller writes.
    Lead(LeadGuard),
    /// Another commit is writing it: wait for the turn.
    Wait(oneshot::Receiver<Turn>),
}

impl Groups {
    fn lock(&self) -> MutexGuard<'_, HashMap<StorageKey, Vec<Waiter>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the group of the session stored under `key` with the change log `log`.
    pub(crate) fn join(self: &Arc<Self>, key: &StorageKey, log: &Arc<ChangeLog>) -> Joined {
        let mut waiting = self.lock();
        if let Some(queue) = waiting.get_mut(key) {
            let (tx, rx) = oneshot::channel();
            queue.push(Waiter {
                log: log.clone(),
                tx,
            });
            return Joined::Wait(rx);
        }
        waiting.insert(key.clone(), Vec::new());
        Joined::Lead(LeadGuard {
            groups: self.clone(),
            key: key.clone(),
            armed: true,
        })
    }
}

/// The turn to write a session's commits. Handing it over (or dropping it, when the request
/// that led is cancelled) gives it to the first queued commit, with the others as its followers;
/// with nobody queued the group ends.
pub(crate) struct LeadGuard {
    groups: Arc<Groups>,
    key: StorageKey,
    armed: bool,
}

impl LeadGuard {
    /// Whether commits are queued (so that the record written is worth keeping for them).
    pub(crate) fn has_waiters(&self) -> bool {
        self.groups
            .lock()
            .get(&self.key)
            .is_some_and(|queue| !queue.is_empty())
    }

    /// Gives up the shared write: each of `waiters` commits on its own, and the turn passes on
    /// with `base`.
    pub(crate) fn give_up(self, waiters: Vec<Waiter>, base: Option<Record>) {
        for waiter in waiters {
            waiter.tell(Turn::Alone);
        }
        self.hand_over(base);
    }

    /// Passes the turn on, with `base` as the record the next writer builds on.
    pub(crate) fn hand_over(mut self, base: Option<Record>) {
        self.armed = false;
        self.pass(base);
    }

    fn pass(&self, base: Option<Record>) {
        let mut waiting = self.groups.lock();
        loop {
            let Some(queue) = waiting.get_mut(&self.key) else {
                return;
            };
            if queue.is_empty() {
                waiting.remove(&self.key);
                return;
            }
            let mut followers = std::mem::take(queue);
            let next = followers.remove(0);
            let turn = Turn::Lead {
                guard: LeadGuard {
                    groups: self.groups.clone(),
                    key: self.key.clone(),
                    armed: true,
                },
                base: base.clone(),
                followers,
            };
            match next.tx.send(turn) {
                Ok(()) => return,
                // That commit went away: the turn goes to the next one.
                Err(Turn::Lead {
                    mut guard,
                    followers,
                    ..
                }) => {
                    guard.armed = false;
                    if let Some(queue) = waiting.get_mut(&self.key) {
                        *queue = followers;
                    }
                }
                Err(_) => return,
            }
        }
    }
}

impl Drop for LeadGuard {
    fn drop(&mut self) {
        if self.armed {
            self.pass(None);
        }
    }
}
