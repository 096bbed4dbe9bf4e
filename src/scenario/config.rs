//! A workload's run protocol after defaults and overrides: [`RunConfig`].

use std::time::Duration;

use crate::plan::{DEFAULT_MAX_ERROR_RATE, LoadMode, Model, ModelKind};

/// The run protocol of one workload, after defaults and overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub trials: u32,
    pub warmup: Duration,
    pub duration: Duration,
    pub mode: LoadMode,
    /// Open mode: ops per second, all workers together.
    pub rate: Option<f64>,
    /// iobench's models and the scenario's own (`[[model]]`).
    pub models: Vec<Model>,
    pub concurrency: Vec<u32>,
    pub pool_size: u32,
    pub process_cap: u32,
    /// Processes of the async-processes model (one event loop each); default: the cores.
    pub event_loops: u32,
    /// Hard limit on one trial's wall time; default warm-up + duration + 30 s.
    pub trial_timeout: Option<Duration>,
    /// A trial whose failed ops exceed this fraction of its ops fails.
    pub max_error_rate: f64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            trials: 3,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(3),
            mode: LoadMode::Closed,
            rate: None,
            models: ModelKind::SUBJECTS.iter().map(|&m| Model::Own(m)).collect(),
            concurrency: vec![1, 16, 256],
            pool_size: 64,
            process_cap: 64,
            event_loops: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            trial_timeout: None,
            max_error_rate: DEFAULT_MAX_ERROR_RATE,
        }
    }
}
