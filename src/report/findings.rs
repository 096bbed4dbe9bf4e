//! Findings: each claim of the talk (DESIGN.md) with a verdict computed from this run's
//! cells, and the numbers behind it. A claim this run has no cells for is "not measured",
//! never guessed.

use crate::model::ModelKind;
use crate::report::summary::{CellStatus, CellSummary, Summary};
use crate::report::sweeps::{SweepKind, sweeps};
use crate::workload::RUN_TIME_PARAMS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    DoesNotHold,
    NotMeasured,
}

impl Verdict {
    /// Holds or does not hold.
    fn of(holds: bool) -> Verdict {
        if holds {
            Verdict::Holds
        } else {
            Verdict::DoesNotHold
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::NotMeasured => "not measured in this run",
        }
    }
}

pub struct Finding {
    pub claim: &'static str,
    pub verdict: Verdict,
    /// The numbers behind the verdict, or what would measure it.
    pub evidence: String,
}

const SINGLE_LOOP: [ModelKind; 3] = [
    ModelKind::TokioCurrentThread,
    ModelKind::AsyncStd,
    ModelKind::Smol,
];

fn ok(c: &CellSummary) -> bool {
    matches!(c.status, CellStatus::Ok | CellStatus::Partial)
}

fn model(c: &CellSummary) -> Option<ModelKind> {
    ModelKind::from_name(&c.model)
}

/// Cells of one workload (same kind, parameters and mode), by model and concurrency.
fn groups(s: &Summary) -> Vec<Vec<&CellSummary>> {
    let mut out: Vec<Vec<&CellSummary>> = Vec::new();
    for c in s.cells.iter().filter(|c| ok(c)) {
        let key = |d: &CellSummary| (d.workload.clone(), d.params.to_string(), d.mode.clone());
        match out.iter_mut().find(|g| key(g[0]) == key(c)) {
            Some(g) => g.push(c),
            None => out.push(vec![c]),
        }
    }
    out
}

fn find<'a>(g: &[&'a CellSummary], m: ModelKind, c: u32) -> Option<&'a CellSummary> {
    g.iter()
        .copied()
        .find(|x| model(x) == Some(m) && x.concurrency == c)
}

/// The label of a workload, e.g. `sleep[latency=10ms]`.
pub fn label(c: &CellSummary) -> String {
    let params: Vec<String> = c
        .params
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !RUN_TIME_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{}[{}]", c.workload, params.join(","))
}

fn kib(b: f64) -> String {
    if b.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}×", a / b)
    } else {
        "-".into()
    }
}

/// Threads a model used of its own: the tree's peak less the harness's.
fn own_threads(c: &CellSummary) -> Option<f64> {
    Some(c.value("peak_threads")? - c.value("harness_threads").unwrap_or(0.0))
}

fn one_thread(s: &Summary) -> Finding {
    let claim = "Async runs everything in one thread, cooperatively: code pauses on I/O and resumes on readiness.";
    // The single-loop model with the most ops in flight on the fewest threads.
    let mut best: Option<(&CellSummary, f64, f64)> = None;
    for c in s.cells.iter().filter(|c| ok(c)) {
        let Some(m) = model(c) else { continue };
        if !SINGLE_LOOP.contains(&m) {
            continue;
        }
        let (Some(t), Some(a)) = (own_threads(c), c.value("achieved_concurrency")) else {
            continue;
        };
        if best.is_none_or(|(_, bt, ba)| (t, -a) < (bt, -ba)) {
            best = Some((c, t, a));
        }
    }
    let Some((c, threads, achieved)) = best else {
        return Finding {
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "no single-thread event-loop model (tokio-current-thread, async-std, smol) ran in this run".into(),
        };
    };
    let verdict = if threads <= 1.0 && achieved >= 2.0 {
        Verdict::Holds
    } else {
        Verdict::DoesNotHold
    };
    Finding {
        claim,
        verdict,
        evidence: format!(
            "{} kept {:.0} ops in flight on average (C = {}, {}) on {:.0} thread(s) of its own",
            c.model,
            achieved,
            c.concurrency,
            label(c),
            threads
        ),
    }
}

/// The group and concurrency where `a` (the lowest of a set) and `b` both ran, largest C.
fn common<'a>(
    gs: &[Vec<&'a CellSummary>],
    a: &[ModelKind],
    b: ModelKind,
    metric: &str,
    min_c: u32,
) -> Option<(&'a CellSummary, &'a CellSummary)> {
    let mut best: Option<(&CellSummary, &CellSummary)> = None;
    for g in gs {
        for cb in g
            .iter()
            .filter(|c| model(c) == Some(b) && c.concurrency >= min_c)
        {
            let ca = a
                .iter()
                .filter_map(|&m| find(g, m, cb.concurrency))
                .filter(|c| c.value(metric).is_some())
                .min_by(|x, y| {
                    x.value(metric)
                        .partial_cmp(&y.value(metric))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
            if let Some(ca) = ca
                && cb.value(metric).is_some()
                && best.is_none_or(|(_, pb)| cb.concurrency > pb.concurrency)
            {
                best = Some((ca, cb));
            }
        }
    }
    best
}

fn cheaper_than_processes(s: &Summary) -> Finding {
    let claim = "It is easier than multithreaded code and cheaper than multiple processes.";
    let gs = groups(s);
    let Some((a, p)) = common(&gs, &SINGLE_LOOP, ModelKind::Processes, "peak_pss_bytes", 2) else {
        return Finding {
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "needs a single-thread event loop and the processes model at the same concurrency (≥ 2)".into(),
        };
    };
    let (am, pm) = (
        a.value("peak_pss_bytes").unwrap_or(0.0),
        p.value("peak_pss_bytes").unwrap_or(0.0),
    );
    let (acpu, pcpu) = (
        a.value("cpu_secs_per_1k_ops"),
        p.value("cpu_secs_per_1k_ops"),
    );
    let cpu_ok = match (acpu, pcpu) {
        (Some(x), Some(y)) => x <= y,
        _ => true,
    };
    let cpu = match (acpu, pcpu) {
        (Some(x), Some(y)) => format!("; CPU {x:.4} vs {y:.4} s per 1,000 ops ({})", ratio(y, x)),
        _ => String::new(),
    };
    Finding {
        claim,
        verdict: if am < pm && cpu_ok {
            Verdict::Holds
        } else {
            Verdict::DoesNotHold
        },
        evidence: format!(
            "at C = {} ({}), {} peaked at {} (PSS) and processes at {} ({}){cpu}. \"Easier\" is not a measurement.",
            a.concurrency,
            label(a),
            a.model,
            kib(am),
            kib(pm),
            ratio(pm, am),
        ),
    }
}

fn hundreds_in_one_program(s: &Summary) -> Finding {
    let claim = "It makes better use of I/O capacity and of the CPU: hundreds of operations in one program.";
    let gs = groups(s);
    let Some((a, t)) = common(
        &gs,
        &SINGLE_LOOP,
        ModelKind::Threads,
        "mem_per_op_bytes",
        100,
    ) else {
        return Finding {
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "needs a single-thread event loop and the threads model at the same concurrency of 100 or more".into(),
        };
    };
    let tput = |c: &CellSummary| c.value("throughput_ops_per_sec").unwrap_or(0.0);
    let (am, tm) = (
        a.value("mem_per_op_bytes").unwrap_or(0.0),
        t.value("mem_per_op_bytes").unwrap_or(0.0),
    );
    let cpu = |c: &CellSummary| c.value("cpu_secs_per_1k_ops");
    let holds = tput(a) >= 0.9 * tput(t)
        && am < tm
        && match (cpu(a), cpu(t)) {
            (Some(x), Some(y)) => x <= y * 1.1,
            _ => true,
        };
    Finding {
        claim,
        verdict: Verdict::of(holds),
        evidence: format!(
            "at {} in flight ({}), {} did {:.0} ops/s with {} per op and threads {:.0} ops/s with {} per op ({} the memory){}",
            a.concurrency,
            label(a),
            a.model,
            tput(a),
            kib(am),
            tput(t),
            kib(tm),
            ratio(tm, am),
            match (cpu(a), cpu(t)) {
                (Some(x), Some(y)) => format!("; CPU {x:.4} vs {y:.4} s per 1,000 ops"),
                _ => String::new(),
            }
        ),
    }
}

fn not_measured(claim: &'static str, what: &str) -> Finding {
    Finding {
        claim,
        verdict: Verdict::NotMeasured,
        evidence: what.to_string(),
    }
}

/// Where the crossover sweep puts the line between waiting and computing: the first
/// compute / wait at which one event loop falls behind the thread pool.
fn waiting_outweighs_computing(s: &Summary) -> Finding {
    let claim = "Its place is I/O-bound work (network, disk, databases), where waiting outweighs computing.";
    let (lp, pool) = (ModelKind::TokioCurrentThread, ModelKind::ThreadPool);
    let tput = "throughput_ops_per_sec";
    // Per sweep: its label and, per compute / wait, the loop's and the pool's ops/s.
    type Line = (f64, f64, f64);
    let found: Vec<(String, Vec<Line>)> = sweeps(s)
        .into_iter()
        .filter(|w| w.kind == SweepKind::Crossover)
        .filter_map(|w| {
            let xs: Vec<Line> = w
                .xs()
                .into_iter()
                .filter_map(|x| Some((x, w.at(lp, x, tput)?, w.at(pool, x, tput)?)))
                .collect();
            (xs.len() >= 2).then_some((w.label, xs))
        })
        .collect();
    if found.is_empty() {
        return not_measured(
            claim,
            "needs a cpu-mix sweep of compute against wait with tokio-current-thread and thread-pool (scenarios/crossover.toml)",
        );
    }
    let at = |(x, a, b): Line| format!("{x:.2} ({a:.0} vs {b:.0} ops/s)");
    let mut holds = true;
    let mut evidence = Vec::new();
    for (label, xs) in &found {
        // Behind: below 90% of the pool, so that noise between equals decides nothing.
        match xs.iter().position(|&(_, a, b)| a < 0.9 * b) {
            Some(0) => {
                holds = false;
                evidence.push(format!(
                    "{label}: tokio-current-thread is more than 10% behind the thread pool from the lowest compute / wait, {}",
                    at(xs[0])
                ));
            }
            Some(k) => evidence.push(format!(
                "{label}: tokio-current-thread keeps within 10% of the thread pool up to compute / wait {} and falls behind at {}; the line lies between {:.2} and {:.2}",
                at(xs[k - 1]),
                at(xs[k]),
                xs[k - 1].0,
                xs[k].0
            )),
            None => {
                holds = false;
                evidence.push(format!(
                    "{label}: tokio-current-thread kept within 10% of the thread pool at every compute / wait up to {}",
                    at(xs[xs.len() - 1])
                ));
            }
        }
    }
    Finding {
        claim,
        verdict: Verdict::of(holds),
        evidence: evidence.join("; "),
    }
}

/// The stall sweep: what one op in N blocking its thread does to an event loop, and to
/// threads.
fn cpu_heavy_stalls(s: &Summary) -> Finding {
    let claim = "Its downside: one thread, so CPU-heavy work stalls everything.";
    let (lp, th) = (ModelKind::TokioCurrentThread, ModelKind::Threads);
    let (tput, p99) = ("throughput_ops_per_sec", "latency_us.p99");
    let found = sweeps(s)
        .into_iter()
        .filter(|w| w.kind == SweepKind::Stall)
        .find_map(|w| {
            let x = *w.xs().last()?;
            let get = |m, x, f| w.at(m, x, f);
            Some((
                w.label.clone(),
                x,
                [
                    get(lp, 0.0, tput)?,
                    get(lp, x, tput)?,
                    get(lp, 0.0, p99)?,
                    get(lp, x, p99)?,
                ],
                [get(th, 0.0, tput)?, get(th, x, tput)?],
            ))
        });
    let Some((label, x, [l0, l1, p0, p1], [t0, t1])) = found else {
        return not_measured(
            claim,
            "needs sleep or cpu-mix cells with and without block_every, on tokio-current-thread and threads (scenarios/crossover.toml)",
        );
    };
    let (loop_kept, threads_kept) = (l1 / l0, t1 / t0);
    let holds = loop_kept < 0.8 && loop_kept < threads_kept;
    Finding {
        claim,
        verdict: Verdict::of(holds),
        evidence: format!(
            "{label}: with one op in {:.0} blocking its thread, tokio-current-thread went from {l0:.0} to {l1:.0} ops/s ({:.0}% kept) and its p99 from {:.1} to {:.1} ms; threads went from {t0:.0} to {t1:.0} ops/s ({:.0}% kept)",
            1.0 / x,
            loop_kept * 100.0,
            p0 / 1000.0,
            p1 / 1000.0,
            threads_kept * 100.0
        ),
    }
}

/// Every claim, in the talk's order.
pub fn findings(s: &Summary) -> Vec<Finding> {
    vec![
        one_thread(s),
        cheaper_than_processes(s),
        hundreds_in_one_program(s),
        waiting_outweighs_computing(s),
        cpu_heavy_stalls(s),
    ]
}
