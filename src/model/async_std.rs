//! `async-std`: C tasks on one thread. `task::spawn` would hand tasks to async-std's
//! multi-threaded global executor, so tasks are spawned with `spawn_local` inside
//! `block_on` (feature `unstable`). async-io's reactor thread still exists and shows in
//! `peak_threads`. async-std is discontinued upstream; it stays for comparison.

use std::sync::Arc;
use std::time::Duration;

use super::driver::trial_tasks;
use crate::model::ctx::TrialCtx;
use crate::rt::spawn::AsyncStdSpawner;
use crate::rt::{AsyncRt, AsyncStd};
use crate::server::Serving;
use crate::workload::Workload;

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    // Start the runtime (reactor, timers) before the idle footprint.
    async_std::task::block_on(AsyncStd::sleep(Duration::from_millis(1)));
    ctx.mark_idle();
    async_std::task::block_on(trial_tasks::<W, AsyncStd, _>(
        workload,
        ctx,
        &AsyncStdSpawner,
    ))
}

/// The server: a local task per connection inside one `block_on`.
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    async_std::task::block_on(
        serving.accept_loop::<AsyncStd, _>(&AsyncStdSpawner, || serving.ready()),
    )
}
