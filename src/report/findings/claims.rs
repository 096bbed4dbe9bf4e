//! The talk's five claims, each as its words and what a run needs to judge it (a
//! [`Claim`]) and a function that makes every comparison of one language's cells it
//! applies to. The evidence names each cell's own model (for an external one, not the
//! model its `like` names).

use crate::figure::Figure;
use crate::plan::ModelKind;
use crate::report::summary::{CellSummary, Summary};
use crate::report::sweeps::{Sweep, SweepKind, sweeps};

use super::evidence::*;
use super::language::Language;

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
pub(super) fn one_thread(s: &Summary, lang: &Language) -> Finding {
    let mut checks = Vec::new();
    for g in groups(s, lang) {
        for name in SINGLE_LOOP
            .iter()
            .flat_map(|&m| names(g.iter().copied(), lang, m))
        {
            let mut cs: Vec<&CellSummary> = g.iter().copied().filter(|c| c.model == name).collect();
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
                    name,
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
    decide(&ONE_THREAD, lang, checks)
}

/// Every pair of a single-loop model and `other` at the same workload and concurrency
/// (at least `min_c`), both of `lang`.
fn pairs<'a>(
    s: &'a Summary,
    lang: &Language,
    other: ModelKind,
    min_c: u32,
) -> Vec<(&'a CellSummary, &'a CellSummary)> {
    let mut out = Vec::new();
    for g in groups(s, lang) {
        for b in g
            .iter()
            .filter(|c| lang.kind(c) == Some(other) && c.concurrency >= min_c)
        {
            for m in SINGLE_LOOP {
                for a in find(&g, lang, m, b.concurrency) {
                    out.push((a, *b));
                }
            }
        }
    }
    out
}

pub(super) fn cheaper_than_processes(s: &Summary, lang: &Language) -> Finding {
    let mut checks = Vec::new();
    for (a, p) in pairs(s, lang, ModelKind::Processes, 2) {
        let (Some(am), Some(pm)) = (range(a, Figure::PeakPss), range(p, Figure::PeakPss)) else {
            continue;
        };
        let mut parts = vec![below(am, pm)];
        let mut text = format!(
            "{}: {} peaked at {} and {} at {} (PSS)",
            place(a),
            a.model,
            show(am, kib),
            p.model,
            show(pm, kib)
        );
        // CPU per op: the loop must not cost clearly more.
        cpu_guard(a, p, 1.0, &mut parts, &mut text);
        checks.push(Check::of_pair(&parts, text, a, p));
    }
    decide(&CHEAPER_THAN_PROCESSES, lang, checks)
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

pub(super) fn hundreds_in_one_program(s: &Summary, lang: &Language) -> Finding {
    let tput = Figure::Throughput;
    let mut checks = Vec::new();
    for (a, t) in pairs(s, lang, ModelKind::Threads, 100) {
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
            "{}: {} did {} ops/s with {} per op, {} {} ops/s with {} per op",
            place(a),
            a.model,
            show(at, ops),
            show(am, kib),
            t.model,
            show(tt, ops),
            show(tm, kib)
        );
        cpu_guard(a, t, 1.1, &mut parts, &mut text);
        checks.push(Check::of_pair(&parts, text, a, t));
    }
    decide(&HUNDREDS_IN_ONE_PROGRAM, lang, checks)
}

/// The cell of the model named `name` in `lang` at `x` in a sweep.
fn at<'a>(w: &Sweep<'a>, lang: &Language, name: &str, x: f64) -> Option<&'a CellSummary> {
    w.cells
        .iter()
        .find(|(cx, c)| *cx == x && c.model == name && lang.kind(c).is_some())
        .map(|(_, c)| *c)
}

/// The names of a sweep's models that stand for `m` in `lang`.
fn in_sweep<'a>(w: &Sweep<'a>, lang: &Language, m: ModelKind) -> Vec<&'a str> {
    names(w.cells.iter().map(|(_, c)| *c), lang, m)
}

/// "the thread pool", and the model's own name where it is not iobench's thread-pool.
fn the_pool(name: &str) -> String {
    match name == ModelKind::ThreadPool.name() {
        true => "the thread pool".into(),
        false => format!("the thread pool ({name})"),
    }
}

/// Where each crossover sweep puts the line between waiting and computing, per
/// single-loop model: the first compute / wait at which it is behind the thread pool by
/// more than 10% beyond the trials' spread (the margin, so that a small steady lag such as
/// tokio's millisecond timer rounding decides nothing).
pub(super) fn waiting_outweighs_computing(s: &Summary, lang: &Language) -> Finding {
    let tput = Figure::Throughput;
    let mut checks = Vec::new();
    for w in sweeps(s)
        .into_iter()
        .filter(|w| w.kind == SweepKind::Crossover)
    {
        let pools = in_sweep(&w, lang, ModelKind::ThreadPool);
        let loops = SINGLE_LOOP.iter().flat_map(|&m| in_sweep(&w, lang, m));
        for (name, pool) in loops.flat_map(|l| pools.iter().map(move |&p| (l, p))) {
            // Per compute / wait: the loop's and the pool's ranges, and both cells.
            let line: Vec<(f64, Range, Range, [&CellSummary; 2])> = w
                .xs()
                .into_iter()
                .filter_map(|x| {
                    let (a, p) = (at(&w, lang, name, x)?, at(&w, lang, pool, x)?);
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
                        "behind {} from the lowest compute / wait, {}",
                        the_pool(pool),
                        shown(&line[0])
                    ),
                ),
                Some(k) if behind(line[k - 1].1, line[k - 1].2) == Outcome::Fails => (
                    Outcome::Holds,
                    format!(
                        "keeps up with {} to compute / wait {} and falls behind at {}",
                        the_pool(pool),
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
                            "never clearly behind {}, up to {}",
                            the_pool(pool),
                            shown(last)
                        ),
                    )
                }
            };
            checks.push(Check {
                outcome,
                text: format!("{}, {name}: {what}", w.label),
                cells: line
                    .iter()
                    .flat_map(|(_, _, _, c)| c.iter().map(|c| c.id.clone()))
                    .collect(),
            });
        }
    }
    decide(&WAITING_OUTWEIGHS_COMPUTING, lang, checks)
}

/// The stall: cpu-mix cells where one op in N computes (`block_every`), against the same
/// cells where no op computes. Every model does the same computing; an event loop does it
/// on the thread every other task waits on, threads beside the others. Per single-loop
/// model and N: the share of its throughput it kept must be below the share the threads
/// kept, beyond the spread (the ratios' ranges, from both cells' trials).
pub(super) fn cpu_heavy_stalls(s: &Summary, lang: &Language) -> Finding {
    let (tput, p99) = (Figure::Throughput, Figure::P99);
    let mut checks = Vec::new();
    for w in sweeps(s).into_iter().filter(|w| {
        w.kind == SweepKind::Stall && w.cells.iter().all(|(_, c)| c.workload == "cpu-mix")
    }) {
        let kept = |name: &str, x: f64| -> Option<(Range, Range, Range, [String; 2])> {
            let (c0, c1) = (at(&w, lang, name, 0.0)?, at(&w, lang, name, x)?);
            let (t0, t1) = (range(c0, tput)?, range(c1, tput)?);
            Some((
                t1.over(t0)?,
                range(c0, p99)?,
                range(c1, p99)?,
                [c0.id.clone(), c1.id.clone()],
            ))
        };
        let threads = in_sweep(&w, lang, ModelKind::Threads);
        let loops: Vec<&str> = SINGLE_LOOP
            .iter()
            .flat_map(|&m| in_sweep(&w, lang, m))
            .collect();
        for x in w.xs().into_iter().filter(|&x| x > 0.0) {
            for &t in &threads {
                let Some((tk, _, _, tcells)) = kept(t, x) else {
                    continue;
                };
                let compute = at(&w, lang, t, x)
                    .and_then(|c| c.params.get("compute")?.as_str().map(str::to_string))
                    .unwrap_or_default();
                for &name in &loops {
                    let Some((lk, p0, p1, lcells)) = kept(name, x) else {
                        continue;
                    };
                    let ms = |us: f64| format!("{:.1} ms", us / 1000.0);
                    checks.push(Check {
                        outcome: below(lk, tk),
                        text: format!(
                            "{}, one op in {:.0} computing {compute}: {name} kept {} of its throughput (p99 {} to {}), {t} kept {}",
                            w.label,
                            1.0 / x,
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
    }
    decide(&CPU_HEAVY_STALLS, lang, checks)
}
