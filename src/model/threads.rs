//! `threads`: one OS thread per in-flight op. C threads are started before the window;
//! each opens its session, waits at the gate, then runs ops back to back.
//! As a server: a thread per connection, for the connection's life.
//!
//! Threads get the standard library's default stack (2 MiB reserved, touched on demand),
//! as a program that calls `std::thread::spawn` would.

use std::sync::Arc;

use super::driver::{Gate, trial_worker};
use super::spawn_error;
use crate::model::ctx::TrialCtx;
use crate::server::{Serving, serve_blocking};
use crate::workload::Workload;

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let c = ctx.cell.concurrency;
    ctx.mark_idle();
    let gate = Arc::new(Gate::default());
    let mut handles = Vec::with_capacity(c as usize);
    let rate = ctx.cell.rate;
    for i in 0..c {
        let (workload, recorder, worker_gate) =
            (workload.clone(), ctx.recorder.clone(), gate.clone());
        let spawned = std::thread::Builder::new().spawn(move || {
            let mut session = match workload.open() {
                Ok(s) => s,
                Err(e) => {
                    worker_gate.arrive(Err(format!("setup of thread {i} failed: {e}")));
                    return;
                }
            };
            if let Some(window) = worker_gate.arrive(Ok(())) {
                let place = (i as usize, c as usize);
                trial_worker(&*workload, &mut session, &window, &recorder, rate, place);
            }
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                gate.open(None);
                handles.into_iter().for_each(|h| drop(h.join()));
                return Err(spawn_error("thread", i, c, e));
            }
        }
    }
    if let Err(e) = gate.wait_ready(c as usize) {
        gate.open(None);
        handles.into_iter().for_each(|h| drop(h.join()));
        anyhow::bail!(e);
    }
    gate.open(Some(ctx.open_window()));
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
    }
    Ok(u64::from(c))
}

/// The server: a thread per connection, kept for the connection's life.
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    serving.ready();
    loop {
        let s = serving.accept_blocking()?;
        let spec = serving.spec.clone();
        // A thread that cannot be started drops its connection: the client sees a reset.
        let _ = std::thread::Builder::new().spawn(move || serve_blocking(s, &spec));
    }
}
