//! `tokio-current-thread` and `tokio-multi-thread`: C tasks on one of tokio's runtimes,
//! the current-thread one (one event loop on the trial's thread) or the work-stealing one
//! (a worker thread per core, tokio's default: a reference point, not a single-thread
//! model). The two differ only in the runtime they build ([`TokioFlavor`]).
//! As a server: a task per connection on the same runtime.

use std::sync::Arc;
use std::time::Duration;

use super::driver::trial_tasks;
use crate::model::ctx::TrialCtx;
use crate::rt::spawn::TokioSpawner;
use crate::rt::{AsyncRt, Tokio, TokioFlavor};
use crate::server::Serving;
use crate::workload::Workload;

pub fn run<W: Workload>(
    flavor: TokioFlavor,
    workload: Arc<W>,
    ctx: &mut TrialCtx,
) -> anyhow::Result<u64> {
    run_on(flavor.build()?, workload, ctx)
}

/// C tasks on `rt` (also a server workload's client, on a runtime of its own size). Builds
/// nothing per op: the runtime is built, and its timer ticked once, before the idle
/// footprint is taken.
pub fn run_on<W: Workload>(
    rt: tokio::runtime::Runtime,
    workload: Arc<W>,
    ctx: &mut TrialCtx,
) -> anyhow::Result<u64> {
    rt.block_on(async { Tokio::sleep(Duration::from_millis(1)).await });
    ctx.mark_idle();
    rt.block_on(trial_tasks::<W, Tokio, _>(workload, ctx, &TokioSpawner))
}

/// The server: a task per connection.
pub fn serve(flavor: TokioFlavor, serving: Serving) -> anyhow::Result<()> {
    let rt = flavor.build()?;
    rt.block_on(serving.accept_loop::<Tokio, _>(&TokioSpawner, || serving.ready()))
}
