//! `thread-pool`: a bounded rayon pool. min(C, pool_size) clients each keep one op in
//! flight; every op is a job submitted to the pool (`spawn_fifo`), and its completion
//! submits the client's next op. Latency runs from submission, so the pool's dispatch cost
//! is part of what is measured.
//! As a server: a pool of `pool_size` threads taking connections from the accept loop's
//! queue (a channel, not rayon), each serving a connection to its end.

use std::sync::Arc;
use std::sync::mpsc;

use super::driver::{Pace, Schedule, Shard, observe, stop};
use crate::measure::{Mono, Recorder, Window};
use crate::model::ctx::TrialCtx;
use crate::server::{Serving, serve_blocking};
use crate::sync::lock;
use crate::workload::Workload;

struct Shared<W> {
    workload: Arc<W>,
    recorder: Arc<Recorder>,
    window: Window,
    done: mpsc::Sender<()>,
    rate: Option<f64>,
    clients: usize,
}

/// The next op of `client` (its place in `schedule`; `first`: its first), submitted at
/// `submitted`; on completion it submits the next one to the same pool, until the window
/// is over. In open mode the job waits, on its pool thread, until the op is due.
fn job<W: Workload>(
    shared: Arc<Shared<W>>,
    mut session: W::Session,
    client: usize,
    mut schedule: Schedule,
    first: bool,
    submitted: Mono,
) {
    let mut sink = Shard {
        recorder: &*shared.recorder,
        index: client,
    };
    let Some(due) = schedule.next_op(&shared.window) else {
        // The previous op ended just before this job was submitted.
        stop(&shared.window, &schedule, &mut sink, submitted);
        let _ = shared.done.send(());
        return;
    };
    // A counted window starts after its first jobs are submitted; they wait for it.
    let submitted = match first && shared.window.start > submitted {
        true => {
            shared.window.start.sleep_until();
            Mono::now()
        }
        false => submitted,
    };
    let waited = Schedule::wait_blocking(due);
    let start = match due {
        Some(_) => Mono::now(),
        None => submitted,
    };
    let result = shared.workload.op(&mut session);
    let end = Mono::now();
    if observe(&shared.window, &mut sink, (due, waited), start, end, result) {
        stop(&shared.window, &schedule, &mut sink, end);
        let _ = shared.done.send(());
    } else {
        let next = Mono::now();
        rayon::spawn_fifo(move || job(shared, session, client, schedule, false, next));
    }
}

pub fn run<W: Workload>(workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let clients = ctx.cell.concurrency.min(ctx.cell.pool_size);
    ctx.mark_idle();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(clients as usize)
        .thread_name(|i| format!("pool-{i}"))
        .build()
        .map_err(|e| anyhow::anyhow!("could not build a rayon pool of {clients} threads: {e}"))?;
    let mut sessions = Vec::with_capacity(clients as usize);
    for i in 0..clients {
        sessions.push(
            workload
                .open()
                .map_err(|e| anyhow::anyhow!("setup of client {i} failed: {e}"))?,
        );
    }
    let (done, finished) = mpsc::channel();
    let shared = Arc::new(Shared {
        workload,
        recorder: ctx.recorder.clone(),
        window: ctx.open_window(),
        done,
        rate: ctx.cell.rate,
        clients: clients as usize,
    });
    for (i, session) in sessions.into_iter().enumerate() {
        let pace = Pace::of_worker(shared.rate, &shared.window, i, shared.clients);
        let (shared, submitted) = (shared.clone(), Mono::now());
        pool.spawn_fifo(move || job(shared, session, i, Schedule::new(pace), true, submitted));
    }
    drop(shared);
    for _ in 0..clients {
        finished
            .recv()
            .map_err(|_| anyhow::anyhow!("a pool job ended without finishing its client"))?;
    }
    Ok(u64::from(clients))
}

/// The server: `pool_size` threads taking connections from the accept loop's queue; each
/// serves its connection to its end (one request without keep-alive). A plain queue (a channel behind a
/// mutex, threads blocked on it when idle) rather than rayon, whose idle workers spin
/// looking for work: a server's pool waits far more than it computes.
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    let n = serving.spec.pool_size;
    let (queue, jobs) = mpsc::channel::<std::net::TcpStream>();
    let jobs = Arc::new(std::sync::Mutex::new(jobs));
    for i in 0..n {
        let (jobs, spec) = (jobs.clone(), serving.spec.clone());
        std::thread::Builder::new()
            .name(format!("pool-{i}"))
            .spawn(move || {
                loop {
                    let next = lock(&jobs).recv();
                    match next {
                        Ok(s) => serve_blocking(s, &spec),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| super::spawn_error("pool thread", i, n, e))?;
    }
    serving.ready();
    loop {
        queue.send(serving.accept_blocking()?)?;
    }
}
