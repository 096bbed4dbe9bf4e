//! The harness's own cost: each model's bare loop of 10 ms sleeps, with no measurement at
//! all, beside the same cell run through `iobench run`. The difference is what iobench's
//! clock reads, recorder and sampler cost.
//!
//! What it is for: the figures in a closing note, and a check that the harness's cost stays
//! within 5% of throughput and 0.25 KiB per in-flight op. What it is not: a test (it asserts
//! nothing and takes minutes).
//!
//! `cargo bench --bench bare_loops` runs C = 1, 100, 1000, 10000 with a 1 s warm-up and a
//! 3 s window. Its headline, printed first, is the harness's own memory: iobench's window
//! growth (peak PSS − idle PSS) minus the bare loop's, in KiB per in-flight op (C for the
//! async models and threads, 1 for sequential, min(C, 64) for thread-pool and processes),
//! with cells over 0.25 KiB flagged. The full table follows. Environment: `OVERHEAD_C=1,100`, `OVERHEAD_WINDOW_SECS=3`,
//! `OVERHEAD_MODELS=threads,smol`, `OVERHEAD_TRIALS=1` (harness trials per cell),
//! `OVERHEAD_HARNESS_SUMMARY=path/summary.json` (reuse a harness run of the same cells),
//! `OVERHEAD_SLEEP_MS=1000` (the sleep of every op; 10 unless set). The models are
//! `ModelKind`'s default ones that have a bare loop (all but async-processes); a value that
//! is not accepted stops the bench before anything runs, with the variable and what it
//! accepts. `cargo bench --bench bare_loops -- --test` is the smoke check (a second).
//!
//! A bare loop counts finished ops in a per-worker atomic counter (processes: in a shared
//! file mapping) that the coordinator reads at the window's start and end, and reads the
//! clock once per op to stop on its own; memory is read from /proc the same way the harness
//! reads it, outside the loop. Bare worker processes are exec'd like the model's. The bench
//! runs each cell's bare loop in a process of its own (`--case MODEL C`), and the processes
//! loop's workers are this binary again (`--bare-worker PATH I K`).

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use iobench::ModelKind;
use iobench::figure::Figure;
use iobench::measure::memory::{TreeSample, sample_tree};
use iobench::measure::rusage::{Rusage, raise_nofile_limit};
use iobench::report::summary::{Stat, Summary};
use tokio::runtime::Builder;

/// How long each op sleeps: `OVERHEAD_SLEEP_MS` (10 ms unless set; 1000 for a run of a
/// million tasks, which one thread could not serve every 10 ms), set once by `main`. Worker
/// processes read the same variable, which they inherit.
static SLEEP: OnceLock<Duration> = OnceLock::new();

fn latency() -> Duration {
    *SLEEP
        .get()
        .expect("main sets the sleep before any loop runs")
}

const POOL: u32 = 64;
const WARMUP: Duration = Duration::from_secs(1);

/// What this run of the binary does, read once from its arguments and environment.
struct Args {
    /// `OVERHEAD_SLEEP_MS`.
    sleep: Duration,
    mode: Mode,
}

enum Mode {
    /// Run without `--bench` (as `cargo test --all-targets` runs it): nothing to do.
    Skip,
    /// `--bench --test`: the bare loops still run.
    Smoke,
    /// `--case MODEL C`: one cell's bare loop, its figures printed on one line for the bench.
    Case {
        model: ModelKind,
        c: u32,
        window: Duration,
    },
    /// `--bare-worker PATH I K`: worker `I` of `K` of the processes bare loop.
    BareWorker {
        path: PathBuf,
        index: usize,
        workers: usize,
    },
    /// `--bench`: every cell, bare and through the harness.
    Full(Plan),
}

/// The cells of a full run and how the harness runs them.
struct Plan {
    /// `OVERHEAD_MODELS`.
    models: Vec<ModelKind>,
    /// `OVERHEAD_C`.
    cs: Vec<u32>,
    /// `OVERHEAD_TRIALS`.
    trials: u32,
    /// `OVERHEAD_WINDOW_SECS`.
    window: Duration,
    /// `OVERHEAD_HARNESS_SUMMARY`: a harness run of the same cells to reuse.
    summary: Option<PathBuf>,
}

const SLEEP_ACCEPTS: &str = "a whole number of milliseconds, at least 1";
const WINDOW_ACCEPTS: &str = "a number of seconds above 0, e.g. 3 or 0.5";
const C_ACCEPTS: &str = "a whole number, at least 1";
const TRIALS_ACCEPTS: &str = "a whole number of trials, at least 1";
const INDEX_ACCEPTS: &str = "a whole number";

impl Args {
    /// `args` without the program's name. Arguments other than the ones above (cargo's and
    /// criterion's, given to every bench) are left alone.
    fn parse(args: &[String]) -> anyhow::Result<Args> {
        let sleep = env_or("OVERHEAD_SLEEP_MS", 10, |v| {
            number(v, SLEEP_ACCEPTS, |&ms: &u64| ms >= 1)
        })
        .map(Duration::from_millis)?;
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let mode = if let Some(v) = values(args, "--bare-worker", "PATH I K")? {
            let arg = |name: &str, v: &str| {
                number(v, INDEX_ACCEPTS, |_: &usize| true)
                    .with_context(|| format!("--bare-worker PATH I K: {name}"))
            };
            let (index, workers) = (arg("I", &v[1])?, arg("K", &v[2])?);
            if index >= workers {
                anyhow::bail!("--bare-worker PATH I K: I = {index} is not below K = {workers}");
            }
            Mode::BareWorker {
                path: PathBuf::from(&v[0]),
                index,
                workers,
            }
        } else if let Some(v) = values(args, "--case", "MODEL C")? {
            Mode::Case {
                model: bare_model(&v[0]).context("--case MODEL C: MODEL")?,
                c: concurrency(&v[1]).context("--case MODEL C: C")?,
                window: window()?,
            }
        } else if !has("--bench") {
            Mode::Skip
        } else if has("--test") {
            Mode::Smoke
        } else {
            Mode::Full(Plan {
                models: env_list("OVERHEAD_MODELS", default_models(), bare_model)?,
                cs: env_list("OVERHEAD_C", vec![1, 100, 1000, 10000], concurrency)?,
                trials: env_or("OVERHEAD_TRIALS", 1, |v| {
                    number(v, TRIALS_ACCEPTS, |&n: &u32| n >= 1)
                })?,
                window: window()?,
                summary: env_or("OVERHEAD_HARNESS_SUMMARY", None, |v| {
                    Ok(Some(PathBuf::from(v)))
                })?,
            })
        };
        Ok(Args { sleep, mode })
    }
}

/// The `n` values after `flag`, when `flag` is there.
fn values<'a>(args: &'a [String], flag: &str, names: &str) -> anyhow::Result<Option<&'a [String]>> {
    let n = names.split(' ').count();
    let Some(i) = args.iter().position(|a| a == flag) else {
        return Ok(None);
    };
    match args.get(i + 1..i + 1 + n) {
        Some(v) => Ok(Some(v)),
        None => Err(anyhow!(
            "{flag} {names}: takes {n} values, given {:?}",
            &args[i + 1..]
        )),
    }
}

/// `v` as a `T` that `valid` accepts; the error says what `v` was and what is accepted.
fn number<T: std::str::FromStr>(
    v: &str,
    accepts: &str,
    valid: impl Fn(&T) -> bool,
) -> anyhow::Result<T> {
    v.trim()
        .parse()
        .ok()
        .filter(|x| valid(x))
        .ok_or_else(|| anyhow!("{v:?} is not accepted: expected {accepts}"))
}

/// Environment variable `name` through `parse`, or `default` when it is unset or empty.
fn env_or<T>(
    name: &str,
    default: T,
    parse: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => parse(&v).with_context(|| format!("environment variable {name}")),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(e) => Err(anyhow!("environment variable {name}: {e}")),
    }
}

/// A comma-separated environment variable, each item through `item` (empty items skipped).
fn env_list<T>(
    name: &str,
    default: Vec<T>,
    item: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    env_or(name, default, |v| {
        let items: Vec<T> = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(&item)
            .collect::<anyhow::Result<_>>()?;
        if items.is_empty() {
            anyhow::bail!("{v:?} lists nothing: expected a comma-separated list");
        }
        Ok(items)
    })
}

fn concurrency(v: &str) -> anyhow::Result<u32> {
    number(v, C_ACCEPTS, |&c: &u32| c >= 1)
}

fn window() -> anyhow::Result<Duration> {
    env_or("OVERHEAD_WINDOW_SECS", Duration::from_secs(3), |v| {
        let secs = number(v, WINDOW_ACCEPTS, |&s: &f64| s > 0.0)?;
        Duration::try_from_secs_f64(secs)
            .map_err(|_| anyhow!("{v:?} is too long: expected {WINDOW_ACCEPTS}"))
    })
}

/// The models a full run has unless told: the default ones that have a bare loop.
fn default_models() -> Vec<ModelKind> {
    ModelKind::SUBJECTS
        .iter()
        .copied()
        .filter(|&m| bare_loop(m).is_some())
        .collect()
}

/// A model by name, one that has a bare loop.
fn bare_model(name: &str) -> anyhow::Result<ModelKind> {
    let names = || {
        ModelKind::ALL
            .iter()
            .filter(|&&m| bare_loop(m).is_some())
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ModelKind::from_name(name) {
        Some(m) if bare_loop(m).is_some() => Ok(m),
        Some(_) => Err(anyhow!(
            "{name:?} has no bare loop: expected one of {}",
            names()
        )),
        None => Err(anyhow!(
            "{name:?} is not a model: expected one of {}",
            names()
        )),
    }
}

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

struct Bare {
    ops: u64,
    secs: f64,
    idle: TreeSample,
    peak_pss: u64,
    cpu: Rusage,
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
fn bare_loop(model: ModelKind) -> Option<BareLoop> {
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
        ModelKind::AsyncProcesses | ModelKind::IoUring => return None,
    };
    Some(run)
}

/// The ops `model` has in flight at concurrency `c`: its workers, threads, jobs, processes
/// or tasks.
fn in_flight(model: ModelKind, c: u32) -> u32 {
    match model {
        ModelKind::Sequential => 1,
        ModelKind::ThreadPool | ModelKind::Processes => c.min(POOL),
        ModelKind::Threads
        | ModelKind::TokioCurrentThread
        | ModelKind::AsyncStd
        | ModelKind::Smol
        | ModelKind::TokioMultiThread
        | ModelKind::AsyncProcesses
        | ModelKind::IoUring => c,
    }
}

/// `model`'s bare loop at concurrency `c` (a model that `bare_model` accepted).
fn run_case(model: ModelKind, c: u32, warmup: Duration, window: Duration) -> Bare {
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
fn bare_worker(path: &Path, i: usize, k: usize) {
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

/// Runs the same cells through `iobench run`; returns the path of a copy of its summary.
fn run_harness(plan: &Plan) -> PathBuf {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("overhead.toml");
    let quoted: Vec<String> = plan
        .models
        .iter()
        .map(|m| format!("\"{}\"", m.name()))
        .collect();
    std::fs::write(
        &scenario,
        format!(
            "name = \"overhead\"\n[run]\ntrials = {}\nwarmup = \"1s\"\nduration = \"{}ms\"\nmodels = [{}]\nconcurrency = {:?}\npool_size = {POOL}\nprocess_cap = {POOL}\n[[workload]]\nkind = \"sleep\"\nlatency = \"{}ms\"\n",
            plan.trials,
            plan.window.as_millis(),
            quoted.join(", "),
            plan.cs,
            latency().as_millis()
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    eprintln!("running the harness: iobench run {}", scenario.display());
    let status = Command::new(env!("CARGO_BIN_EXE_iobench"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "iobench run failed");
    let keep = PathBuf::from("target/overhead-summary.json");
    std::fs::copy(out.join("summary.json"), &keep).unwrap();
    keep
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Args { sleep, mode } = match Args::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bare_loops: {e:#}");
            return ExitCode::from(2);
        }
    };
    SLEEP.set(sleep).expect("the sleep is set once");
    match mode {
        Mode::BareWorker {
            path,
            index,
            workers,
        } => bare_worker(&path, index, workers),
        Mode::Case { model, c, window } => {
            raise_nofile_limit();
            let b = run_case(model, c, WARMUP, window);
            let cpu = b.cpu.user_secs + b.cpu.sys_secs;
            println!(
                "{} {} {} {} {}",
                b.ops as f64 / b.secs,
                b.peak_pss as f64 - b.idle.pss_bytes.unwrap_or(0) as f64,
                cpu * 1000.0 / b.ops.max(1) as f64,
                b.ops,
                b.secs
            );
        }
        // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without
        // it, and a test run should not spend minutes here.
        Mode::Skip => {
            println!("bare_loops: skipped (run it with `cargo bench --bench bare_loops`)")
        }
        // `cargo bench -- --test`: a smoke check that the bare loops still run, in a second.
        Mode::Smoke => {
            for model in [ModelKind::Threads, ModelKind::Processes, ModelKind::Smol] {
                let b = run_case(
                    model,
                    2,
                    Duration::from_millis(50),
                    Duration::from_millis(200),
                );
                let name = model.name();
                assert!(b.ops > 0, "the bare {name} loop ran no op");
                println!(
                    "bare_loops: {name} ran {} ops in {:.2} s: ok",
                    b.ops, b.secs
                );
            }
        }
        Mode::Full(plan) => {
            if let Err(e) = full(&plan) {
                eprintln!("bare_loops: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Every cell's bare loop (each in a process of its own) beside the harness's figures.
fn full(plan: &Plan) -> anyhow::Result<()> {
    let Plan {
        models,
        cs,
        trials,
        window,
        ..
    } = plan;
    // The harness's figures for the same cells (or a summary.json given to reuse).
    let summary_path = match &plan.summary {
        Some(p) => p.clone(),
        None => run_harness(plan),
    };
    let summary: Summary = std::fs::read_to_string(&summary_path)
        .map_err(anyhow::Error::from)
        .and_then(|s| Ok(serde_json::from_str(&s)?))
        .with_context(|| format!("the harness's summary {}", summary_path.display()))?;
    let harness = |m: ModelKind, c: u32| {
        (summary.cells.iter()).find(|x| x.model == m.name() && x.concurrency == c)
    };
    let missing: Vec<String> = (models.iter())
        .flat_map(|&m| cs.iter().map(move |&c| (m, c)))
        .filter(|&(m, c)| harness(m, c).is_none())
        .map(|(m, c)| format!("{} at C = {c}", m.name()))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the harness's summary {} has no cell of {}",
            summary_path.display(),
            missing.join(", ")
        );
    }

    let mut table = vec![
        format!(
            "sleep {:?}, window {:?}; bare = the model's loop with no measurement; harness = iobench run (median of {trials})",
            latency(),
            window
        ),
        "| model | C | bare eff. | harness eff. | Δ throughput | bare KiB/op | harness KiB/op | Δ KiB/op | bare CPU s/1k ops | harness CPU s/1k ops | harness p99 ms |".into(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|".into(),
    ];
    // The headline: (harness growth − bare growth) per in-flight op, per model and C.
    let mut headline: Vec<(ModelKind, u32, Option<f64>)> = Vec::new();
    for &m in models {
        let name = m.name();
        for &c in cs {
            eprintln!("bare loop: {name} at C = {c}");
            let exe = std::env::current_exe().unwrap();
            let o = Command::new(exe)
                .args(["--case", name, &c.to_string()])
                .output()
                .unwrap();
            let line = String::from_utf8_lossy(&o.stdout);
            let v: Vec<f64> = line
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if v.len() < 3 {
                table.push(format!(
                    "| {name} | {c} | bare loop failed: {} |",
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                ));
                headline.push((m, c, None));
                continue;
            }
            let (bare_tput, bare_mem, bare_cpu) = (v[0], v[1] / f64::from(c), v[2]);
            let cell = harness(m, c).expect("every cell was found above");
            let med = |f: Figure| cell.stat(f, Stat::Median);
            let ideal = f64::from(c) / latency().as_secs_f64();
            let (h_tput, h_mem, h_cpu, h_p99) = (
                med(Figure::Throughput),
                med(Figure::MemPerOp),
                med(Figure::CpuPer1kOps),
                med(Figure::P99),
            );
            // Medians of peak and idle (one trial: that trial's growth).
            let h_growth = med(Figure::PeakPss)
                .zip(med(Figure::IdlePss))
                .map(|(p, i)| p - i);
            headline.push((
                m,
                c,
                h_growth.map(|g| (g - v[1]) / f64::from(in_flight(m, c)) / 1024.0),
            ));
            let f = |x: Option<f64>, d: usize| x.map_or("-".into(), |x| format!("{x:.d$}"));
            table.push(format!(
                "| {name} | {c} | {:.3} | {} | {} | {:.2} | {} | {} | {:.4} | {} | {} |",
                bare_tput / ideal,
                f(h_tput.map(|t| t / ideal), 3),
                f(h_tput.map(|t| (t / bare_tput - 1.0) * 100.0), 1) + "%",
                bare_mem / 1024.0,
                f(h_mem.map(|x| x / 1024.0), 2),
                f(h_mem.map(|x| (x - bare_mem) / 1024.0), 2),
                bare_cpu,
                f(h_cpu, 4),
                f(h_p99.map(|x| x / 1000.0), 2),
            ));
        }
    }
    println!(
        "HARNESS MEMORY: iobench − bare, KiB per in-flight op (window growth of PSS; budget {HARNESS_KIB_BUDGET} KiB)"
    );
    println!("| model | {} |", cs.map_join(" | ", |c| format!("C = {c}")));
    println!("|---|{}", "---:|".repeat(cs.len()));
    for &m in models {
        let row = cs.map_join(" | ", |&c| {
            match headline.iter().find(|&&(hm, hc, _)| hm == m && hc == c) {
                Some((_, _, Some(d))) if *d > HARNESS_KIB_BUDGET => format!("**{d:.2}** (over)"),
                Some((_, _, Some(d))) => format!("{d:.2}"),
                _ => "-".into(),
            }
        });
        println!("| {} | {row} |", m.name());
    }
    println!();
    for l in table {
        println!("{l}");
    }
    let _ = std::io::stdout().flush();
    Ok(())
}

/// The harness's own memory that a cell may show, KiB per in-flight op.
const HARNESS_KIB_BUDGET: f64 = 0.25;

trait MapJoin<T> {
    fn map_join(&self, sep: &str, f: impl Fn(&T) -> String) -> String;
}

impl<T> MapJoin<T> for [T] {
    fn map_join(&self, sep: &str, f: impl Fn(&T) -> String) -> String {
        self.iter().map(f).collect::<Vec<_>>().join(sep)
    }
}
