//! The shared drivers: one for blocking waits, one for async waits, and the pieces every
//! model uses to start its workers together.
//!
//! # How it works
//! 1. A worker runs ops one after another. In closed mode the next op starts when the
//!    previous one ends. In open mode ([`Pace::Open`]) op `i` is due at a fixed time; the
//!    worker waits for it (or starts at once when it is behind), and latency runs from the
//!    due time, so queueing is counted (coordinated omission, as wrk2 defines it); the
//!    latency from the actual start is kept beside it. Around each op the worker reads the
//!    monotonic clock twice.
//! 2. An op that completes inside the measured window goes to the worker's [`Sink`]: its
//!    latency if it was verified, its error kind if not. Ops completing during warm-up are
//!    not recorded. In-process models share the trial's sharded recorder; a worker process
//!    streams its latencies to the trial in small batches.
//! 3. A worker stops after the first op that completes at or past the window's end, so no
//!    op is abandoned mid-flight and no stop flag is polled on the hot path. In a counted
//!    window ([`Pace::Count`], `cargo bench`) it stops once it has run its share of the
//!    window's ops instead. (A worker waits for the window's start before its first op:
//!    a counted window starts a little after it is handed out.)
//!
//! Models differ only in how they run workers (a loop, threads, pool jobs, processes,
//! tasks); the loop body, the clock reads and the recording are here, once.

use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::counters::Counts;
use crate::measure::rusage::Rusage;
use crate::measure::{Mono, Recorder, Window};
use crate::model::ctx::{Parked, TrialCtx};
use crate::op::{OpError, Timing};
use crate::rt::AsyncRt;
use crate::rt::spawn::Spawner;
use crate::sync::{lock, wait};
use crate::workload::Workload;

/// An op that starts this much after it was due counts as started late.
pub const LATE: Duration = Duration::from_millis(1);

/// When a worker issues its ops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Pace {
    /// The next op starts when the previous one ends.
    Closed,
    /// Op `i` of warm-up is due at `first + i × every_ns`; op `j` of the measured part at
    /// `first + (measure_from − start) + j × every_ns` (see [`Schedule`]).
    Open { first: Mono, every_ns: u64 },
    /// Closed, and the worker stops after this many ops (a counted window).
    Count(u64),
}

impl Pace {
    /// The pace of worker `w` of `k` sharing `rate` ops per second (closed when `None`):
    /// the schedule is spread so that the workers' due times interleave.
    /// In a counted window the workers share its count as evenly as they can.
    pub fn of_worker(rate: Option<f64>, window: &Window, w: usize, k: usize) -> Pace {
        if let Some(n) = window.count {
            let k = k.max(1) as u64;
            return Pace::Count(n / k + u64::from((w as u64) < n % k));
        }
        match rate {
            None => Pace::Closed,
            Some(rate) => Pace::Open {
                first: window.start.plus(Duration::from_secs_f64(w as f64 / rate)),
                every_ns: (k as f64 / rate * 1e9) as u64,
            },
        }
    }
}

/// When a worker whose warm-up schedule starts at `first` has its first measured op due:
/// as far into the measured part as `first` is into warm-up.
#[inline]
fn measured_start(first: Mono, window: &Window) -> Mono {
    Mono(window.measure_from.0 + (first.0 - window.start.0))
}

/// A worker's place in its pace: which op is next, and when it is due.
///
/// In open mode the measured part of the window gets a schedule of its own, started
/// afresh: once warm-up's schedule reaches the measured part (or the worker, behind, starts
/// an op after it began), warm-up's ops not yet started are abandoned, so a backlog built
/// during warm-up does not carry into the window. At the end, the measured ops due before
/// the window closed that never started are [`Schedule::unstarted`].
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pace: Pace,
    /// Index of the next op in the current part.
    next: u64,
    measuring: bool,
}

impl Schedule {
    pub fn new(pace: Pace) -> Schedule {
        Schedule {
            pace,
            next: 0,
            measuring: false,
        }
    }

    /// The next op: `None` once the worker has run its share (counted windows only), else
    /// `Some(due)`, where `due` is when it is due (`None` in closed mode).
    #[inline]
    pub fn next_op(&mut self, window: &Window) -> Option<Option<Mono>> {
        match self.pace {
            Pace::Closed => Some(None),
            Pace::Count(n) => {
                if self.next >= n {
                    return None;
                }
                self.next += 1;
                Some(None)
            }
            Pace::Open { first, every_ns } => {
                let measured = measured_start(first, window);
                if !self.measuring
                    && (first.0 + self.next * every_ns >= measured.0 || Mono::now() >= measured)
                {
                    self.measuring = true;
                    self.next = 0;
                }
                let base = if self.measuring { measured } else { first };
                let due = Mono(base.0 + self.next * every_ns);
                self.next += 1;
                Some(Some(due))
            }
        }
    }

    /// Open mode: the latency each measured op due before the window's end but never
    /// started had reached at the end (nanoseconds), for a worker that has stopped.
    pub fn unstarted(&self, window: &Window) -> impl Iterator<Item = u64> {
        let until = window.measure_until;
        let (measured, every_ns, from) = match self.pace {
            Pace::Open { first, every_ns } => (
                measured_start(first, window),
                every_ns.max(1),
                if self.measuring { self.next } else { 0 },
            ),
            _ => (until, 1, 0),
        };
        (from..)
            .map(move |j| measured.0 + j * every_ns)
            .take_while(move |&due| due < until.0)
            .map(move |due| until.0 - due)
    }

    /// Waits (blocking) until op's `due` time; returns whether it waited.
    #[inline]
    pub fn wait_blocking(due: Option<Mono>) -> bool {
        match due {
            Some(due) if due > Mono::now() => {
                due.sleep_until();
                true
            }
            _ => false,
        }
    }
}

/// Where a worker's finished ops go.
pub trait Sink {
    fn record(&mut self, timing: Timing, result: Result<(), OpError>);

    /// When the worker's last op ended (called once, as it stops): a counted window ends
    /// with the last of these, not when the model has torn its workers down.
    fn last_end(&mut self, _end: Mono) {}

    /// Open mode, as the worker stops: ops due inside the window that never started, each
    /// with the latency it had reached when the window closed (nanoseconds).
    fn dropped(&mut self, _lags: &mut dyn Iterator<Item = u64>) {}

    /// An op in flight for the whole measured window (started before it, still running at
    /// its end), with the latency it had reached at the end (nanoseconds).
    fn unfinished(&mut self, _lag_ns: u64) {}
}

/// What every worker does as it stops: its unstarted ops, then its last op's end.
pub fn stop(window: &Window, schedule: &Schedule, sink: &mut impl Sink, end: Mono) {
    if window.count.is_none() {
        sink.dropped(&mut schedule.unstarted(window));
    }
    sink.last_end(end);
}

/// One shard of the trial's shared recorder, reached through `R`: a reference (a worker
/// thread, a pool job) or an `Arc` (a task, which must own its sink; [`OwnedShard`]).
pub struct Shard<R: Deref<Target = Recorder>> {
    pub recorder: R,
    pub index: usize,
}

/// A shard of the trial's recorder that a task can own.
pub type OwnedShard = Shard<Arc<Recorder>>;

impl<R: Deref<Target = Recorder>> Sink for Shard<R> {
    #[inline]
    fn record(&mut self, timing: Timing, result: Result<(), OpError>) {
        self.recorder.shard(self.index).record(timing, result);
    }

    fn last_end(&mut self, end: Mono) {
        self.recorder.note_end(end);
    }

    fn dropped(&mut self, lags: &mut dyn Iterator<Item = u64>) {
        let mut t = self.recorder.shard(self.index);
        lags.for_each(|ns| t.record_dropped_ns(ns));
    }

    fn unfinished(&mut self, lag_ns: u64) {
        self.recorder.shard(self.index).record_unfinished_ns(lag_ns);
    }
}

/// Records one finished op if it ended inside the window; returns `true` when the worker
/// should stop. `due` is when the op was due (open mode), `waited` whether the worker slept
/// until then, `start` when it started.
#[inline]
pub fn observe(
    window: &Window,
    sink: &mut impl Sink,
    (due, waited): (Option<Mono>, bool),
    start: Mono,
    end: Mono,
    result: Result<(), OpError>,
) -> bool {
    if window.contains(end) {
        let timing = match due {
            None => Timing {
                latency: end.since(start),
                service: None,
                late: false,
                pace_lag: None,
            },
            Some(due) => Timing {
                latency: end.since(due),
                service: Some(end.since(start)),
                late: start.since(due) > LATE,
                pace_lag: waited.then(|| start.since(due)),
            },
        };
        sink.record(timing, result);
    } else if window.count.is_none() && start < window.measure_from && window.is_over(end) {
        // In flight for the whole measured window: a client that a server's fixed workers
        // never served, or an op longer than the window. It finished nowhere inside it, but
        // it is not left out: it is counted, at the latency it had reached by the end.
        let from = due.unwrap_or(start);
        sink.unfinished(window.measure_until.since(from).as_nanos() as u64);
    }
    window.is_over(end)
}

/// The blocking loop of in-process worker `w` of `k` (a thread, or the trial's own),
/// recording into the trial's shard `w`; `rate` is the model's (closed when `None`).
pub fn trial_worker<W: Workload>(
    workload: &W,
    session: &mut W::Session,
    window: &Window,
    recorder: &Recorder,
    rate: Option<f64>,
    (w, k): (usize, usize),
) {
    let mut sink = Shard { recorder, index: w };
    let pace = Pace::of_worker(rate, window, w, k);
    blocking_loop(
        workload,
        session,
        window,
        pace,
        &mut sink,
        OwnUsage::Unmeasured,
    );
}

/// What a worker process measures of itself over the window: its CPU, and the events of
/// [`counters`](crate::measure::counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub rusage: Rusage,
    #[serde(default)]
    pub counts: Counts,
}

impl Usage {
    pub fn now() -> Usage {
        Usage {
            rusage: Rusage::this_process(),
            counts: Counts::now(),
        }
    }

    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            rusage: self.rusage.since(&earlier.rusage),
            counts: self.counts.since(&earlier.counts),
        }
    }
}

/// Whether a blocking worker measures its own usage over the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnUsage {
    /// An in-process worker: the trial measures its process (the loop returns zero).
    Unmeasured,
    /// A worker process: from the first op it starts inside the window to the end of its
    /// last op. (The op straddling the window's start is left out and the one straddling
    /// its end is counted in full, so on average the two ends balance.)
    Measured,
}

/// The blocking loop of one worker; returns its usage over the window as `own` asks.
pub fn blocking_loop<W: Workload>(
    workload: &W,
    session: &mut W::Session,
    window: &Window,
    pace: Pace,
    sink: &mut impl Sink,
    own: OwnUsage,
) -> Usage {
    let measured = own == OwnUsage::Measured;
    let mut cpu0 = None;
    let mut schedule = Schedule::new(pace);
    window.start.sleep_until();
    let mut end = window.start;
    while let Some(due) = schedule.next_op(window) {
        let waited = Schedule::wait_blocking(due);
        let start = Mono::now();
        if measured && cpu0.is_none() && start >= window.measure_from {
            cpu0 = Some(Usage::now());
        }
        let result = workload.op(session);
        end = Mono::now();
        if observe(window, sink, (due, waited), start, end, result) {
            break;
        }
    }
    stop(window, &schedule, sink, end);
    if !measured {
        return Usage::default();
    }
    let now = Usage::now();
    now.since(&cpu0.unwrap_or(now))
}

/// The loop of an async task: ops until the window is over, each when it is due (waiting
/// on `$sleep`, the runtime's timer), timed, observed into `$sink`, then [`stop`].
/// Written once for [`async_loop`] and io-uring's task, which cannot share a function
/// (io-uring's ops are its own and not `Send`). A macro rather than an `async fn`: expanded
/// inside each task's one `async` block, it adds nothing to the task's state.
macro_rules! async_ops {
    ($window:expr, $pace:expr, $sink:expr, $sleep:path, $op:expr) => {{
        let window: &$crate::measure::Window = $window;
        let mut end = window.start;
        let mut schedule = $crate::model::driver::Schedule::new($pace);
        while let Some(due) = schedule.next_op(window) {
            let mut waited = false;
            if let Some(due) = due {
                let now = $crate::measure::Mono::now();
                if due > now {
                    $sleep(due.since(now)).await;
                    waited = true;
                }
            }
            let start = $crate::measure::Mono::now();
            let result = $op.await;
            end = $crate::measure::Mono::now();
            if $crate::model::driver::observe(window, $sink, (due, waited), start, end, result) {
                break;
            }
        }
        $crate::model::driver::stop(window, &schedule, $sink, end);
    }};
}
pub(crate) use async_ops;

/// What the tasks of one async run share, behind one `Arc`: one pointer per task.
pub struct Tasks<W: Workload, R: AsyncRt> {
    workload: Arc<W>,
    window: Window,
    /// Sessions of the tasks that have ended, grown as they end (after the window).
    parked: Mutex<Vec<W::AsyncSession<R>>>,
}

impl<W: Workload, R: AsyncRt> Tasks<W, R> {
    pub fn new(workload: Arc<W>, window: Window) -> Arc<Tasks<W, R>> {
        Arc::new(Tasks {
            workload,
            window,
            parked: Mutex::new(Vec::new()),
        })
    }

    /// The sessions of the tasks that have ended.
    pub fn take_parked(&self) -> Vec<W::AsyncSession<R>> {
        std::mem::take(&mut *lock(&self.parked))
    }
}

/// The async loop of one task, waiting through runtime `R`; parks its session when it
/// ends.
///
/// One plain function returning one `async move` block, with the loop written inside it:
/// an `async fn` keeps a second copy of its arguments in its state, and a future handed to
/// another and awaited there is stored twice. This state is in every one of C tasks (it is
/// the harness's memory per in-flight op), so it holds only the task's session, pace and
/// sink, one pointer to what all tasks share, the loop's clock readings and the op's
/// future.
#[allow(clippy::manual_async_fn)] // on purpose: see above
pub fn async_loop<W: Workload, R: AsyncRt, K: Sink + Send + 'static>(
    shared: Arc<Tasks<W, R>>,
    mut session: W::AsyncSession<R>,
    pace: Pace,
    mut sink: K,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        async_ops!(
            &shared.window,
            pace,
            &mut sink,
            R::sleep,
            shared.workload.op_async::<R>(&mut session)
        );
        drop(sink);
        lock(&shared.parked).push(session);
    }
}

/// The sessions of `tasks` async tasks, opened one after another before the window; the
/// first that fails fails the trial.
pub async fn open_sessions<S, F: Future<Output = Result<S, OpError>>>(
    tasks: u32,
    open: impl Fn() -> F,
) -> anyhow::Result<Vec<S>> {
    let mut sessions = Vec::with_capacity(tasks as usize);
    for i in 0..tasks {
        let s = open()
            .await
            .map_err(|e| anyhow::anyhow!("setup of task {i} failed: {e}"))?;
        sessions.push(s);
    }
    Ok(sessions)
}

/// The tasks of one async run, inside its runtime's `block_on`: open one session per task,
/// open the window (`open_window` may wait for it, as a worker process does), spawn the
/// tasks, each with its sink and pace, and wait for all of them. Returns the task count and
/// the sessions, still open.
///
/// A task's own state is its session, its pace, its sink and one pointer to what the tasks
/// share, and the loop's own state (see [`async_loop`]); nothing else is allocated per
/// task but the runtime's task and its handle here.
pub async fn run_tasks<W: Workload, R: AsyncRt, S: Spawner, K: Sink + Send + 'static>(
    workload: Arc<W>,
    tasks: u32,
    open_window: impl FnOnce() -> anyhow::Result<Window>,
    pace_of: impl Fn(&Window, usize) -> Pace,
    sink_of: impl Fn(usize) -> K,
    spawner: &S,
) -> anyhow::Result<(u64, Parked)> {
    let sessions = open_sessions(tasks, || workload.open_async::<R>()).await?;
    let window = open_window()?;
    // A counted window starts a little later; the tasks are spawned when it does. (A
    // blocking sleep: a runtime's timer may round it up, tokio's to the millisecond.)
    window.start.sleep_until();
    let shared = Tasks::<W, R>::new(workload, window);
    let handles: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, session)| {
            let task =
                async_loop::<W, R, K>(shared.clone(), session, pace_of(&window, i), sink_of(i));
            spawner.spawn(task)
        })
        .collect();
    for t in handles {
        t.await.map_err(|e| anyhow::anyhow!("a task failed: {e}"))?;
    }
    let parked: Parked = vec![Box::new(shared.take_parked())];
    Ok((u64::from(tasks), parked))
}

/// The body of every in-process async model: C tasks recording into the trial's recorder.
pub async fn trial_tasks<W: Workload, R: AsyncRt, S: Spawner>(
    workload: Arc<W>,
    ctx: &mut TrialCtx,
    spawner: &S,
) -> anyhow::Result<u64> {
    let (c, rate, recorder) = (ctx.cell.concurrency, ctx.cell.rate, ctx.recorder.clone());
    let (n, parked) = run_tasks::<W, R, S, OwnedShard>(
        workload,
        c,
        || Ok(ctx.open_window()),
        |w, i| Pace::of_worker(rate, w, i, c as usize),
        |i| OwnedShard {
            recorder: recorder.clone(),
            index: i,
        },
        spawner,
    )
    .await?;
    ctx.parked = parked;
    Ok(n)
}

/// Holds blocking workers until all of them are ready, then hands them the window.
#[derive(Default)]
pub struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    ready: usize,
    failure: Option<String>,
    /// `Some(None)` once aborted, `Some(Some(w))` once opened.
    outcome: Option<Option<Window>>,
}

impl Gate {
    /// Called by a worker after its setup: reports it, then waits for the window.
    /// Returns `None` when the trial was aborted.
    pub fn arrive(&self, setup: Result<(), String>) -> Option<Window> {
        let mut st = lock(&self.state);
        match setup {
            Ok(()) => st.ready += 1,
            Err(e) => {
                st.failure.get_or_insert(e);
            }
        }
        self.changed.notify_all();
        while st.outcome.is_none() {
            st = wait(&self.changed, st);
        }
        st.outcome.flatten()
    }

    /// Waits until `n` workers are ready, or one failed its setup.
    pub fn wait_ready(&self, n: usize) -> Result<(), String> {
        let mut st = lock(&self.state);
        loop {
            if let Some(e) = &st.failure {
                return Err(e.clone());
            }
            if st.ready >= n {
                return Ok(());
            }
            st = wait(&self.changed, st);
        }
    }

    /// Releases the workers: with a window to run, or `None` to make them return.
    pub fn open(&self, window: Option<Window>) {
        let mut st = lock(&self.state);
        st.outcome = Some(window);
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::{AsyncStd, Smol, Tokio};
    use crate::workload::sleep::Sleep;

    /// The state of one sleep task beside the state of a bare loop of the same runtime
    /// (a pointer, an index and the runtime's timer, as `benches/bare_loops.rs` has it):
    /// the harness's own part of a task's memory, which C tasks multiply.
    fn task_bytes<R: AsyncRt>() -> (usize, usize) {
        let window = Window::starting_now(Duration::ZERO, Duration::from_millis(1));
        let shared = Tasks::<Sleep, R>::new(Arc::new(Sleep::default()), window);
        let sink = OwnedShard {
            recorder: Arc::new(Recorder::new(1, false)),
            index: 0,
        };
        let ours = std::mem::size_of_val(&async_loop::<Sleep, R, _>(shared, 0, Pace::Closed, sink));
        let (s, i) = (Arc::new(0u8), 0usize);
        let bare = async move {
            loop {
                R::sleep(Duration::from_millis(10)).await;
                std::hint::black_box((&s, i));
            }
        };
        (ours, std::mem::size_of_val(&bare))
    }

    #[test]
    fn a_task_costs_little_beyond_a_bare_loop() {
        for (name, (ours, bare)) in [
            ("tokio", task_bytes::<Tokio>()),
            ("async-std", task_bytes::<AsyncStd>()),
            ("smol", task_bytes::<Smol>()),
        ] {
            eprintln!("{name}: a task's future {ours} bytes, a bare loop's {bare}");
            // Session, pace, sink, the shared pointer, the loop's clock readings and the
            // op's own few words: about 120 bytes. (It was about 700 more on tokio, from futures
            // stored twice.)
            assert!(
                ours <= bare + 160,
                "{name}: a task's future is {ours} bytes, a bare loop's {bare}"
            );
        }
    }
}
