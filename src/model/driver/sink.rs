//! The recording path: where a worker's finished ops go ([`Sink`], a shard of the trial's
//! recorder), what is recorded of each op ([`observe`]) and as a worker stops ([`stop`]).

use std::ops::Deref;
use std::sync::Arc;

use super::pace::{LATE, Schedule};
use crate::measure::{Mono, Recorder, Window};
use crate::op::{OpError, Timing};

/// Where a worker's finished ops go.
pub trait Sink {
    fn record(&mut self, timing: Timing, result: Result<(), OpError>);

    /// When the worker's last op ended (called once, as it stops): a counted window ends
    /// with the last of these, not when the model has torn its workers down.
    fn last_end(&mut self, _end: Mono) {}

    /// Open mode, as the worker stops: ops due inside the window that never started, each
    /// with the latency it had reached when the window closed (nanoseconds).
    fn dropped(&mut self, _lags: &mut dyn Iterator<Item = u64>) {}

    /// An op in flight for the whole measured window (started before it, still running at
    /// its end), with the latency it had reached at the end (nanoseconds).
    fn unfinished(&mut self, _lag_ns: u64) {}
}

/// What every worker does as it stops: its unstarted ops, then its last op's end.
pub fn stop(window: &Window, schedule: &Schedule, sink: &mut impl Sink, end: Mono) {
    if window.count.is_none() {
        sink.dropped(&mut schedule.unstarted(window));
    }
    sink.last_end(end);
}

/// One shard of the trial's shared recorder, reached through `R`: a reference (a worker
/// thread, a pool job) or an `Arc` (a task, which must own its sink; [`OwnedShard`]).
pub struct Shard<R: Deref<Target = Recorder>> {
    pub recorder: R,
    pub index: usize,
}

/// A shard of the trial's recorder that a task can own.
pub type OwnedShard = Shard<Arc<Recorder>>;

impl<R: Deref<Target = Recorder>> Sink for Shard<R> {
    #[inline]
    fn record(&mut self, timing: Timing, result: Result<(), OpError>) {
        self.recorder.shard(self.index).record(timing, result);
    }

    fn last_end(&mut self, end: Mono) {
        self.recorder.note_end(end);
    }

    fn dropped(&mut self, lags: &mut dyn Iterator<Item = u64>) {
        let mut t = self.recorder.shard(self.index);
        lags.for_each(|ns| t.record_dropped_ns(ns));
    }

    fn unfinished(&mut self, lag_ns: u64) {
        self.recorder.shard(self.index).record_unfinished_ns(lag_ns);
    }
}

/// Records one finished op if it ended inside the window; returns `true` when the worker
/// should stop. `due` is when the op was due (open mode), `waited` whether the worker slept
/// until then, `start` when it started.
#[inline]
pub fn observe(
    window: &Window,
    sink: &mut impl Sink,
    (due, waited): (Option<Mono>, bool),
    start: Mono,
    end: Mono,
    result: Result<(), OpError>,
) -> bool {
    if window.contains(end) {
        let timing = match due {
            None => Timing {
                latency: end.since(start),
                service: None,
                late: false,
                pace_lag: None,
            },
            Some(due) => Timing {
                latency: end.since(due),
                service: Some(end.since(start)),
                late: start.since(due) > LATE,
                pace_lag: waited.then(|| start.since(due)),
            },
        };
        sink.record(timing, result);
    } else if window.count.is_none() && start < window.measure_from && window.is_over(end) {
        // In flight for the whole measured window: a client that a server's fixed workers
        // never served, or an op longer than the window. It finished nowhere inside it, but
        // it is not left out: it is counted, at the latency it had reached by the end.
        let from = due.unwrap_or(start);
        sink.unfinished(window.measure_until.since(from).as_nanos() as u64);
    }
    window.is_over(end)
}
