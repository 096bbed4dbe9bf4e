//! `tokio-current-thread`: C tasks on one tokio `current_thread` runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::driver::{Spawner, run_tasks};
use super::runtime::{AsyncRt, Tokio};
use crate::trial::TrialCtx;
use crate::workload::Workload;

/// Spawns onto the tokio runtime the caller is inside.
pub struct TokioSpawner;

impl Spawner for TokioSpawner {
    fn spawn<F>(&self, task: F) -> impl Future<Output = Result<(), String>> + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task);
        async move { handle.await.map_err(|e| e.to_string()) }
    }
}

/// Builds nothing per op: the runtime is built, and its timer ticked once, before the
/// idle footprint is taken.
pub fn run_on<W: Workload>(
    rt: tokio::runtime::Runtime,
    workload: Arc<W>,
    ctx: &mut TrialCtx,
) -> anyhow::Result<u64> {
    rt.block_on(Tokio::sleep(Duration::from_millis(1)));
    ctx.mark_idle();
    let (c, rate, recorder) = (ctx.cell.concurrency, ctx.cell.rate, ctx.recorder.clone());
    rt.block_on(run_tasks::<W, Tokio, _>(
        workload,
        c,
        rate,
        &recorder,
        || ctx.open_window(),
        &TokioSpawner,
    ))
}

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    run_on(rt, workload, ctx)
}
