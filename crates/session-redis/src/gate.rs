//! The contention gate: requests of this process that lost a conditional write on a session
//! retry one at a time.
//!
//! The atomic update is optimistic: a request writes only if the record is still at the version
//! it read, and on a conflict session-core re-reads, replays its changes and tries again. When
//! many requests of one browser hit the same session at once, every retry wave has one winner
//! and the others can exhaust their attempts. So a request whose write conflicted takes the
//! session's gate (an in-process lock per storage key) before its next attempt, and keeps it until
//! its write goes through, the session is gone, or the request ends. Requests that never
//! conflicted pass freely, so uncontended requests pay nothing. Correctness does not depend on
//! the gate: the version check in Redis still decides, across processes too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use session_core::{SessionContext, StorageKey};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The gates a request holds, kept in its context.
#[derive(Default)]
struct Held(HashMap<String, OwnedMutexGuard<()>>);

/// One gate per storage key that some request is contending on.
#[derive(Debug, Default)]
pub(crate) struct Gates {
    gates: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

impl Gates {
    fn gate(&self, key: &StorageKey) -> Arc<AsyncMutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gate) = gates.get(key.as_str()).and_then(Weak::upgrade) {
            return gate;
        }
        if gates.len() >= 1024 {
            gates.retain(|_, g| g.strong_count() > 0);
        }
        let gate = Arc::new(AsyncMutex::new(()));
        gates.insert(key.as_str().to_owned(), Arc::downgrade(&gate));
        gate
    }

    /// After a conflict: takes the session's gate for this request, unless it holds it already.
    /// Gives up waiting after `patience` (the retry then simply runs ungated).
    pub(crate) async fn enter(&self, cx: &SessionContext, key: &StorageKey, patience: Duration) {
        if cx.with_slot(|held: &mut Held| held.0.contains_key(key.as_str())) {
            return;
        }
        let gate = self.gate(key);
        if let Ok(guard) = tokio::time::timeout(patience, gate.lock_owned()).await {
            cx.with_slot(|held: &mut Held| held.0.insert(key.as_str().to_owned(), guard));
        }
    }

    /// After a write went through or found the session gone: lets the next request in.
    pub(crate) fn leave(&self, cx: &SessionContext, key: &StorageKey) {
        let guard = cx.with_slot(|held: &mut Held| held.0.remove(key.as_str()));
        drop(guard);
    }
}
