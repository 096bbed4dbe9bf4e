//! The worker's side (`iobench worker`): it reads its plan, opens its session (or its
//! tasks'), says `Ready`, waits for the window, runs the shared driver with a
//! [`StreamSink`], then sends its counts and the CPU it used.

use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::protocol::{
    BATCH, FromWorker, OP_BYTES, Op, Plan, ToWorker, read_line, send_message, send_ops,
};
use crate::measure::rusage::raise_nofile_limit;
use crate::measure::{Mono, OpCounts, Window};
use crate::model::driver::OwnUsage::Measured;
use crate::model::driver::{Pace, Sink, Usage, blocking_loop, run_tasks};
use crate::op::{OpError, Timing};
use crate::rt::spawn::TokioSpawner;
use crate::rt::{AsyncRt, Tokio, TokioFlavor};
use crate::sync::{into_inner, lock};
use crate::workload::{Workload, WorkloadVisitor};

/// A worker's sink: ops go to the trial in batches of [`BATCH`]; what is counted of them
/// (errors, pacing) is counted as the trial's tally counts it, and sent at the end.
pub struct StreamSink<O: Write> {
    out: O,
    /// Encoded ops not sent yet ([`Op::encode`]).
    batch: [u8; BATCH * OP_BYTES],
    len: usize,
    counts: OpCounts,
    failed: Option<std::io::Error>,
    /// The latest end of a task's last op that this sink has heard of.
    last_end: Mono,
}

impl<O: Write> StreamSink<O> {
    pub fn new(out: O) -> Self {
        StreamSink {
            out,
            batch: [0; BATCH * OP_BYTES],
            len: 0,
            counts: OpCounts::default(),
            failed: None,
            last_end: Mono(0),
        }
    }

    fn flush(&mut self) {
        if self.len == 0 || self.failed.is_some() {
            return;
        }
        if let Err(e) = send_ops(&mut self.out, &self.batch[..self.len * OP_BYTES]) {
            self.failed = Some(e);
        }
        self.len = 0;
    }

    #[inline]
    fn push(&mut self, op: Op) {
        self.batch[self.len * OP_BYTES..][..OP_BYTES].copy_from_slice(&op.encode());
        self.len += 1;
        if self.len == BATCH {
            self.flush();
        }
    }
}

impl<O: Write> Sink for StreamSink<O> {
    #[inline]
    fn record(&mut self, timing: Timing, result: Result<(), OpError>) {
        self.counts.timing(&timing);
        let ns = timing.latency.as_nanos() as u64;
        match result {
            Ok(()) => self.push(Op::Ok {
                ns,
                uncorrected: timing.service.map(|s| s.as_nanos() as u64),
            }),
            Err(e) => {
                self.push(Op::Failed { ns });
                self.counts.error(e);
            }
        }
    }

    fn last_end(&mut self, end: Mono) {
        self.last_end = self.last_end.max(end);
    }

    fn dropped(&mut self, lags: &mut dyn Iterator<Item = u64>) {
        lags.for_each(|lag_ns| self.push(Op::Dropped { lag_ns }));
    }

    fn unfinished(&mut self, lag_ns: u64) {
        self.push(Op::Unfinished { lag_ns });
    }
}

/// A stream sink shared by the tasks of one event loop.
struct SharedSink<O: Write>(Arc<Mutex<StreamSink<O>>>);

impl<O: Write> Sink for SharedSink<O> {
    #[inline]
    fn record(&mut self, timing: Timing, result: Result<(), OpError>) {
        lock(&self.0).record(timing, result);
    }

    fn last_end(&mut self, end: Mono) {
        lock(&self.0).last_end(end);
    }

    fn dropped(&mut self, lags: &mut dyn Iterator<Item = u64>) {
        lock(&self.0).dropped(lags);
    }

    fn unfinished(&mut self, lag_ns: u64) {
        lock(&self.0).unfinished(lag_ns);
    }
}

/// The worker's side of the conversation.
struct WorkerSession<I: Read, O: Write> {
    input: I,
    output: O,
    plan: Option<Plan>,
}

impl<I: Read, O: Write> WorkerSession<I, O> {
    fn say(&mut self, msg: &FromWorker) -> anyhow::Result<()> {
        send_message(&mut self.output, msg)
    }

    fn hear(&mut self) -> anyhow::Result<ToWorker> {
        read_line(&mut self.input)
    }

    /// Says `Ready` and waits for the window.
    fn ready(&mut self) -> anyhow::Result<Window> {
        self.say(&FromWorker::Ready { in_flight: None })?;
        let ToWorker::Go { window } = self.hear()? else {
            anyhow::bail!("expected the window");
        };
        Ok(window)
    }

    /// Sends what a finished sink holds, and the CPU used.
    fn done<X: Write>(&mut self, mut sink: StreamSink<X>, usage: Usage) -> anyhow::Result<()> {
        sink.flush();
        if let Some(e) = sink.failed {
            anyhow::bail!("cannot send latencies to the trial: {e}");
        }
        self.say(&FromWorker::Done {
            counts: sink.counts,
            usage,
            last_end: sink.last_end.0,
        })
    }

    /// The blocking worker: one op at a time.
    fn run_blocking<W: Workload>(&mut self, workload: W, plan: &Plan) -> anyhow::Result<()> {
        let mut session = match workload.open() {
            Ok(s) => s,
            Err(e) => {
                return self.say(&FromWorker::SetupFailed {
                    error: e.to_string(),
                });
            }
        };
        let window = self.ready()?;
        let pace = Pace::of_worker(plan.rate, &window, plan.first as usize, plan.of as usize);
        // The sink needs its own handle on stdout while the session keeps one.
        let mut sink = StreamSink::new(stdout_handle()?);
        let usage = blocking_loop(&workload, &mut session, &window, pace, &mut sink, Measured);
        self.done(sink, usage)
    }

    /// The event-loop worker: `n` tasks on one tokio current-thread runtime.
    fn run_async<W: Workload>(&mut self, workload: W, plan: &Plan, n: u32) -> anyhow::Result<()> {
        let rt = TokioFlavor::CurrentThread.build()?;
        rt.block_on(async { Tokio::sleep(Duration::from_millis(1)).await });
        let sink = Arc::new(Mutex::new(StreamSink::new(stdout_handle()?)));
        let cpu0: Arc<Mutex<Option<Usage>>> = Arc::default();
        let mut opened = false;
        let (first, of, rate) = (plan.first as usize, plan.of as usize, plan.rate);
        let result = rt.block_on(run_tasks::<W, Tokio, _, _>(
            Arc::new(workload),
            n,
            || {
                opened = true;
                let window = self.ready()?;
                // CPU is read when the measured part of the window begins.
                let cpu0 = cpu0.clone();
                tokio::spawn(async move {
                    let now = Mono::now();
                    if window.measure_from > now {
                        Tokio::sleep(window.measure_from.since(now)).await;
                    }
                    *lock(&cpu0) = Some(Usage::now());
                });
                Ok(window)
            },
            |w, j| Pace::of_worker(rate, w, first + j, of),
            |_| SharedSink(sink.clone()),
            &TokioSpawner,
        ));
        match result {
            Ok((_, parked)) => drop(parked),
            Err(e) if opened => return Err(e),
            Err(e) => {
                return self.say(&FromWorker::SetupFailed {
                    error: format!("{e:#}"),
                });
            }
        }
        let now = Usage::now();
        let cpu0 = lock(&cpu0).unwrap_or(now);
        let sink =
            Arc::try_unwrap(sink).map_err(|_| anyhow::anyhow!("a task still holds the sink"))?;
        let sink = into_inner(sink);
        self.done(sink, now.since(&cpu0))
    }
}

/// A second handle on stdout (the pipe to the trial), for a sink to own.
fn stdout_handle() -> anyhow::Result<std::fs::File> {
    // SAFETY: dup of fd 1, which is open; the new fd is owned by the File.
    let fd = unsafe { libc::dup(1) };
    anyhow::ensure!(fd >= 0, "dup: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a fresh descriptor nothing else owns.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

impl<I: Read, O: Write> WorkloadVisitor for WorkerSession<I, O> {
    type Output = anyhow::Result<()>;
    fn visit<W: Workload>(mut self, workload: W) -> anyhow::Result<()> {
        let plan = self.plan.take().expect("the plan came first");
        match plan.tasks {
            false => self.run_blocking(workload, &plan),
            true => self.run_async(workload, &plan, plan.concurrency),
        }
    }
}

/// Entry point of `iobench worker`: serve one trial over stdin and stdout.
pub fn worker_main() -> anyhow::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a signal for this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    raise_nofile_limit();
    // Unbuffered ends of the pipes: frames are written whole, lines read byte by byte.
    // SAFETY: fds 0 and 1 are the pipes the trial gave us, open for the process's life;
    // ManuallyDrop keeps them open when these handles go away.
    let input = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(0) });
    let output = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let mut session = WorkerSession {
        input: &*input,
        output: &*output,
        plan: None,
    };
    let ToWorker::Setup(plan) = session.hear()? else {
        anyhow::bail!("expected the workload first");
    };
    let (workload, resolved) = (plan.workload.clone(), plan.resolved.clone());
    session.plan = Some(plan);
    workload.visit(&resolved, session)
}

#[cfg(test)]
mod tests {
    use super::super::protocol::{Frame, Frames, ops};
    use super::*;
    use crate::op::ErrorKind;

    #[test]
    fn the_stream_sink_batches_latencies_and_counts_errors() {
        let mut out = Vec::new();
        let mut sink = StreamSink::new(&mut out);
        let t = |ns: u64| Timing {
            latency: Duration::from_nanos(ns),
            service: None,
            late: false,
            pace_lag: None,
        };
        for i in 0..BATCH as u64 + 3 {
            sink.record(t(100 + i), Ok(()));
        }
        sink.record(t(7), Err(OpError::new(ErrorKind::Reset, "gone")));
        sink.dropped(&mut [9u64].into_iter());
        sink.flush();
        assert_eq!(sink.counts.errors_by_kind()[&ErrorKind::Reset], 1);
        assert_eq!(sink.counts.first_error[&ErrorKind::Reset], "gone");
        let mut f = Frames::default();
        f.extend(&out);
        let Some(Frame::Ops(p1)) = f.next().unwrap() else {
            panic!("a batch first")
        };
        let Some(Frame::Ops(p2)) = f.next().unwrap() else {
            panic!("then the rest")
        };
        assert_eq!((p1.len(), p2.len()), (BATCH * OP_BYTES, 5 * OP_BYTES));
        let rest: Vec<Op> = ops(&p2).collect();
        assert_eq!(
            rest[2],
            Op::Ok {
                ns: 100 + BATCH as u64 + 2,
                uncorrected: None
            },
            "the last latency; closed mode has no uncorrected latency"
        );
        assert_eq!(rest[3], Op::Failed { ns: 7 }, "a failed op's latency");
        assert_eq!(rest[4], Op::Dropped { lag_ns: 9 }, "a dropped op's lag");
    }
}
