//! `max_concurrency` (SPEC §7): one limiter per provider that outlives config reloads, so a
//! reload never doubles the number of attempts in flight. A permit is held exactly as long as its
//! attempt runs; a limit lowered by a reload takes effect as permits come back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A provider's concurrency limit.
#[derive(Debug)]
pub struct Limiter {
    sem: Arc<Semaphore>,
    state: Mutex<Size>,
    waiting: AtomicUsize,
}

#[derive(Debug)]
struct Size {
    max: usize,
    /// Permits to retire as they come back (the limit was lowered while they were out).
    debt: usize,
}

/// One in-flight attempt's share of its provider's limit; released when dropped.
#[derive(Debug)]
pub struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            let mut s = self
                .limiter
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if s.debt > 0 {
                s.debt -= 1;
                p.forget();
            }
        }
    }
}

fn capped(max: u32) -> usize {
    usize::try_from(max)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS)
}

impl Limiter {
    pub fn new(max: u32) -> Arc<Limiter> {
        let max = capped(max);
        Arc::new(Limiter {
            sem: Arc::new(Semaphore::new(max)),
            state: Mutex::new(Size { max, debt: 0 }),
            waiting: AtomicUsize::new(0),
        })
    }

    /// A reload set a new limit.
    pub fn resize(&self, max: u32) {
        let max = capped(max);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if max > s.max {
            let mut more = max - s.max;
            let repaid = more.min(s.debt);
            s.debt -= repaid;
            more -= repaid;
            self.sem.add_permits(more);
        } else {
            let mut fewer = s.max - max;
            fewer -= self.sem.forget_permits(fewer);
            s.debt += fewer;
        }
        s.max = max;
    }

    pub fn max(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .max
    }

    /// Attempts in flight.
    pub fn in_flight(&self) -> usize {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (s.max + s.debt).saturating_sub(self.sem.available_permits())
    }

    fn wrap(self: &Arc<Self>, p: OwnedSemaphorePermit) -> Permit {
        Permit {
            permit: Some(p),
            limiter: Arc::clone(self),
        }
    }

    /// A permit, waiting at most `wait` in a short queue (no longer than the limit itself).
    /// None: full.
    pub async fn acquire(self: &Arc<Self>, wait: Duration) -> Option<Permit> {
        if let Ok(p) = Arc::clone(&self.sem).try_acquire_owned() {
            return Some(self.wrap(p));
        }
        let limit = self.max().clamp(8, 1024);
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= limit {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let got = tokio::time::timeout(wait, Arc::clone(&self.sem).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        got.ok()?.ok().map(|p| self.wrap(p))
    }

    /// A permit only if one is free now (a hedge never queues).
    pub fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        Arc::clone(&self.sem)
            .try_acquire_owned()
            .ok()
            .map(|p| self.wrap(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_resize_keeps_permits_in_flight_counted() {
        let l = Limiter::new(2);
        let a = l.try_acquire().unwrap();
        let b = l.try_acquire().unwrap();
        assert!(l.try_acquire().is_none());
        // a reload with the same limit: still full
        l.resize(2);
        assert!(l.try_acquire().is_none());
        // lowered to 1 while 2 are out: one comes back and is retired
        l.resize(1);
        drop(a);
        assert!(l.try_acquire().is_none());
        drop(b);
        let c = l.try_acquire().unwrap();
        assert!(l.try_acquire().is_none());
        assert_eq!(l.in_flight(), 1);
        // raised to 3
        l.resize(3);
        let _d = l.try_acquire().unwrap();
        let _e = l.try_acquire().unwrap();
        assert!(l.try_acquire().is_none());
        drop(c);
    }
}
