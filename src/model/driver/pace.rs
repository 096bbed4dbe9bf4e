//! Pacing: when a worker issues its ops (closed, open at a fixed rate, or a counted share),
//! and its place in that schedule.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::{Mono, Window};

/// An op that starts this much after it was due counts as started late.
pub const LATE: Duration = Duration::from_millis(1);

/// When a worker issues its ops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Pace {
    /// The next op starts when the previous one ends.
    Closed,
    /// Op `i` of warm-up is due at `first + i × every_ns`; op `j` of the measured part at
    /// `first + (measure_from − start) + j × every_ns` (see [`Schedule`]).
    Open { first: Mono, every_ns: u64 },
    /// Closed, and the worker stops after this many ops (a counted window).
    Count(u64),
}

impl Pace {
    /// The pace of worker `w` of `k` sharing `rate` ops per second (closed when `None`):
    /// the schedule is spread so that the workers' due times interleave.
    /// In a counted window the workers share its count as evenly as they can.
    pub fn of_worker(rate: Option<f64>, window: &Window, w: usize, k: usize) -> Pace {
        if let Some(n) = window.count {
            let k = k.max(1) as u64;
            return Pace::Count(n / k + u64::from((w as u64) < n % k));
        }
        match rate {
            None => Pace::Closed,
            Some(rate) => Pace::Open {
                first: window.start.plus(Duration::from_secs_f64(w as f64 / rate)),
                every_ns: (k as f64 / rate * 1e9) as u64,
            },
        }
    }
}

/// When a worker whose warm-up schedule starts at `first` has its first measured op due:
/// as far into the measured part as `first` is into warm-up.
#[inline]
fn measured_start(first: Mono, window: &Window) -> Mono {
    Mono(window.measure_from.0 + (first.0 - window.start.0))
}

/// A worker's place in its pace: which op is next, and when it is due.
///
/// In open mode the measured part of the window gets a schedule of its own, started
/// afresh: once warm-up's schedule reaches the measured part (or the worker, behind, starts
/// an op after it began), warm-up's ops not yet started are abandoned, so a backlog built
/// during warm-up does not carry into the window. At the end, the measured ops due before
/// the window closed that never started are [`Schedule::unstarted`].
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pace: Pace,
    /// Index of the next op in the current part.
    next: u64,
    measuring: bool,
}

impl Schedule {
    pub fn new(pace: Pace) -> Schedule {
        Schedule {
            pace,
            next: 0,
            measuring: false,
        }
    }

    /// The next op: `None` once the worker has run its share (counted windows only), else
    /// `Some(due)`, where `due` is when it is due (`None` in closed mode).
    #[inline]
    pub fn next_op(&mut self, window: &Window) -> Option<Option<Mono>> {
        match self.pace {
            Pace::Closed => Some(None),
            Pace::Count(n) => {
                if self.next >= n {
                    return None;
                }
                self.next += 1;
                Some(None)
            }
            Pace::Open { first, every_ns } => {
                let measured = measured_start(first, window);
                if !self.measuring
                    && (first.0 + self.next * every_ns >= measured.0 || Mono::now() >= measured)
                {
                    self.measuring = true;
                    self.next = 0;
                }
                let base = if self.measuring { measured } else { first };
                let due = Mono(base.0 + self.next * every_ns);
                self.next += 1;
                Some(Some(due))
            }
        }
    }

    /// Open mode: the latency each measured op due before the window's end but never
    /// started had reached at the end (nanoseconds), for a worker that has stopped.
    pub fn unstarted(&self, window: &Window) -> impl Iterator<Item = u64> {
        let until = window.measure_until;
        let (measured, every_ns, from) = match self.pace {
            Pace::Open { first, every_ns } => (
                measured_start(first, window),
                every_ns.max(1),
                if self.measuring { self.next } else { 0 },
            ),
            _ => (until, 1, 0),
        };
        (from..)
            .map(move |j| measured.0 + j * every_ns)
            .take_while(move |&due| due < until.0)
            .map(move |due| until.0 - due)
    }

    /// Waits (blocking) until op's `due` time; returns whether it waited.
    #[inline]
    pub fn wait_blocking(due: Option<Mono>) -> bool {
        match due {
            Some(due) if due > Mono::now() => {
                due.sleep_until();
                true
            }
            _ => false,
        }
    }
}
