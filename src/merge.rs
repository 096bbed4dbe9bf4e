//! `iobench merge OUT DIR...`: the shards of one run (`iobench run --shard I/N`, each on a
//! machine of its own) joined into one run folder: run.json with the whole run's cells in
//! their order, every trial's record, and the summary and report made from them (the
//! percentiles from the trials' merged histograms, as for any run).
//!
//! It refuses (exit 2, with the reason) folders of different runs (their cells'
//! fingerprints differ), two folders of the same shard, and a missing shard, unless
//! `--partial`, which merges what there is and lists what is missing. Where the shards ran
//! on machines that differ (CPU, cores, kernel), run.json and the summary list every
//! machine with its shards and cells, and the report says so beside the cells.
//!
//! A shard's results.jsonl may come from anywhere: a record of another schema is refused
//! (exit 2, naming the file and line), any other line that does not read or check
//! (`TrialRecord::check`) is left out of the merged run, and named.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::measure::machine::Machine;
use crate::plan::{RunCell, ShardInfo, fingerprint};
use crate::record::{Results, Skipped, Unreadable};
use crate::report::summary::ShardMachine;
use crate::run::write_json;

/// A shard's run.json, as merge reads it (its cells kept as written).
#[derive(Deserialize)]
struct ShardRun {
    #[serde(default)]
    schema: Option<u32>,
    scenarios: Vec<String>,
    #[serde(default)]
    started_at: String,
    #[serde(default)]
    seed: u64,
    machine: Machine,
    #[serde(default)]
    shard: Option<ShardInfo>,
    cells: Vec<Value>,
}

/// One folder given to merge.
struct Folder {
    dir: PathBuf,
    run: ShardRun,
    shard: ShardInfo,
    /// results.jsonl's lines that read and check (`record::Results::read`).
    records: Vec<String>,
    /// Its lines left out.
    skipped: Vec<Skipped>,
}

/// What `merge` did.
pub struct Merged {
    pub out: PathBuf,
    pub shards: Vec<u32>,
    pub missing: Vec<u32>,
    pub count: u32,
    pub records: usize,
    /// The shards' lines of results.jsonl left out, by file and line.
    pub skipped: Vec<Skipped>,
    pub machines: usize,
    pub report: crate::report::write::Regenerated,
}

fn read(dir: &Path) -> Result<Folder, Error> {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Usage(format!(
            "{} is not a run folder: cannot read {}: {e}",
            dir.display(),
            path.display()
        ))
    })?;
    let run: ShardRun = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{} is not an iobench run.json: {e}",
            path.display()
        ))
    })?;
    crate::plan::check_run_schema(run.schema)
        .map_err(|why| Error::Usage(format!("{}: {why}", path.display())))?;
    // An unsharded run is the one shard of one.
    let shard = match &run.shard {
        Some(s) => s.clone(),
        None => {
            let cells: Vec<RunCell> = run
                .cells
                .iter()
                .map(|c| serde_json::from_value(c.clone()))
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    Error::Usage(format!("{}: a cell does not read: {e}", path.display()))
                })?;
            ShardInfo {
                index: 0,
                count: 1,
                cells: cells.len(),
                fingerprint: fingerprint(cells.iter().map(|c| &c.cell)),
            }
        }
    };
    let path = dir.join("results.jsonl");
    let read = Results::read(&path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    // The merged results.jsonl is the run's from now on: a record of another version would
    // mix versions in it for good, so it is refused; any other bad line is left out.
    if let Some(s) = read
        .skipped
        .iter()
        .find(|s| matches!(s.why, Unreadable::Schema(_)))
    {
        return Err(Error::Usage(format!(
            "{s}; merge the shards with the iobench that ran them"
        )));
    }
    Ok(Folder {
        dir: dir.to_path_buf(),
        run,
        shard,
        records: read.records.into_iter().map(|(line, _)| line).collect(),
        skipped: read.skipped,
    })
}

/// Merges the shards in `dirs` into the new run folder `out`.
pub fn merge(out: &Path, dirs: &[PathBuf], partial: bool) -> Result<Merged, Error> {
    if dirs.is_empty() {
        return Err(Error::Usage("merge needs at least one run folder".into()));
    }
    if out.join("results.jsonl").exists() {
        return Err(Error::Usage(format!(
            "{} already holds a run (results.jsonl); give merge a new folder",
            out.display()
        )));
    }
    let mut folders = dirs
        .iter()
        .map(|d| read(d))
        .collect::<Result<Vec<_>, _>>()?;
    folders.sort_by_key(|f| f.shard.index);
    let first = &folders[0];
    let (count, total, print) = (
        first.shard.count,
        first.shard.cells,
        first.shard.fingerprint.clone(),
    );
    for f in &folders[1..] {
        if f.shard.fingerprint != print
            || f.shard.count != count
            || f.run.scenarios != first.run.scenarios
        {
            return Err(Error::Usage(format!(
                "{} is a shard of another run than {}: scenarios {:?} in {} shards, cells' fingerprint {}, against {:?} in {count}, {print} (the same scenarios with the same options make the same cells)",
                f.dir.display(),
                first.dir.display(),
                f.run.scenarios,
                f.shard.count,
                f.shard.fingerprint,
                first.run.scenarios
            )));
        }
    }
    for w in folders.windows(2) {
        if w[0].shard.index == w[1].shard.index {
            return Err(Error::Usage(format!(
                "the shards overlap: {} and {} are both shard {}/{count}",
                w[0].dir.display(),
                w[1].dir.display(),
                w[0].shard.index
            )));
        }
    }
    let shards: Vec<u32> = folders.iter().map(|f| f.shard.index).collect();
    let missing: Vec<u32> = (0..count).filter(|i| !shards.contains(i)).collect();
    if !missing.is_empty() && !partial {
        let names: Vec<String> = missing.iter().map(|i| format!("{i}/{count}")).collect();
        return Err(Error::Usage(format!(
            "shard(s) {} missing: give every shard's folder, or --partial to merge without them",
            names.join(", ")
        )));
    }
    // Cell j of shard i is cell i + j·N of the whole run.
    let mut cells: Vec<Option<Value>> = vec![None; total];
    for f in &folders {
        for (j, c) in f.run.cells.iter().enumerate() {
            let k = f.shard.index as usize + j * count as usize;
            if let Some(slot) = cells.get_mut(k) {
                *slot = Some(c.clone());
            }
        }
    }
    let cells: Vec<Value> = cells.into_iter().flatten().collect();
    let mut machines: Vec<ShardMachine> = Vec::new();
    for f in &folders {
        let ids = f
            .run
            .cells
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_string));
        match machines
            .iter_mut()
            .find(|m| !ShardMachine::differs(&m.machine, &f.run.machine))
        {
            Some(m) => {
                m.shards.push(f.shard.index);
                m.cells.extend(ids);
            }
            None => machines.push(ShardMachine {
                shards: vec![f.shard.index],
                machine: f.run.machine.clone(),
                cells: ids.collect(),
            }),
        }
    }
    let distinct = machines.len();
    if distinct == 1 {
        machines.clear();
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let started = folders
        .iter()
        .map(|f| f.run.started_at.clone())
        .min()
        .unwrap_or_default();
    let run_json = serde_json::json!({
        "schema": crate::plan::RUN_SCHEMA,
        "scenarios": first.run.scenarios,
        "started_at": started,
        "seed": first.run.seed,
        "machine": first.run.machine,
        "machines": machines,
        "merged": {
            "count": count,
            "shards": shards,
            "missing": missing,
            "cells": total,
            "fingerprint": print,
            "from": folders.iter().map(|f| f.dir.display().to_string()).collect::<Vec<_>>(),
        },
        "cells": cells,
    });
    write_json(&out.join("run.json"), &run_json)?;
    let mut text = String::new();
    for f in &folders {
        for line in &f.records {
            text += line;
            text.push('\n');
        }
    }
    let results = out.join("results.jsonl");
    crate::files::write_whole(&results, text)?;
    let report = crate::report::write::regenerate(out)?;
    Ok(Merged {
        out: out.to_path_buf(),
        records: folders.iter().map(|f| f.records.len()).sum(),
        skipped: folders.iter().flat_map(|f| f.skipped.clone()).collect(),
        shards,
        missing,
        count,
        machines: distinct,
        report,
    })
}
