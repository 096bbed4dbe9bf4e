//! The trial's side of the worker protocol (`docs/worker-protocol.md`), for the
//! `processes` and `async-processes` models and for external client models: it starts the
//! worker processes, sends each its plan, opens the window once all are ready, and records
//! what they stream until every one is done.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use super::protocol::{Frame, Frames, FromWorker, Op, PROTOCOL, Plan, ToWorker, ops, send_line};
use crate::measure::memory::tree_pids;
use crate::measure::{Mono, Tally};
use crate::model::ctx::TrialCtx;
use crate::model::spawn_error;
use crate::server::command::{dies_with_parent, last_lines};

/// What the worker processes are.
#[derive(Clone, Copy)]
pub(crate) enum Spawn<'a> {
    /// `iobench worker` of this binary: each is one of the model's units (one op, or one
    /// event loop, at a time), so the idle footprint is taken before they start.
    Own,
    /// An external client model's command: it is the whole model, so the idle footprint is
    /// taken once it has said `hello` (its runtime loaded), before its setup.
    External { name: &'a str, argv: &'a [String] },
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    frames: Frames,
    done: bool,
}

impl Worker {
    fn send(&mut self, msg: &ToWorker) -> anyhow::Result<()> {
        send_line(&mut self.stdin, msg)
    }

    /// Reads what is available (blocking until something is); `false` at end of stream.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stdout.read(&mut chunk)?;
        self.frames.extend(&chunk[..n]);
        Ok(n > 0)
    }

    /// Waits for the next message (no latencies are expected before the window).
    fn message(&mut self, i: usize) -> anyhow::Result<FromWorker> {
        loop {
            match self.frames.next()? {
                Some(Frame::Message(msg)) => return Ok(msg),
                Some(Frame::Ops(_)) => {
                    anyhow::bail!("worker process {i} sent latencies out of turn")
                }
                None => {}
            }
            if !self.fill()? {
                let status = self.child.wait()?;
                anyhow::bail!("worker process {i} exited before answering: {status}");
            }
        }
    }
}

/// Worker processes that are killed and reaped if the trial gives up on them, with what
/// they started (an external worker's threads' processes, its pool's children).
struct Workers {
    list: Vec<Worker>,
    /// Where an external worker's stderr goes (removed on drop).
    stderr: Option<PathBuf>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.list {
            if self.stderr.is_some() {
                for pid in tree_pids(w.child.id()).into_iter().rev() {
                    // SAFETY: kill sends a signal; a pid gone by now is harmless.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                }
            }
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        if let Some(path) = &self.stderr {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Starts one worker process per plan, opens the window when all are ready, and records
/// what they send until all are done. An external worker's failure carries its last
/// stderr lines. Returns the ops in flight an external worker said it keeps, if fewer
/// than asked.
pub(crate) fn run_workers(
    ctx: &mut TrialCtx,
    plans: Vec<Plan>,
    spawn: Spawn,
) -> anyhow::Result<Option<u32>> {
    let mut workers = Workers {
        list: Vec::with_capacity(plans.len()),
        stderr: None,
    };
    let result = converse(ctx, plans, spawn, &mut workers);
    match (result, spawn, &workers.stderr) {
        (Err(e), Spawn::External { name, .. }, Some(path)) => Err(anyhow::anyhow!(
            "the worker of `{name}`: {e:#}; {}",
            last_lines(path, "stderr")
        )),
        (r, _, _) => r,
    }
}

fn converse(
    ctx: &mut TrialCtx,
    plans: Vec<Plan>,
    spawn: Spawn,
    workers: &mut Workers,
) -> anyhow::Result<Option<u32>> {
    let k = plans.len() as u32;
    if let Spawn::Own = spawn {
        ctx.mark_idle();
    }
    let exe = std::env::current_exe()?;
    for i in 0..k {
        let mut command = match spawn {
            Spawn::Own => {
                let mut c = Command::new(&exe);
                c.arg("worker").stderr(Stdio::inherit());
                c
            }
            Spawn::External { argv, .. } => {
                let path = std::env::temp_dir()
                    .join(format!("iobench-worker-{}-{i}.stderr", std::process::id()));
                let file = std::fs::File::create(&path)?;
                workers.stderr = Some(path);
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]).stderr(file);
                dies_with_parent(&mut c);
                c
            }
        };
        let mut child = command
            .env(crate::workload::TRIAL_TAG_ENV, crate::workload::trial_tag())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| match spawn {
                Spawn::Own => spawn_error("worker process", i, k, e),
                Spawn::External { argv, .. } => {
                    anyhow::anyhow!("could not start `{}`: {e}", argv.join(" "))
                }
            })?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        workers.list.push(Worker {
            child,
            stdin: stdin.expect("piped stdin"),
            stdout: stdout.expect("piped stdout"),
            frames: Frames::default(),
            done: false,
        });
    }
    if let Spawn::External { .. } = spawn {
        for (i, w) in workers.list.iter_mut().enumerate() {
            match w.message(i)? {
                FromWorker::Hello { protocol: PROTOCOL } => {}
                FromWorker::Hello { protocol } => anyhow::bail!(
                    "the worker speaks protocol {protocol}; this iobench speaks {PROTOCOL} (docs/worker-protocol.md)"
                ),
                other => anyhow::bail!("the worker's first message was {other:?}, not hello"),
            }
        }
        ctx.mark_idle();
    }
    for (w, plan) in workers.list.iter_mut().zip(plans) {
        w.send(&ToWorker::Setup(plan))?;
    }
    let mut in_flight = None;
    for (i, w) in workers.list.iter_mut().enumerate() {
        match w.message(i)? {
            FromWorker::Ready { in_flight: n } => in_flight = n,
            FromWorker::SetupFailed { error } => {
                anyhow::bail!("setup of worker process {i} failed: {error}")
            }
            other => anyhow::bail!("worker process {i} answered {other:?} out of turn"),
        }
    }
    let window = ctx.open_window();
    for w in &mut workers.list {
        w.send(&ToWorker::Go { window })?;
    }
    collect(&mut workers.list, ctx)?;
    for (i, w) in workers.list.iter_mut().enumerate() {
        let status = w.child.wait()?;
        anyhow::ensure!(status.success(), "worker process {i} ended with {status}");
    }
    Ok(in_flight)
}

/// Records one op a worker sent, as an in-process worker's sink would have.
#[inline]
fn record(shard: &mut Tally, op: Op) {
    match op {
        Op::Ok { ns, uncorrected } => shard.record_ok_ns(ns, uncorrected),
        Op::Failed { ns } => shard.record_error_ns(ns),
        Op::Dropped { lag_ns } => shard.record_dropped_ns(lag_ns),
        Op::Unfinished { lag_ns } => shard.record_unfinished_ns(lag_ns),
    }
}

/// Reads every worker's stream until each has sent `Done`, recording latencies as they
/// arrive so that no pipe fills up and stalls its worker.
fn collect(workers: &mut [Worker], ctx: &mut TrialCtx) -> anyhow::Result<()> {
    let mut pending = workers.len();
    while pending > 0 {
        let mut fds: Vec<libc::pollfd> = workers
            .iter()
            .map(|w| libc::pollfd {
                fd: if w.done { -1 } else { w.stdout.as_raw_fd() },
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: poll reads and writes the array of pollfd we own, of the length we pass.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        for (i, (w, p)) in workers.iter_mut().zip(&fds).enumerate() {
            if w.done || p.revents == 0 {
                continue;
            }
            if !w.fill()? {
                let status = w.child.wait()?;
                anyhow::bail!("worker process {i} exited during the trial: {status}");
            }
            while let Some(frame) = w.frames.next()? {
                let mut shard = ctx.recorder.shard(i);
                match frame {
                    Frame::Ops(batch) => ops(&batch).for_each(|op| record(&mut shard, op)),
                    Frame::Message(FromWorker::Done {
                        counts,
                        usage,
                        last_end,
                    }) => {
                        shard.counts.merge(&counts);
                        if last_end > 0 {
                            ctx.recorder.note_end(Mono(last_end));
                        }
                        ctx.worker_rusage.add(&usage.rusage);
                        ctx.worker_counts.add(&usage.counts);
                        w.done = true;
                        pending -= 1;
                    }
                    Frame::Message(_) => anyhow::bail!("worker process {i} answered out of turn"),
                }
            }
        }
    }
    Ok(())
}
