//! `summary.json`: per cell, the median of every figure across its ok trials, with min,
//! max and coefficient of variation, and the machine stamp.
//!
//! Figures are found generically: every numeric field of a record's figures (nested ones
//! such as `latency_us.p99` included) is summarised under the same path, so a figure added
//! to the record appears here without touching this file. Readers name a figure by
//! `crate::figure::Figure` (its key is its path here).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::figure::{Figure, Read};
use crate::measure::histogram;
use crate::measure::machine::Machine;
use crate::op::ErrorKind;
use crate::plan::Cell;
use crate::record::{TrialRecord, TrialStatus, numeric_leaves, out_of_range};
use crate::stats::spread;

/// The format version of summary.json (2: each figure carries its trials' `values`; 3: the
/// merged latency histogram, each percentile's `merged` value, and error rates).
pub const SUMMARY_SCHEMA: u32 = 3;

fn schema_v1() -> u32 {
    1
}

/// Fields of a record that are not figures to summarise.
const NOT_FIGURES: &[&str] = &["errors", "error_samples", "latency_histogram"];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Version of this file's format; `iobench compare` refuses to mix versions.
    #[serde(default = "schema_v1")]
    pub schema: u32,
    pub scenario: String,
    pub machine: Machine,
    /// A merged run whose shards ran on machines that differ (`iobench merge`): every
    /// machine, with its shards and the cells it ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machines: Vec<ShardMachine>,
    pub cells: Vec<CellSummary>,
}

/// One machine of a merged run: the shards it ran and their cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardMachine {
    pub shards: Vec<u32>,
    pub machine: Machine,
    pub cells: Vec<String>,
}

impl ShardMachine {
    /// What tells machines apart in a comparison: the CPU, the cores, the kernel.
    pub fn differs(a: &Machine, b: &Machine) -> bool {
        (&a.cpu_model, a.cores, &a.kernel) != (&b.cpu_model, b.cores, &b.kernel)
    }

    /// One line: the shards, and the machine.
    pub fn describe(&self) -> String {
        let m = &self.machine;
        let shards: Vec<String> = self.shards.iter().map(u32::to_string).collect();
        format!(
            "shard{} {}: {}, {} cores, Linux {}",
            if self.shards.len() == 1 { "" } else { "s" },
            shards.join(", "),
            m.cpu_model.as_deref().unwrap_or("unknown CPU"),
            m.cores,
            m.kernel.as_deref().unwrap_or("?")
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Every trial that ran was ok.
    Ok,
    /// Some trials failed.
    Partial,
    /// No trial was ok.
    Failed,
    /// No trial has run (an interrupted run).
    Missing,
    /// Not run: a service it needs was unreachable (the reason says how to start it).
    Skipped,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrialCounts {
    pub planned: u32,
    pub ok: u32,
    pub failed: u32,
    #[serde(default)]
    pub skipped: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellSummary {
    pub id: String,
    pub workload: String,
    pub params: Value,
    pub model: String,
    /// An external model's language or stack (`[[model]] language`, e.g. "python").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The iobench model an external model stands for in the talk's claims (`like`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like: Option<String>,
    pub concurrency: u32,
    pub mode: String,
    pub status: CellStatus,
    pub trials: TrialCounts,
    /// Why trials failed, one entry per failed trial.
    pub reasons: Vec<String>,
    /// Failed ops by kind, summed over ok trials.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// The ok trials' latency histograms merged (as in the records), when every ok trial
    /// has one; `latency_us.*.merged` are its percentiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<String>,
    /// Each ok trial's place in the run (its line in results.jsonl, from 0: the order the
    /// trials ran), in the order of every figure's `values`: the progression chart's x.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_order: Vec<u32>,
    /// Every figure: `{"median", "min", "max", "cv", "n"}`, nested as in the record.
    #[serde(flatten)]
    pub figures: Map<String, Value>,
}

fn insert_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let inner = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = inner {
                insert_path(m, rest, value);
            }
        }
    }
}

/// Summarises the ok trials of one cell.
pub fn summarize_cell(cell: &Cell, records: &[&TrialRecord]) -> CellSummary {
    let ok: Vec<&&TrialRecord> = records
        .iter()
        .filter(|r| r.status == TrialStatus::Ok)
        .collect();
    let skipped = records
        .iter()
        .filter(|r| r.status == TrialStatus::Skipped)
        .count();
    let failed = records.len() - ok.len() - skipped;
    let mut by_path: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut errors: BTreeMap<ErrorKind, u64> = BTreeMap::new();
    for r in &ok {
        let mut v = serde_json::to_value(&r.figures).expect("figures serialize");
        if let Value::Object(m) = &mut v {
            for k in NOT_FIGURES {
                m.remove(*k);
            }
        }
        let mut leaves = Vec::new();
        numeric_leaves("", &v, &mut leaves);
        for (p, x) in leaves {
            by_path.entry(p).or_default().push(x);
        }
        for (k, n) in &r.figures.errors {
            *errors.entry(*k).or_default() += n;
        }
    }
    let mut figures = Map::new();
    for (path, values) in &by_path {
        if let Some(s) = spread(values) {
            let mut v = serde_json::to_value(s).expect("spread serializes");
            // The trials' own values, in trial order: what `iobench compare` resamples.
            v["values"] = serde_json::to_value(values).expect("numbers serialize");
            insert_path(&mut figures, path, v);
        }
    }
    // A cell's percentiles are those of every op of its ok trials: the merged histogram.
    let hists: Option<Vec<&str>> = ok
        .iter()
        .map(|r| r.figures.latency_histogram.as_deref())
        .collect();
    let merged = hists.filter(|h| !h.is_empty()).and_then(histogram::merge);
    if let (Some(h), Some(Value::Object(lat))) = (&merged, figures.get_mut("latency_us")) {
        let p = histogram::percentiles(h).expect("a merged histogram of ok trials has ops");
        let p = serde_json::to_value(p).expect("percentiles serialize");
        for (k, v) in lat.iter_mut() {
            if let (Some(x), Value::Object(o)) = (p.get(k), v) {
                o.insert("merged".into(), x.clone());
            }
        }
    }
    let status = match (ok.len(), failed) {
        (0, 0) if skipped > 0 => CellStatus::Skipped,
        (0, 0) => CellStatus::Missing,
        (0, _) => CellStatus::Failed,
        (_, 0) => CellStatus::Ok,
        _ => CellStatus::Partial,
    };
    CellSummary {
        id: cell.id.clone(),
        workload: cell.workload.kind().name().to_string(),
        params: cell.workload.params(),
        model: cell.model_name().to_string(),
        language: cell.external.as_ref().and_then(|e| e.language.clone()),
        like: cell
            .external
            .as_ref()
            .and_then(|e| e.like)
            .map(|m| m.name().to_string()),
        concurrency: cell.concurrency,
        mode: cell.mode.name().to_string(),
        status,
        trials: TrialCounts {
            planned: cell.trials,
            ok: ok.len() as u32,
            failed: failed as u32,
            skipped: skipped as u32,
        },
        reasons: records
            .iter()
            .filter(|r| r.status != TrialStatus::Ok)
            .filter_map(|r| r.reason.clone())
            .collect(),
        errors,
        latency_histogram: merged.as_ref().and_then(histogram::encode),
        run_order: Vec::new(),
        figures,
    }
}

/// Summarises every planned cell (in plan order) from whatever records exist.
pub fn summarize(
    scenario: &str,
    machine: Machine,
    cells: &[Cell],
    records: &[TrialRecord],
) -> Summary {
    let cells = cells
        .iter()
        .map(|cell| {
            let mine: Vec<&TrialRecord> = records.iter().filter(|r| r.cell.id == cell.id).collect();
            let mut summary = summarize_cell(cell, &mine);
            summary.run_order = records
                .iter()
                .enumerate()
                .filter(|(_, r)| r.cell.id == cell.id && r.status == TrialStatus::Ok)
                .map(|(i, _)| i as u32)
                .collect();
            summary
        })
        .collect();
    Summary {
        schema: SUMMARY_SCHEMA,
        scenario: scenario.to_string(),
        machine,
        machines: Vec::new(),
        cells,
    }
}

impl Summary {
    /// Whether a summary read back from a file (a run's summary.json, a baseline) can be
    /// trusted: each figure's statistics are numbers in the figure's range
    /// (`record::figure_range`), its merged histograms readable. `compare` checks both
    /// sides; keys it does not know are left alone.
    pub fn check(&self) -> Result<(), String> {
        for c in &self.cells {
            c.check().map_err(|why| format!("cell {}: {why}", c.id))?;
        }
        Ok(())
    }
}

impl CellSummary {
    fn check(&self) -> Result<(), String> {
        if let Some(h) = &self.latency_histogram {
            histogram::decode(h)?;
        }
        for (k, v) in &self.figures {
            check_stats(k, v)?;
        }
        Ok(())
    }
}

/// The statistics of the figure at `path` (`{"median", …, "values"}`), or an object of
/// such (`latency_us`), checked.
fn check_stats(path: &str, v: &Value) -> Result<(), String> {
    let Value::Object(m) = v else {
        return Ok(());
    };
    // `latency_us` holds a figure per percentile, one of them `max`: statistics are what
    // has a median or values that are not figures themselves.
    let stats = ["median", "values"]
        .iter()
        .any(|k| m.get(*k).is_some_and(|v| !v.is_object()));
    if !stats {
        for (k, v) in m {
            check_stats(&format!("{path}.{k}"), v)?;
        }
        return Ok(());
    }
    for (k, v) in m {
        let number = |v: &Value| {
            v.as_f64()
                .ok_or_else(|| format!("{path}.{k} holds {v}, not a number"))
        };
        let in_range = |v: &Value| match out_of_range(path, number(v)?) {
            Some(why) => Err(format!("{path}.{k} holds a value that {why}")),
            None => Ok(()),
        };
        match k.as_str() {
            "median" | "min" | "max" | "merged" => in_range(v)?,
            "values" => match v.as_array() {
                Some(a) => a.iter().try_for_each(in_range)?,
                None => return Err(format!("{path}.values holds {v}, not a list of numbers")),
            },
            "cv" if !v.is_null() => {
                let cv = number(v)?;
                if !(cv >= 0.0 && cv.is_finite()) {
                    return Err(format!("{path}.cv is {cv}, not a coefficient of variation"));
                }
            }
            "n" if v.as_u64().is_none() => {
                return Err(format!("{path}.n holds {v}, not a count of trials"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A statistic of a figure across a cell's ok trials, as summary.json names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Median,
    Min,
    Max,
    Cv,
    /// How many trials had the figure.
    N,
    /// A latency percentile of the trials' histograms merged.
    Merged,
}

impl Stat {
    fn key(self) -> &'static str {
        match self {
            Stat::Median => "median",
            Stat::Min => "min",
            Stat::Max => "max",
            Stat::Cv => "cv",
            Stat::N => "n",
            Stat::Merged => "merged",
        }
    }
}

impl CellSummary {
    /// The cell's own value of a figure: a latency percentile from the merged histogram
    /// (the median of its trials without one), any other figure the median of its trials.
    pub fn value(&self, f: Figure) -> Option<f64> {
        match f.spec().read {
            Read::Merged => self
                .stat(f, Stat::Merged)
                .or_else(|| self.stat(f, Stat::Median)),
            Read::Median => self.stat(f, Stat::Median),
        }
    }

    /// One statistic of a figure across ok trials.
    pub fn stat(&self, f: Figure, stat: Stat) -> Option<f64> {
        self.entry(f)?.get(stat.key())?.as_f64()
    }

    /// The figure's value in each ok trial, in trial order; `None` without any.
    pub fn values(&self, f: Figure) -> Option<Vec<f64>> {
        let vals: Vec<f64> = self
            .entry(f)?
            .get("values")?
            .as_array()?
            .iter()
            .filter_map(|x| x.as_f64())
            .collect();
        (!vals.is_empty()).then_some(vals)
    }

    /// The figure's object in summary.json (`{"median", "min", …}`), by its key.
    fn entry(&self, f: Figure) -> Option<&Value> {
        let mut parts = f.key().split('.');
        let mut v = self.figures.get(parts.next()?)?;
        for part in parts {
            v = v.get(part)?;
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::histogram::LatencyUs;
    use crate::record::{Figures, SCHEMA_VERSION};
    use crate::scenario::{DEFAULT_SCENARIO_TOML, Scenario};

    /// A trial whose every listed figure is measured, each at its own value times `k`.
    fn trial(cell: &Cell, t: u32, k: f64) -> TrialRecord {
        let n = |x: f64| Some((x * k) as u64);
        let x = |x: f64| Some(x * k);
        let l = LatencyUs {
            p50: 10.0 * k,
            p90: 20.0 * k,
            p99: 30.0 * k,
            p99_9: 40.0 * k,
            max: 50.0 * k,
            mean: 15.0 * k,
        };
        TrialRecord {
            schema: SCHEMA_VERSION,
            cell: crate::plan::RunCell::new(cell.clone()),
            trial: t,
            status: TrialStatus::Ok,
            reason: None,
            started_at: String::new(),
            figures: Figures {
                ops: n(1000.0),
                throughput_ops_per_sec: x(500.0),
                efficiency: x(0.9),
                latency_us: Some(l),
                cpu_secs_per_1k_ops: x(0.25),
                peak_pss_bytes: n(7e6),
                mem_per_op_bytes: x(3000.0),
                peak_threads: n(12.0),
                harness_threads: n(1.0),
                achieved_concurrency: x(9.5),
                failed_ops: n(4.0),
                dropped_ops: n(5.0),
                unfinished_ops: n(6.0),
                retried_ops: n(7.0),
                memory_samples: n(20.0),
                idle_pss_bytes: n(5e6),
                ..Figures::default()
            },
        }
    }

    /// Each figure of the list reads back from summary.json by its key what its trials
    /// recorded.
    #[test]
    fn every_listed_figure_reads_back_from_its_key() {
        let s = Scenario::parse(DEFAULT_SCENARIO_TOML, std::path::Path::new("t.toml")).unwrap();
        let cell = &s.cells()[0];
        let recs: Vec<TrialRecord> = [1.0, 3.0, 2.0]
            .iter()
            .enumerate()
            .map(|(t, &k)| trial(cell, t as u32, k))
            .collect();
        let mut c = summarize_cell(cell, &recs.iter().collect::<Vec<_>>());
        for f in Figure::ALL {
            let want: Vec<f64> = recs
                .iter()
                .map(|r| f.of_trial(&r.figures).unwrap())
                .collect();
            assert_eq!(c.values(f).as_ref(), Some(&want), "{f:?} ({})", f.key());
            // Without histograms every figure is the median of its trials (the k = 2 one).
            assert_eq!(c.value(f), Some(want[2]), "{f:?}");
            assert_eq!(c.stat(f, Stat::Min), Some(want[0]), "{f:?}");
            assert_eq!(c.stat(f, Stat::Max), Some(want[1]), "{f:?}");
            assert_eq!(c.stat(f, Stat::N), Some(3.0), "{f:?}");
        }
        // A merged percentile is the cell's own value; a median figure ignores one.
        c.figures["latency_us"]["p99"]["merged"] = 42.0.into();
        c.figures["throughput_ops_per_sec"]["merged"] = 42.0.into();
        assert_eq!(c.value(Figure::P99), Some(42.0));
        assert_eq!(c.stat(Figure::P99, Stat::Median), Some(60.0));
        assert_eq!(c.value(Figure::Throughput), Some(1000.0));
    }

    /// A summary of measured figures checks; one whose numbers were tampered with does not.
    #[test]
    fn a_summary_checks_its_numbers() {
        let s = Scenario::parse(DEFAULT_SCENARIO_TOML, std::path::Path::new("t.toml")).unwrap();
        let cell = &s.cells()[0];
        let recs: Vec<TrialRecord> = (0..3).map(|t| trial(cell, t, 1.0 + t as f64)).collect();
        let c = summarize_cell(cell, &recs.iter().collect::<Vec<_>>());
        c.check().unwrap();
        for (edit, says) in [
            (
                (
                    &["latency_us", "p99", "values"][..],
                    serde_json::json!([30.0, -1.0]),
                ),
                "latency_us.p99.values holds a value that is -1, below 0",
            ),
            (
                (&["throughput_ops_per_sec", "median"][..], "fast".into()),
                "throughput_ops_per_sec.median holds \"fast\", not a number",
            ),
            (
                (&["efficiency", "max"][..], 1e9.into()),
                "efficiency.max holds a value that is 1e9, above 100",
            ),
            ((&["ops", "n"][..], (-2).into()), "ops.n holds -2"),
        ] {
            let mut bad = c.clone();
            let (path, value) = edit;
            let mut v = &mut bad.figures[path[0]];
            for k in &path[1..] {
                v = &mut v[*k];
            }
            *v = value;
            let why = bad.check().unwrap_err();
            assert!(why.contains(says), "{why}");
        }
    }
}
