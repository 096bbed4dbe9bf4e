//! `sequential`: one op at a time on the trial's main thread, whatever C is asked.
//! As a server: an iterative accept loop that serves one connection at a time, to its end.

use std::sync::Arc;

use super::driver::trial_worker;
use crate::model::ctx::TrialCtx;
use crate::server::Serving;
use crate::workload::Workload;

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    ctx.mark_idle();
    let mut session = workload
        .open()
        .map_err(|e| anyhow::anyhow!("setup failed: {e}"))?;
    let window = ctx.open_window();
    let (recorder, rate) = (&ctx.recorder, ctx.cell.rate);
    trial_worker(&*workload, &mut session, &window, recorder, rate, (0, 1));
    Ok(1)
}

/// The server: an iterative accept loop, one connection at a time (kept alive, the others
/// wait in the listen backlog).
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    serving.ready();
    serving.serve_in_turn()
}
