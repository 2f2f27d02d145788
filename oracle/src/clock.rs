//! Time, asked of one [`Clock`], and the one rule that maps a time to its epoch.
//!
//! The service runs on [`SystemClock`]. Tests run the service on a [`ManualClock`] and move it
//! (and the chain's clock, with `evm_increaseTime`) instead of waiting for wall-clock epochs.
//! Durations that only pace the process itself (caches, timeouts, backoffs) keep using
//! `std::time::Instant`: they never reach a receipt, an epoch or the database.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

/// Where the domain gets the time of day.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The shared clock handle every component holds.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    }
}

/// A clock that moves only when told to (tests). Starts at the system time.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Arc<Self> {
        Arc::new(Self {
            ms: AtomicI64::new(start_ms),
        })
    }

    /// A manual clock at the system's time now.
    pub fn starting_now() -> Arc<Self> {
        Self::new(SystemClock.now_ms())
    }

    /// Moves the clock forward by `ms` milliseconds; returns the new time.
    pub fn advance_ms(&self, ms: i64) -> i64 {
        self.ms.fetch_add(ms, Ordering::SeqCst) + ms
    }

    /// Sets the clock to `ms` if that is later than now (time never runs backwards).
    pub fn set_at_least(&self, ms: i64) -> i64 {
        self.ms.fetch_max(ms, Ordering::SeqCst).max(ms)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// The epoch rule: a time belongs to epoch `floor(ms / 1000 / secs)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochRule {
    secs: u64,
}

impl EpochRule {
    /// Epochs of `secs` seconds (at least 1).
    pub fn new(secs: u64) -> Self {
        Self { secs: secs.max(1) }
    }

    pub fn secs(&self) -> u64 {
        self.secs
    }

    /// The epoch of a time in Unix milliseconds.
    pub fn epoch_of(&self, ms: i64) -> u64 {
        (ms.max(0) as u64) / 1000 / self.secs
    }

    /// The first second (Unix time) after `epoch`.
    pub fn end_secs(&self, epoch: u64) -> u64 {
        epoch.saturating_add(1).saturating_mul(self.secs)
    }

    /// The last epoch that ended at least `grace_secs` before `now_ms`, if any.
    pub fn last_closable(&self, now_ms: i64, grace_secs: u64) -> Option<u64> {
        let now_s = (now_ms.max(0) as u64) / 1000;
        (now_s.saturating_sub(grace_secs) / self.secs).checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_and_closability() {
        let r = EpochRule::new(10);
        assert_eq!(r.epoch_of(0), 0);
        assert_eq!(r.epoch_of(9_999), 0);
        assert_eq!(r.epoch_of(10_000), 1);
        assert_eq!(r.end_secs(1), 20);
        // Epoch 1 ends at 20 s; with 3 s of grace it is closable from 23 s.
        assert_eq!(r.last_closable(22_999, 3), Some(0));
        assert_eq!(r.last_closable(23_000, 3), Some(1));
        assert_eq!(r.last_closable(5_000, 3), None);
        assert_eq!(EpochRule::new(0).secs(), 1);
    }

    #[test]
    fn manual_clock_moves_only_forward() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.advance_ms(500), 1_500);
        assert_eq!(c.set_at_least(1_200), 1_500);
        assert_eq!(c.set_at_least(2_000), 2_000);
        assert_eq!(c.now_ms(), 2_000);
    }
}
