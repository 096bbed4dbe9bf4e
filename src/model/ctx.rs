//! What a model may touch while it runs a trial ([`TrialCtx`]): the cell, the recorder its
//! workers' sinks write to, the idle footprint and the window it opens. `trial` builds it
//! and reads what the model left in it.

use std::sync::Arc;
use std::time::Duration;

use crate::measure::counters::Counts;
use crate::measure::memory::{Sampler, TreeSample, sample_tree};
use crate::measure::rusage::Rusage;
use crate::measure::{Mono, Recorder, Window};
use crate::plan::{ModelKind, RunCell};
use crate::workload::db::ConnCounter;

/// How often the sampler reads memory during the window.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// Recorder shards: enough that thousands of threads rarely share a lock.
const RECORDER_SHARDS: usize = 16;

/// Sessions kept after their tasks end, so that their connections outlive the window's
/// last reading (a server's thread per connection exits when its connection closes, and
/// its CPU time would leave the server's total with it). An async run parks all its
/// sessions in one entry (a `Vec` of them), not a box per session.
pub type Parked = Vec<Box<dyn std::any::Any + Send>>;

/// What a model may touch while it runs a trial.
pub struct TrialCtx {
    pub cell: RunCell,
    /// The process tree measured: this process, or the server under test.
    pub(crate) root: u32,
    pub recorder: Arc<Recorder>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) started: Mono,
    pub(crate) idle: Option<TreeSample>,
    pub(crate) window: Option<Window>,
    /// CPU used by worker processes during the window, which they measure themselves.
    pub worker_rusage: Rusage,
    /// Retries and connects of worker processes during the window, likewise.
    pub worker_counts: Counts,
    /// Async sessions kept open until the sampler's last reading (dropped with the ctx).
    pub parked: Parked,
    /// Database workloads: counts the trial's connections on the server.
    pub(crate) db_counter: Option<ConnCounter>,
    /// The embedded target's count of answered requests when the window opened.
    pub(crate) served_at_open: Option<u64>,
}

impl TrialCtx {
    pub fn new(cell: &RunCell, root: u32) -> anyhow::Result<TrialCtx> {
        crate::workload::new_trial_tag();
        Ok(TrialCtx {
            cell: cell.clone(),
            root,
            recorder: Arc::new(Recorder::new(RECORDER_SHARDS, cell.rate.is_some())),
            sampler: Some(Sampler::spawn(SAMPLE_INTERVAL, root, cell.target_pid)?),
            started: Mono::now(),
            idle: None,
            window: None,
            worker_rusage: Rusage::default(),
            worker_counts: Counts::default(),
            parked: Vec::new(),
            db_counter: ConnCounter::start(&cell.workload),
            served_at_open: None,
        })
    }

    /// Takes the idle footprint. Models call it once their fixed infrastructure (a runtime)
    /// exists and before any worker, task, process or connection does.
    pub fn mark_idle(&mut self) {
        crate::measure::memory::map_own_executable();
        self.idle = Some(sample_tree(self.root));
    }

    /// Starts warm-up now (or a counted window) and hands the window to the sampler.
    pub fn open_window(&mut self) -> Window {
        let w = match self.cell.ops {
            Some(n) => Window::counted(n, counted_lead(&self.cell), self.cell.trial_timeout.0),
            None => Window::starting_now(self.cell.warmup.0, self.cell.duration.0),
        };
        if let Some(s) = &self.sampler {
            s.begin(w);
        }
        if let Some(c) = &self.db_counter {
            c.begin(w);
        }
        self.served_at_open = self
            .cell
            .served
            .as_deref()
            .and_then(crate::measure::served::read);
        self.window = Some(w);
        w
    }
}

/// How far ahead a counted window starts: time for the model to hand it to every worker
/// (a condition variable wakes C threads; a pipe carries it to each worker process), so
/// that the batch's time is the ops' and not the hand-over's.
fn counted_lead(cell: &RunCell) -> Duration {
    let c = cell.concurrency;
    let processes = match cell.model {
        ModelKind::Processes => c.min(cell.process_cap),
        ModelKind::AsyncProcesses => c.min(cell.event_loops),
        _ => 0,
    };
    Duration::from_millis(5) + Duration::from_micros(50) * c + Duration::from_millis(2) * processes
}
