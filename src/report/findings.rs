//! Findings: each claim of the talk (DESIGN.md) with a verdict computed from this run's
//! cells, and the numbers behind it. A claim this run has no cells for is "not measured",
//! never guessed.
//!
//! # How a verdict is reached
//! 1. A claim is checked on every comparison of cells it applies to (every single-loop
//!    model against processes at every workload and concurrency both ran, and so on), not
//!    on the most favourable one.
//! 2. A difference between two cells counts only where it exceeds the trials' spread: the
//!    ranges (min–max over the ok trials) of the two cells do not overlap. A comparison
//!    whose ranges overlap, or whose cells have fewer than two ok trials (no spread to
//!    judge by), is "within the trials' range": it neither holds nor fails. (The trials'
//!    range, not `compare`'s interval: three trials are the default, and a t interval from
//!    three is wide and assumes a shape the range does not.)
//! 3. The claim holds where no comparison fails and more hold than lie within the range;
//!    it does not hold the other way round; where some hold and some fail it is "mixed",
//!    and otherwise "undecided". The evidence says how many agree and names each
//!    comparison's cells (workload label, model, C), with their ranges.

use crate::figure::Figure;
use crate::plan::ModelKind;
use crate::report::summary::{CellStatus, CellSummary, Stat, Summary};
use crate::report::sweeps::{Sweep, SweepKind, sweeps};
use crate::workload::RUN_TIME_PARAMS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    DoesNotHold,
    /// Some comparisons hold and some fail.
    Mixed,
    /// Every comparison lies within the trials' range (or most do, and none decides).
    Undecided,
    NotMeasured,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Mixed => "mixed",
            Verdict::Undecided => "undecided (within the trials' range)",
            Verdict::NotMeasured => "not measured in this run",
        }
    }
}

pub struct Finding {
    pub claim: &'static str,
    pub verdict: Verdict,
    /// The numbers behind the verdict, or what would measure it.
    pub evidence: String,
    /// The ids of the cells the verdict read.
    pub cells: Vec<String>,
}

/// How one comparison came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Holds,
    Fails,
    /// The trials' ranges overlap, or a cell has no spread to judge by.
    Within,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Fails => "does not hold",
            Outcome::Within => "within the trials' range",
        }
    }
}

/// One comparison behind a verdict.
struct Check {
    outcome: Outcome,
    /// What it compared and found, naming its cells.
    text: String,
    cells: Vec<String>,
}

impl Check {
    /// Two cells compared: all of `parts` must hold.
    fn of_pair(parts: &[Outcome], text: String, a: &CellSummary, b: &CellSummary) -> Check {
        Check {
            outcome: all(parts),
            text,
            cells: vec![a.id.clone(), b.id.clone()],
        }
    }
}

/// A figure's spread over a cell's ok trials.
#[derive(Clone, Copy, Debug)]
struct Range {
    lo: f64,
    hi: f64,
    /// The cell's value (median, or the merged percentile).
    mid: f64,
    /// Ok trials.
    n: f64,
}

fn range(c: &CellSummary, f: Figure) -> Option<Range> {
    Some(Range {
        lo: c.stat(f, Stat::Min)?,
        hi: c.stat(f, Stat::Max)?,
        mid: c.value(f)?,
        n: c.stat(f, Stat::N).unwrap_or(1.0),
    })
}

impl Range {
    fn scaled(self, k: f64) -> Range {
        Range {
            lo: self.lo * k,
            hi: self.hi * k,
            mid: self.mid * k,
            n: self.n,
        }
    }

    /// The ratio self / other, its range the widest the two ranges allow.
    fn over(self, other: Range) -> Option<Range> {
        (other.lo > 0.0).then(|| Range {
            lo: self.lo / other.hi,
            hi: self.hi / other.lo,
            mid: self.mid / other.mid,
            n: self.n.min(other.n),
        })
    }
}

/// Whether `a` is below `b`, beyond both cells' trials: holds where a's highest trial is
/// under b's lowest, fails where a's lowest is at or over b's highest.
fn below(a: Range, b: Range) -> Outcome {
    if a.n < 2.0 || b.n < 2.0 {
        Outcome::Within
    } else if a.hi < b.lo {
        Outcome::Holds
    } else if a.lo >= b.hi {
        Outcome::Fails
    } else {
        Outcome::Within
    }
}

/// Every part must hold for the whole to hold; any part that fails fails it.
fn all(parts: &[Outcome]) -> Outcome {
    if parts.contains(&Outcome::Fails) {
        Outcome::Fails
    } else if parts.iter().all(|&o| o == Outcome::Holds) {
        Outcome::Holds
    } else {
        Outcome::Within
    }
}

/// A guard: fails only where it is clearly broken (`a` clearly below `b`); never decides
/// a claim by itself.
fn guard_not_below(a: Range, b: Range) -> Outcome {
    match below(a, b) {
        Outcome::Holds => Outcome::Fails,
        _ => Outcome::Holds,
    }
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

/// Where a comparison's cells lie: the workload, its concurrency and, if not closed, mode.
fn place(c: &CellSummary) -> String {
    let mode = match c.mode.as_str() {
        "closed" => String::new(),
        m => format!(", {m} loop"),
    };
    format!("{} C = {}{mode}", label(c), c.concurrency)
}

fn kib(b: f64) -> String {
    if b.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

/// A range as text, in the unit `unit` gives.
fn show(r: Range, unit: impl Fn(f64) -> String) -> String {
    format!("{} ({}–{})", unit(r.mid), unit(r.lo), unit(r.hi))
}

fn ops(x: f64) -> String {
    format!("{x:.0}")
}

fn cpu(x: f64) -> String {
    format!("{x:.4}")
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The finding from its checks: the verdict, and how many agree.
/// A claim of the talk: its words, what a run needs to judge it, and a note the evidence
/// ends with.
struct Claim {
    text: &'static str,
    needs: &'static str,
    note: &'static str,
}

/// The talk's claim 1.
const ONE_THREAD: Claim = Claim {
    text: "Async runs everything in one thread, cooperatively: code pauses on I/O and resumes on readiness.",
    needs: "needs a single-thread event-loop model (tokio-current-thread, async-std, smol) at two concurrencies of one workload",
    note: "",
};

/// The talk's claim 2.
const CHEAPER_THAN_PROCESSES: Claim = Claim {
    text: "It is easier than multithreaded code and cheaper than multiple processes.",
    needs: "needs a single-thread event loop and the processes model at the same concurrency (≥ 2)",
    note: ". \"Easier\" is not a measurement.",
};

/// The talk's claim 3.
const HUNDREDS_IN_ONE_PROGRAM: Claim = Claim {
    text: "It makes better use of I/O capacity and of the CPU: hundreds of operations in one program.",
    needs: "needs a single-thread event loop and the threads model at the same concurrency of 100 or more",
    note: "",
};

/// The talk's claim 4.
const WAITING_OUTWEIGHS_COMPUTING: Claim = Claim {
    text: "Its place is I/O-bound work (network, disk, databases), where waiting outweighs computing.",
    needs: "needs a cpu-mix sweep of compute against wait with a single-thread event loop and thread-pool (scenarios/crossover.toml)",
    note: "",
};

/// The talk's claim 5.
const CPU_HEAVY_STALLS: Claim = Claim {
    text: "Its downside: one thread, so CPU-heavy work stalls everything.",
    needs: "needs cpu-mix cells where one op in N computes (block_every) and where none does (compute = 0), on a single-thread event loop and threads (scenarios/crossover.toml)",
    note: "",
};

fn decide(claim: &Claim, checks: Vec<Check>) -> Finding {
    let (unmeasured, note) = (claim.needs, claim.note);
    let claim = claim.text;
    if checks.is_empty() {
        return Finding {
            claim,
            verdict: Verdict::NotMeasured,
            evidence: unmeasured.to_string(),
            cells: Vec::new(),
        };
    }
    let count = |o| checks.iter().filter(|c| c.outcome == o).count();
    let (h, f, w) = (
        count(Outcome::Holds),
        count(Outcome::Fails),
        count(Outcome::Within),
    );
    let verdict = match (h, f) {
        (h, 0) if h > w => Verdict::Holds,
        (0, f) if f > w => Verdict::DoesNotHold,
        (h, f) if h > 0 && f > 0 => Verdict::Mixed,
        _ => Verdict::Undecided,
    };
    let n = checks.len();
    let mut evidence = format!(
        "{h} of {n} comparison{} hold, {f} do{} not, {w} within the trials' range: {}",
        if n == 1 { "" } else { "s" },
        if f == 1 { "es" } else { "" },
        checks
            .iter()
            .map(|c| format!("{} ({})", c.text, c.outcome.word()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    evidence.push_str(note);
    let mut cells: Vec<String> = Vec::new();
    for id in checks.into_iter().flat_map(|c| c.cells) {
        if !cells.contains(&id) {
            cells.push(id);
        }
    }
    Finding {
        claim,
        verdict,
        evidence,
        cells,
    }
}

/// Threads a model used of its own: the tree's peak less the harness's.
fn own_threads(c: &CellSummary) -> Option<Range> {
    let t = range(c, Figure::PeakThreads)?;
    let h = c.value(Figure::HarnessThreads).unwrap_or(0.0);
    Some(Range {
        lo: t.lo - h,
        hi: t.hi - h,
        mid: t.mid - h,
        n: t.n,
    })
}

/// Per single-loop model and workload: from its lowest concurrency to its highest, the ops
/// in flight grow and its own threads do not (the ops wait on one loop, not on threads).
fn one_thread(s: &Summary) -> Finding {
    let mut checks = Vec::new();
    for g in groups(s) {
        for m in SINGLE_LOOP {
            let mut cs: Vec<&CellSummary> =
                g.iter().copied().filter(|c| model(c) == Some(m)).collect();
            cs.sort_by_key(|c| c.concurrency);
            let (Some(&lo), Some(&hi)) = (cs.first(), cs.last()) else {
                continue;
            };
            if hi.concurrency < 2 * lo.concurrency.max(1) {
                continue;
            }
            let (Some(tl), Some(th), Some(al), Some(ah)) = (
                own_threads(lo),
                own_threads(hi),
                range(lo, Figure::AchievedConcurrency),
                range(hi, Figure::AchievedConcurrency),
            ) else {
                continue;
            };
            // The threads did not grow (more threads at high C than at low C fails it)...
            let same_threads = match below(tl, th) {
                Outcome::Holds => Outcome::Fails,
                _ if tl.n < 2.0 || th.n < 2.0 => Outcome::Within,
                _ => Outcome::Holds,
            };
            // ...while the ops in flight did, past the threads.
            let more_ops = all(&[below(al, ah), below(th, ah)]);
            let n = |x: f64| format!("{x:.0}");
            checks.push(Check {
                outcome: all(&[same_threads, more_ops]),
                text: format!(
                    "{} {} from C = {} to {}: ops in flight {} to {}, threads of its own {} to {}",
                    m.name(),
                    label(hi),
                    lo.concurrency,
                    hi.concurrency,
                    show(al, n),
                    show(ah, n),
                    show(tl, n),
                    show(th, n),
                ),
                cells: vec![lo.id.clone(), hi.id.clone()],
            });
        }
    }
    decide(&ONE_THREAD, checks)
}

/// Every pair of a single-loop model and `other` at the same workload and concurrency
/// (at least `min_c`).
fn pairs(s: &Summary, other: ModelKind, min_c: u32) -> Vec<(&CellSummary, &CellSummary)> {
    let mut out = Vec::new();
    for g in groups(s) {
        for b in g
            .iter()
            .filter(|c| model(c) == Some(other) && c.concurrency >= min_c)
        {
            for m in SINGLE_LOOP {
                if let Some(a) = find(&g, m, b.concurrency) {
                    out.push((a, *b));
                }
            }
        }
    }
    out
}

fn cheaper_than_processes(s: &Summary) -> Finding {
    let mut checks = Vec::new();
    for (a, p) in pairs(s, ModelKind::Processes, 2) {
        let (Some(am), Some(pm)) = (range(a, Figure::PeakPss), range(p, Figure::PeakPss)) else {
            continue;
        };
        let mut parts = vec![below(am, pm)];
        let mut text = format!(
            "{}: {} peaked at {} and processes at {} (PSS)",
            place(a),
            a.model,
            show(am, kib),
            show(pm, kib)
        );
        // CPU per op: the loop must not cost clearly more.
        cpu_guard(a, p, 1.0, &mut parts, &mut text);
        checks.push(Check::of_pair(&parts, text, a, p));
    }
    decide(&CHEAPER_THAN_PROCESSES, checks)
}

/// Where both cells have CPU per op: a guard that `a`'s is not clearly above `b`'s times
/// `slack`, and the two figures in the evidence.
fn cpu_guard(
    a: &CellSummary,
    b: &CellSummary,
    slack: f64,
    parts: &mut Vec<Outcome>,
    text: &mut String,
) {
    let f = Figure::CpuPer1kOps;
    if let (Some(ac), Some(bc)) = (range(a, f), range(b, f)) {
        parts.push(guard_not_below(bc.scaled(slack), ac));
        text.push_str(&format!(
            ", CPU {} vs {} s per 1,000 ops",
            show(ac, cpu),
            show(bc, cpu)
        ));
    }
}

fn hundreds_in_one_program(s: &Summary) -> Finding {
    let tput = Figure::Throughput;
    let mut checks = Vec::new();
    for (a, t) in pairs(s, ModelKind::Threads, 100) {
        let (Some(am), Some(tm), Some(at), Some(tt)) = (
            range(a, Figure::MemPerOp),
            range(t, Figure::MemPerOp),
            range(a, tput),
            range(t, tput),
        ) else {
            continue;
        };
        // Less memory per op, beyond the spread; throughput not clearly under 90% of the
        // threads'; CPU per op not clearly over 110% of theirs.
        let mut parts = vec![below(am, tm), guard_not_below(at, tt.scaled(0.9))];
        let mut text = format!(
            "{}: {} did {} ops/s with {} per op, threads {} ops/s with {} per op",
            place(a),
            a.model,
            show(at, ops),
            show(am, kib),
            show(tt, ops),
            show(tm, kib)
        );
        cpu_guard(a, t, 1.1, &mut parts, &mut text);
        checks.push(Check::of_pair(&parts, text, a, t));
    }
    decide(&HUNDREDS_IN_ONE_PROGRAM, checks)
}

/// The cell of `m` at `x` in a sweep.
fn at<'a>(w: &Sweep<'a>, m: ModelKind, x: f64) -> Option<&'a CellSummary> {
    w.cells
        .iter()
        .find(|(cx, c)| *cx == x && model(c) == Some(m))
        .map(|(_, c)| *c)
}

/// Where each crossover sweep puts the line between waiting and computing, per
/// single-loop model: the first compute / wait at which it is behind the thread pool by
/// more than 10% beyond the trials' spread (the margin, so that a small steady lag such as
/// tokio's millisecond timer rounding decides nothing).
fn waiting_outweighs_computing(s: &Summary) -> Finding {
    let tput = Figure::Throughput;
    let mut checks = Vec::new();
    for w in sweeps(s)
        .into_iter()
        .filter(|w| w.kind == SweepKind::Crossover)
    {
        for m in SINGLE_LOOP {
            // Per compute / wait: the loop's and the pool's ranges, and both cells.
            let line: Vec<(f64, Range, Range, [&CellSummary; 2])> = w
                .xs()
                .into_iter()
                .filter_map(|x| {
                    let (a, p) = (at(&w, m, x)?, at(&w, ModelKind::ThreadPool, x)?);
                    Some((x, range(a, tput)?, range(p, tput)?, [a, p]))
                })
                .collect();
            if line.len() < 2 {
                continue;
            }
            let behind = |a: Range, p: Range| below(a, p.scaled(0.9));
            let shown = |(x, a, p, _): &(f64, Range, Range, [&CellSummary; 2])| {
                format!("{x:.2} ({} vs {} ops/s)", show(*a, ops), show(*p, ops))
            };
            let (outcome, what) = match line
                .iter()
                .position(|&(_, a, p, _)| behind(a, p) == Outcome::Holds)
            {
                Some(0) => (
                    Outcome::Fails,
                    format!(
                        "behind the thread pool from the lowest compute / wait, {}",
                        shown(&line[0])
                    ),
                ),
                Some(k) if behind(line[k - 1].1, line[k - 1].2) == Outcome::Fails => (
                    Outcome::Holds,
                    format!(
                        "keeps up with the thread pool to compute / wait {} and falls behind at {}",
                        shown(&line[k - 1]),
                        shown(&line[k])
                    ),
                ),
                Some(k) => (
                    Outcome::Within,
                    format!(
                        "behind at {}; before it, {} is within the trials' range",
                        shown(&line[k]),
                        shown(&line[k - 1])
                    ),
                ),
                None => {
                    let last = &line[line.len() - 1];
                    let outcome = match behind(last.1, last.2) {
                        Outcome::Fails => Outcome::Fails,
                        _ => Outcome::Within,
                    };
                    (
                        outcome,
                        format!(
                            "never clearly behind the thread pool, up to {}",
                            shown(last)
                        ),
                    )
                }
            };
            checks.push(Check {
                outcome,
                text: format!("{}, {}: {what}", w.label, m.name()),
                cells: line
                    .iter()
                    .flat_map(|(_, _, _, c)| c.iter().map(|c| c.id.clone()))
                    .collect(),
            });
        }
    }
    decide(&WAITING_OUTWEIGHS_COMPUTING, checks)
}

/// The stall: cpu-mix cells where one op in N computes (`block_every`), against the same
/// cells where no op computes. Every model does the same computing; an event loop does it
/// on the thread every other task waits on, threads beside the others. Per single-loop
/// model and N: the share of its throughput it kept must be below the share the threads
/// kept, beyond the spread (the ratios' ranges, from both cells' trials).
fn cpu_heavy_stalls(s: &Summary) -> Finding {
    let (tput, p99) = (Figure::Throughput, Figure::P99);
    let mut checks = Vec::new();
    for w in sweeps(s).into_iter().filter(|w| {
        w.kind == SweepKind::Stall && w.cells.iter().all(|(_, c)| c.workload == "cpu-mix")
    }) {
        let kept = |m: ModelKind, x: f64| -> Option<(Range, Range, Range, [String; 2])> {
            let (c0, c1) = (at(&w, m, 0.0)?, at(&w, m, x)?);
            let (t0, t1) = (range(c0, tput)?, range(c1, tput)?);
            Some((
                t1.over(t0)?,
                range(c0, p99)?,
                range(c1, p99)?,
                [c0.id.clone(), c1.id.clone()],
            ))
        };
        for x in w.xs().into_iter().filter(|&x| x > 0.0) {
            let Some((tk, _, _, tcells)) = kept(ModelKind::Threads, x) else {
                continue;
            };
            let compute = at(&w, ModelKind::Threads, x)
                .and_then(|c| c.params.get("compute")?.as_str().map(str::to_string))
                .unwrap_or_default();
            for m in SINGLE_LOOP {
                let Some((lk, p0, p1, lcells)) = kept(m, x) else {
                    continue;
                };
                let ms = |us: f64| format!("{:.1} ms", us / 1000.0);
                checks.push(Check {
                    outcome: below(lk, tk),
                    text: format!(
                        "{}, one op in {:.0} computing {compute}: {} kept {} of its throughput (p99 {} to {}), threads kept {}",
                        w.label,
                        1.0 / x,
                        m.name(),
                        show(lk, pct),
                        ms(p0.mid),
                        ms(p1.mid),
                        show(tk, pct),
                    ),
                    cells: lcells.into_iter().chain(tcells.clone()).collect(),
                });
            }
        }
    }
    decide(&CPU_HEAVY_STALLS, checks)
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// A figure whose trials were `v`.
    fn fig(v: &[f64]) -> Value {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        json!({"median": s[s.len() / 2], "min": lo, "max": hi, "cv": 0.0, "n": v.len(), "values": v})
    }

    /// An ok cell of `workload` (its parameters) under `model` at `c`, with figures.
    fn cell(workload: Value, model: &str, c: u32, figures: &[(Figure, &[f64])]) -> Value {
        let kind = workload["kind"].as_str().unwrap().to_string();
        let mut v = json!({
            "id": format!("{kind}{}/{model}/c{c}/closed", workload),
            "workload": kind, "params": workload, "model": model, "concurrency": c,
            "mode": "closed", "status": "ok",
            "trials": {"planned": 3, "ok": 3, "failed": 0}, "reasons": [], "errors": {},
        });
        for (f, values) in figures {
            match f.key().split_once('.') {
                Some((a, b)) => v[a][b] = fig(values),
                None => v[f.key()] = fig(values),
            }
        }
        v
    }

    fn summary(cells: Vec<Value>) -> Summary {
        serde_json::from_value(json!({
            "schema": 3, "scenario": "t",
            "machine": {"cpu_model": null, "cores": 2, "memory_bytes": null, "kernel": null,
                "os": "linux", "rustc": null, "iobench_version": "0", "git_commit": null,
                "limit_nofile": null, "limit_nproc": null},
            "cells": cells,
        }))
        .unwrap()
    }

    fn sleep() -> Value {
        json!({"kind": "sleep", "latency": "10ms"})
    }

    fn pss(model: &str, c: u32, v: &[f64]) -> Value {
        cell(sleep(), model, c, &[(Figure::PeakPss, v)])
    }

    #[test]
    fn every_pair_counts_and_overlapping_trials_decide_nothing() {
        // At C = 10 the loop is clearly smaller; at C = 100 clearly larger (a broken loop):
        // the best cell alone would say "holds".
        let s = summary(vec![
            pss("tokio-current-thread", 10, &[1.0e6, 1.1e6, 1.2e6]),
            pss("processes", 10, &[5.0e6, 5.1e6, 5.2e6]),
            pss("tokio-current-thread", 100, &[9.0e6, 9.1e6, 9.2e6]),
            pss("processes", 100, &[6.0e6, 6.1e6, 6.2e6]),
        ]);
        let f = cheaper_than_processes(&s);
        assert_eq!(f.verdict, Verdict::Mixed, "{}", f.evidence);
        assert!(
            f.evidence
                .starts_with("1 of 2 comparisons hold, 1 does not")
        );
        assert_eq!(f.cells.len(), 4, "{:?}", f.cells);
        // Ranges that overlap: a 10% smaller median decides nothing.
        let s = summary(vec![
            pss("smol", 10, &[0.9e6, 1.0e6, 1.3e6]),
            pss("processes", 10, &[1.0e6, 1.1e6, 1.2e6]),
        ]);
        let f = cheaper_than_processes(&s);
        assert_eq!(f.verdict, Verdict::Undecided, "{}", f.evidence);
        // One trial has no spread to judge by.
        let s = summary(vec![
            pss("smol", 10, &[1.0e6]),
            pss("processes", 10, &[5.0e6]),
        ]);
        assert_eq!(cheaper_than_processes(&s).verdict, Verdict::Undecided);
    }

    #[test]
    fn a_loop_whose_threads_grow_with_concurrency_is_not_one_thread() {
        let cells = |threads_at_100: f64| {
            summary(
                [(1, 2.0, 1.0), (100, threads_at_100, 99.0)]
                    .into_iter()
                    .map(|(c, t, a)| {
                        cell(
                            sleep(),
                            "smol",
                            c,
                            &[
                                (Figure::PeakThreads, &[t, t, t]),
                                (Figure::HarnessThreads, &[1.0, 1.0, 1.0]),
                                (Figure::AchievedConcurrency, &[a * 0.98, a, a * 1.01]),
                            ],
                        )
                    })
                    .collect(),
            )
        };
        assert_eq!(one_thread(&cells(2.0)).verdict, Verdict::Holds);
        let f = one_thread(&cells(60.0));
        assert_eq!(f.verdict, Verdict::DoesNotHold, "{}", f.evidence);
    }

    fn mix(compute: &str, block_every: u32, model: &str, tput: &[f64]) -> Value {
        let mut w = json!({"kind": "cpu-mix", "wait": "10ms", "via": "sleep", "compute": compute,
            "timeout": "10s"});
        if block_every > 0 {
            w["block_every"] = json!(block_every);
        }
        cell(
            w,
            model,
            64,
            &[
                (Figure::Throughput, tput),
                (Figure::P99, &[20e3, 21e3, 22e3]),
            ],
        )
    }

    #[test]
    fn the_stall_is_the_loop_losing_more_than_the_threads_beyond_the_spread() {
        let run = |loop_after: &[f64]| {
            cpu_heavy_stalls(&summary(vec![
                mix("0s", 0, "tokio-current-thread", &[6000.0, 6100.0, 6200.0]),
                mix("0s", 0, "threads", &[6000.0, 6100.0, 6200.0]),
                mix("10ms", 20, "tokio-current-thread", loop_after),
                mix("10ms", 20, "threads", &[5900.0, 6000.0, 6100.0]),
            ]))
        };
        let f = run(&[1900.0, 2000.0, 2100.0]);
        assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
        assert!(
            f.evidence.contains("one op in 20 computing 10ms"),
            "{}",
            f.evidence
        );
        assert_eq!(f.cells.len(), 4);
        // Kept as much as the threads: within the spread, not a stall.
        let f = run(&[5800.0, 6000.0, 6150.0]);
        assert_eq!(f.verdict, Verdict::Undecided, "{}", f.evidence);
        // Without a cpu-mix baseline (no op computing), not measured.
        let f = cpu_heavy_stalls(&summary(vec![
            mix("10ms", 20, "tokio-current-thread", &[1.0, 2.0, 3.0]),
            mix("10ms", 20, "threads", &[1.0, 2.0, 3.0]),
        ]));
        assert_eq!(f.verdict, Verdict::NotMeasured);
    }

    #[test]
    fn the_crossover_holds_only_where_the_loop_first_keeps_up_then_falls_behind() {
        let at = |compute: &str, l: f64, p: f64| {
            vec![
                mix(compute, 0, "tokio-current-thread", &[l * 0.98, l, l * 1.02]),
                mix(compute, 0, "thread-pool", &[p * 0.98, p, p * 1.02]),
            ]
        };
        let s = summary([at("0s", 6000.0, 6100.0), at("5ms", 1500.0, 4000.0)].concat());
        let f = waiting_outweighs_computing(&s);
        assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
        let s = summary([at("0s", 3000.0, 6100.0), at("5ms", 1500.0, 4000.0)].concat());
        assert_eq!(
            waiting_outweighs_computing(&s).verdict,
            Verdict::DoesNotHold
        );
    }
}
