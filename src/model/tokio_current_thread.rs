//! `tokio-current-thread`: C tasks on one tokio `current_thread` runtime.

use std::sync::Arc;
use std::time::Duration;

use super::driver::trial_tasks;
use crate::model::ctx::TrialCtx;
use crate::rt::spawn::TokioSpawner;
use crate::rt::{AsyncRt, Tokio};
use crate::server::Serving;
use crate::workload::Workload;

/// Builds nothing per op: the runtime is built, and its timer ticked once, before the
/// idle footprint is taken.
pub fn run_on<W: Workload>(
    rt: tokio::runtime::Runtime,
    workload: Arc<W>,
    ctx: &mut TrialCtx,
) -> anyhow::Result<u64> {
    rt.block_on(Tokio::sleep(Duration::from_millis(1)));
    ctx.mark_idle();
    rt.block_on(trial_tasks::<W, Tokio, _>(workload, ctx, &TokioSpawner))
}

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    run_on(rt, workload, ctx)
}

/// The server: a task per connection on one current-thread runtime.
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    serve_on(rt, serving)
}

/// The tokio servers' accept loop on `rt`.
pub fn serve_on(rt: tokio::runtime::Runtime, serving: Serving) -> anyhow::Result<()> {
    rt.block_on(async {
        Tokio::sleep(Duration::from_millis(1)).await;
        serving.ready();
        serving.accept_loop::<Tokio, _>(&TokioSpawner).await
    })
}
