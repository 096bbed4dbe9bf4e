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

mod args;
mod loops;

use args::{Args, Mode, Plan};
use loops::*;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context;
use iobench::ModelKind;
use iobench::figure::Figure;
use iobench::measure::rusage::raise_nofile_limit;
use iobench::report::summary::{Stat, Summary};

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
                "{} {} {} {} {} {}",
                b.ops as f64 / b.secs,
                b.peak_pss as f64 - b.idle.pss_bytes.unwrap_or(0) as f64,
                cpu * 1000.0 / b.ops.max(1) as f64,
                b.ops,
                b.secs,
                b.peak_pss
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
        "| model | C | bare eff. | harness eff. | Δ throughput | bare KiB/op | harness KiB/op | Δ KiB/op | bare peak MB | harness peak MB | peak × | bare CPU s/1k ops | harness CPU s/1k ops | harness p99 ms |".into(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|".into(),
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
            if v.len() < 6 {
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
            let (bare_tput, bare_mem, bare_cpu, bare_peak) =
                (v[0], v[1] / f64::from(c), v[2], v[5]);
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
            let h_peak = med(Figure::PeakPss);
            table.push(format!(
                "| {name} | {c} | {:.3} | {} | {} | {:.2} | {} | {} | {:.1} | {} | {} | {:.4} | {} | {} |",
                bare_tput / ideal,
                f(h_tput.map(|t| t / ideal), 3),
                f(h_tput.map(|t| (t / bare_tput - 1.0) * 100.0), 1) + "%",
                bare_mem / 1024.0,
                f(h_mem.map(|x| x / 1024.0), 2),
                f(h_mem.map(|x| (x - bare_mem) / 1024.0), 2),
                bare_peak / 1e6,
                f(h_peak.map(|x| x / 1e6), 1),
                f(h_peak.map(|x| x / bare_peak), 2),
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
