//! The hub's clock for deadlines and escalations: the system clock in production, a clock
//! that tests set and advance, so that "overdue after 24 hours" is tested without sleeping.
//!
//! Only deadline logic reads it (when a step was taken, when something falls due).
//! TLS, tokens and audit record times keep the system clock.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use liaison_core::Timestamp;
use tokio::sync::watch;

/// A clock. Cheap to clone; clones of a manual clock move together.
#[derive(Clone)]
pub struct Clock(Arc<Inner>);

enum Inner {
    System,
    Manual {
        micros: AtomicI64,
        /// Tells waiting tasks (deadline scanners) that time moved.
        moved: watch::Sender<i64>,
    },
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Inner::System => f.write_str("Clock::System"),
            Inner::Manual { micros, .. } => {
                write!(f, "Clock::Manual({})", micros.load(Ordering::SeqCst))
            }
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(Inner::System))
    }

    /// A clock standing at `start` until moved.
    pub fn manual(start: Timestamp) -> Self {
        Self(Arc::new(Inner::Manual {
            micros: AtomicI64::new(start.as_micros()),
            moved: watch::channel(start.as_micros()).0,
        }))
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        match &*self.0 {
            Inner::System => Timestamp::from_system_time(std::time::SystemTime::now()),
            Inner::Manual { micros, .. } => Timestamp::from_micros(micros.load(Ordering::SeqCst)),
        }
    }

    /// Moves a manual clock forward; returns false (and does nothing) for the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &*self.0 {
            Inner::System => false,
            Inner::Manual { micros, moved } => {
                let step = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
                let now = micros
                    .fetch_add(step, Ordering::SeqCst)
                    .saturating_add(step);
                moved.send_replace(now);
                true
            }
        }
    }

    /// Waits until the clock has moved past `deadline`, or `poll` has passed on the system
    /// clock (so that a waiting task re-checks at least that often), whichever is first.
    pub async fn sleep_until_or(&self, deadline: Timestamp, poll: Duration) {
        match &*self.0 {
            Inner::System => {
                let wait = u64::try_from(deadline.as_micros() - self.now().as_micros())
                    .map(Duration::from_micros)
                    .unwrap_or(Duration::ZERO);
                tokio::time::sleep(wait.min(poll)).await;
            }
            Inner::Manual { moved, .. } => {
                let mut receiver = moved.subscribe();
                let target = deadline.as_micros();
                let _ =
                    tokio::time::timeout(poll, receiver.wait_for(|micros| *micros >= target)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_moves_only_when_told_and_wakes_waiters() {
        let clock = Clock::manual(Timestamp::from_micros(1_000_000));
        assert_eq!(clock.now().as_micros(), 1_000_000);
        let waiter = clock.clone();
        let woke = tokio::spawn(async move {
            waiter
                .sleep_until_or(Timestamp::from_micros(61_000_000), Duration::from_secs(30))
                .await;
            waiter.now()
        });
        tokio::task::yield_now().await;
        assert!(clock.advance(Duration::from_secs(60)));
        let seen = tokio::time::timeout(Duration::from_secs(5), woke)
            .await
            .expect("the waiter woke")
            .expect("no panic");
        assert_eq!(seen.as_micros(), 61_000_000);
        assert!(!Clock::system().advance(Duration::from_secs(1)));
    }
}
