//! What a run is made of, before anything runs: the models ([`ModelKind`]), how ops are
//! issued ([`LoadMode`]) and the matrix's points ([`Cell`]: workload × model × concurrency
//! × mode, with the protocol its trials follow). `scenario` builds cells from TOML; the
//! orchestrator, the trials and the reports read them.

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;
use crate::workload::{WorkloadKind, WorkloadSpec};

/// The workloads the io-uring model runs (its ops are its own, not `Workload`'s).
pub const IO_URING_WORKLOADS: [WorkloadKind; 3] = [
    WorkloadKind::TcpEcho,
    WorkloadKind::DiskRead,
    WorkloadKind::DiskWrite,
];

/// The closed list of models. Adding one is a compile error wherever it must be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Sequential,
    Threads,
    ThreadPool,
    Processes,
    TokioCurrentThread,
    AsyncStd,
    Smol,
    TokioMultiThread,
    AsyncProcesses,
    IoUring,
}

impl ModelKind {
    pub const ALL: &'static [ModelKind] = &[
        ModelKind::Sequential,
        ModelKind::Threads,
        ModelKind::ThreadPool,
        ModelKind::Processes,
        ModelKind::TokioCurrentThread,
        ModelKind::AsyncStd,
        ModelKind::Smol,
        ModelKind::TokioMultiThread,
        ModelKind::AsyncProcesses,
        ModelKind::IoUring,
    ];

    /// The models a scenario runs when it names none: all but `io-uring` (the last of
    /// `ALL`), which runs only some workloads and is named where it is wanted.
    pub const SUBJECTS: &'static [ModelKind] = Self::ALL.split_at(Self::ALL.len() - 1).0;

    /// Whether this model runs `workload` (io-uring runs three).
    pub fn runs(self, workload: WorkloadKind) -> bool {
        match self {
            ModelKind::IoUring => IO_URING_WORKLOADS.contains(&workload),
            _ => true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Sequential => "sequential",
            ModelKind::Threads => "threads",
            ModelKind::ThreadPool => "thread-pool",
            ModelKind::Processes => "processes",
            ModelKind::TokioCurrentThread => "tokio-current-thread",
            ModelKind::AsyncStd => "async-std",
            ModelKind::Smol => "smol",
            ModelKind::TokioMultiThread => "tokio-multi-thread",
            ModelKind::AsyncProcesses => "async-processes",
            ModelKind::IoUring => "io-uring",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ModelKind::Sequential => "one op at a time on one thread, whatever C is asked",
            ModelKind::Threads => {
                "one OS thread per in-flight op: C threads running ops back to back"
            }
            ModelKind::ThreadPool => {
                "a rayon pool of min(C, pool_size) threads; each op is a job submitted to it"
            }
            ModelKind::Processes => {
                "min(C, process_cap) pre-forked worker processes, one op at a time each (like gunicorn sync workers)"
            }
            ModelKind::TokioCurrentThread => "C tasks on one tokio current_thread runtime",
            ModelKind::AsyncStd => {
                "C tasks on one thread (spawn_local inside block_on); async-std is discontinued upstream, kept for comparison"
            }
            ModelKind::Smol => "C tasks on a smol LocalExecutor driven by block_on on one thread",
            ModelKind::TokioMultiThread => {
                "C tasks on tokio's work-stealing multi-thread runtime (a reference, not a single-thread model)"
            }
            ModelKind::AsyncProcesses => {
                "min(C, event_loops) worker processes, each running one tokio current-thread loop with its share of the C tasks (how Sanic and uvloop deployments run)"
            }
            ModelKind::IoUring => {
                "C tasks on one tokio-uring loop: completion-based I/O, files without a thread pool (tcp-echo, disk-read, disk-write only; not in the default list)"
            }
        }
    }

    pub fn from_name(name: &str) -> Option<ModelKind> {
        Self::ALL.iter().copied().find(|m| m.name() == name)
    }
}

/// How operations are issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadMode {
    /// C workers each issue the next op when the previous one completes.
    Closed,
    /// Ops are due on a fixed schedule at `rate` ops per second, spread over the workers;
    /// latency runs from when each op was due.
    Open,
}

impl LoadMode {
    pub fn name(self) -> &'static str {
        match self {
            LoadMode::Closed => "closed",
            LoadMode::Open => "open",
        }
    }
}

/// The default `max_error_rate`: 1% of a trial's ops.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;

fn default_max_error_rate() -> f64 {
    DEFAULT_MAX_ERROR_RATE
}

fn one() -> u32 {
    1
}

/// One point of the matrix: workload × model × concurrency × mode, with its protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Stable name, e.g. `sleep[latency=10ms]/threads/c16/closed`.
    pub id: String,
    pub workload: WorkloadSpec,
    pub model: ModelKind,
    /// Concurrency asked for.
    pub concurrency: u32,
    pub mode: LoadMode,
    /// Open mode: the offered rate, in ops per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub warmup: HumanDuration,
    pub duration: HumanDuration,
    pub trials: u32,
    pub pool_size: u32,
    pub process_cap: u32,
    #[serde(default = "one")]
    pub event_loops: u32,
    pub trial_timeout: HumanDuration,
    /// A trial whose failed ops are more than this fraction of its ops is failed, with the
    /// rate and the first error as its reason.
    #[serde(default = "default_max_error_rate")]
    pub max_error_rate: f64,
    /// Process id of the embedded target this cell's trials talk to (set at run time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_pid: Option<u32>,
    /// Set at run time when a service the cell needs is unreachable: why, and how to start
    /// it. The cell's trials are recorded as skipped and not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    /// Counted mode (`cargo bench`): the trial runs exactly this many ops, every one
    /// measured, with no warm-up, and its window is the time they took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::{ModelKind, WorkloadKind};

    #[test]
    fn the_default_models_are_all_that_run_every_workload() {
        let every = |m: &ModelKind| WorkloadKind::ALL.iter().all(|&w| m.runs(w));
        let wanted: Vec<ModelKind> = ModelKind::ALL.iter().copied().filter(every).collect();
        assert_eq!(ModelKind::SUBJECTS, wanted.as_slice());
    }
}
