//! A run folder's change against a baseline: the compare.json that `iobench compare`
//! (`--baseline NAME` or BASE) wrote into the folder, read back so that the run's report
//! shows each cell's change beside its figures. Read as data here (`report` sits below
//! `compare`): its rows by cell, checked for its layout.

use std::path::Path;

use serde::Deserialize;

/// The layout of compare.json this reads (`compare::COMPARE_SCHEMA`).
const LAYOUT: u32 = 1;

/// The figures a report shows the change of, by their names in compare.json's rows.
pub const SHOWN: [&str; 4] = ["throughput", "p99 latency", "peak memory", "CPU per 1k ops"];

#[derive(Deserialize)]
struct File {
    schema: u32,
    base: String,
    passed: bool,
    comparisons: Vec<Row>,
    #[serde(default)]
    missing: Vec<String>,
}

/// One compared figure of one cell.
#[derive(Clone, Debug, Deserialize)]
pub struct Row {
    pub cell: String,
    pub figure: String,
    pub gated: bool,
    pub ratio: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub verdict: String,
    /// Why there is no test's figure (too few trials), or a failure's reason.
    #[serde(default)]
    pub note: Option<String>,
}

/// What a report shows of a comparison against a baseline.
pub struct Baseline {
    /// BASE as compare named it.
    pub base: String,
    pub passed: bool,
    pub rows: Vec<Row>,
    pub missing: Vec<String>,
}

impl Baseline {
    /// The folder's compare.json, if it has one; an error names what is wrong with it.
    pub fn read(dir: &Path) -> Option<Result<Baseline, String>> {
        let path = dir.join("compare.json");
        let text = std::fs::read_to_string(&path).ok()?;
        let parsed = serde_json::from_str::<File>(&text)
            .map_err(|e| format!("{} is not an iobench compare.json: {e}", path.display()))
            .and_then(|f| match f.schema {
                LAYOUT => Ok(Baseline {
                    base: f.base,
                    passed: f.passed,
                    rows: f.comparisons,
                    missing: f.missing,
                }),
                other => Err(format!(
                    "{} has layout {other}, this iobench reads layout {LAYOUT}",
                    path.display()
                )),
            });
        Some(parsed)
    }

    /// The row of `figure` for `cell`.
    pub fn row(&self, cell: &str, figure: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.cell == cell && r.figure == figure)
    }

    /// A cell's worst verdict among its gated rows (the gate's view of it), if compared.
    pub fn gate(&self, cell: &str) -> Option<&'static str> {
        let mine: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.cell == cell && r.gated)
            .collect();
        if mine.is_empty() {
            return None;
        }
        let any = |v: &str| mine.iter().any(|r| r.verdict == v);
        Some(if any("regressed") {
            "REGRESSED"
        } else if any("inconclusive") {
            "inconclusive"
        } else if any("improved") {
            "improved"
        } else {
            "no change"
        })
    }
}

/// A ratio NEW / BASE as a change, `-3.1%`; past ten times (an interval of a few noisy
/// trials) the digits say nothing more. Also compare's tables.
pub fn pct(r: f64) -> String {
    match r > 11.0 {
        true => "over +1000%".into(),
        false => format!("{:+.1}%", (r - 1.0) * 100.0),
    }
}

impl Row {
    /// `-3.1% (-5.0% … -1.2%) regressed`.
    pub fn text(&self) -> String {
        let change = self.ratio.map_or("–".into(), pct);
        let interval = match (self.ci_low, self.ci_high) {
            (Some(lo), Some(hi)) => format!(" ({} … {})", pct(lo), pct(hi)),
            _ => String::new(),
        };
        let note = match (&self.ratio, &self.note) {
            (None, Some(n)) => format!(": {n}"),
            _ => String::new(),
        };
        format!(
            "{change}{interval} {}{note}",
            self.verdict.replace('_', " ")
        )
    }
}
