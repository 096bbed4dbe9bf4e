//! The decision map: per workload, for each concurrency and criterion (throughput, p99,
//! memory per in-flight op, CPU per op), the best model and every model within the trials'
//! spread of it; and one sentence per workload that states the pattern. Both are computed
//! from the run's cells, never written by hand.
//!
//! A model is within the spread of the best when the ranges of their trials (min to max)
//! overlap: a tie is a tie, however far apart the medians look.

use super::console::{micros, num};
use super::summary::{CellStatus, CellSummary, Stat};
use crate::figure::{Better, Figure};
use crate::plan::ModelKind;

/// What the map compares models by, in its columns' order.
pub const CRITERIA: [(Figure, &str); 4] = [
    (Figure::Throughput, "throughput"),
    (Figure::P99, "p99 latency"),
    (Figure::MemPerOp, "memory per in-flight op"),
    (Figure::CpuPer1kOps, "CPU per op"),
];

/// iobench's models that wait in an event loop.
const EVENT_LOOPS: [ModelKind; 6] = [
    ModelKind::TokioCurrentThread,
    ModelKind::AsyncStd,
    ModelKind::Smol,
    ModelKind::TokioMultiThread,
    ModelKind::AsyncProcesses,
    ModelKind::IoUring,
];

/// One entry of the map: the best model at one concurrency by one criterion.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub best: String,
    /// The best model's value (its cell's own: the median, or p99 of the merged trials).
    pub value: f64,
    /// The other models within the trials' spread of the best, in the report's order.
    pub ties: Vec<String>,
    /// How many models had a value at this concurrency.
    pub of: usize,
}

/// One workload's map.
pub struct Decision {
    pub label: String,
    /// The concurrencies, ascending: the map's rows.
    pub concurrencies: Vec<u32>,
    /// Per concurrency, per criterion (`CRITERIA`): the entry, where any model had a value.
    pub entries: Vec<[Option<Entry>; 4]>,
    /// The pattern, in one sentence (under the workload's name).
    pub sentence: String,
}

fn ok(c: &CellSummary) -> bool {
    matches!(c.status, CellStatus::Ok | CellStatus::Partial)
}

/// A cell's value of `f` and the range of its trials.
fn span(c: &CellSummary, f: Figure) -> Option<(f64, f64, f64)> {
    let v = c.value(f)?;
    let lo = c.stat(f, Stat::Min).unwrap_or(v).min(v);
    let hi = c.stat(f, Stat::Max).unwrap_or(v).max(v);
    Some((v, lo, hi))
}

/// Whether a cell held fewer than half the ops in flight it was asked for (a pool or the
/// processes at their cap, sequential): its memory per op, divided by C, is not a cost
/// per op in flight, and the map leaves it out of that criterion.
fn capped(c: &CellSummary) -> bool {
    c.value(Figure::AchievedConcurrency)
        .is_some_and(|n| n < 0.5 * f64::from(c.concurrency))
}

/// The best of `cells` (one concurrency, one cell per model) by `f`, and the models whose
/// trials' range overlaps the best one's.
pub fn best(cells: &[&CellSummary], f: Figure) -> Option<Entry> {
    let valued: Vec<(&CellSummary, (f64, f64, f64))> = cells
        .iter()
        .filter(|c| ok(c) && (f != Figure::MemPerOp || !capped(c)))
        .filter_map(|c| Some((*c, span(c, f)?)))
        .collect();
    let higher = f.spec().better == Better::Higher;
    let (top, (v, lo, hi)) = valued.iter().copied().reduce(|a, b| {
        let better = if higher { b.1.0 > a.1.0 } else { b.1.0 < a.1.0 };
        if better { b } else { a }
    })?;
    let ties = valued
        .iter()
        .filter(|(c, _)| c.model != top.model)
        .filter(|(_, (_, l, h))| *h >= lo && *l <= hi)
        .map(|(c, _)| c.model.clone())
        .collect();
    Some(Entry {
        best: top.model.clone(),
        value: v,
        ties,
        of: valued.len(),
    })
}

/// A criterion's value as the map shows it.
pub fn show(f: Figure, v: f64) -> String {
    match f {
        Figure::Throughput => format!("{} ops/s", num(Some(v))),
        Figure::P99 => micros(v),
        Figure::MemPerOp => bytes(v),
        // Seconds per 1,000 ops are milliseconds per op.
        Figure::CpuPer1kOps => match v {
            v if v >= 1.0 => format!("{v:.2} ms CPU/op"),
            v => format!("{:.2} µs CPU/op", v * 1000.0),
        },
        _ => num(Some(v)),
    }
}

fn bytes(b: f64) -> String {
    if b.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else if b.abs() >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

impl Entry {
    /// `smol 100k ops/s; within spread: async-std, threads`.
    pub fn text(&self, f: Figure) -> String {
        let head = format!("{} {}", self.best, show(f, self.value));
        match self.ties.len() {
            0 => head,
            n if n + 1 == self.of && n > 2 => format!("{head}; all {} within spread", self.of),
            _ => format!("{head}; within spread: {}", self.ties.join(", ")),
        }
    }
}

impl Decision {
    /// The map's header: C, then the criteria.
    pub fn head() -> Vec<&'static str> {
        std::iter::once("C")
            .chain(CRITERIA.iter().map(|(_, n)| *n))
            .collect()
    }

    /// Row `i` of the map (concurrency `concurrencies[i]`), as plain text per column.
    pub fn row(&self, i: usize) -> Vec<String> {
        std::iter::once(self.concurrencies[i].to_string())
            .chain(
                self.entries[i]
                    .iter()
                    .zip(CRITERIA)
                    .map(|(e, (f, _))| e.as_ref().map_or("-".into(), |e| e.text(f))),
            )
            .collect()
    }
}

/// What the map's heading says about how to read it.
pub const CAPTION: &str = "Per concurrency and criterion, the best model (its median; p99 of the merged trials) and the models whose trials' range overlaps the best one's: a tie within the trials' spread. Memory per in-flight op leaves out the models that held fewer than half the ops asked in flight (a pool or the processes at their cap, sequential). Computed from this run's cells.";

/// The map of one workload's cells (one mode), with its sentence.
pub fn decide(label: &str, cells: &[&CellSummary]) -> Option<Decision> {
    let mut concurrencies: Vec<u32> = cells
        .iter()
        .filter(|c| ok(c))
        .map(|c| c.concurrency)
        .collect();
    concurrencies.sort_unstable();
    concurrencies.dedup();
    if concurrencies.is_empty() {
        return None;
    }
    let entries = concurrencies
        .iter()
        .map(|&c| {
            let here = at(cells, c);
            CRITERIA.map(|(f, _)| best(&here, f))
        })
        .collect();
    Some(Decision {
        label: label.to_string(),
        sentence: sentence(cells, &concurrencies),
        concurrencies,
        entries,
    })
}

/// The ok cell of `model` at `c`.
fn cell<'a>(cells: &[&'a CellSummary], model: &str, c: u32) -> Option<&'a CellSummary> {
    cells
        .iter()
        .copied()
        .find(|x| ok(x) && x.model == model && x.concurrency == c)
}

/// The cells at concurrency `c`.
fn at<'a>(cells: &[&'a CellSummary], c: u32) -> Vec<&'a CellSummary> {
    cells
        .iter()
        .copied()
        .filter(|x| x.concurrency == c)
        .collect()
}

/// Whether `a`'s throughput reaches `b`'s: above it, or the trials' ranges overlap.
fn reaches(a: &CellSummary, b: &CellSummary) -> bool {
    match (span(a, Figure::Throughput), span(b, Figure::Throughput)) {
        (Some((_, _, ah)), Some((_, bl, _))) => ah >= bl,
        _ => false,
    }
}

/// `a, b and c`.
fn and(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A ratio as the sentence says it: `1/19 of` (below a half), else `0.62×` or `2.5×`.
fn fraction(r: f64) -> String {
    if r < 0.5 {
        format!("1/{:.0} of", 1.0 / r)
    } else if r < 2.0 {
        format!("{r:.2}×")
    } else {
        format!("{r:.1}×")
    }
}

/// The pattern of a workload's map, from its numbers: from which C the event loops reach
/// threads' throughput and at what share of their memory per op; which models are capped
/// below the concurrency asked (ops in flight); which model spends the least CPU per op.
fn sentence(cells: &[&CellSummary], cs: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let top = *cs.last().expect("at least one concurrency");
    let loops: Vec<&str> = EVENT_LOOPS
        .iter()
        .map(|m| m.name())
        .filter(|m| cs.iter().any(|&c| cell(cells, m, c).is_some()))
        .collect();
    let threads = ModelKind::Threads.name();
    // The event loops against threads: the lowest C from which on every loop in `matching`
    // reaches threads at every C measured.
    let with_threads: Vec<u32> = cs
        .iter()
        .copied()
        .filter(|&c| cell(cells, threads, c).is_some())
        .collect();
    if !loops.is_empty() && with_threads.len() >= 2 {
        let from = |m: &str| -> Option<u32> {
            let mut first = None;
            for &c in with_threads.iter().rev() {
                let t = cell(cells, threads, c)?;
                match cell(cells, m, c) {
                    Some(l) if reaches(l, t) => first = Some(c),
                    _ => break,
                }
            }
            first
        };
        let matching: Vec<(&str, u32)> =
            loops.iter().filter_map(|&m| Some((m, from(m)?))).collect();
        if matching.is_empty() {
            parts.push(format!(
                "threads out-do every event loop's throughput at C = {top}"
            ));
        } else {
            let c0 = matching.iter().map(|(_, c)| *c).max().unwrap_or(top);
            let names: Vec<String> = matching.iter().map(|(m, _)| m.to_string()).collect();
            let who = match names.len() {
                1 => format!("the event loop {} matches", names[0]),
                _ => format!("the event loops {} match", and(&names)),
            };
            let lead = if c0 == with_threads[0] {
                format!("at every C, {who}")
            } else {
                format!("from C = {c0} on, {who}")
            };
            let memory = cell(cells, threads, top)
                .and_then(|t| t.value(Figure::MemPerOp))
                .and_then(|t| {
                    let least = matching
                        .iter()
                        .filter_map(|(m, _)| cell(cells, m, top)?.value(Figure::MemPerOp))
                        .fold(f64::INFINITY, f64::min);
                    (least.is_finite() && t > 0.0 && least > 0.0).then(|| least / t)
                });
            parts.push(match memory {
                Some(r) => format!(
                    "{lead} threads' throughput at {} their memory per op (C = {top})",
                    fraction(r)
                ),
                None => format!("{lead} threads' throughput"),
            });
            let behind: Vec<String> = loops
                .iter()
                .filter(|m| !matching.iter().any(|(n, _)| n == *m))
                .map(|m| m.to_string())
                .collect();
            if !behind.is_empty() {
                parts.push(format!(
                    "{} {} below threads at C = {top}",
                    and(&behind),
                    if behind.len() == 1 { "stays" } else { "stay" }
                ));
            }
        }
    }
    // Where the event loops were not compared with threads: who has the most throughput.
    if parts.is_empty()
        && let Some(e) = best(&at(cells, top), Figure::Throughput)
    {
        let ties = match e.ties.len() {
            0 => String::new(),
            _ => format!(", {} within the trials' spread", and(&e.ties)),
        };
        parts.push(format!(
            "at C = {top}, {} has the most throughput ({}{ties})",
            e.best,
            show(Figure::Throughput, e.value)
        ));
    }
    // Capped: fewer ops in flight than asked, by half or more, at the largest C.
    let mut held: Vec<(String, f64, f64)> = Vec::new();
    for c in cells
        .iter()
        .filter(|c| ok(c) && c.concurrency == top && top > 1)
    {
        if let (Some(n), Some(t)) = (
            c.value(Figure::AchievedConcurrency),
            c.value(Figure::Throughput),
        ) && capped(c)
        {
            held.push((c.model.clone(), n, t));
        }
    }
    if !held.is_empty() {
        let each: Vec<String> = held
            .iter()
            .map(|(m, n, t)| format!("{m} at {n:.0} ({} ops/s)", num(Some(*t))))
            .collect();
        parts.push(format!(
            "at C = {top}, ops in flight are capped: {}",
            each.join(", ")
        ));
    }
    // The least CPU per op at the largest C, against threads'.
    if let Some(e) = best(&at(cells, top), Figure::CpuPer1kOps) {
        let vs = cell(cells, threads, top)
            .and_then(|t| t.value(Figure::CpuPer1kOps))
            .filter(|&t| t > 0.0 && e.best != threads)
            .map_or(String::new(), |t| {
                format!(", {} threads'", fraction(e.value / t))
            });
        parts.push(format!(
            "{} spends the least CPU per op at C = {top} ({}{vs})",
            e.best,
            show(Figure::CpuPer1kOps, e.value)
        ));
    }
    if parts.is_empty() {
        return "One model at one concurrency: nothing to compare.".into();
    }
    let text = parts.join("; ");
    let mut chars = text.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    format!("{}{}.", first.unwrap_or_default(), chars.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A cell whose figures are `(median, min, max)` of throughput, p99, memory per op,
    /// CPU per 1k ops, and its ops in flight.
    fn cell(model: &str, c: u32, t: (f64, f64, f64), mem: f64, inflight: f64) -> CellSummary {
        let fig = |(m, lo, hi): (f64, f64, f64)| json!({"median": m, "min": lo, "max": hi});
        serde_json::from_value(json!({
            "id": format!("sleep/{model}/c{c}"), "workload": "sleep", "params": {},
            "model": model, "concurrency": c, "mode": "closed", "status": "ok",
            "trials": {"planned": 3, "ok": 3, "failed": 0}, "reasons": [], "errors": {},
            "throughput_ops_per_sec": fig(t),
            "latency_us": {"p99": {"median": 10_000.0, "min": 9_000.0, "max": 11_000.0, "merged": 10_000.0}},
            "mem_per_op_bytes": fig((mem, mem * 0.9, mem * 1.1)),
            "cpu_secs_per_1k_ops": fig((mem / 1e6, mem / 1e6, mem / 1e6)),
            "achieved_concurrency": fig((inflight, inflight, inflight)),
        }))
        .unwrap()
    }

    #[test]
    fn the_best_and_the_ties_by_the_trials_ranges() {
        let a = cell("threads", 100, (1000.0, 990.0, 1010.0), 10_000.0, 100.0);
        let b = cell("smol", 100, (995.0, 985.0, 1000.0), 500.0, 100.0);
        let c = cell("thread-pool", 100, (640.0, 630.0, 650.0), 20.0, 40.0);
        let e = best(&[&a, &b, &c], Figure::Throughput).unwrap();
        assert_eq!(e.best, "threads");
        assert_eq!(
            e.ties,
            ["smol"],
            "overlapping ranges tie; the pool's does not"
        );
        assert_eq!(e.of, 3);
        // Lower is better for memory: smol alone; the capped pool is left out.
        let e = best(&[&a, &b, &c], Figure::MemPerOp).unwrap();
        assert_eq!((e.best.as_str(), e.ties.len(), e.of), ("smol", 0, 2));
        // Every p99 range overlaps: all tie.
        let e = best(&[&a, &b, &c], Figure::P99).unwrap();
        assert_eq!(e.ties.len(), 2);
    }

    #[test]
    fn the_sentence_says_the_pattern_from_the_numbers() {
        let cells = [
            cell("threads", 10, (1000.0, 990.0, 1000.0), 10_000.0, 10.0),
            cell(
                "threads",
                1000,
                (97_000.0, 96_000.0, 98_000.0),
                10_000.0,
                1000.0,
            ),
            cell("smol", 10, (900.0, 890.0, 910.0), 500.0, 10.0),
            cell("smol", 1000, (99_000.0, 98_000.0, 100_000.0), 500.0, 1000.0),
            cell("thread-pool", 10, (1000.0, 990.0, 1000.0), 2000.0, 10.0),
            cell(
                "thread-pool",
                1000,
                (6_400.0, 6_300.0, 6_500.0),
                2000.0,
                64.0,
            ),
        ];
        let refs: Vec<&CellSummary> = cells.iter().collect();
        let d = decide("sleep latency=10ms", &refs).unwrap();
        assert_eq!(d.concurrencies, [10, 1000]);
        assert_eq!(d.entries[1][0].as_ref().unwrap().best, "smol");
        assert_eq!(
            d.sentence,
            "From C = 1000 on, the event loop smol matches threads' throughput at 1/20 of their memory per op (C = 1000); at C = 1000, ops in flight are capped: thread-pool at 64 (6400 ops/s); smol spends the least CPU per op at C = 1000 (0.50 µs CPU/op, 1/20 of threads')."
        );
        // An event loop that falls behind threads is named as such.
        let mut slow = cells.clone();
        slow[3] = cell("smol", 1000, (50_000.0, 49_000.0, 51_000.0), 500.0, 1000.0);
        let refs: Vec<&CellSummary> = slow.iter().collect();
        let d = decide("sleep", &refs).unwrap();
        assert!(
            d.sentence
                .starts_with("Threads out-do every event loop's throughput at C = 1000"),
            "{}",
            d.sentence
        );
    }
}
