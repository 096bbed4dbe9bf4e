//! `processes`: min(C, process_cap) pre-forked worker processes of this same binary, each
//! doing one op at a time (like gunicorn's sync workers).
//!
//! # How it works
//! 1. The trial takes its idle footprint, then starts the workers (`iobench worker`), all
//!    in its own process group so one kill ends them all.
//! 2. Each worker reads its workload from stdin, opens its session and answers `Ready`.
//! 3. The trial opens the window and sends it to every worker. `CLOCK_MONOTONIC` is shared
//!    by all processes, so every worker measures the same window.
//! 4. Each worker runs the shared blocking loop. Its sink keeps no histogram (that would
//!    be memory per in-flight op that only the harness needs): it streams latencies to the
//!    trial in batches of [`BATCH`], and the trial records them in its own recorder,
//!    allocated before the idle footprint like every other model's.
//! 5. At the end a worker sends its error counts and the CPU it used during the window.
//!    A worker that dies fails the trial with its exit status.
//!
//! A database workload's pool bounds the whole model: worker `i` gets its share of
//! `pool_min` and `pool_max` in its plan (`WorkloadSpec::worker_share`), and at most
//! `pool_max` workers start, since a worker without a connection could run no op.
//!
//! Messages travel as frames: one kind byte, a little-endian `u32` length, the payload.
//! Kind `J` carries a JSON message, kind `L` a batch of ops: for each, two little-endian
//! `u64`: the latency and the uncorrected latency (open mode; `u64::MAX` otherwise), in ns.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use std::sync::Mutex;

use super::driver::{Pace, Sink, Usage, blocking_loop_with_cpu, run_tasks};

use super::spawn_error;
use crate::measure::rusage::raise_nofile_limit;
use crate::measure::{Mono, Window};
use crate::model::ctx::TrialCtx;
use crate::op::Timing;
use crate::op::{ErrorKind, OpError};
use crate::rt::spawn::TokioSpawner;
use crate::rt::{AsyncRt, Tokio};
use crate::server::{Serving, serve_blocking};
use crate::workload::{Workload, WorkloadSpec, WorkloadVisitor};

/// Ops a worker buffers before sending them (64 × 16 bytes = 1 KiB). One write per 64 ops
/// keeps the system call at about 10 ns per op (`cargo bench --bench overhead`; with 8 it
/// was 62 ns).
pub const BATCH: usize = 64;
/// The second word of a latency entry: the uncorrected latency of an open-mode op, or one
/// of these markers (no latency comes near them).
/// A verified closed-mode op, which has no uncorrected latency.
const NONE: u64 = u64::MAX;
/// A failed op: the first word is its latency.
const FAILED: u64 = u64::MAX - 1;
/// An open-mode op due inside the window that never started: the first word is the
/// latency it had reached when the window closed.
const DROPPED: u64 = u64::MAX - 2;
/// An op in flight for the whole window: the first word is its age at the window's end.
const UNFINISHED: u64 = u64::MAX - 3;
const JSON: u8 = b'J';
const LATENCIES: u8 = b'L';

/// What one worker process runs: its workload, and its place in the trial's schedule.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub workload: WorkloadSpec,
    /// `None`: one blocking op at a time; `Some(n)`: n tasks on a tokio current-thread loop.
    pub tasks: Option<u32>,
    /// The index of its first worker (or task) among `of`, for the open-loop schedule.
    pub first: u32,
    pub of: u32,
    pub rate: Option<f64>,
}

#[derive(Serialize, Deserialize)]
enum ToWorker {
    Setup(Plan),
    Go { window: Window },
}

#[derive(Serialize, Deserialize)]
enum FromWorker {
    Ready,
    SetupFailed {
        error: String,
    },
    Done {
        errors: BTreeMap<ErrorKind, u64>,
        first_error: BTreeMap<ErrorKind, String>,
        late_starts: u64,
        /// Open mode: the pacing lag of ops that waited (ns, summed) and how many did.
        #[serde(default)]
        pace_lag_ns: u64,
        #[serde(default)]
        paced: u64,
        usage: Usage,
        /// When the worker's last op ended (CLOCK_MONOTONIC ns).
        #[serde(default)]
        last_end: u64,
    },
}

fn write_frame(out: &mut impl Write, kind: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out.write_all(&head)?;
    out.write_all(payload)?;
    out.flush()
}

/// Bytes received from a worker, cut into frames.
#[derive(Default)]
struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    /// The next complete frame, if one has arrived.
    fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buf.len() < 5 {
            return None;
        }
        let len = u32::from_le_bytes(self.buf[1..5].try_into().expect("4 bytes")) as usize;
        if self.buf.len() < 5 + len {
            return None;
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Some((kind, payload))
    }
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
        let mut line = serde_json::to_vec(msg)?;
        line.push(b'\n');
        self.stdin.write_all(&line)?;
        Ok(self.stdin.flush()?)
    }

    /// Reads what is available (blocking until something is); `false` at end of stream.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stdout.read(&mut chunk)?;
        self.frames.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Waits for the next JSON message (no latencies are expected before the window).
    fn message(&mut self, i: usize) -> anyhow::Result<FromWorker> {
        loop {
            if let Some((kind, payload)) = self.frames.next() {
                anyhow::ensure!(
                    kind == JSON,
                    "worker process {i} sent latencies out of turn"
                );
                return Ok(serde_json::from_slice(&payload)?);
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

/// How many worker processes run `c` ops at once with at most `cap` processes: never more
/// than a database workload's `pool_max`, whose connections they share.
pub(crate) fn worker_count(ctx: &TrialCtx, cap: u32) -> u32 {
    let pool = ctx.cell.workload.pool_max().unwrap_or(u32::MAX);
    ctx.cell.concurrency.min(cap).min(pool)
}

pub fn run<W: Workload>(_workload: Arc<W>, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    let k = worker_count(ctx, ctx.cell.process_cap);
    let plans = (0..k)
        .map(|i| Plan {
            workload: ctx.cell.workload.worker_share(i, k),
            tasks: None,
            first: i,
            of: k,
            rate: ctx.cell.rate,
        })
        .collect();
    run_workers(ctx, plans)?;
    Ok(u64::from(k))
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
            while let Some((kind, payload)) = w.frames.next() {
                let mut shard = ctx.recorder.shard(i);
                match kind {
                    LATENCIES => {
                        for op in payload.chunks_exact(16) {
                            let ns = u64::from_le_bytes(op[..8].try_into().expect("8 bytes"));
                            let un = u64::from_le_bytes(op[8..].try_into().expect("8 bytes"));
                            match un {
                                FAILED => shard.record_error_ns(ns),
                                DROPPED => shard.record_dropped_ns(ns),
                                UNFINISHED => shard.record_unfinished_ns(ns),
                                NONE => shard.record_ok_ns(ns, None),
                                un => shard.record_ok_ns(ns, Some(un)),
                            }
                        }
                    }
                    _ => match serde_json::from_slice(&payload)? {
                        FromWorker::Done {
                            errors,
                            first_error,
                            late_starts,
                            pace_lag_ns,
                            paced,
                            usage,
                            last_end,
                        } => {
                            shard.late_starts += late_starts;
                            shard.pace_lag_ns += pace_lag_ns;
                            shard.paced += paced;
                            if last_end > 0 {
                                ctx.recorder.note_end(Mono(last_end));
                            }
                            for (kind, n) in errors {
                                shard.add_errors(kind, n, first_error.get(&kind));
                            }
                            ctx.worker_rusage.add(&usage.rusage);
                            ctx.worker_counts.add(&usage.counts);
                            w.done = true;
                            pending -= 1;
                        }
                        _ => anyhow::bail!("worker process {i} answered out of turn"),
                    },
                }
            }
        }
    }
    Ok(())
}

/// A worker's sink: latencies go to the trial in batches; errors are counted here.
pub struct StreamSink<O: Write> {
    out: O,
    batch: [(u64, u64); BATCH],
    len: usize,
    late_starts: u64,
    pace_lag_ns: u64,
    paced: u64,
    errors: BTreeMap<ErrorKind, u64>,
    first_error: BTreeMap<ErrorKind, String>,
    failed: Option<std::io::Error>,
    /// The latest end of a task's last op that this sink has heard of.
    last_end: Mono,
}

impl<O: Write> StreamSink<O> {
    pub fn new(out: O) -> Self {
        StreamSink {
            out,
            batch: [(0, 0); BATCH],
            len: 0,
            late_starts: 0,
            pace_lag_ns: 0,
            paced: 0,
            errors: BTreeMap::new(),
            first_error: BTreeMap::new(),
            failed: None,
            last_end: Mono(0),
        }
    }

    fn flush(&mut self) {
        if self.len == 0 || self.failed.is_some() {
            return;
        }
        let mut bytes = [0u8; BATCH * 16];
        for (dst, (ns, un)) in bytes.chunks_exact_mut(16).zip(&self.batch[..self.len]) {
            dst[..8].copy_from_slice(&ns.to_le_bytes());
            dst[8..].copy_from_slice(&un.to_le_bytes());
        }
        if let Err(e) = write_frame(&mut self.out, LATENCIES, &bytes[..self.len * 16]) {
            self.failed = Some(e);
        }
        self.len = 0;
    }

    #[inline]
    fn push(&mut self, ns: u64, second: u64) {
        self.batch[self.len] = (ns, second);
        self.len += 1;
        if self.len == BATCH {
            self.flush();
        }
    }
}

impl<O: Write> Sink for StreamSink<O> {
    #[inline]
    fn record(&mut self, timing: Timing, result: Result<(), OpError>) {
        self.late_starts += u64::from(timing.late);
        if let Some(lag) = timing.pace_lag {
            self.pace_lag_ns += lag.as_nanos() as u64;
            self.paced += 1;
        }
        let ns = timing.latency.as_nanos() as u64;
        match result {
            Ok(()) => {
                let service = timing.service.map_or(NONE, |s| s.as_nanos() as u64);
                self.push(ns, service);
            }
            Err(e) => {
                self.push(ns, FAILED);
                *self.errors.entry(e.kind).or_default() += 1;
                self.first_error
                    .entry(e.kind)
                    .or_insert_with(|| e.message.into_owned());
            }
        }
    }

    fn last_end(&mut self, end: Mono) {
        self.last_end = self.last_end.max(end);
    }

    fn dropped(&mut self, lags: &mut dyn Iterator<Item = u64>) {
        lags.for_each(|ns| self.push(ns, DROPPED));
    }

    fn unfinished(&mut self, lag_ns: u64) {
        self.push(lag_ns, UNFINISHED);
    }
}

/// A stream sink shared by the tasks of one event loop.
struct SharedSink<O: Write>(Arc<Mutex<StreamSink<O>>>);

impl<O: Write> Sink for SharedSink<O> {
    #[inline]
    fn record(&mut self, timing: Timing, result: Result<(), OpError>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(timing, result);
    }

    fn last_end(&mut self, end: Mono) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_end(end);
    }

    fn dropped(&mut self, lags: &mut dyn Iterator<Item = u64>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .dropped(lags);
    }

    fn unfinished(&mut self, lag_ns: u64) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unfinished(lag_ns);
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
        Ok(write_frame(
            &mut self.output,
            JSON,
            &serde_json::to_vec(msg)?,
        )?)
    }

    /// Reads one line, a byte at a time so that nothing beyond it is buffered.
    fn hear(&mut self) -> anyhow::Result<ToWorker> {
        let mut line = Vec::new();
        let mut byte = [0u8];
        loop {
            anyhow::ensure!(
                self.input.read(&mut byte)? == 1,
                "the trial closed the pipe"
            );
            if byte[0] == b'\n' {
                return Ok(serde_json::from_slice(&line)?);
            }
            line.push(byte[0]);
        }
    }

    /// Says `Ready` and waits for the window.
    fn ready(&mut self) -> anyhow::Result<Window> {
        self.say(&FromWorker::Ready)?;
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
            errors: sink.errors,
            first_error: sink.first_error,
            late_starts: sink.late_starts,
            pace_lag_ns: sink.pace_lag_ns,
            paced: sink.paced,
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
        let usage = blocking_loop_with_cpu(&workload, &mut session, &window, pace, &mut sink);
        self.done(sink, usage)
    }

    /// The event-loop worker: `n` tasks on one tokio current-thread runtime.
    fn run_async<W: Workload>(&mut self, workload: W, plan: &Plan, n: u32) -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(Tokio::sleep(std::time::Duration::from_millis(1)));
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
                    *cpu0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Usage::now());
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
        let cpu0 = cpu0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(now);
        let sink = Arc::try_unwrap(sink)
            .map_err(|_| anyhow::anyhow!("a task still holds the sink"))?
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
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
            None => self.run_blocking(workload, &plan),
            Some(n) => self.run_async(workload, &plan, n),
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
    let workload = plan.workload.clone();
    session.plan = Some(plan);
    workload.visit(session)
}

/// The server: `process_cap` pre-forked worker processes sharing the listening socket,
/// each accepting a connection and serving it to its end (one request without keep-alive,
/// as gunicorn's sync workers do).
pub fn serve(serving: Serving) -> anyhow::Result<()> {
    serving.prefork(serving.spec.processes, |serving, ready| {
        ready();
        loop {
            match serving.accept_blocking() {
                Ok(s) => serve_blocking(s, &serving.spec),
                Err(_) => return,
            }
        }
    })?;
    serving.ready();
    serving.wait_workers()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn frames_cut_a_stream() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, JSON, b"{}").unwrap();
        write_frame(&mut bytes, LATENCIES, &7u64.to_le_bytes()).unwrap();
        let mut f = Frames::default();
        f.buf.extend_from_slice(&bytes[..4]);
        assert!(f.next().is_none());
        f.buf.extend_from_slice(&bytes[4..]);
        assert_eq!(f.next(), Some((JSON, b"{}".to_vec())));
        assert_eq!(f.next(), Some((LATENCIES, 7u64.to_le_bytes().to_vec())));
        assert!(f.next().is_none());
    }

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
        assert_eq!(sink.errors[&ErrorKind::Reset], 1);
        let mut f = Frames { buf: out };
        let (k1, p1) = f.next().unwrap();
        let (k2, p2) = f.next().unwrap();
        assert_eq!(
            (k1, p1.len(), k2, p2.len()),
            (LATENCIES, BATCH * 16, LATENCIES, 80)
        );
        let word = |i: usize| u64::from_le_bytes(p2[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!(word(4), 100 + BATCH as u64 + 2, "the last latency");
        assert_eq!(word(5), NONE, "closed mode has no uncorrected latency");
        assert_eq!((word(6), word(7)), (7, FAILED), "a failed op's latency");
        assert_eq!((word(8), word(9)), (9, DROPPED), "a dropped op's lag");
    }
}
