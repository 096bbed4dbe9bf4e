//! The async driver: C tasks on a runtime, each an `async` loop that waits on the runtime's
//! timer, spawned together once the window opens.

use std::future::Future;
use std::sync::{Arc, Mutex};

use super::pace::{Pace, Schedule};
use super::sink::{OwnedShard, Sink};
use crate::measure::Window;
use crate::model::ctx::{Parked, TrialCtx};
use crate::op::OpError;
use crate::rt::AsyncRt;
use crate::rt::spawn::Spawner;
use crate::sync::lock;
use crate::workload::Workload;

/// The loop of an async task: ops until the window is over, each when it is due (waiting
/// on `$sleep`, the runtime's timer), timed, observed into `$sink`, then [`stop`].
/// `$schedule` names the task's own `mut` [`Schedule`](crate::model::driver::Schedule),
/// and `$window` is read afresh each time it is used, so that neither is held twice in
/// the task's state.
/// Written once for [`async_loop`] and io-uring's task, which cannot share a function
/// (io-uring's ops are its own and not `Send`). A macro rather than an `async fn`: expanded
/// inside each task's one `async` block, it adds nothing to the task's state.
macro_rules! async_ops {
    ($window:expr, $schedule:ident, $sink:expr, $sleep:path, $op:expr) => {{
        let mut end = $window.start;
        while let Some(due) = $schedule.next_op($window) {
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
            if $crate::model::driver::observe($window, $sink, (due, waited), start, end, result) {
                break;
            }
        }
        $crate::model::driver::stop($window, &$schedule, $sink, end);
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
/// future. The task is given its [`Schedule`] rather than its [`Pace`]: a `Pace` argument
/// would stay in the state beside the schedule made from it.
#[allow(clippy::manual_async_fn)] // on purpose: see above
pub fn async_loop<W: Workload, R: AsyncRt, K: Sink + Send + 'static>(
    shared: Arc<Tasks<W, R>>,
    mut session: W::AsyncSession<R>,
    mut schedule: Schedule,
    mut sink: K,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        async_ops!(
            &shared.window,
            schedule,
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
            let task = async_loop::<W, R, K>(
                shared.clone(),
                session,
                Schedule::new(pace_of(&window, i)),
                sink_of(i),
            );
            spawner.spawn(task)
        })
        .collect();
    for t in handles {
        S::ended(t.await).map_err(|e| anyhow::anyhow!("a task failed: {e}"))?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::Recorder;
    use crate::rt::{AsyncStd, Smol, Tokio};
    use crate::workload::sleep::Sleep;

    /// The state of one sleep task beside the state of a bare loop of the same runtime
    /// (a pointer, an index and the runtime's timer, as `benches/bare_loops/` has it):
    /// the harness's own part of a task's memory, which C tasks multiply.
    fn task_bytes<R: AsyncRt>() -> (usize, usize) {
        let window = Window::starting_now(Duration::ZERO, Duration::from_millis(1));
        let shared = Tasks::<Sleep, R>::new(Arc::new(Sleep::default()), window);
        let sink = OwnedShard {
            recorder: Arc::new(Recorder::new(1, false)),
            index: 0,
        };
        let ours = std::mem::size_of_val(&async_loop::<Sleep, R, _>(
            shared,
            0,
            Schedule::new(Pace::Closed),
            sink,
        ));
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
            // Session, schedule, sink, the shared pointer, the loop's clock readings and
            // the op's own few words: 112 bytes. (It was about 700 more on tokio, from
            // futures stored twice, and 64 more from the pace kept beside its schedule, a
            // window reference and tokio's sleep wrapped in an `async fn`.)
            assert!(
                ours <= bare + 128,
                "{name}: a task's future is {ours} bytes, a bare loop's {bare}"
            );
        }
    }
}
