//! Events a trial counts besides its ops: requests sent again after a reused connection
//! turned out closed (`retried_ops`) and connections the client opened (`connects`).
//!
//! # How it works
//! 1. Each is a process-wide relaxed atomic, bumped where the event happens (one add on a
//!    path that already pays a syscall), so no op's signature carries it.
//! 2. The trial reads [`Counts::now`] when the measured part of the window begins and when
//!    it ends; worker processes do the same and report their difference. A figure is the
//!    difference, so setup's connects are not in it.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// One process-wide count.
pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    #[inline]
    pub fn note(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A request sent once more on a new connection, after the reused one was found closed
/// before any byte of the reply (the op's latency includes both tries).
pub static RETRIES: Counter = Counter::new();
/// A client connection opened (setup's included; the figure is the window's difference).
pub static CONNECTS: Counter = Counter::new();

/// The counters at one moment, or their difference over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub retries: u64,
    pub connects: u64,
}

impl Counts {
    pub fn now() -> Counts {
        Counts {
            retries: RETRIES.get(),
            connects: CONNECTS.get(),
        }
    }

    /// What happened since `earlier`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            retries: self.retries.saturating_sub(earlier.retries),
            connects: self.connects.saturating_sub(earlier.connects),
        }
    }

    pub fn add(&mut self, other: &Counts) {
        self.retries += other.retries;
        self.connects += other.connects;
    }
}
