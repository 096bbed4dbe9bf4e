//! Exports of a run's summary for CI services. Benchmark names are the cell ids
//! (`workload[params]/model/cN/mode`), which stay the same from run to run.
//!
//! - `bmf`: Bencher Metric Format, `{"<benchmark>": {"<measure>": {"value", "lower_value",
//!   "upper_value"}}}`, the median and the lowest and highest trial.
//! - `github-action-benchmark`: its `customBiggerIsBetter` array (throughput) in FILE, and its
//!   `customSmallerIsBetter` array (p99 latency, peak memory, CPU per 1,000 ops) in FILE with
//!   `.smaller` before the extension: `{name, unit, value, range}` objects.
//! - `csv`: one row per cell and figure.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::figure::{Better, Figure};
use crate::files;
use crate::report::summary::{CellStatus, Stat, Summary};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Bmf,
    GithubActionBenchmark,
    Csv,
}

/// Bencher's measure names (those of the first exports, so that a project's history goes
/// on); a figure exported later would go by its key.
fn measure(f: Figure) -> &'static str {
    match f {
        Figure::Throughput => "throughput",
        Figure::P99 => "latency-p99-us",
        Figure::PeakPss => "peak-memory-bytes",
        Figure::CpuPer1kOps => "cpu-secs-per-1k-ops",
        other => other.key(),
    }
}

/// One cell's figure: the cell id, the figure, (median, min, max), CV and trial count.
struct Row {
    id: String,
    figure: Figure,
    stats: [f64; 3],
    cv: Option<f64>,
    n: f64,
}

/// Every ok cell's compared figures.
fn rows(s: &Summary) -> Vec<Row> {
    let mut out = Vec::new();
    for c in s
        .cells
        .iter()
        .filter(|c| matches!(c.status, CellStatus::Ok | CellStatus::Partial))
    {
        for f in Figure::compared() {
            let (Some(m), Some(lo), Some(hi)) =
                (c.value(f), c.stat(f, Stat::Min), c.stat(f, Stat::Max))
            else {
                continue;
            };
            out.push(Row {
                id: c.id.clone(),
                figure: f,
                stats: [m, lo, hi],
                cv: c.stat(f, Stat::Cv),
                n: c.stat(f, Stat::N).unwrap_or(0.0),
            });
        }
    }
    out
}

pub fn bmf(s: &Summary) -> Value {
    let mut root = serde_json::Map::new();
    for Row {
        id,
        figure: f,
        stats: [m, lo, hi],
        ..
    } in rows(s)
    {
        let entry = root.entry(id).or_insert_with(|| json!({}));
        entry[measure(f)] = json!({"value": m, "lower_value": lo, "upper_value": hi});
    }
    Value::Object(root)
}

/// (bigger is better, smaller is better) arrays.
pub fn github_action_benchmark(s: &Summary) -> (Value, Value) {
    let (mut bigger, mut smaller) = (Vec::new(), Vec::new());
    for Row {
        id,
        figure: f,
        stats: [m, lo, hi],
        ..
    } in rows(s)
    {
        let item = json!({
            "name": format!("{id} {}", f.label()),
            "unit": f.unit(),
            "value": m,
            "range": format!("{lo} … {hi}"),
        });
        if f.better() == Better::Higher {
            bigger.push(item);
        } else {
            smaller.push(item);
        }
    }
    (Value::Array(bigger), Value::Array(smaller))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn csv(s: &Summary) -> String {
    let mut out = String::from("cell,figure,unit,higher_is_better,median,min,max,cv,trials\n");
    for Row {
        id,
        figure: f,
        stats: [m, lo, hi],
        cv,
        n,
    } in rows(s)
    {
        out += &format!(
            "{},{},{},{},{m},{lo},{hi},{},{n}\n",
            csv_field(&id),
            csv_field(f.label()),
            csv_field(f.unit()),
            f.better() == Better::Higher,
            cv.map_or(String::new(), |v| v.to_string())
        );
    }
    out
}

/// The second file of a github-action-benchmark export.
pub fn smaller_path(p: &Path) -> PathBuf {
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match p.extension() {
        Some(e) => format!("{stem}.smaller.{}", e.to_string_lossy()),
        None => format!("{stem}.smaller"),
    };
    p.with_file_name(name)
}

/// Writes `s` as `format` to `path`; returns the files written.
pub fn write(format: Format, s: &Summary, path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON values serialize") + "\n";
    Ok(match format {
        Format::Bmf => {
            files::write_whole(path, pretty(&bmf(s)))?;
            vec![path.to_path_buf()]
        }
        Format::GithubActionBenchmark => {
            let (big, small) = github_action_benchmark(s);
            let other = smaller_path(path);
            files::write_whole(path, pretty(&big))?;
            files::write_whole(&other, pretty(&small))?;
            vec![path.to_path_buf(), other]
        }
        Format::Csv => {
            files::write_whole(path, csv(s))?;
            vec![path.to_path_buf()]
        }
    })
}
