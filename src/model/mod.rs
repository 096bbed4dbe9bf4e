//! Execution models: how operations are scheduled. One file per model; the closed loop
//! itself is shared (`driver`), so models differ only in what runs the workers.
//!
//! | model | how it sustains concurrency C |
//! |---|---|
//! | sequential | one op at a time on the trial's main thread, whatever C is |
//! | threads | C OS threads, each running ops back to back |
//! | thread-pool | min(C, pool_size) clients, each op a job on a rayon pool of that size |
//! | processes | min(C, process_cap) pre-forked worker processes, one op at a time each |
//! | tokio-current-thread, async-std, smol | C tasks on one event-loop thread |
//! | tokio-multi-thread | C tasks on tokio's work-stealing pool (a reference) |
//! | async-processes | min(C, event_loops) worker processes, each one tokio current-thread loop with its share of the C tasks |
//!
//! For the server workloads each model is the server instead (`serve`, in the same file):
//! see `crate::server`.

pub mod async_processes;
pub mod async_std;
pub mod driver;
pub mod io_uring;
pub mod processes;
pub mod runtime;
pub mod sequential;
pub mod smol;
pub mod thread_pool;
pub mod threads;
pub mod tokio_current_thread;
pub mod tokio_multi_thread;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::server::Serving;
use crate::trial::TrialCtx;
use crate::workload::Workload;

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
    pub fn runs(self, workload: crate::workload::WorkloadKind) -> bool {
        match self {
            ModelKind::IoUring => io_uring::WORKLOADS.contains(&workload),
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

/// Runs `workload` under `kind` for one trial; returns how many workers (threads, jobs,
/// processes, tasks) the model ran.
pub fn run<W: Workload>(
    kind: ModelKind,
    workload: Arc<W>,
    ctx: &mut TrialCtx,
) -> anyhow::Result<u64> {
    match kind {
        ModelKind::Sequential => sequential::run(workload, ctx),
        ModelKind::Threads => threads::run(workload, ctx),
        ModelKind::ThreadPool => thread_pool::run(workload, ctx),
        ModelKind::Processes => processes::run(workload, ctx),
        ModelKind::TokioCurrentThread => tokio_current_thread::run(workload, ctx),
        ModelKind::AsyncStd => async_std::run(workload, ctx),
        ModelKind::Smol => smol::run(workload, ctx),
        ModelKind::TokioMultiThread => tokio_multi_thread::run(workload, ctx),
        ModelKind::AsyncProcesses => async_processes::run(workload, ctx),
        // Its ops are its own (not `Workload`'s): it runs from the cell's spec.
        ModelKind::IoUring => io_uring::run(ctx),
    }
}

/// Serves a server workload under `kind` until the process is killed (`iobench sut`).
pub fn serve(kind: ModelKind, serving: Serving) -> anyhow::Result<()> {
    match kind {
        ModelKind::Sequential => sequential::serve(serving),
        ModelKind::Threads => threads::serve(serving),
        ModelKind::ThreadPool => thread_pool::serve(serving),
        ModelKind::Processes => processes::serve(serving),
        ModelKind::TokioCurrentThread => tokio_current_thread::serve(serving),
        ModelKind::AsyncStd => async_std::serve(serving),
        ModelKind::Smol => smol::serve(serving),
        ModelKind::TokioMultiThread => tokio_multi_thread::serve(serving),
        ModelKind::AsyncProcesses => async_processes::serve(serving),
        ModelKind::IoUring => {
            anyhow::bail!(
                "the io-uring model does not serve; it runs tcp-echo, disk-read and disk-write"
            )
        }
    }
}

/// Turns a failed thread spawn into a trial failure that names the limit it hit.
pub(crate) fn spawn_error(what: &str, index: u32, total: u32, e: std::io::Error) -> anyhow::Error {
    let limit = if e.raw_os_error() == Some(libc::EAGAIN)
        || e.kind() == std::io::ErrorKind::WouldBlock
    {
        " (resource exhausted: the thread or process limit was reached; see `ulimit -u` and /proc/sys/kernel/threads-max)"
    } else {
        ""
    };
    anyhow::anyhow!(
        "could not start {what} {} of {total}: {e}{limit}",
        index + 1
    )
}

#[cfg(test)]
mod tests {
    use super::ModelKind;

    #[test]
    fn the_default_models_are_all_that_run_every_workload() {
        let every = |m: &ModelKind| {
            crate::workload::WorkloadKind::ALL
                .iter()
                .all(|&w| m.runs(w))
        };
        let wanted: Vec<ModelKind> = ModelKind::ALL.iter().copied().filter(every).collect();
        assert_eq!(ModelKind::SUBJECTS, wanted.as_slice());
    }
}
