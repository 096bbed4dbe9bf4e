//! `smol`: C tasks on a `LocalExecutor` driven by `smol::block_on` on one thread, with
//! async-io's timers and reactor.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use smol::LocalExecutor;

use super::driver::{Spawner, trial_tasks};
use super::runtime::{AsyncRt, Smol};
use crate::server::Serving;
use crate::trial::TrialCtx;
use crate::workload::Workload;

thread_local! {
    /// The executor of this thread's smol loop, reachable from code that spawns a helper
    /// task (a database connection's driver) without a handle passed down.
    pub static EXECUTOR: LocalExecutor<'static> = const { LocalExecutor::new() };
}

pub struct LocalSpawner<'a, 'ex>(pub &'a LocalExecutor<'ex>);

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

    fn detach<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(task).detach();
    }
}

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    EXECUTOR.with(|ex| {
        smol::block_on(ex.run(Smol::sleep(Duration::from_millis(1))));
        ctx.mark_idle();
        let spawner = LocalSpawner(ex);
        smol::block_on(ex.run(trial_tasks::<W, Smol, _>(workload, ctx, &spawner)))
    })
}

/// The server: a task per connection on the `LocalExecutor`.
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    EXECUTOR.with(|ex| {
        let spawner = LocalSpawner(ex);
        smol::block_on(ex.run(async {
            Smol::sleep(Duration::from_millis(1)).await;
            serving.ready();
            serving.accept_loop::<Smol, _>(&spawner).await
        }))
    })
}
