//! Command-line definitions (clap). `main.rs` parses them and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::plan::ModelKind;
use crate::target::TargetKind;
use crate::units::HumanDuration;
use crate::workload::WorkloadKind;

#[derive(Parser, Debug)]
#[command(
    name = "iobench",
    version,
    about = "Measure what each execution model costs for the same I/O-bound work",
    long_about = "iobench runs identical I/O-bound operations under sequential code, a thread per \
in-flight op, a bounded thread pool, worker processes and single-thread event loops (tokio, \
async-std, smol), each trial in a fresh process, and records throughput, latency, memory and CPU.\n\n\
With no command it runs scenarios/quick.toml and writes reports/<timestamp>/.",
    after_help = "Examples:\n  iobench                                  run the default scenario\n  \
iobench run scenarios/full.toml          run another scenario\n  \
iobench run --models threads,smol --concurrency 10,1000 --duration 2s\n  \
iobench list                             show every workload and model\n  \
iobench report reports/latest            write a run's report again"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenarios: every cell, every trial in a fresh process, results in a run folder.
    #[command(
        after_help = "Examples:\n  iobench run\n  iobench run scenarios/full.toml --out /tmp/run1\n  \
iobench run --workloads sleep --models sequential,threads,tokio-current-thread --concurrency 1,100,1000 --trials 5"
    )]
    Run(RunArgs),
    /// Join the run folders of one run's shards (`run --shard I/N`) into one run folder:
    /// run.json, results.jsonl, summary.json and the report. Exit 2 for folders of
    /// different runs, overlapping shards, or a missing shard (unless --partial).
    #[command(
        after_help = "Examples:\n  iobench run scenarios/full.toml --shard 0/2 --out shards/0   # on one machine\n  \
iobench run scenarios/full.toml --shard 1/2 --out shards/1   # on another\n  \
iobench merge reports/full shards/0 shards/1"
    )]
    Merge {
        /// The new run folder.
        out: PathBuf,
        /// The shards' run folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Merge even when shards are missing (they are listed).
        #[arg(long)]
        partial: bool,
    },
    /// Check scenarios without running them: validate them (exit 2 for a malformed one,
    /// with its file, line and column), list their cells, and estimate the run's wall time
    /// from its trials' warm-ups and windows and the measured start cost of a trial. Takes
    /// `run`'s options; the same as `run --dry-run`.
    Check(RunArgs),
    /// List every workload and model with a one-line description and its parameters, and
    /// the models each SCENARIO given defines ([[model]]).
    List {
        /// Scenario files whose [[model]] tables to list.
        scenarios: Vec<PathBuf>,
    },
    /// Compare two runs cell by cell: improved, regressed, no change or inconclusive, from
    /// the trials' distributions. Exit 0 when the gate passes, 3 when it fails.
    #[command(
        after_help = "Examples:\n  iobench compare reports/base reports/latest\n  \
iobench run scenarios/ci.toml --save-baseline main\n  iobench compare --baseline main reports/latest\n\n\
A verdict needs both a significant change (Welch's t test on the trials' logarithms, Holm's\n\
correction over the gated table) and a large one (beyond --threshold). Throughput and p99\n\
are gated; memory and CPU are reported, and gated with --gate-all. A cell that now fails, a\n\
cell missing from NEW and a rise of the error rate also fail the gate. Each row says the\n\
smallest change it could detect, and an inconclusive one how many trials would resolve it.\n\
The Markdown table is printed, and appended to $GITHUB_STEP_SUMMARY when that is set."
    )]
    Compare(CompareArgs),
    /// Interleaved A/B: two builds run the same scenario with their trials alternating
    /// (A B or B A, shuffled per cell), then compared pair by pair. Exit 3 when B regressed.
    #[command(
        after_help = "Example:\n  iobench ab --a base/target/release/iobench --b target/release/iobench scenarios/ci.toml --out /tmp/ab\n\n\
Both sides share this machine's noise, which makes it the mode for shared CI runners;\n\
scripts/ci-perf-check.sh builds a base revision and runs it. Verdicts come from a paired t\n\
test on the log ratios B / A, Holm's correction over the gated table; failed trials of B and\n\
a rise of the error rate fail the gate, as in `compare`."
    )]
    Ab(AbArgs),
    /// Write a run folder's report again (report.html, report.md, charts/, summary.json)
    /// from its run.json and results.jsonl, also for an interrupted run.
    #[command(after_help = "Example:\n  iobench report reports/latest")]
    Report {
        /// The run folder (holding run.json and results.jsonl).
        dir: PathBuf,
        #[command(flatten)]
        export: ExportArgs,
    },
    /// Run an embedded target (a real server) and print the address it bound.
    #[command(
        after_help = "Example, the target on one machine and the load on another:\n  \
iobench serve echo --listen 0.0.0.0:7000      (on the target machine)\n  \
iobench run scenarios/quick.toml --workloads tcp-echo --target 10.0.0.2:7000"
    )]
    Serve {
        /// Which server.
        kind: TargetKind,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Exit when stdin closes (how `run` ties a target to its own life).
        #[arg(long, hide = true)]
        watch_stdin: bool,
        /// Count the requests answered in this file (how a run checks what its trials'
        /// workers claim).
        #[arg(long, hide = true, value_name = "FILE")]
        count: Option<std::path::PathBuf>,
    },
    /// Run one trial and print its JSON record (used by `run`).
    #[command(hide = true)]
    Trial {
        /// The cell, as JSON.
        #[arg(long)]
        cell: String,
        /// The trial's index within its cell.
        #[arg(long, default_value_t = 0)]
        trial: u32,
    },
    /// Serve a `processes` trial as a worker process over stdin and stdout (used by `trial`).
    #[command(hide = true)]
    Worker,
    /// Serve a server workload under one model until killed (used by `trial`).
    #[command(hide = true)]
    Sut {
        #[arg(long, value_parser = parse_model)]
        model: ModelKind,
        /// The server spec, as JSON.
        #[arg(long)]
        spec: String,
    },
}

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Scenario files to run, in order [default: scenarios/quick.toml].
    pub scenarios: Vec<PathBuf>,
    /// Run folder [default: reports/<UTC timestamp>/, and reports/latest points at it].
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in DIR: give the same scenarios and options (and use
    /// the same binary) as it was started with, which run.json records and which are
    /// checked; the trials in its results.jsonl are skipped, the rest run in the run's own
    /// order and are appended, and its summary and report are those of the whole run.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Run nothing: check the scenarios, list their cells and estimate the run's wall time
    /// (as `iobench check` does).
    #[arg(long)]
    pub dry_run: bool,
    /// Only these models, e.g. `threads,tokio-current-thread` (see `iobench list`), or
    /// models the scenario defines with [[model]].
    #[arg(long, value_delimiter = ',', value_name = "MODEL,...")]
    pub models: Option<Vec<String>>,
    /// Run one shard of the cells: I/N runs cell k (in the scenarios' order) where
    /// k mod N = I, so that N machines together run every cell once (`iobench merge`
    /// joins their folders). I may be `auto` ($JOB_COMPLETION_INDEX, as Kubernetes
    /// Indexed Jobs set it) or env:VAR.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Only these concurrency levels, e.g. `1,10,100`.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..), value_name = "C,...")]
    pub concurrency: Option<Vec<u32>>,
    /// Trials per cell (each in a fresh process).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    pub trials: Option<u32>,
    /// Warm-up before each measured window, e.g. `1s` (may be `0s`).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: Option<Duration>,
    /// Length of each measured window, e.g. `3s`.
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Point every network workload at this server (`host:port`, e.g. one started with
    /// `iobench serve` on another machine) instead of an embedded target.
    #[arg(long, value_name = "HOST:PORT")]
    pub target: Option<String>,
    /// Only these workloads of the scenario, e.g. `sleep`.
    #[arg(long, value_delimiter = ',', value_parser = parse_workload, value_name = "KIND,...")]
    pub workloads: Option<Vec<WorkloadKind>>,
    /// Also store the summary as reports/baselines/NAME.json (see `compare --baseline`).
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Seed of the order trials run in (each round's cells shuffled) [default: drawn from
    /// the clock; printed and kept in run.json, so that --seed repeats it].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub export: ExportArgs,
}

/// Exports for CI services, repeatable: `--export bmf bench.json --export csv bench.csv`.
#[derive(Args, Debug, Default)]
pub struct ExportArgs {
    /// Write the run's figures as FORMAT to FILE: bmf (Bencher Metric Format),
    /// github-action-benchmark (FILE: bigger-is-better array; FILE.smaller: the rest), csv.
    #[arg(long, num_args = 2, value_names = ["FORMAT", "FILE"], action = clap::ArgAction::Append)]
    pub export: Vec<String>,
}

impl ExportArgs {
    /// The (format, file) pairs asked for.
    pub fn pairs(&self) -> Result<Vec<(crate::export::Format, PathBuf)>, String> {
        use clap::ValueEnum;
        self.export
            .chunks(2)
            .map(|p| {
                let f = crate::export::Format::from_str(&p[0], true).map_err(|_| {
                    format!(
                        "unknown export format `{}`; expected bmf, github-action-benchmark or csv",
                        p[0]
                    )
                })?;
                Ok((f, PathBuf::from(&p[1])))
            })
            .collect()
    }
}

/// The regression gate's options, shared by `compare` and `ab`.
#[derive(Args, Debug)]
pub struct GateArgs {
    /// Noise threshold: changes smaller than this fraction are "no change".
    #[arg(long, default_value_t = 0.05, value_name = "FRACTION")]
    pub threshold: f64,
    /// Significance level for the whole gated table (Holm's step-down).
    #[arg(long, default_value_t = 0.01, value_name = "ALPHA")]
    pub significance: f64,
    /// How much the error rate (failed / all ops) may rise before it is a regression.
    #[arg(long, default_value_t = 0.001, value_name = "FRACTION")]
    pub max_error_rate: f64,
    /// Gate on memory and CPU too, not only throughput and p99 latency.
    #[arg(long)]
    pub gate_all: bool,
    /// Fail the gate when a gated comparison is inconclusive (a strict gate).
    #[arg(long)]
    pub fail_on_inconclusive: bool,
}

#[derive(Args, Debug)]
pub struct AbArgs {
    /// The base build (an iobench binary).
    #[arg(long, value_name = "BIN")]
    pub a: PathBuf,
    /// The new build.
    #[arg(long, value_name = "BIN")]
    pub b: PathBuf,
    /// Scenario files [default: scenarios/ci.toml].
    pub scenarios: Vec<PathBuf>,
    /// Folder for the two runs (OUT/a, OUT/b), compare.json and compare.html.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Trials per cell and side (pairs).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    pub trials: Option<u32>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Seed of the A-first / B-first order [default: drawn from the clock, and printed].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The base run: a run folder, its summary.json, or a saved baseline file.
    #[arg(value_name = "BASE", required_unless_present = "baseline")]
    pub base: Option<PathBuf>,
    /// The new run (same forms as BASE).
    #[arg(value_name = "NEW")]
    pub new: Option<PathBuf>,
    /// Use reports/baselines/NAME.json as BASE (saved with `run --save-baseline NAME`).
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// A cell of BASE missing from NEW (or skipped there) does not fail the gate.
    #[arg(long)]
    pub allow_missing: bool,
    /// Where to write the JSON verdicts [default: compare.json in NEW's folder]; compare.html, the same in the browser, goes beside it (FILE with .html).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

fn parse_model(s: &str) -> Result<ModelKind, String> {
    ModelKind::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
        format!("unknown model `{s}`; expected one of: {}", names.join(", "))
    })
}

fn parse_workload(s: &str) -> Result<WorkloadKind, String> {
    WorkloadKind::ALL
        .iter()
        .copied()
        .find(|k| k.name() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = WorkloadKind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "unknown workload `{s}`; expected one of: {}",
                names.join(", ")
            )
        })
}

/// A duration of `--warmup` or `--duration` (at most a week, as every duration).
fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<HumanDuration>().map(|h| h.0)
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}
