//! `cargo bench --bench models`: each model's time for a batch of operations, measured by
//! criterion. Workloads: sleep (1 ms), tcp-echo (64 B) and http-get (`/`) against the
//! embedded targets, with no server delay; every model at C = 1 and C = 64.
//!
//! One criterion iteration is one operation. For a batch of N, the bench runs one trial in
//! counted mode (`RunCell::ops`): the same `iobench trial` child process that `iobench run`
//! starts builds the model's runtime, workers and sessions first, then the workers share
//! the N ops among them, and the trial reports the time from the first op's start to the
//! moment its model returned after the last. That time is what criterion gets
//! (`iter_custom`): process start and setup stay outside it. Every op is verified as in any
//! run, and a batch with a failed op stops the bench.
//!
//! A batch has at least 200 ops per op the model keeps in flight. Criterion sizes its
//! batches from warm-up calls whose wall time includes the trial's setup (64 worker
//! processes take a fifth of a second to start), and would otherwise time batches of a few
//! ops, most of them spent in the burst of C workers waking at once. When a batch has more
//! ops than criterion asked for, it gets the batch's time per op × the ops it asked for.
//!
//! The embedded targets start once per group (one group per workload) and stop with it.
//! Select with criterion's filter, e.g. `cargo bench --bench models -- tcp-echo/smol`.
//! `cargo bench -- --test` runs each benchmark once, as a smoke check.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use iobench::orchestrator::run_one;
use iobench::plan::RunCell;
use iobench::record::TrialStatus;
use iobench::scenario::Scenario;
use iobench::{Cell, ModelKind};

const SCENARIO: &str = r#"
name = "cargo-bench"
description = "criterion: a batch of ops per model"

[run]
concurrency = [1, 64]
trials = 1

[[workload]]
kind = "sleep"
latency = "1ms"

[[workload]]
kind = "tcp-echo"
payload = "64B"

[[workload]]
kind = "http-get"
"#;

/// A counted trial may take this long before the orchestrator kills it.
const TRIAL_TIMEOUT: Duration = Duration::from_secs(120);

/// The fewest ops a batch has, per op the model keeps in flight.
const MIN_ROUNDS: u64 = 200;

/// How many ops `cell`'s model keeps in flight at once.
fn in_flight(cell: &Cell) -> u64 {
    let c = cell.concurrency;
    u64::from(match cell.model {
        ModelKind::Sequential => 1,
        ModelKind::ThreadPool => c.min(cell.pool_size),
        ModelKind::Processes => c.min(cell.process_cap),
        _ => c,
    })
}

/// Runs at least `iters` ops of `cell` in one trial and returns the time `iters` of them
/// took: the batch's time, or its time per op × `iters` when the batch had more.
fn batch(exe: &Path, cell: &RunCell, iters: u64, min_rounds: u64) -> Duration {
    let mut cell = cell.clone();
    let ops = iters.max(min_rounds * in_flight(&cell));
    cell.ops = Some(ops);
    cell.cell.trial_timeout.0 = TRIAL_TIMEOUT;
    let r = run_one(exe, &cell, 0).expect("start a trial");
    let f = &r.figures;
    assert!(
        r.status == TrialStatus::Ok && f.errors.is_empty(),
        "{}: the batch failed: {:?} {:?}",
        cell.id,
        r.reason,
        f.error_samples
    );
    assert_eq!(f.ops, Some(ops), "{}: ops run", cell.id);
    let secs = f.window_secs.expect("a counted window has a length");
    Duration::from_secs_f64(secs * iters as f64 / ops as f64)
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    // `cargo bench -- --test` runs each benchmark once, on one op: a smoke check.
    let min_rounds = match std::env::args().any(|a| a == "--test") {
        true => 0,
        false => MIN_ROUNDS,
    };
    let exe = Path::new(env!("CARGO_BIN_EXE_iobench"));
    let scenario = Scenario::parse(SCENARIO, Path::new("benches/models.rs")).expect("scenario");
    let cells = scenario.cells();
    let mut groups: Vec<(String, Vec<RunCell>)> = Vec::new();
    for cell in cells.into_iter().map(RunCell::new) {
        let name = cell.workload.kind().name().to_string();
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, g)) => g.push(cell),
            None => groups.push((name, vec![cell])),
        }
    }
    for (name, mut cells) in groups {
        // Started once for the group; dropped (stopped) at its end.
        let _targets = iobench::run::prepare(exe, &mut cells).expect("start the targets");
        let mut group = c.benchmark_group(&name);
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(1));
        for cell in &cells {
            let id = format!("{}/c{}", cell.model.name(), cell.concurrency);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| batch(exe, cell, iters, min_rounds))
            });
        }
        group.finish();
    }
    c.final_summary();
}
