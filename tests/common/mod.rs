//! Helpers shared by the integration tests: write a scenario, run the real binary on it,
//! read what it wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

pub struct Run {
    pub dir: TempDir,
    pub out: PathBuf,
    pub output: Output,
}

impl Run {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn records(&self) -> Vec<Value> {
        read_records(&self.out)
    }

    pub fn summary(&self) -> Value {
        let text = std::fs::read_to_string(self.out.join("summary.json")).expect("summary.json");
        serde_json::from_str(&text).expect("summary.json is JSON")
    }
}

pub fn read_records(out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

pub fn bin() -> Command {
    Command::cargo_bin("iobench").expect("the iobench binary")
}

/// Writes `toml` to a scenario file in a fresh folder and returns (folder, scenario, out).
pub fn scenario(toml: &str) -> (TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, toml).expect("write the scenario");
    let out = dir.path().join("out");
    (dir, path, out)
}

/// Runs `iobench run SCENARIO --out DIR` with extra arguments.
pub fn run(toml: &str, extra: &[&str]) -> Run {
    let (dir, path, out) = scenario(toml);
    let output = bin()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .expect("iobench runs");
    Run { dir, out, output }
}

/// A figure of a record or summary by dotted path.
pub fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

/// A `--seed` under which `toml`'s trials run in the order its cells are declared (each
/// round's cells are shuffled from the seed): for tests that need one cell to run first.
pub fn declared_order_seed(toml: &str) -> String {
    let s = iobench::Scenario::parse(toml, Path::new("test.toml")).expect("a valid scenario");
    let cells = s.cells();
    (0u64..)
        .find(|&seed| {
            // (cell, trial): by trial, then by cell.
            let order = iobench::orchestrator::schedule(&cells, seed);
            order
                .windows(2)
                .all(|w| (w[0].1, w[0].0) < (w[1].1, w[1].0))
        })
        .expect("some seed keeps the declared order")
        .to_string()
}
