//! Helpers shared by the integration tests: write a scenario, run the real binary on it,
//! read what it wrote.
#![allow(dead_code)]

pub mod procs;

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// A finished `iobench run`: the folder holding its scenario, the scenario, its run folder
/// and what the process returned.
pub struct Run {
    pub dir: TempDir,
    pub scenario: PathBuf,
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

    /// Asserts that the run exited with `code`, showing its stderr and stdout otherwise.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) {
        assert_exit(&self.output, code);
    }

    pub fn records(&self) -> Vec<Value> {
        read_records(&self.out)
    }

    pub fn summary(&self) -> Value {
        read_json(&self.out.join("summary.json"))
    }
}

pub fn read_records(out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// A JSON file (a summary, run.json, verdicts, an export), parsed.
#[track_caller]
pub fn read_json(path: &Path) -> Value {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("{} is not JSON: {e}", path.display()),
    }
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

/// `iobench run SCENARIO --out OUT`, for the caller to add arguments to and start.
pub fn run_command(scenario: &Path, out: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_iobench"));
    cmd.arg("run").arg(scenario).arg("--out").arg(out);
    cmd
}

/// Runs `iobench run SCENARIO --out DIR` with extra arguments.
pub fn run(toml: &str, extra: &[&str]) -> Run {
    let (dir, scenario, out) = scenario(toml);
    let output = run_command(&scenario, &out)
        .args(extra)
        .output()
        .expect("iobench runs");
    Run {
        dir,
        scenario,
        out,
        output,
    }
}

/// [`run`], asserting that the run exited 0 (its stderr shown otherwise).
#[track_caller]
pub fn run_ok(toml: &str, extra: &[&str]) -> Run {
    let r = run(toml, extra);
    r.assert_exit(0);
    r
}

/// Starts `iobench run SCENARIO --out OUT EXTRA…` and returns at once: its stdout is
/// dropped, its stderr piped (`wait_with_output` reads it).
pub fn spawn_run(scenario: &Path, out: &Path, extra: &[&str]) -> Child {
    run_command(scenario, out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("iobench starts")
}

/// Asserts that a process exited with `code`, showing its stderr and stdout otherwise.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr:\n{}\nstdout:\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Calls `f` every 20 ms until it gives a value, and fails the test if `within` passes
/// first.
#[track_caller]
pub fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A figure of a record or summary by dotted path.
pub fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

/// The cells of a summary.
#[track_caller]
pub fn cells(summary: &Value) -> &[Value] {
    match summary["cells"].as_array() {
        Some(cells) => cells,
        None => panic!("no cells in {summary}"),
    }
}

/// The first of `items` (records, cells, rows) whose value at the dotted `path` is `value`.
#[track_caller]
pub fn find<'a>(items: &'a [Value], path: &str, value: &str) -> &'a Value {
    match items.iter().find(|i| get(i, path) == value) {
        Some(item) => item,
        None => {
            let seen: Value = items.iter().map(|i| get(i, path).clone()).collect();
            panic!("none of {} has {path} = {value:?}: {seen}", items.len())
        }
    }
}

/// The model of a trial's record.
#[track_caller]
pub fn model_of(rec: &Value) -> &str {
    match rec["cell"]["model"].as_str() {
        Some(model) => model,
        None => panic!("no cell.model in {rec}"),
    }
}

/// Why a trial failed or was skipped.
#[track_caller]
pub fn reason(rec: &Value) -> &str {
    match rec["reason"].as_str() {
        Some(reason) => reason,
        None => panic!("no reason in {rec}"),
    }
}

/// The errors of every kind that a record counted.
pub fn error_count(rec: &Value) -> u64 {
    rec["errors"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0)
}

/// A port on loopback where nothing listens (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a loopback port")
        .local_addr()
        .expect("its address")
        .port()
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

/// A test that cannot run on this machine (not root, no Python, no namespaces): skipped
/// with `why` on stderr, except on CI (`CI` set), where it must run and so fails.
#[track_caller]
pub fn skip_unless_ci(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "on CI this test must run: {why}"
    );
    eprintln!("skipped: {why}");
}
