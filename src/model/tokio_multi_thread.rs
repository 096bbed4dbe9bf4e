//! `tokio-multi-thread`: C tasks on tokio's work-stealing runtime, one worker thread per
//! core (tokio's default). A reference point, not a single-thread model.

use std::sync::Arc;

use super::tokio_current_thread::run_on;
use super::tokio_current_thread::serve_on;
use crate::model::ctx::TrialCtx;
use crate::server::Serving;
use crate::workload::Workload;

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    run_on(rt, workload, ctx)
}

/// The server: a task per connection on the work-stealing runtime.
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    serve_on(rt, serving)
}
