//! `sequential`: one op at a time on the trial's main thread, whatever C is asked.
//! As a server: an iterative accept loop that serves one connection at a time, to its end.

use std::sync::Arc;

use super::driver::{Pace, Shard, blocking_loop};
use crate::model::ctx::TrialCtx;
use crate::server::{Serving, serve_blocking};
use crate::workload::Workload;

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    ctx.mark_idle();
    let mut session = workload
        .open()
        .map_err(|e| anyhow::anyhow!("setup failed: {e}"))?;
    let window = ctx.open_window();
    let mut sink = Shard {
        recorder: &ctx.recorder,
        index: 0,
    };
    let pace = Pace::of_worker(ctx.cell.rate, &window, 0, 1);
    blocking_loop(&*workload, &mut session, &window, pace, &mut sink);
    Ok(1)
}

/// The server: an iterative accept loop, one connection at a time (kept alive, the others
/// wait in the listen backlog).
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    serving.ready();
    loop {
        let s = serving.accept_blocking()?;
        serve_blocking(s, &serving.spec);
    }
}
