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
//! `OVERHEAD_SLEEP_MS=1000` (the sleep of every op; 10 unless set).
//!
//! A bare loop counts finished ops in a per-worker atomic counter (processes: in a shared
//! file mapping) that the coordinator reads at the window's start and end, and reads the
//! clock once per op to stop on its own; memory is read from /proc the same way the harness
//! reads it, outside the loop. Bare worker processes are exec'd like the model's.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iobench::measure::memory::{TreeSample, sample_tree};
use iobench::measure::rusage::{Rusage, raise_nofile_limit};

/// How long each op sleeps: `OVERHEAD_SLEEP_MS` (10 ms unless set; 1000 for a run of a
/// million tasks, which one thread could not serve every 10 ms). Worker processes read the
/// same variable, which they inherit.
fn latency() -> Duration {
    static L: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *L.get_or_init(|| {
        Duration::from_millis(
            std::env::var("OVERHEAD_SLEEP_MS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(10),
        )
    })
}
const POOL: u32 = 64;

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

fn run_case(model: &str, c: u32, warmup: Duration, window: Duration) -> Bare {
    match model {
        "sequential" | "threads" => {
            let n = if model == "sequential" { 1 } else { c };
            let idle = sample_tree(std::process::id());
            // All threads start together (like the harness's gate), so spawning 10,000
            // threads on a loaded machine does not eat into their run.
            let start = Arc::new(std::sync::Barrier::new(n as usize + 1));
            let shared = Arc::new(std::sync::OnceLock::<Arc<Shared>>::new());
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
        "thread-pool" => {
            let k = c.min(POOL) as usize;
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
        "processes" => processes_case(c.min(POOL), warmup, window),
        "tokio-current-thread" | "tokio-multi-thread" => {
            let rt = if model == "tokio-current-thread" {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .unwrap()
            };
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
            async_case(c, warmup, window, move |s, c| {
                rt.block_on(async move {
                    let hs: Vec<_> = (0..c as usize)
                        .map(|i| {
                            let s = s.clone();
                            tokio::spawn(async move {
                                while s.running() {
                                    tokio::time::sleep(latency()).await;
                                    s.done(i);
                                }
                            })
                        })
                        .collect();
                    for h in hs {
                        h.await.unwrap();
                    }
                })
            })
        }
        "async-std" => {
            async_std::task::block_on(async_std::task::sleep(Duration::from_millis(1)));
            async_case(c, warmup, window, |s, c| {
                async_std::task::block_on(async move {
                    let hs: Vec<_> = (0..c as usize)
                        .map(|i| {
                            let s = s.clone();
                            async_std::task::spawn_local(async move {
                                while s.running() {
                                    async_std::task::sleep(latency()).await;
                                    s.done(i);
                                }
                            })
                        })
                        .collect();
                    for h in hs {
                        h.await;
                    }
                })
            })
        }
        "smol" => async_case(c, warmup, window, |s, c| {
            let ex = smol::LocalExecutor::new();
            smol::block_on(ex.run(async {
                let hs: Vec<_> = (0..c as usize)
                    .map(|i| {
                        let s = s.clone();
                        ex.spawn(async move {
                            while s.running() {
                                smol::Timer::after(latency()).await;
                                s.done(i);
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await;
                }
            }))
        }),
        other => panic!("no bare loop for model {other}"),
    }
}

/// Counters in a shared file mapping: slot `i` for worker `i`, slot `k` is the stop flag.
fn map_counters(path: &std::path::Path, slots: usize) -> &'static [Counter] {
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
fn bare_worker(path: &str, i: usize, k: usize) {
    let slots = map_counters(std::path::Path::new(path), k + 1);
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

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Runs the same cells through `iobench run`; returns the path of a copy of its summary.
fn run_harness(models: &[String], cs: &[u32], trials: u32, window: Duration) -> std::path::PathBuf {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("overhead.toml");
    let quoted: Vec<String> = models.iter().map(|m| format!("\"{m}\"")).collect();
    std::fs::write(
        &scenario,
        format!(
            "name = \"overhead\"\n[run]\ntrials = {trials}\nwarmup = \"1s\"\nduration = \"{}ms\"\nmodels = [{}]\nconcurrency = {cs:?}\npool_size = {POOL}\nprocess_cap = {POOL}\n[[workload]]\nkind = \"sleep\"\nlatency = \"{}ms\"\n",
            window.as_millis(),
            quoted.join(", "),
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
    let keep = std::path::PathBuf::from("target/overhead-summary.json");
    std::fs::copy(out.join("summary.json"), &keep).unwrap();
    keep
}

const MODELS: &str = "sequential,threads,thread-pool,processes,tokio-current-thread,async-std,smol,tokio-multi-thread";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let window = Duration::from_secs_f64(
        std::env::var("OVERHEAD_WINDOW_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    );
    let warmup = Duration::from_secs(1);
    if let Some(i) = args.iter().position(|a| a == "--bare-worker") {
        bare_worker(
            &args[i + 1],
            args[i + 2].parse().unwrap(),
            args[i + 3].parse().unwrap(),
        );
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--case") {
        raise_nofile_limit();
        let (model, c): (&str, u32) = (&args[i + 1], args[i + 2].parse().unwrap());
        let b = run_case(model, c, warmup, window);
        let cpu = b.cpu.user_secs + b.cpu.sys_secs;
        println!(
            "{} {} {} {} {}",
            b.ops as f64 / b.secs,
            b.peak_pss as f64 - b.idle.pss_bytes.unwrap_or(0) as f64,
            cpu * 1000.0 / b.ops.max(1) as f64,
            b.ops,
            b.secs
        );
        return;
    }
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it,
    // and a test run should not spend minutes here.
    if !args.iter().any(|a| a == "--bench") {
        println!("bare_loops: skipped (run it with `cargo bench --bench bare_loops`)");
        return;
    }
    // `cargo bench -- --test`: a smoke check that the bare loops still run, in a second.
    if args.iter().any(|a| a == "--test") {
        for model in ["threads", "processes", "smol"] {
            let b = run_case(
                model,
                2,
                Duration::from_millis(50),
                Duration::from_millis(200),
            );
            assert!(b.ops > 0, "the bare {model} loop ran no op");
            println!(
                "bare_loops: {model} ran {} ops in {:.2} s: ok",
                b.ops, b.secs
            );
        }
        return;
    }
    let models = env_list("OVERHEAD_MODELS", MODELS);
    let cs: Vec<u32> = env_list("OVERHEAD_C", "1,100,1000,10000")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let trials: u32 = std::env::var("OVERHEAD_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);

    // The harness's figures for the same cells (or a summary.json given to reuse).
    let summary_path = match std::env::var("OVERHEAD_HARNESS_SUMMARY") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => run_harness(&models, &cs, trials, window),
    };
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();

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
    let mut headline: Vec<(String, u32, Option<f64>)> = Vec::new();
    for m in &models {
        for &c in &cs {
            eprintln!("bare loop: {m} at C = {c}");
            let exe = std::env::current_exe().unwrap();
            let o = Command::new(exe)
                .args(["--case", m, &c.to_string()])
                .output()
                .unwrap();
            let line = String::from_utf8_lossy(&o.stdout);
            let v: Vec<f64> = line
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if v.len() < 3 {
                table.push(format!(
                    "| {m} | {c} | bare loop failed: {} |",
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                ));
                headline.push((m.clone(), c, None));
                continue;
            }
            let (bare_tput, bare_mem, bare_cpu) = (v[0], v[1] / f64::from(c), v[2]);
            let cell = summary["cells"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["model"] == m.as_str() && x["concurrency"] == c)
                .unwrap();
            let med = |path: &str| path.split('.').fold(cell, |v, k| &v[k])["median"].as_f64();
            let ideal = f64::from(c) / latency().as_secs_f64();
            let (h_tput, h_mem, h_cpu, h_p99) = (
                med("throughput_ops_per_sec"),
                med("mem_per_op_bytes"),
                med("cpu_secs_per_1k_ops"),
                med("latency_us.p99"),
            );
            let in_flight = match m.as_str() {
                "sequential" => 1,
                "thread-pool" | "processes" => c.min(POOL),
                _ => c,
            };
            // Medians of peak and idle (one trial: that trial's growth).
            let h_growth = med("peak_pss_bytes")
                .zip(med("idle_pss_bytes"))
                .map(|(p, i)| p - i);
            headline.push((
                m.clone(),
                c,
                h_growth.map(|g| (g - v[1]) / f64::from(in_flight) / 1024.0),
            ));
            let f = |x: Option<f64>, d: usize| x.map_or("-".into(), |x| format!("{x:.d$}"));
            table.push(format!(
                "| {m} | {c} | {:.3} | {} | {} | {:.2} | {} | {} | {:.4} | {} | {} |",
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
    for m in &models {
        let row = cs.map_join(" | ", |&c| {
            match headline.iter().find(|(hm, hc, _)| hm == m && *hc == c) {
                Some((_, _, Some(d))) if *d > HARNESS_KIB_BUDGET => format!("**{d:.2}** (over)"),
                Some((_, _, Some(d))) => format!("{d:.2}"),
                _ => "-".into(),
            }
        });
        println!("| {m} | {row} |");
    }
    println!();
    for l in table {
        println!("{l}");
    }
    let _ = std::io::stdout().flush();
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
