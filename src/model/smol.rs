//! `smol`: C tasks on a `LocalExecutor` driven by `smol::block_on` on one thread, with
//! async-io's timers and reactor.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use smol::LocalExecutor;

use super::driver::{Spawner, run_tasks};
use super::runtime::{AsyncRt, Smol};
use crate::trial::TrialCtx;
use crate::workload::Workload;

struct LocalSpawner<'a, 'ex>(&'a LocalExecutor<'ex>);

impl Spawner for LocalSpawner<'_, '_> {
    fn spawn<F>(&self, task: F) -> impl Future<Output = Result<(), String>> + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = self.0.spawn(task);
        async move {
            task.await;
            Ok(())
        }
    }
}

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let ex = LocalExecutor::new();
    smol::block_on(ex.run(Smol::sleep(Duration::from_millis(1))));
    ctx.mark_idle();
    let (c, rate, recorder) = (ctx.cell.concurrency, ctx.cell.rate, ctx.recorder.clone());
    let spawner = LocalSpawner(&ex);
    smol::block_on(ex.run(run_tasks::<W, Smol, _>(
        workload,
        c,
        rate,
        &recorder,
        || ctx.open_window(),
        &spawner,
    )))
}
