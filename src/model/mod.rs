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
pub mod ctx;
pub mod driver;
pub mod external;
pub mod io_uring;
pub mod processes;
pub mod sequential;
pub mod smol;
pub mod thread_pool;
pub mod threads;
pub mod tokio;

use std::sync::Arc;

use crate::measure::limits::{self, TaskLimit, Tasks};
use crate::model::ctx::TrialCtx;
use crate::plan::{ModelKind, RunCell};
use crate::rt::TokioFlavor::{CurrentThread, MultiThread};
use crate::server::Serving;
use crate::workload::Workload;

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
        ModelKind::TokioCurrentThread => tokio::run(CurrentThread, workload, ctx),
        ModelKind::AsyncStd => async_std::run(workload, ctx),
        ModelKind::Smol => smol::run(workload, ctx),
        ModelKind::TokioMultiThread => tokio::run(MultiThread, workload, ctx),
        ModelKind::AsyncProcesses => async_processes::run(workload, ctx),
        // Its ops are its own (not `Workload`'s): it runs from the cell's spec.
        ModelKind::IoUring => io_uring::run(ctx),
        // Its worker runs the workload, in whatever language it is written.
        ModelKind::External => external::run(ctx),
    }
}

/// Serves a server workload under `kind` until the process is killed (`iobench sut`).
pub fn serve(kind: ModelKind, serving: Serving) -> anyhow::Result<()> {
    match kind {
        ModelKind::Sequential => sequential::serve(serving),
        ModelKind::Threads => threads::serve(serving),
        ModelKind::ThreadPool => thread_pool::serve(serving),
        ModelKind::Processes => processes::serve(serving),
        ModelKind::TokioCurrentThread => tokio::serve(CurrentThread, serving),
        ModelKind::AsyncStd => async_std::serve(serving),
        ModelKind::Smol => smol::serve(serving),
        ModelKind::TokioMultiThread => tokio::serve(MultiThread, serving),
        ModelKind::AsyncProcesses => async_processes::serve(serving),
        ModelKind::IoUring => {
            anyhow::bail!(
                "the io-uring model does not serve; it runs tcp-echo, disk-read and disk-write"
            )
        }
        ModelKind::External => {
            anyhow::bail!("an external server runs its own command (the trial starts it)")
        }
    }
}

/// Turns a failed thread spawn into a trial failure that names the limit it hit.
/// The ops one process of `cell`'s model has in flight at most: what its sockets, one per
/// op, take of the process's open files.
pub fn ops_per_process(cell: &RunCell) -> u32 {
    let c = cell.concurrency;
    match cell.model {
        ModelKind::Sequential | ModelKind::Processes => 1,
        ModelKind::ThreadPool => c.min(cell.pool_size),
        ModelKind::AsyncProcesses => c.div_ceil(cell.event_loops.max(1)),
        ModelKind::Threads
        | ModelKind::TokioCurrentThread
        | ModelKind::TokioMultiThread
        | ModelKind::AsyncStd
        | ModelKind::Smol
        | ModelKind::IoUring
        | ModelKind::External => c,
    }
}

/// Why `cell`'s model cannot start its threads or worker processes here: the OS limit
/// that leaves too little room for them, named; `None` if it can. Checked by the
/// orchestrator before the trial starts (before the memory guard: a cell the OS refuses
/// is failed, not estimated) and by the trial before its model starts any.
pub fn past_os_limit(cell: &RunCell) -> Option<String> {
    let c = cell.concurrency;
    let pool = cell.workload.pool_max().unwrap_or(u32::MAX);
    let (what, n, kind) = match cell.model {
        ModelKind::Threads => ("threads", c, Tasks::Threads),
        ModelKind::Processes => (
            "worker processes",
            c.min(cell.process_cap).min(pool),
            Tasks::Processes,
        ),
        ModelKind::AsyncProcesses => (
            "worker processes",
            c.min(cell.event_loops),
            Tasks::Processes,
        ),
        _ => return None,
    };
    let limit: TaskLimit = limits::short_of(kind, u64::from(n), 1)?;
    Some(format!(
        "cannot start {n} {what}: the OS limit is reached first ({limit}, room for {} more)",
        limit.room()
    ))
}

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
