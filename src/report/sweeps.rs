//! Sweeps: charts and findings across workloads that differ in one parameter, where the
//! per-workload charts (against concurrency) cannot show the point.
//!
//! - **Crossover**: cpu-mix cells alike but for `compute`, against compute / wait: where
//!   one event loop, which computes on its only thread, falls behind the thread pool and
//!   the processes, which compute on every core.
//! - **Stall**: cells alike but for `block_every`, against the share of ops that block
//!   their thread: the throughput and p99 of an event loop when one op in N blocks it,
//!   beside the threads'. For `sleep`, the op sleeps with `std::thread::sleep` (no change
//!   for a blocking model). For `cpu-mix`, the op computes for `compute` on every model
//!   (the talk's CPU-heavy work); its x = 0 is the cell where no op computes
//!   (`compute = 0`), and the cells of one sweep should share one `compute`.

use super::charts::{Chart, Point, Scale, Series, Tip, model_index, model_order};
use super::summary::{CellStatus, CellSummary, Stat, Summary};
use crate::figure::Figure;
use crate::plan::ModelKind;
use crate::units::HumanDuration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepKind {
    Crossover,
    Stall,
}

/// Cells alike but for the swept parameter, each with its x.
pub struct Sweep<'a> {
    pub kind: SweepKind,
    /// What the cells share, e.g. `cpu-mix wait=1ms via=sleep, C = 64`.
    pub label: String,
    pub cells: Vec<(f64, &'a CellSummary)>,
}

fn duration(c: &CellSummary, key: &str) -> Option<f64> {
    let v = c.params.get(key)?;
    serde_json::from_value::<HumanDuration>(v.clone())
        .ok()
        .map(|d| d.0.as_secs_f64())
}

fn ok(c: &CellSummary) -> bool {
    matches!(c.status, CellStatus::Ok | CellStatus::Partial)
}

/// The swept x of a cell, and what it shares with the others of its sweep.
fn place(c: &CellSummary, kind: SweepKind) -> Option<(f64, String)> {
    let mut rest = c.params.as_object()?.clone();
    rest.remove("timeout");
    let x = match kind {
        SweepKind::Crossover => {
            if c.workload != "cpu-mix" {
                return None;
            }
            let (wait, compute) = (duration(c, "wait")?, duration(c, "compute")?);
            rest.remove("compute");
            compute / wait
        }
        SweepKind::Stall => {
            let n = rest
                .remove("block_every")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            match c.workload.as_str() {
                "sleep" => {}
                "cpu-mix" => {
                    let computes = duration(c, "compute")? > 0.0;
                    rest.remove("compute");
                    // Every op computing is the crossover's, and no op computing with a
                    // block_every is the same as x = 0.
                    if computes != (n > 0) {
                        return None;
                    }
                }
                _ => return None,
            }
            if n == 0 { 0.0 } else { 1.0 / n as f64 }
        }
    };
    let shared: Vec<String> = rest
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            )
        })
        .collect();
    let label = format!(
        "{} {}, C = {}{}",
        c.workload,
        shared.join(" "),
        c.concurrency,
        if c.mode == "closed" {
            String::new()
        } else {
            format!(", {} loop", c.mode)
        }
    );
    Some((x, label))
}

/// Every sweep of the run: groups of at least two distinct x values.
pub fn sweeps(s: &Summary) -> Vec<Sweep<'_>> {
    let mut out: Vec<Sweep<'_>> = Vec::new();
    for kind in [SweepKind::Crossover, SweepKind::Stall] {
        let mut found: Vec<Sweep<'_>> = Vec::new();
        for c in s.cells.iter().filter(|c| ok(c)) {
            let Some((x, label)) = place(c, kind) else {
                continue;
            };
            match found.iter_mut().find(|w| w.label == label) {
                Some(w) => w.cells.push((x, c)),
                None => found.push(Sweep {
                    kind,
                    label,
                    cells: vec![(x, c)],
                }),
            }
        }
        found.retain(|w| {
            let mut xs: Vec<u64> = w.cells.iter().map(|(x, _)| x.to_bits()).collect();
            xs.sort_unstable();
            xs.dedup();
            xs.len() >= 2
        });
        out.extend(found);
    }
    out
}

impl Sweep<'_> {
    /// The median of a figure for `model` at `x`.
    pub fn at(&self, model: ModelKind, x: f64, f: Figure) -> Option<f64> {
        self.cells
            .iter()
            .find(|(cx, c)| *cx == x && c.model == model.name())
            .and_then(|(_, c)| c.value(f))
    }

    /// The distinct x values, ascending.
    pub fn xs(&self) -> Vec<f64> {
        let mut xs: Vec<f64> = self.cells.iter().map(|(x, _)| *x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    }

    fn series(&self, f: Figure, scale: f64) -> Vec<Series> {
        let order = model_order(self.cells.iter().map(|(_, c)| c.model.as_str()));
        order
            .iter()
            .filter_map(|m| {
                let mut points: Vec<Point> = self
                    .cells
                    .iter()
                    .filter(|(_, c)| &c.model == m)
                    .filter_map(|(x, c)| {
                        Some(Point {
                            x: *x,
                            median: c.value(f)? * scale,
                            min: c.stat(f, Stat::Min)? * scale,
                            max: c.stat(f, Stat::Max)? * scale,
                        })
                    })
                    .collect();
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                let index = model_index(m, &order);
                (!points.is_empty()).then(|| Series {
                    fit: None,
                    notes: Vec::new(),
                    model: m.clone(),
                    index,
                    points,
                })
            })
            .collect()
    }

    /// The sweep's charts; `index` numbers their files.
    pub fn charts(&self, index: usize) -> Vec<Chart> {
        let tip_x = match self.kind {
            SweepKind::Crossover => "compute / wait",
            SweepKind::Stall => "share blocking",
        };
        let chart = |what: &str, title: &str, x: &str, y: &str, unit, ys: Scale, series| Chart {
            name: format!("sweep{}-{what}", index + 1),
            title: format!("{title} — {}", short(&self.label)),
            x_label: x.into(),
            y_label: y.into(),
            x_scale: Scale::Linear,
            y_scale: ys,
            x_names: None,
            series,
            tip: Tip {
                x: tip_x,
                unit,
                value: if unit == "ms" { "merged" } else { "median" },
            },
            markers_only: false,
        };
        let mut out = match self.kind {
            SweepKind::Crossover => vec![chart(
                "crossover",
                "Throughput vs compute/wait",
                "compute / wait per op",
                "verified ops per second (log)",
                "ops/s",
                Scale::Log,
                self.series(Figure::Throughput, 1.0),
            )],
            SweepKind::Stall => vec![
                chart(
                    "stall-throughput",
                    "Throughput, blocking ops",
                    "share of ops that block their thread or compute (1 / block_every)",
                    "verified ops per second (log)",
                    "ops/s",
                    Scale::Log,
                    self.series(Figure::Throughput, 1.0),
                ),
                chart(
                    "stall-p99",
                    "p99 latency, blocking ops",
                    "share of ops that block their thread or compute (1 / block_every)",
                    "p99 latency, ms (log)",
                    "ms",
                    Scale::Log,
                    self.series(Figure::P99, 1e-3),
                ),
            ],
        };
        out.retain(|c| !c.is_empty());
        out
    }
}

/// A label cut to fit a chart's title.
fn short(label: &str) -> String {
    match label.chars().count() > 40 {
        true => label.chars().take(39).collect::<String>() + "…",
        false => label.to_string(),
    }
}
