//! A monotonic clock that means the same thing in every process of a trial.
//!
//! `std::time::Instant` cannot cross a process boundary, and the `processes` model needs
//! its workers to share the trial's measured window. `Mono` is `CLOCK_MONOTONIC` in
//! nanoseconds (what `Instant` reads on Linux), so a window computed in the trial process
//! is valid in its worker processes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point on `CLOCK_MONOTONIC`, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Mono(pub u64);

impl Mono {
    #[inline]
    pub fn now() -> Mono {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        Mono(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    pub fn plus(self, d: Duration) -> Mono {
        Mono(self.0 + d.as_nanos() as u64)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    #[inline]
    pub fn since(self, earlier: Mono) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Sleeps the calling thread until this point (returns at once if it has passed).
    pub fn sleep_until(self) {
        let now = Mono::now();
        if self > now {
            std::thread::sleep(self.since(now));
        }
    }
}

/// The phases of a trial: warm-up from `start` to `measure_from`, the measured window from
/// `measure_from` to `measure_until`. An op counts when it completes inside the window.
///
/// A counted window (`count`, what `cargo bench` uses) has no warm-up and no set length:
/// its workers wait for `start`, share `count` ops among them and stop when they have done
/// their share; `measure_until` is only a cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: Mono,
    pub measure_from: Mono,
    pub measure_until: Mono,
    /// Counted mode: the ops that all workers together run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl Window {
    /// A window that starts now.
    pub fn starting_now(warmup: Duration, duration: Duration) -> Window {
        let start = Mono::now();
        let measure_from = start.plus(warmup);
        Window {
            start,
            measure_from,
            measure_until: measure_from.plus(duration),
            count: None,
        }
    }

    /// A counted window of `ops` ops in all, every one measured, that starts `lead` from
    /// now (workers wait for it, so that handing them the window is not timed) and that no
    /// op may end more than `cap` after its start.
    pub fn counted(ops: u64, lead: Duration, cap: Duration) -> Window {
        let start = Mono::now().plus(lead);
        Window {
            start,
            measure_from: start,
            measure_until: start.plus(cap),
            count: Some(ops),
        }
    }

    pub fn duration(&self) -> Duration {
        self.measure_until.since(self.measure_from)
    }

    /// Whether an op that ended at `end` counts.
    #[inline]
    pub fn contains(&self, end: Mono) -> bool {
        end >= self.measure_from && end < self.measure_until
    }

    /// Whether a worker that finished an op at `end` should stop.
    #[inline]
    pub fn is_over(&self, end: Mono) -> bool {
        end >= self.measure_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_matches_instant_pace() {
        let (m, i) = (Mono::now(), std::time::Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let (dm, di) = (Mono::now().since(m), i.elapsed());
        let diff = dm.abs_diff(di);
        assert!(diff < Duration::from_millis(5), "{dm:?} vs {di:?}");
    }

    #[test]
    fn window_bounds() {
        let w = Window::starting_now(Duration::from_millis(100), Duration::from_millis(200));
        assert!(!w.contains(w.start));
        assert!(w.contains(w.measure_from));
        assert!(!w.contains(w.measure_until));
        assert!(w.is_over(w.measure_until));
        assert_eq!(w.duration(), Duration::from_millis(200));
    }
}
