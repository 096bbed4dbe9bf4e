//! External client models: a scenario's `[[model]]` whose `worker` is a command speaking
//! the worker protocol (`docs/worker-protocol.md`), in any language. The trial runs it as
//! it runs the `processes` model's workers ([`run_workers`]), but as one process that is
//! the whole model: it gets all C ops to keep in flight, says `hello` before the idle
//! footprint is taken, and what it starts (threads, child processes) is its tree, measured
//! like every model's. What it claims is checked against the target (`trial`).

use super::processes::protocol::PROTOCOL;
use super::processes::{Plan, Spawn, run_workers};
use crate::model::ctx::TrialCtx;
use crate::plan::Role;

/// Runs one trial of the cell's external worker; returns the ops it kept in flight.
pub fn run(ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let (name, argv) = match &ctx.cell.external {
        Some(e) => match &e.role {
            Role::Worker { worker } => (e.name.clone(), fill(worker, ctx)),
            Role::Server { .. } => {
                anyhow::bail!("`{}` is a server under test, not a client model", e.name)
            }
        },
        None => anyhow::bail!("an external cell without its model's definition"),
    };
    let c = ctx.cell.concurrency;
    let plan = Plan {
        protocol: PROTOCOL,
        workload: ctx.cell.workload.clone(),
        resolved: ctx.cell.resolved.clone(),
        concurrency: c,
        tasks: false,
        first: 0,
        of: c,
        rate: ctx.cell.rate,
    };
    let in_flight = run_workers(
        ctx,
        vec![plan],
        Spawn::External {
            name: &name,
            argv: &argv,
        },
    )?;
    Ok(u64::from(in_flight.unwrap_or(c).clamp(1, c)))
}

/// The worker's command with this cell's placeholders filled.
fn fill(argv: &[String], ctx: &TrialCtx) -> Vec<String> {
    let cell = &ctx.cell;
    argv.iter()
        .map(|w| {
            w.replace("{concurrency}", &cell.concurrency.to_string())
                .replace("{pool_size}", &cell.pool_size.to_string())
                .replace("{process_cap}", &cell.process_cap.to_string())
        })
        .collect()
}
