//! `processes`: min(C, process_cap) pre-forked worker processes of this same binary, each
//! doing one op at a time (like gunicorn's sync workers).
//!
//! # How it works
//! 1. The trial takes its idle footprint, then starts the workers (`iobench worker`), all
//!    in its own process group so one kill ends them all.
//! 2. Each worker reads its workload from stdin, opens its session and answers `Ready`.
//! 3. The trial opens the window and sends it to every worker. `CLOCK_MONOTONIC` is shared
//!    by all processes, so every worker measures the same window.
//! 4. Each worker runs the shared blocking loop, then sends back its tally and the CPU it
//!    used during the window. A worker that dies fails the trial with its exit status.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::driver::blocking_loop_with_cpu;
use super::spawn_error;
use crate::measure::recorder::WireTally;
use crate::measure::rusage::{Rusage, raise_nofile_limit};
use crate::measure::{Recorder, Tally, Window};
use crate::trial::TrialCtx;
use crate::workload::{Workload, WorkloadSpec, WorkloadVisitor};

#[derive(Serialize, Deserialize)]
enum ToWorker {
    Setup { workload: WorkloadSpec },
    Go { window: Window },
}

#[derive(Serialize, Deserialize)]
enum FromWorker {
    Ready,
    SetupFailed { error: String },
    Done { tally: WireTally, rusage: Rusage },
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
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

fn send(w: &mut Worker, msg: &ToWorker) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(msg)?;
    line.push(b'\n');
    w.stdin.write_all(&line)?;
    w.stdin.flush()?;
    Ok(())
}

fn receive(i: usize, w: &mut Worker) -> anyhow::Result<FromWorker> {
    let mut line = String::new();
    if w.stdout.read_line(&mut line)? == 0 {
        let status = w.child.wait()?;
        anyhow::bail!("worker process {i} exited before answering: {status}");
    }
    Ok(serde_json::from_str(&line)?)
}

pub fn run<W: Workload>(_workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let k = ctx.cell.concurrency.min(ctx.cell.process_cap);
    ctx.mark_idle();
    let exe = std::env::current_exe()?;
    let mut workers = Workers(Vec::with_capacity(k as usize));
    for i in 0..k {
        let mut child = Command::new(&exe)
            .arg("worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| spawn_error("worker process", i, k, e))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        workers.0.push(Worker {
            child,
            stdin: stdin.expect("piped stdin"),
            stdout: BufReader::new(stdout.expect("piped stdout")),
        });
    }
    let setup = ToWorker::Setup {
        workload: ctx.cell.workload.clone(),
    };
    for w in &mut workers.0 {
        send(w, &setup)?;
    }
    for (i, w) in workers.0.iter_mut().enumerate() {
        match receive(i, w)? {
            FromWorker::Ready => {}
            FromWorker::SetupFailed { error } => {
                anyhow::bail!("setup of worker process {i} failed: {error}")
            }
            FromWorker::Done { .. } => anyhow::bail!("worker process {i} answered out of turn"),
        }
    }
    let go = ToWorker::Go {
        window: ctx.open_window(),
    };
    for w in &mut workers.0 {
        send(w, &go)?;
    }
    for (i, w) in workers.0.iter_mut().enumerate() {
        match receive(i, w)? {
            FromWorker::Done { tally, rusage } => {
                ctx.recorder.absorb(&Tally::from_wire(&tally));
                ctx.worker_rusage.add(&rusage);
            }
            _ => anyhow::bail!("worker process {i} answered out of turn"),
        }
    }
    for (i, w) in workers.0.iter_mut().enumerate() {
        let status = w.child.wait()?;
        anyhow::ensure!(status.success(), "worker process {i} ended with {status}");
    }
    Ok(u64::from(k))
}

struct WorkerSession<'a> {
    input: &'a mut dyn BufRead,
    output: &'a mut dyn Write,
}

impl WorkerSession<'_> {
    fn say(&mut self, msg: &FromWorker) -> anyhow::Result<()> {
        serde_json::to_writer(&mut *self.output, msg)?;
        self.output.write_all(b"\n")?;
        self.output.flush()?;
        Ok(())
    }

    fn hear(&mut self) -> anyhow::Result<ToWorker> {
        let mut line = String::new();
        anyhow::ensure!(
            self.input.read_line(&mut line)? > 0,
            "the trial closed the pipe"
        );
        Ok(serde_json::from_str(&line)?)
    }
}

impl WorkloadVisitor for WorkerSession<'_> {
    type Output = anyhow::Result<()>;
    fn visit<W: Workload>(mut self, workload: W) -> anyhow::Result<()> {
        let mut session = match workload.open() {
            Ok(s) => s,
            Err(e) => {
                return self.say(&FromWorker::SetupFailed {
                    error: e.to_string(),
                });
            }
        };
        self.say(&FromWorker::Ready)?;
        let ToWorker::Go { window } = self.hear()? else {
            anyhow::bail!("expected the window");
        };
        let recorder = Recorder::new(1);
        let rusage = blocking_loop_with_cpu(&workload, &mut session, &window, &recorder);
        self.say(&FromWorker::Done {
            tally: recorder.merged().to_wire(),
            rusage,
        })
    }
}

/// Entry point of `iobench worker`: serve one trial over stdin and stdout.
pub fn worker_main() -> anyhow::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a signal for this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    raise_nofile_limit();
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    let (mut input, mut output) = (stdin.lock(), stdout.lock());
    let mut session = WorkerSession {
        input: &mut input,
        output: &mut output,
    };
    let ToWorker::Setup { workload } = session.hear()? else {
        anyhow::bail!("expected the workload first");
    };
    workload.visit(session)
}
