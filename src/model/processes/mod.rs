//! `processes`: min(C, process_cap) pre-forked worker processes of this same binary, each
//! doing one op at a time (like gunicorn's sync workers).
//!
//! # How it works
//! 1. The trial takes its idle footprint, then starts the workers (`iobench worker`), all
//!    in its own process group so one kill ends them all ([`parent`]).
//! 2. Each worker reads its workload from stdin, opens its session and answers `Ready`
//!    ([`worker`]).
//! 3. The trial opens the window and sends it to every worker. `CLOCK_MONOTONIC` is shared
//!    by all processes, so every worker measures the same window.
//! 4. Each worker runs the shared blocking loop. Its sink keeps no histogram (that would
//!    be memory per in-flight op that only the harness needs): it streams latencies to the
//!    trial in batches of [`protocol::BATCH`], and the trial records them in its own
//!    recorder, allocated before the idle footprint like every other model's.
//! 5. At the end a worker sends its error counts and the CPU it used during the window.
//!    A worker that dies fails the trial with its exit status.
//!
//! A database workload's pool bounds the whole model: worker `i` gets its share of
//! `pool_min` and `pool_max` in its plan (`WorkloadSpec::worker_share`), and at most
//! `pool_max` workers start, since a worker without a connection could run no op.
//!
//! What travels between the two sides, and how, is [`protocol`]. `async-processes` runs the
//! same workers, told to run tasks. As a server: [`server`].

pub mod parent;
pub mod protocol;
pub mod server;
pub mod worker;

use std::sync::Arc;

use crate::model::ctx::TrialCtx;
use crate::workload::Workload;
pub(crate) use parent::{Spawn, run_workers};
pub(crate) use protocol::Plan;
pub use server::serve;
pub use worker::{StreamSink, worker_main};

/// How many worker processes run `c` ops at once with at most `cap` processes: never more
/// than a database workload's `pool_max`, whose connections they share.
pub(crate) fn worker_count(ctx: &TrialCtx, cap: u32) -> u32 {
    let pool = ctx.cell.workload.pool_max().unwrap_or(u32::MAX);
    ctx.cell.concurrency.min(cap).min(pool)
}

pub fn run<W: Workload>(_workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let k = worker_count(ctx, ctx.cell.process_cap);
    let plans = (0..k)
        .map(|i| Plan {
            protocol: protocol::PROTOCOL,
            workload: ctx.cell.workload.worker_share(i, k),
            resolved: ctx.cell.resolved.clone(),
            concurrency: 1,
            tasks: false,
            first: i,
            of: k,
            rate: ctx.cell.rate,
        })
        .collect();
    run_workers(ctx, plans, Spawn::Own)?;
    Ok(u64::from(k))
}
