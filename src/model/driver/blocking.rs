//! The blocking driver: a worker's loop that waits by blocking its thread, and the gate
//! that holds blocking workers until all of them are ready.

use std::sync::{Condvar, Mutex};

use super::pace::{Pace, Schedule};
use super::sink::{Shard, Sink, observe, stop};
use super::usage::Usage;
use crate::measure::{Mono, Recorder, Window};
use crate::sync::{lock, wait};
use crate::workload::Workload;

/// The blocking loop of in-process worker `w` of `k` (a thread, or the trial's own),
/// recording into the trial's shard `w`; `rate` is the model's (closed when `None`).
pub fn trial_worker<W: Workload>(
    workload: &W,
    session: &mut W::Session,
    window: &Window,
    recorder: &Recorder,
    rate: Option<f64>,
    (w, k): (usize, usize),
) {
    let mut sink = Shard { recorder, index: w };
    let pace = Pace::of_worker(rate, window, w, k);
    blocking_loop(
        workload,
        session,
        window,
        pace,
        &mut sink,
        OwnUsage::Unmeasured,
    );
}

/// Whether a blocking worker measures its own usage over the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnUsage {
    /// An in-process worker: the trial measures its process (the loop returns zero).
    Unmeasured,
    /// A worker process: from the first op it starts inside the window to the end of its
    /// last op. (The op straddling the window's start is left out and the one straddling
    /// its end is counted in full, so on average the two ends balance.)
    Measured,
}

/// The blocking loop of one worker; returns its usage over the window as `own` asks.
pub fn blocking_loop<W: Workload>(
    workload: &W,
    session: &mut W::Session,
    window: &Window,
    pace: Pace,
    sink: &mut impl Sink,
    own: OwnUsage,
) -> Usage {
    let measured = own == OwnUsage::Measured;
    let mut cpu0 = None;
    let mut schedule = Schedule::new(pace);
    window.start.sleep_until();
    let mut end = window.start;
    while let Some(due) = schedule.next_op(window) {
        let waited = Schedule::wait_blocking(due);
        let start = Mono::now();
        if measured && cpu0.is_none() && start >= window.measure_from {
            cpu0 = Some(Usage::now());
        }
        let result = workload.op(session);
        end = Mono::now();
        if observe(window, sink, (due, waited), start, end, result) {
            break;
        }
    }
    stop(window, &schedule, sink, end);
    if !measured {
        return Usage::default();
    }
    let now = Usage::now();
    now.since(&cpu0.unwrap_or(now))
}

/// Holds blocking workers until all of them are ready, then hands them the window.
#[derive(Default)]
pub struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    ready: usize,
    failure: Option<String>,
    /// `Some(None)` once aborted, `Some(Some(w))` once opened.
    outcome: Option<Option<Window>>,
}

impl Gate {
    /// Called by a worker after its setup: reports it, then waits for the window.
    /// Returns `None` when the trial was aborted.
    pub fn arrive(&self, setup: Result<(), String>) -> Option<Window> {
        let mut st = lock(&self.state);
        match setup {
            Ok(()) => st.ready += 1,
            Err(e) => {
                st.failure.get_or_insert(e);
            }
        }
        self.changed.notify_all();
        while st.outcome.is_none() {
            st = wait(&self.changed, st);
        }
        st.outcome.flatten()
    }

    /// Waits until `n` workers are ready, or one failed its setup.
    pub fn wait_ready(&self, n: usize) -> Result<(), String> {
        let mut st = lock(&self.state);
        loop {
            if let Some(e) = &st.failure {
                return Err(e.clone());
            }
            if st.ready >= n {
                return Ok(());
            }
            st = wait(&self.changed, st);
        }
    }

    /// Releases the workers: with a window to run, or `None` to make them return.
    pub fn open(&self, window: Option<Window>) {
        let mut st = lock(&self.state);
        st.outcome = Some(window);
        self.changed.notify_all();
    }
}
