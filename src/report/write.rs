//! Writes a run folder's report: charts/, report.html and report.md from a summary
//! (`iobench run` at its end), or everything again from `run.json` and `results.jsonl`
//! (`iobench report DIR`), also for an interrupted run (missing cells are said to be
//! missing), one whose last line was cut short, and one whose results.jsonl holds lines
//! not to be trusted (left out, each named by file and line).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use super::baseline::Baseline;
use super::page::Page;
use super::summary::{ShardMachine, Summary, summarize};
use crate::files;
use crate::measure::machine::Machine;
use crate::plan::{Cell, RunCell};
use crate::record::{Results, Skipped, TrialRecord};

/// Where a report was written.
pub struct Written {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub charts: usize,
}

/// Writes charts/, report.html and report.md into `dir`.
pub fn write(dir: &Path, summary: &Summary) -> anyhow::Result<Written> {
    let mut page = Page::build(summary, &dir.join("charts"), protocol(dir))?;
    page.baseline = Baseline::read(dir);
    let html = dir.join("report.html");
    let markdown = dir.join("report.md");
    files::write_whole(&html, super::html::render(&page))?;
    files::write_whole(&markdown, super::markdown::render(&page))?;
    Ok(Written {
        html,
        markdown,
        charts: page.groups.iter().map(|g| g.charts.len()).sum::<usize>()
            + page.sweeps.iter().map(|(_, c)| c.len()).sum::<usize>(),
    })
}

/// `run.json` as `iobench report` reads it back.
#[derive(Deserialize)]
struct RunFile {
    #[serde(default)]
    schema: Option<u32>,
    scenarios: Vec<String>,
    machine: Machine,
    /// A merged run whose shards ran on machines that differ.
    #[serde(default)]
    machines: Vec<ShardMachine>,
    cells: Vec<RunCell>,
}

/// What `iobench report DIR` did.
pub struct Regenerated {
    pub written: Written,
    pub summary: Summary,
    pub records: usize,
    /// Lines of results.jsonl left out: cut short (a run killed mid-write), of another
    /// schema, or not to be trusted (`TrialRecord::check`).
    pub skipped: Vec<Skipped>,
}

/// Rebuilds summary.json and the report of a run folder from run.json and results.jsonl.
/// results.jsonl may come from anywhere: each line is read and checked
/// (`record::Results::read`), and one that does not read or check is left out (the
/// caller warns of each, by file and line), never summarised.
pub fn regenerate(dir: &Path) -> anyhow::Result<Regenerated> {
    let run_json = dir.join("run.json");
    let text = std::fs::read_to_string(&run_json)
        .with_context(|| format!("cannot read {}", run_json.display()))?;
    let run: RunFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an iobench run.json", run_json.display()))?;
    crate::plan::check_run_schema(run.schema)
        .map_err(|why| anyhow::anyhow!("{}: {why}", run_json.display()))?;
    let results = dir.join("results.jsonl");
    let read =
        Results::read(&results).with_context(|| format!("cannot read {}", results.display()))?;
    let records: Vec<TrialRecord> = read.records.into_iter().map(|(_, r)| r).collect();
    let planned: Vec<Cell> = run.cells.into_iter().map(|c| c.cell).collect();
    let mut summary = summarize(&run.scenarios.join(", "), run.machine, &planned, &records);
    summary.machines = run.machines;
    files::write_whole(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    Ok(Regenerated {
        written: write(dir, &summary)?,
        summary,
        records: records.len(),
        skipped: read.skipped,
    })
}

/// The protocols of a run folder's cells, from its run.json: trials, warm-up, window, mode.
fn protocol(dir: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dir.join("run.json")) else {
        return Vec::new();
    };
    let Ok(run) = serde_json::from_str::<RunFile>(&text) else {
        return Vec::new();
    };
    let mut lines: Vec<(String, usize)> = Vec::new();
    for c in &run.cells {
        let line = format!(
            "{} trial(s) of {} after {} warm-up, {} loop{}",
            c.trials,
            c.duration,
            c.warmup,
            c.mode.name(),
            c.rate.map_or(String::new(), |r| format!(" at {r} ops/s"))
        );
        match lines.iter_mut().find(|(l, _)| *l == line) {
            Some((_, n)) => *n += 1,
            None => lines.push((line, 1)),
        }
    }
    lines
        .into_iter()
        .map(|(l, n)| format!("{n} cell(s): {l}"))
        .collect()
}
