//! `async-processes`: min(C, event_loops) worker processes, each running one tokio
//! current-thread event loop with its share of the C tasks, as Sanic and uvloop
//! deployments run one event loop per core. The workers are the `processes` model's
//! (`iobench worker`, the same frames and the same streaming sink), told to run tasks.
//! A database workload's pool is split across the workers as in `processes`.
//!
//! As a server: `event_loops` pre-forked processes sharing the inherited listening socket,
//! each accepting on its own current-thread runtime.

use std::sync::Arc;

use super::processes::{Plan, Spawn, run_workers, worker_count};
use crate::model::ctx::TrialCtx;
use crate::rt::spawn::TokioSpawner;
use crate::rt::{Tokio, TokioFlavor};
use crate::server::Serving;
use crate::workload::Workload;

pub fn run<W: Workload>(_workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let c = ctx.cell.concurrency;
    let k = worker_count(ctx, ctx.cell.event_loops);
    let mut first = 0;
    let plans = (0..k)
        .map(|i| {
            let n = c / k + u32::from(i < c % k);
            let plan = Plan {
                protocol: super::processes::protocol::PROTOCOL,
                workload: ctx.cell.workload.worker_share(i, k),
                resolved: ctx.cell.resolved.clone(),
                concurrency: n,
                tasks: true,
                first,
                of: c,
                rate: ctx.cell.rate,
            };
            first += n;
            plan
        })
        .collect();
    run_workers(ctx, plans, Spawn::Own)?;
    Ok(u64::from(c))
}

pub fn serve(serving: Serving) -> anyhow::Result<()> {
    serving.prefork(serving.spec.event_loops, |serving, ready| {
        let Ok(rt) = TokioFlavor::CurrentThread.build() else {
            return;
        };
        let _ = rt.block_on(serving.accept_loop::<Tokio, _>(&TokioSpawner, ready));
    })?;
    serving.ready();
    serving.wait_workers()
}
