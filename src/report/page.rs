//! What a report shows ([`Page`]): `summary.json`'s cells grouped by workload, their charts
//! drawn (charts/*.svg and *.png), the findings, the problems and the warnings. The pages
//! (`html`, `markdown`) render a `Page`; `write` writes them.

use std::path::Path;

use anyhow::Context;

use super::baseline::Baseline;
use super::charts::{Chart, Point, Scale, Series, Tip, model_index, model_order};
use super::decision::{Decision, decide};
use super::findings::{Finding, Language, findings, label};
use super::summary::{CellStatus, CellSummary, Stat, Summary};
use crate::figure::Figure;
use crate::stats::{LineFit, line_fit};

/// One workload's cells and charts.
pub struct Group<'a> {
    pub label: String,
    pub cells: Vec<&'a CellSummary>,
    pub charts: Vec<(Chart, String)>,
    /// Peak memory against C, fitted per model ([`memory_fits`]).
    pub fits: Vec<MemoryFit>,
    /// The decision map of its cells.
    pub decision: Option<Decision>,
}

/// Everything a report shows.
pub struct Page<'a> {
    pub summary: &'a Summary,
    pub groups: Vec<Group<'a>>,
    pub findings: Vec<Finding>,
    /// Cells with failed, skipped or missing trials.
    pub problems: Vec<&'a CellSummary>,
    /// (cell id, warning) for cells whose figures need care: too few memory samples, ops
    /// dropped by an open loop, failed or retried ops below the failing rate.
    pub warnings: Vec<(String, String)>,
    /// The run's protocol, one line per distinct combination (from run.json).
    pub protocol: Vec<String>,
    /// Charts across workloads (compute / wait, blocking ops): each sweep's label and
    /// charts.
    pub sweeps: Vec<(String, Vec<(Chart, String)>)>,
    /// The folder's change against a baseline (its compare.json), or why it cannot be
    /// read.
    pub baseline: Option<Result<Baseline, String>>,
}

/// The columns of a cell table, in both pages.
pub const COLUMNS: [&str; 10] = [
    "model",
    "C",
    "status",
    "ops/s (median)",
    "ops/s min–max",
    "CV",
    "p99",
    "KiB per op",
    "CPU s per 1k ops",
    "threads",
];

pub fn status_text(c: &CellSummary) -> String {
    match c.status {
        CellStatus::Ok => "ok".into(),
        CellStatus::Partial => format!("{}/{} ok", c.trials.ok, c.trials.ok + c.trials.failed),
        CellStatus::Failed => "failed".into(),
        CellStatus::Missing => "missing".into(),
        CellStatus::Skipped => "skipped".into(),
    }
}

/// A cell's row, as plain text per column.
pub fn row(c: &CellSummary) -> [String; 10] {
    use super::console::{fixed, kib, micros, num};
    let t = Figure::Throughput;
    let range = match (c.stat(t, Stat::Min), c.stat(t, Stat::Max)) {
        (Some(a), Some(b)) => format!("{}–{}", num(Some(a)), num(Some(b))),
        _ => "-".into(),
    };
    [
        c.model.clone(),
        c.concurrency.to_string(),
        status_text(c),
        num(c.stat(t, Stat::Median)),
        range,
        c.stat(t, Stat::Cv)
            .map_or("-".into(), |v| format!("{:.1}%", v * 100.0)),
        c.value(Figure::P99).map_or("-".into(), micros),
        kib(c.value(Figure::MemPerOp)),
        fixed(c.value(Figure::CpuPer1kOps), 4),
        fixed(c.value(Figure::PeakThreads), 0),
    ]
}

/// A cell's sort key in each column of its row (`None`: not measured, sorted last either
/// way): the model by the report's order of models, the status by how far from ok.
pub fn sort_keys(c: &CellSummary, models: &[String]) -> [Option<f64>; 10] {
    let t = Figure::Throughput;
    let status = match c.status {
        CellStatus::Ok => 0.0,
        CellStatus::Partial => 1.0,
        CellStatus::Failed => 2.0,
        CellStatus::Skipped => 3.0,
        CellStatus::Missing => 4.0,
    };
    [
        Some(model_index(&c.model, models) as f64),
        Some(f64::from(c.concurrency)),
        Some(status),
        c.stat(t, Stat::Median),
        c.stat(t, Stat::Min),
        c.stat(t, Stat::Cv),
        c.value(Figure::P99),
        c.value(Figure::MemPerOp),
        c.value(Figure::CpuPer1kOps),
        c.value(Figure::PeakThreads),
    ]
}

/// The columns of a group's table of changes against the baseline, and a cell's row:
/// its model, C, its gated rows' worst verdict, and each shown figure's change.
pub fn baseline_head() -> Vec<&'static str> {
    ["model", "C", "gate"]
        .into_iter()
        .chain(super::baseline::SHOWN)
        .collect()
}

pub fn baseline_row(b: &Baseline, c: &CellSummary) -> Option<Vec<String>> {
    let gate = b.gate(&c.id);
    let figures: Vec<String> = super::baseline::SHOWN
        .iter()
        .map(|f| b.row(&c.id, f).map_or("–".into(), |r| r.text()))
        .collect();
    if gate.is_none() && figures.iter().all(|f| f == "–") {
        return None;
    }
    Some(
        [
            c.model.clone(),
            c.concurrency.to_string(),
            gate.unwrap_or("–").to_string(),
        ]
        .into_iter()
        .chain(figures)
        .collect(),
    )
}

/// What the baseline section says first: BASE and the gate.
pub fn baseline_lead(b: &Baseline) -> String {
    format!(
        "Each cell's change against BASE {} (the folder's compare.json, from `iobench compare`): NEW / BASE of the trials' geometric means, its interval, and the verdict. Gate: {}{}.",
        b.base,
        if b.passed { "passed" } else { "FAILED" },
        match b.missing.len() {
            0 => String::new(),
            n => format!("; {n} cell(s) of BASE missing here"),
        }
    )
}

/// A figure of a cell as a chart point (median and min–max across trials).
fn point(c: &CellSummary, f: Figure, scale: f64) -> Option<Point> {
    Some(Point {
        x: f64::from(c.concurrency),
        median: c.value(f)? * scale,
        min: c.stat(f, Stat::Min)? * scale,
        max: c.stat(f, Stat::Max)? * scale,
    })
}

/// A short name of a workload for chart titles: its kind and parameter values, cut to fit.
fn brief(c: &CellSummary, label: &str) -> String {
    let values: Vec<String> = c
        .params
        .as_object()
        .into_iter()
        .flatten()
        // Addresses and deadlines are long and seldom what differs.
        .filter(|(k, _)| !matches!(k.as_str(), "url" | "target" | "timeout"))
        .map(|(_, v)| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect();
    let mut s = format!("{} {}", c.workload, values.join(" "));
    if label.ends_with(" loop)") {
        s += " (open loop)";
    }
    if s.chars().count() > 48 {
        s = s.chars().take(47).collect::<String>() + "…";
    }
    s
}

/// Memory samples in a window below which the peak may be missed.
const FEW_MEMORY_SAMPLES: f64 = 10.0;

/// What a reader of a cell's figures should know.
/// A merged run's cells that are compared (in one workload's charts and table) though they
/// ran on machines that differ: one warning beside each such cell, naming its machine.
fn across_machines(summary: &Summary) -> Vec<(String, String)> {
    let machine_of = |id: &str| {
        summary
            .machines
            .iter()
            .position(|m| m.cells.iter().any(|c| c == id))
    };
    let mut out = Vec::new();
    for c in &summary.cells {
        let Some(mine) = machine_of(&c.id) else {
            continue;
        };
        let mixed = summary
            .cells
            .iter()
            .filter(|d| d.workload == c.workload && d.params == c.params)
            .any(|d| machine_of(&d.id).is_some_and(|m| m != mine));
        if mixed {
            out.push((
                c.id.clone(),
                format!(
                    "compared with cells that ran on another machine; this one ran on {}",
                    summary.machines[mine].describe()
                ),
            ));
        }
    }
    out
}

fn warnings(c: &CellSummary) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = c
        .stat(Figure::MemorySamples, Stat::Min)
        .filter(|&n| n < FEW_MEMORY_SAMPLES)
    {
        out.push(format!(
            "memory was sampled only {n} time(s) in a trial's window: its peak may be missed"
        ));
    }
    let most = |f: Figure| c.stat(f, Stat::Max).filter(|&n| n > 0.0);
    let counted: [(Figure, &str); 4] = [
        (
            Figure::DroppedOps,
            "ops a trial were due in the window and never started (the model could not keep the rate); they are in the latency percentiles at the lag they had reached",
        ),
        (
            Figure::UnfinishedOps,
            "ops a trial were in flight for the whole window and never finished in it (clients the model never served); they are in the latency percentiles at the age they had reached",
        ),
        (
            Figure::FailedOps,
            "failed ops a trial (below max_error_rate; see error_latency_us)",
        ),
        (
            Figure::RetriedOps,
            "ops a trial were sent again on a new connection after a reused one closed",
        ),
    ];
    for (f, what) in counted {
        if let Some(n) = most(f) {
            out.push(format!("up to {n} {what}"));
        }
    }
    out
}

fn ok(c: &CellSummary) -> bool {
    matches!(c.status, CellStatus::Ok | CellStatus::Partial)
}

/// Lines of one figure against concurrency, one per model.
fn by_concurrency(cells: &[&CellSummary], f: Figure, scale: f64) -> Vec<Series> {
    let order = model_order(cells.iter().map(|c| c.model.as_str()));
    order
        .iter()
        .filter_map(|m| {
            let mut points: Vec<Point> = cells
                .iter()
                .filter(|c| ok(c) && &c.model == m)
                .filter_map(|c| point(c, f, scale))
                .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            let index = model_index(m, &order);
            (!points.is_empty()).then(|| Series {
                model: m.clone(),
                index,
                points,
                fit: None,
                notes: Vec::new(),
            })
        })
        .collect()
}

/// A model's peak memory against C, fitted by a line over its ok cells: the slope is the
/// bytes each added op in flight costs, the intercept the fixed cost.
pub struct MemoryFit {
    pub model: String,
    /// Bytes of peak PSS ≈ intercept + slope × C.
    pub fit: LineFit,
    pub c_min: u32,
    pub c_max: u32,
}

/// The memory fit of every model with ok cells at two concurrencies or more, over the
/// cells' medians of peak PSS.
pub fn memory_fits(cells: &[&CellSummary]) -> Vec<MemoryFit> {
    let order = model_order(cells.iter().map(|c| c.model.as_str()));
    order
        .iter()
        .filter_map(|m| {
            let mine: Vec<&&CellSummary> =
                cells.iter().filter(|c| ok(c) && &c.model == m).collect();
            let points: Vec<(f64, f64)> = mine
                .iter()
                .filter_map(|c| Some((f64::from(c.concurrency), c.value(Figure::PeakPss)?)))
                .collect();
            let fit = line_fit(&points)?;
            Some(MemoryFit {
                model: m.clone(),
                fit,
                c_min: mine.iter().map(|c| c.concurrency).min()?,
                c_max: mine.iter().map(|c| c.concurrency).max()?,
            })
        })
        .collect()
}

/// What a group's memory-fit table says.
pub const FIT_CAPTION: &str = "Peak memory against C, a least-squares line per model over its cells' medians: peak PSS ≈ fixed + bytes per added op × C (the dashed lines of the peak-memory chart).";

/// The columns of a group's memory-fit table, and a fit's row.
pub const FIT_COLUMNS: [&str; 5] = ["model", "bytes per added op", "fixed, MiB", "r²", "C"];

pub fn fit_row(f: &MemoryFit) -> [String; 5] {
    [
        f.model.clone(),
        format!("{:.0}", f.fit.slope),
        format!("{:.1}", f.fit.intercept / 1024.0 / 1024.0),
        f.fit.r2.map_or("-".into(), |r| format!("{r:.4}")),
        format!("{}–{} ({} cells)", f.c_min, f.c_max, f.fit.n),
    ]
}

const MIB: f64 = 1.0 / 1024.0 / 1024.0;

/// The peak-memory series with each model's fitted line, in MiB.
fn with_fits(mut series: Vec<Series>, fits: &[MemoryFit]) -> Vec<Series> {
    for s in &mut series {
        s.fit = fits.iter().find(|f| f.model == s.model).map(|f| LineFit {
            slope: f.fit.slope * MIB,
            intercept: f.fit.intercept * MIB,
            ..f.fit
        });
    }
    series
}

/// The latency spectrum's percentiles and their names on its axis.
const PERCENTILES: [(Figure, &str); 5] = [
    (Figure::P50, "p50"),
    (Figure::P90, "p90"),
    (Figure::P99, "p99"),
    (Figure::P99_9, "p99.9"),
    (Figure::LatencyMax, "max"),
];

/// The concurrency at which the most models have ok cells (the largest such).
fn chosen_concurrency(cells: &[&CellSummary]) -> Option<u32> {
    let mut cs: Vec<u32> = cells
        .iter()
        .filter(|c| ok(c))
        .map(|c| c.concurrency)
        .collect();
    cs.sort_unstable();
    cs.dedup();
    cs.into_iter().max_by_key(|&c| {
        (
            cells.iter().filter(|x| ok(x) && x.concurrency == c).count(),
            c,
        )
    })
}

fn charts_for(index: usize, label: &str, cells: &[&CellSummary]) -> Vec<Chart> {
    let name = |what: &str| format!("w{}-{what}", index + 1);
    let chart = |what: &str, title: &str, y: &str, unit, ys: Scale, series: Vec<Series>| Chart {
        name: name(what),
        title: format!("{title} — {label}"),
        x_label: "concurrency (ops in flight asked, log scale)".into(),
        y_label: y.into(),
        x_scale: Scale::Log,
        y_scale: ys,
        x_names: None,
        series,
        tip: Tip {
            x: "C",
            unit,
            value: if unit == "ms" { "merged" } else { "median" },
        },
        markers_only: false,
    };
    let mut out = vec![
        chart(
            "throughput",
            "Throughput",
            "verified ops per second (log)",
            "ops/s",
            Scale::Log,
            by_concurrency(cells, Figure::Throughput, 1.0),
        ),
        chart(
            "efficiency",
            "Efficiency vs ideal",
            "throughput / ideal",
            "× ideal",
            Scale::Linear,
            by_concurrency(cells, Figure::Efficiency, 1.0),
        ),
        chart(
            "p99",
            "p99 latency",
            "p99 latency, ms (log)",
            "ms",
            Scale::Log,
            by_concurrency(cells, Figure::P99, 1e-3),
        ),
        chart(
            "memory-per-op",
            "Memory per in-flight op",
            "(peak − idle PSS) / C, KiB (log)",
            "KiB",
            Scale::Log,
            by_concurrency(cells, Figure::MemPerOp, 1.0 / 1024.0),
        ),
        chart(
            "peak-memory",
            "Peak memory of the process tree",
            "peak PSS, MiB (log); dashed: fitted line",
            "MiB",
            Scale::Log,
            with_fits(
                by_concurrency(cells, Figure::PeakPss, MIB),
                &memory_fits(cells),
            ),
        ),
        chart(
            "cpu",
            "CPU per 1,000 ops",
            "CPU seconds per 1,000 ops (log)",
            "CPU s per 1,000 ops",
            Scale::Log,
            by_concurrency(cells, Figure::CpuPer1kOps, 1.0),
        ),
    ];
    if let Some(c) = chosen_concurrency(cells) {
        let order = model_order(cells.iter().map(|c| c.model.as_str()));
        let series = order
            .iter()
            .filter_map(|m| {
                let cell = cells
                    .iter()
                    .find(|x| ok(x) && x.concurrency == c && &x.model == m)?;
                let points = PERCENTILES
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (p, _))| {
                        let mut pt = point(cell, *p, 1e-3)?;
                        pt.x = i as f64;
                        Some(pt)
                    })
                    .collect::<Vec<_>>();
                let index = model_index(m, &order);
                (!points.is_empty()).then(|| Series {
                    model: m.clone(),
                    index,
                    points,
                    fit: None,
                    notes: Vec::new(),
                })
            })
            .collect();
        out.push(Chart {
            name: name("latency-spectrum"),
            title: format!("Latency percentiles at C = {c} — {label}"),
            x_label: "percentile".into(),
            y_label: "latency, ms (log)".into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Log,
            x_names: Some(PERCENTILES.iter().map(|(_, n)| n.to_string()).collect()),
            series,
            tip: Tip {
                x: "percentile",
                unit: "ms",
                value: "merged",
            },
            markers_only: false,
        });
    }
    out.push(Chart {
        name: name("progression"),
        title: format!("Each trial in the order it ran — {label}"),
        x_label: "the trial's place in the run (results.jsonl order)".into(),
        y_label: "throughput / its cell's median".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        x_names: None,
        series: progression(cells),
        tip: Tip {
            x: "place",
            unit: "× median",
            value: "this trial",
        },
        markers_only: true,
    });
    out.retain(|c| !c.is_empty());
    out
}

/// Each ok trial's throughput against its cell's median, at its place in the run, a series
/// per model: drift over a run, or a noisy neighbour, shows as a trend or a dip that many
/// cells share.
fn progression(cells: &[&CellSummary]) -> Vec<Series> {
    use super::console::num;
    let order = model_order(cells.iter().map(|c| c.model.as_str()));
    order
        .iter()
        .filter_map(|m| {
            let mut points: Vec<(Point, String)> = Vec::new();
            for c in cells.iter().filter(|c| ok(c) && &c.model == m) {
                let (Some(values), Some(median)) = (
                    c.values(Figure::Throughput),
                    c.value(Figure::Throughput).filter(|&m| m > 0.0),
                ) else {
                    continue;
                };
                // Only where every ok trial has its place and its value.
                if values.len() != c.run_order.len() {
                    continue;
                }
                for (k, (at, v)) in c.run_order.iter().zip(&values).enumerate() {
                    let r = v / median;
                    points.push((
                        Point {
                            x: f64::from(*at) + 1.0,
                            median: r,
                            min: r,
                            max: r,
                        },
                        format!(
                            "C = {}, trial {} of {}, {} in the run: {} ops/s, {r:.3} × its cell's median (trials {}–{} ops/s)",
                            c.concurrency,
                            k + 1,
                            values.len(),
                            at + 1,
                            num(Some(*v)),
                            num(c.stat(Figure::Throughput, Stat::Min)),
                            num(c.stat(Figure::Throughput, Stat::Max)),
                        ),
                    ));
                }
            }
            points.sort_by(|a, b| a.0.x.total_cmp(&b.0.x));
            let index = model_index(m, &order);
            (!points.is_empty()).then(|| Series {
                model: m.clone(),
                index,
                notes: points.iter().map(|(_, n)| n.clone()).collect(),
                points: points.into_iter().map(|(p, _)| p).collect(),
                fit: None,
            })
        })
        .collect()
}

/// Renders `chart` into `charts_dir` as PNG and SVG; returns it with its SVG text.
fn draw(charts_dir: &Path, chart: Chart) -> anyhow::Result<(Chart, String)> {
    let mut svg = String::new();
    crate::files::write_with(&charts_dir.join(format!("{}.png", chart.name)), |png| {
        svg = chart.render(png)?;
        anyhow::Ok(())
    })?;
    crate::files::write_whole(&charts_dir.join(format!("{}.svg", chart.name)), &svg)?;
    Ok((chart, svg))
}

impl<'a> Page<'a> {
    /// Groups the cells by workload and draws every chart into `charts_dir`.
    pub fn build(
        summary: &'a Summary,
        charts_dir: &Path,
        protocol: Vec<String>,
    ) -> anyhow::Result<Page<'a>> {
        std::fs::create_dir_all(charts_dir)
            .with_context(|| format!("cannot create {}", charts_dir.display()))?;
        let mut groups: Vec<Group<'a>> = Vec::new();
        for c in &summary.cells {
            let key = label(c);
            let key = if c.mode == "closed" {
                key
            } else {
                format!("{key} ({} loop)", c.mode)
            };
            match groups.iter_mut().find(|g| g.label == key) {
                Some(g) => g.cells.push(c),
                None => groups.push(Group {
                    label: key,
                    cells: vec![c],
                    charts: Vec::new(),
                    fits: Vec::new(),
                    decision: None,
                }),
            }
        }
        for (i, g) in groups.iter_mut().enumerate() {
            g.fits = memory_fits(&g.cells);
            g.decision = decide(&g.label, &g.cells);
            for chart in charts_for(i, &brief(g.cells[0], &g.label), &g.cells) {
                g.charts.push(draw(charts_dir, chart)?);
            }
        }
        let mut sweeps = Vec::new();
        for (i, w) in super::sweeps::sweeps(summary).iter().enumerate() {
            let charts = w.charts(i).into_iter().map(|c| draw(charts_dir, c));
            sweeps.push((w.label.clone(), charts.collect::<anyhow::Result<_>>()?));
        }
        Ok(Page {
            baseline: None,
            sweeps,
            summary,
            groups,
            findings: findings(summary),
            problems: summary
                .cells
                .iter()
                .filter(|c| c.status != CellStatus::Ok)
                .collect(),
            warnings: summary
                .cells
                .iter()
                .filter(|c| ok(c))
                .flat_map(|c| warnings(c).into_iter().map(|w| (c.id.clone(), w)))
                .chain(across_machines(summary))
                .collect(),
            protocol,
        })
    }

    /// The findings claim by claim, each claim's one per language (Rust first).
    pub fn claims(&self) -> impl Iterator<Item = &[Finding]> {
        self.findings.chunk_by(|a, b| a.claim == b.claim)
    }

    /// Whether the findings are given in more than one language: the pages then show each
    /// finding's language beside its verdict, and otherwise as they always have.
    pub fn by_language(&self) -> bool {
        self.findings.iter().any(|f| f.language != Language::Rust)
    }

    /// Trials by outcome: (ok, failed, skipped, missing).
    pub fn trial_counts(&self) -> (u32, u32, u32, u32) {
        let mut t = (0, 0, 0, 0);
        for c in &self.summary.cells {
            t.0 += c.trials.ok;
            t.1 += c.trials.failed;
            t.2 += c.trials.skipped;
            t.3 += c
                .trials
                .planned
                .saturating_sub(c.trials.ok + c.trials.failed + c.trials.skipped);
        }
        t
    }
}
