//! Time as services see it: the wall clock plus an offset that tests can advance
//! (`POST /_nimbus/clock/advance`), so retries, waits and ages are testable in milliseconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn now_millis(&self) -> i64 {
        self.now().timestamp_millis()
    }

    pub fn advance(&self, millis: i64) {
        self.offset_ms.fetch_add(millis, Ordering::Relaxed);
    }

    pub fn offset_millis(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }

    /// Wait (polling every 20 ms of real time) until nimbus's clock reads `millis`: retries
    /// scheduled on this clock run as soon as `POST /_nimbus/clock/advance` passes them.
    pub async fn wait_until(&self, millis: i64) {
        while self.now_millis() < millis {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Call `tick` on the value behind `owner` every `period` of real time until it is dropped:
/// the background sweeps (TTL, retention) that follow nimbus's clock.
pub fn every<T: Send + Sync + 'static>(
    owner: std::sync::Weak<T>,
    period: std::time::Duration,
    tick: impl Fn(&T) + Send + 'static,
) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            let Some(owner) = owner.upgrade() else { return };
            tick(&owner);
        }
    });
}
