//! What a run prints: a progress bar with ETA on a terminal (a plain line per trial
//! otherwise, as CI logs want), and a table of cells at the end.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::summary::{CellStatus, Summary};
use crate::figure::Figure;
use crate::plan::Cell;
use crate::record::TrialRecord;
use crate::record::TrialStatus;

/// Progress of a run, on stderr.
pub enum Progress {
    Bar(ProgressBar),
    Lines { total: usize },
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} trials, ETA {eta}  {msg}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            Progress::Bar(bar)
        } else {
            Progress::Lines { total }
        }
    }

    pub fn started(&self, cell: &Cell, trial: u32) {
        if let Progress::Bar(b) = self {
            b.set_message(format!("{} #{trial}", cell.id));
        }
    }

    pub fn finished(&self, done: usize, record: &TrialRecord) {
        match self {
            Progress::Bar(b) => {
                if record.status != TrialStatus::Ok {
                    b.println(trial_line(record));
                }
                b.inc(1);
            }
            Progress::Lines { total } => {
                let width = total.to_string().len();
                eprintln!("[{done:>width$}/{total}] {}", trial_line(record));
            }
        }
    }

    pub fn finish(&self) {
        if let Progress::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}

/// One line describing a finished trial.
pub fn trial_line(r: &TrialRecord) -> String {
    let head = format!("{} #{}", r.cell.id, r.trial);
    match r.status {
        TrialStatus::Ok => {
            let f = &r.figures;
            let mut s = format!("{head}: ok, {} ops/s", num(f.throughput_ops_per_sec));
            if let Some(e) = f.efficiency {
                s += &format!(" ({e:.2} of ideal)");
            }
            if let Some(l) = f.latency_us {
                s += &format!(", p99 {}", micros(l.p99));
            }
            s
        }
        // The status in lower case; the reason as it was written (paths, messages).
        TrialStatus::Failed | TrialStatus::Skipped => format!(
            "{head}: {}: {}",
            format!("{:?}", r.status).to_lowercase(),
            r.reason.as_deref().unwrap_or("no reason given")
        ),
    }
}

pub(crate) fn num(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 1.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}

/// A latency in microseconds, shown in the unit that reads best.
pub fn micros(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

pub(crate) fn kib(bytes: Option<f64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.2}", b / 1024.0))
}

/// A value with `digits` decimals, or `-` where it was not measured.
pub(crate) fn fixed(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// The cell table printed at the end of a run.
pub fn summary_table(s: &Summary) -> String {
    let header = [
        "workload",
        "model",
        "C",
        "status",
        "ops/s",
        "efficiency",
        "p99",
        "KiB/op",
        "CPU s/1k ops",
        "threads",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    for c in &s.cells {
        let status = match c.status {
            CellStatus::Ok => "ok".to_string(),
            CellStatus::Partial => format!("{}/{} ok", c.trials.ok, c.trials.ok + c.trials.failed),
            CellStatus::Failed => "FAILED".to_string(),
            CellStatus::Missing => "missing".to_string(),
            CellStatus::Skipped => "skipped".to_string(),
        };
        rows.push(vec![
            format!("{}{}", c.workload, params_brief(&c.params)),
            c.model.clone(),
            c.concurrency.to_string(),
            status,
            num(c.value(Figure::Throughput)),
            fixed(c.value(Figure::Efficiency), 3),
            c.value(Figure::P99).map_or("-".into(), micros),
            kib(c.value(Figure::MemPerOp)),
            fixed(c.value(Figure::CpuPer1kOps), 4),
            fixed(c.value(Figure::PeakThreads), 0),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (v, w))| {
                if i < 2 {
                    format!("{v:<w$}")
                } else {
                    format!("{v:>w$}")
                }
            })
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
        if n == 0 {
            out += &widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("  ");
            out.push('\n');
        }
    }
    out
}

fn params_brief(p: &serde_json::Value) -> String {
    let Some(m) = p.as_object().filter(|m| !m.is_empty()) else {
        return String::new();
    };
    let inner: Vec<String> = m
        .values()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect();
    format!(" {}", inner.join(" "))
}
