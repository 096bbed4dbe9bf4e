//! Each model's bare loop: 10 ms sleeps (or `OVERHEAD_SLEEP_MS`) counted in per-worker
//! atomic counters, with no measurement at all.

use std::future::Future;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use iobench::ModelKind;
use iobench::measure::memory::{TreeSample, sample_tree};
use iobench::measure::rusage::Rusage;
use tokio::runtime::Builder;

/// How long each op sleeps: `OVERHEAD_SLEEP_MS` (10 ms unless set; 1000 for a run of a
/// million tasks, which one thread could not serve every 10 ms), set once by `main`. Worker
/// processes read the same variable, which they inherit.
pub(crate) static SLEEP: OnceLock<Duration> = OnceLock::new();

pub(crate) fn latency() -> Duration {
    *SLEEP
        .get()
        .expect("main sets the sleep before any loop runs")
}

pub(crate) const POOL: u32 = 64;
pub(crate) const WARMUP: Duration = Duration::from_secs(1);

/// One counter per worker, padded so workers do not share a cache line.
#[repr(align(64))]
#[derive(Default)]
struct Counter(AtomicU64);

struct Shared {
    counters: Vec<Counter>,
    stop: AtomicBool,
    /// Workers also stop on their own here, so a starved coordinator (10,000 runnable
    /// threads on 2 cores) cannot keep them running.
    deadline: Instant,
}

/// Time the coordinator has past the window's end to read the counters.
const GRACE: Duration = Duration::from_secs(2);

impl Shared {
    fn new(n: usize, lifetime: Duration) -> Arc<Shared> {
        Arc::new(Shared {
            counters: (0..n).map(|_| Counter::default()).collect(),
            stop: AtomicBool::new(false),
            deadline: Instant::now() + lifetime + GRACE,
        })
    }
    /// One clock read per op: the bare loop's only cost beyond the op.
    #[inline]
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && Instant::now() < self.deadline
    }
    fn total(&self) -> u64 {
        self.counters
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .sum()
    }
    fn done(&self, i: usize) {
        self.counters[i].0.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) struct Bare {
    pub(crate) ops: u64,
    pub(crate) secs: f64,
    pub(crate) idle: TreeSample,
    pub(crate) peak_pss: u64,
    pub(crate) cpu: Rusage,
}

/// Waits out the warm-up, then reads counters, CPU and memory around the window.
fn observe(
    total: impl Fn() -> u64,
    warmup: Duration,
    window: Duration,
    idle: TreeSample,
    children_cpu: impl Fn() -> Rusage,
) -> Bare {
    std::thread::sleep(warmup);
    let (n0, t0, cpu0, own0) = (
        total(),
        Instant::now(),
        Rusage::this_process(),
        Rusage::this_thread(),
    );
    let ch0 = children_cpu();
    // Memory at a quarter, half and three quarters of the window.
    let mut peak = 0;
    for q in 1..=3 {
        std::thread::sleep((t0 + window * q / 4).saturating_duration_since(Instant::now()));
        peak = peak.max(sample_tree(std::process::id()).pss_bytes.unwrap_or(0));
    }
    std::thread::sleep((t0 + window).saturating_duration_since(Instant::now()));
    let (n1, secs) = (total(), t0.elapsed().as_secs_f64());
    // The observer's own CPU (this thread's) is left out, as the harness leaves out its sampler's.
    let own = Rusage::this_thread().since(&own0);
    let mut cpu = Rusage::this_process().since(&cpu0).since(&own);
    cpu.add(&children_cpu().since(&ch0));
    Bare {
        ops: n1 - n0,
        secs,
        idle,
        peak_pss: peak,
        cpu,
    }
}

fn async_case<F: FnOnce(Arc<Shared>, u32) + Send + 'static>(
    c: u32,
    warmup: Duration,
    window: Duration,
    run: F,
) -> Bare {
    let idle = sample_tree(std::process::id());
    let shared = Shared::new(c as usize, warmup + window);
    let s = shared.clone();
    let h = std::thread::spawn(move || run(s, c));
    let r = observe(|| shared.total(), warmup, window, idle, Rusage::default);
    shared.stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
    r
}

/// A model's bare loop: `n` workers (threads, pool jobs, processes or tasks), a warm-up, a
/// window.
type BareLoop = fn(n: u32, warmup: Duration, window: Duration) -> Bare;

/// Each model's bare loop; `None` for one that has none.
pub(crate) fn bare_loop(model: ModelKind) -> Option<BareLoop> {
    let run: BareLoop = match model {
        ModelKind::Sequential | ModelKind::Threads => threads_case,
        ModelKind::ThreadPool => pool_case,
        ModelKind::Processes => processes_case,
        ModelKind::TokioCurrentThread => {
            |n, w, d| tokio_case(Builder::new_current_thread(), n, w, d)
        }
        ModelKind::TokioMultiThread => |n, w, d| tokio_case(Builder::new_multi_thread(), n, w, d),
        ModelKind::AsyncStd => async_std_case,
        ModelKind::Smol => smol_case,
        ModelKind::AsyncProcesses | ModelKind::IoUring | ModelKind::External => return None,
    };
    Some(run)
}

/// The ops `model` has in flight at concurrency `c`: its workers, threads, jobs, processes
/// or tasks.
pub(crate) fn in_flight(model: ModelKind, c: u32) -> u32 {
    match model {
        ModelKind::Sequential => 1,
        ModelKind::ThreadPool | ModelKind::Processes => c.min(POOL),
        ModelKind::Threads
        | ModelKind::TokioCurrentThread
        | ModelKind::AsyncStd
        | ModelKind::Smol
        | ModelKind::TokioMultiThread
        | ModelKind::AsyncProcesses
        | ModelKind::IoUring
        | ModelKind::External => c,
    }
}

/// `model`'s bare loop at concurrency `c` (a model that `bare_model` accepted).
pub(crate) fn run_case(model: ModelKind, c: u32, warmup: Duration, window: Duration) -> Bare {
    let run = bare_loop(model).expect("the model has a bare loop");
    run(in_flight(model, c), warmup, window)
}

/// `n` threads, each sleeping and counting (sequential: one).
fn threads_case(n: u32, warmup: Duration, window: Duration) -> Bare {
    let idle = sample_tree(std::process::id());
    // All threads start together (like the harness's gate), so spawning 10,000
    // threads on a loaded machine does not eat into their run.
    let start = Arc::new(std::sync::Barrier::new(n as usize + 1));
    let shared = Arc::new(OnceLock::<Arc<Shared>>::new());
    let hs: Vec<_> = (0..n as usize)
        .map(|i| {
            let (start, shared) = (start.clone(), shared.clone());
            std::thread::spawn(move || {
                start.wait();
                let s = shared.get().expect("set before the barrier");
                while s.running() {
                    std::thread::sleep(latency());
                    s.done(i);
                }
            })
        })
        .collect();
    let s = shared
        .get_or_init(|| Shared::new(n as usize, warmup + window))
        .clone();
    start.wait();
    let r = observe(|| s.total(), warmup, window, idle, Rusage::default);
    s.stop.store(true, Ordering::Relaxed);
    hs.into_iter().for_each(|h| h.join().unwrap());
    r
}

/// A rayon pool of `k` threads, `k` clients each resubmitting its job.
fn pool_case(k: u32, warmup: Duration, window: Duration) -> Bare {
    let k = k as usize;
    let idle = sample_tree(std::process::id());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(k)
        .build()
        .unwrap();
    let shared = Shared::new(k, warmup + window);
    fn job(s: Arc<Shared>, i: usize) {
        std::thread::sleep(latency());
        s.done(i);
        if s.running() {
            rayon::spawn_fifo(move || job(s, i));
        }
    }
    for i in 0..k {
        let s = shared.clone();
        pool.spawn_fifo(move || job(s, i));
    }
    let r = observe(|| shared.total(), warmup, window, idle, Rusage::default);
    shared.stop.store(true, Ordering::Relaxed);
    std::thread::sleep(latency() * 3);
    r
}

/// A bare task: sleeps on its runtime's timer and counts until it is stopped.
async fn bare_task<S: Future>(s: Arc<Shared>, i: usize, sleep: impl Fn(Duration) -> S) {
    while s.running() {
        sleep(latency()).await;
        s.done(i);
    }
}

/// Starts `n` bare tasks with `spawn`, then awaits each handle and gives what it returns to
/// `check`.
async fn bare_tasks<H: Future>(
    s: Arc<Shared>,
    n: u32,
    spawn: impl Fn(Arc<Shared>, usize) -> H,
    check: impl Fn(H::Output),
) {
    let hs: Vec<H> = (0..n as usize).map(|i| spawn(s.clone(), i)).collect();
    for h in hs {
        check(h.await);
    }
}

/// `n` tasks on the tokio runtime `builder` makes (its timer ticked once first).
fn tokio_case(mut builder: Builder, n: u32, warmup: Duration, window: Duration) -> Bare {
    let rt = builder.enable_all().build().unwrap();
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
    async_case(n, warmup, window, move |s, n| {
        rt.block_on(bare_tasks(
            s,
            n,
            |s, i| tokio::spawn(bare_task(s, i, tokio::time::sleep)),
            Result::unwrap,
        ))
    })
}

/// `n` tasks spawned locally inside async-std's `block_on`.
fn async_std_case(n: u32, warmup: Duration, window: Duration) -> Bare {
    async_std::task::block_on(async_std::task::sleep(Duration::from_millis(1)));
    async_case(n, warmup, window, |s, n| {
        async_std::task::block_on(bare_tasks(
            s,
            n,
            |s, i| async_std::task::spawn_local(bare_task(s, i, async_std::task::sleep)),
            drop,
        ))
    })
}

/// `n` tasks on a smol `LocalExecutor`.
fn smol_case(n: u32, warmup: Duration, window: Duration) -> Bare {
    async_case(n, warmup, window, |s, n| {
        let ex = smol::LocalExecutor::new();
        smol::block_on(ex.run(bare_tasks(
            s,
            n,
            |s, i| ex.spawn(bare_task(s, i, smol::Timer::after)),
            drop,
        )))
    })
}
/// Counters in a shared file mapping: slot `i` for worker `i`, slot `k` is the stop flag.
fn map_counters(path: &Path, slots: usize) -> &'static [Counter] {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    file.set_len((64 * slots) as u64).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: a shared mapping of a file sized above, used only through atomics, kept for
    // the life of the process.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            64 * slots,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(ptr, libc::MAP_FAILED);
    unsafe { std::slice::from_raw_parts(ptr as *const Counter, slots) }
}

/// A worker process, started as the `processes` model starts its workers: this same
/// binary, exec'd. It counts ops in the shared mapping until the stop slot is set.
pub(crate) fn bare_worker(path: &Path, i: usize, k: usize) {
    let slots = map_counters(path, k + 1);
    while slots[k].0.load(Ordering::Relaxed) == 0 {
        std::thread::sleep(latency());
        slots[i].0.fetch_add(1, Ordering::Relaxed);
    }
}

fn processes_case(k: u32, warmup: Duration, window: Duration) -> Bare {
    let k = k as usize;
    let idle = sample_tree(std::process::id());
    let path = std::env::temp_dir().join(format!("iobench-overhead-{}", std::process::id()));
    let slots = map_counters(&path, k + 1);
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<std::process::Child> = (0..k)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--bare-worker",
                    path.to_str().unwrap(),
                    &i.to_string(),
                    &k.to_string(),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let children_cpu = || {
        // Children's CPU from /proc/PID/schedstat (nanoseconds on a CPU, user and system
        // together, counted here as user): a bare loop reports nothing of its own.
        let mut r = Rusage::default();
        for p in &pids {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/schedstat")) {
                let ns: f64 = s
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0.0);
                r.user_secs += ns / 1e9;
            }
        }
        r
    };
    let total = || slots[..k].iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
    let r = observe(total, warmup, window, idle, children_cpu);
    slots[k].0.store(1, Ordering::Relaxed);
    children.iter_mut().for_each(|c| drop(c.wait()));
    let _ = std::fs::remove_file(&path);
    r
}
