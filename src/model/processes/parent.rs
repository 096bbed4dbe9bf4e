//! The trial's side of the `processes` and `async-processes` models: it starts the worker
//! processes, sends each its plan, opens the window once all are ready, and records what
//! they stream until every one is done.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use super::protocol::{Frame, Frames, FromWorker, Op, Plan, ToWorker, ops, send_line};
use crate::measure::{Mono, Tally};
use crate::model::ctx::TrialCtx;
use crate::model::spawn_error;

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

/// Worker processes that are killed and reaped if the trial gives up on them.
struct Workers(Vec<Worker>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }
}

/// Starts one worker process per plan, opens the window when all are ready, and records
/// what they send until all are done.
pub(crate) fn run_workers(ctx: &mut TrialCtx, plans: Vec<Plan>) -> anyhow::Result<()> {
    let k = plans.len() as u32;
    ctx.mark_idle();
    let exe = std::env::current_exe()?;
    let mut workers = Workers(Vec::with_capacity(k as usize));
    for i in 0..k {
        let mut child = Command::new(&exe)
            .arg("worker")
            .env(crate::workload::TRIAL_TAG_ENV, crate::workload::trial_tag())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| spawn_error("worker process", i, k, e))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        workers.0.push(Worker {
            child,
            stdin: stdin.expect("piped stdin"),
            stdout: stdout.expect("piped stdout"),
            frames: Frames::default(),
            done: false,
        });
    }
    for (w, plan) in workers.0.iter_mut().zip(plans) {
        w.send(&ToWorker::Setup(plan))?;
    }
    for (i, w) in workers.0.iter_mut().enumerate() {
        match w.message(i)? {
            FromWorker::Ready => {}
            FromWorker::SetupFailed { error } => {
                anyhow::bail!("setup of worker process {i} failed: {error}")
            }
            FromWorker::Done { .. } => anyhow::bail!("worker process {i} answered out of turn"),
        }
    }
    let window = ctx.open_window();
    for w in &mut workers.0 {
        w.send(&ToWorker::Go { window })?;
    }
    collect(&mut workers.0, ctx)?;
    for (i, w) in workers.0.iter_mut().enumerate() {
        let status = w.child.wait()?;
        anyhow::ensure!(status.success(), "worker process {i} ended with {status}");
    }
    Ok(())
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
