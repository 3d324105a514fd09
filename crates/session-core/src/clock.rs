//! Time, injectable so tests can move it forward.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time in milliseconds since the Unix epoch.
///
/// Every expiry decision in the core and the bundled drivers goes through the manager's clock, so
/// a [`ManualClock`] makes expiry testable without sleeping.
///
/// ```
/// use std::sync::Arc;
/// use session_core::{Clock, SessionConfig, SessionManager};
///
/// /// A clock that always says the same time.
/// #[derive(Debug)]
/// struct Frozen(u64);
///
/// impl Clock for Frozen {
///     fn now_ms(&self) -> u64 {
///         self.0
///     }
/// }
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .with_clock(Arc::new(Frozen(1_700_000_000_000)))
/// .build()?;
/// assert_eq!(manager.clock().now_ms(), 1_700_000_000_000);
/// # Ok::<(), session_core::ConfigError>(())
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch.
    ///
    /// ```
    /// use session_core::{Clock, ManualClock, SystemClock};
    ///
    /// assert_eq!(ManualClock::new(5_000).now_ms(), 5_000);
    /// assert!(SystemClock.now_ms() > 1_600_000_000_000);
    /// ```
    fn now_ms(&self) -> u64;
}

/// The operating system's wall clock.
///
/// ```
/// use session_core::{Clock, SystemClock};
/// assert!(SystemClock.now_ms() > 1_600_000_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use session_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(shared.now_ms(), 3_000);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `start_ms`.
    ///
    /// ```
    /// use session_core::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new(0);
    /// assert_eq!(clock.now_ms(), 0);
    /// ```
    pub fn new(start_ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(start_ms)))
    }

    /// A clock standing at the current wall-clock time.
    ///
    /// ```
    /// use session_core::{Clock, ManualClock, SystemClock};
    ///
    /// let before = SystemClock.now_ms();
    /// let clock = ManualClock::starting_now();
    /// let start = clock.now_ms();
    /// assert!(start >= before);
    /// std::thread::sleep(std::time::Duration::from_millis(2));
    /// assert_eq!(clock.now_ms(), start); // it only moves when told to
    /// ```
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_ms())
    }

    /// Moves the clock forward.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new(1_000);
    /// clock.advance(Duration::from_millis(250));
    /// assert_eq!(clock.now_ms(), 1_250);
    /// ```
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
