//! `smol`: C tasks on a `LocalExecutor` driven by `smol::block_on` on one thread, with
//! async-io's timers and reactor.

use std::sync::Arc;
use std::time::Duration;

use super::driver::trial_tasks;
use crate::model::ctx::TrialCtx;
use crate::rt::spawn::{EXECUTOR, SmolSpawner};
use crate::rt::{AsyncRt, Smol};
use crate::server::Serving;
use crate::workload::Workload;

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    EXECUTOR.with(|ex| {
        smol::block_on(ex.run(Smol::sleep(Duration::from_millis(1))));
        ctx.mark_idle();
        let spawner = SmolSpawner(ex);
        smol::block_on(ex.run(trial_tasks::<W, Smol, _>(workload, ctx, &spawner)))
    })
}

/// The server: a task per connection on the `LocalExecutor`.
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    EXECUTOR.with(|ex| {
        let spawner = SmolSpawner(ex);
        smol::block_on(ex.run(serving.accept_loop::<Smol, _>(&spawner, || serving.ready())))
    })
}
