//! A run cut into shards (`run --shard I/N`) and put back together (`merge`) is the run:
//! the same cells, the same trials, percentiles from the pooled histograms; and merge
//! refuses what is not one run's shards.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_exit, bin, read_json, read_records};
use serde_json::Value;

const SCENARIO: &str = r#"name = "sharded"
[run]
trials = 2
warmup = "50ms"
duration = "200ms"
models = ["threads", "tokio-current-thread", "sequential"]
concurrency = [1, 8]
[[workload]]
kind = "sleep"
latency = "5ms"
[[workload]]
kind = "tcp-echo"
server_delay = "1ms"
models = ["threads"]
concurrency = [4]
"#;

fn iobench(args: &[&str], dir: &Path) -> Output {
    let mut c = bin();
    c.current_dir(dir).args(args);
    c.output().unwrap()
}

fn run(dir: &Path, scenario: &str, out: &str, extra: &[&str]) {
    let mut args = vec!["run", scenario, "--out", out];
    args.extend_from_slice(extra);
    assert_exit(&iobench(&args, dir), 0);
}

fn ids(summary: &Value) -> Vec<String> {
    summary["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn three_shards_merged_are_the_run_unsharded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("s.toml"), SCENARIO).unwrap();
    run(dir, "s.toml", "whole", &[]);
    for i in 0..3 {
        run(
            dir,
            "s.toml",
            &format!("s{i}"),
            &["--shard", &format!("{i}/3")],
        );
        let shard = read_json(&dir.join(format!("s{i}/run.json")));
        assert_eq!(shard["shard"]["index"], i, "{shard}");
        assert_eq!(shard["shard"]["cells"], 7);
    }
    let out = iobench(&["merge", "merged", "s2", "s0", "s1"], dir);
    assert_exit(&out, 0);
    let whole = read_json(&dir.join("whole/summary.json"));
    let merged = read_json(&dir.join("merged/summary.json"));
    assert_eq!(
        ids(&merged),
        ids(&whole),
        "the same cells, in the run's order"
    );
    for (a, b) in whole["cells"]
        .as_array()
        .unwrap()
        .iter()
        .zip(merged["cells"].as_array().unwrap())
    {
        assert_eq!(a["trials"], b["trials"], "{}", a["id"]);
        assert_eq!(b["status"], "ok", "{b}");
    }
    let records = read_records(&dir.join("merged"));
    assert_eq!(records.len(), read_records(&dir.join("whole")).len());
    // Each cell's merged percentiles are those of its trials' histograms pooled.
    for cell in merged["cells"].as_array().unwrap() {
        let hists: Vec<&str> = records
            .iter()
            .filter(|r| r["cell"]["id"] == cell["id"] && r["status"] == "ok")
            .map(|r| r["latency_histogram"].as_str().unwrap())
            .collect();
        assert_eq!(hists.len(), 2, "{}", cell["id"]);
        let pooled = iobench::measure::histogram::merge(hists).unwrap();
        let p = iobench::measure::histogram::percentiles(&pooled).unwrap();
        let p = serde_json::to_value(p).unwrap();
        for q in ["p50", "p99", "max"] {
            assert_eq!(
                cell["latency_us"][q]["merged"], p[q],
                "{} {q}: {cell}",
                cell["id"]
            );
        }
    }
    let report = std::fs::read_to_string(dir.join("merged/report.md")).unwrap();
    assert!(report.contains("sharded"), "{report}");
    assert!(
        !report.contains("machines:"),
        "one machine: no list of machines"
    );
}

#[test]
fn merge_refuses_what_is_not_one_runs_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("s.toml"), SCENARIO).unwrap();
    std::fs::write(
        dir.join("other.toml"),
        SCENARIO.replace("\"5ms\"", "\"6ms\""),
    )
    .unwrap();
    let quick = ["--trials", "1", "--duration", "100ms", "--warmup", "0s"];
    let shard = |s: &str, scenario: &str, out: &str| {
        let mut extra = vec!["--shard", s];
        extra.extend_from_slice(&quick);
        run(dir, scenario, out, &extra);
    };
    shard("0/3", "s.toml", "a0");
    shard("1/3", "s.toml", "a1");
    shard("2/3", "other.toml", "b2");
    let refuse = |args: &[&str], says: &str| {
        let o = iobench(args, dir);
        assert_exit(&o, 2);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refuse(
        &["merge", "m1", "a0", "a1", "b2"],
        "is a shard of another run",
    );
    refuse(&["merge", "m2", "a0", "a1", "a1"], "the shards overlap");
    refuse(&["merge", "m3", "a0", "a1"], "shard(s) 2/3 missing");
    refuse(&["merge", "m4", "a0", "nowhere"], "is not a run folder");
    refuse(&["run", "s.toml", "--shard", "3/3"], "shards are 0 to 2");
    // --partial merges what there is, and says what is missing.
    let o = iobench(&["merge", "m5", "a0", "a1", "--partial"], dir);
    assert_exit(&o, 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("without shard(s) 2/3"));
    let run_json = read_json(&dir.join("m5/run.json"));
    assert_eq!(run_json["merged"]["missing"], serde_json::json!([2]));
    let summary = read_json(&dir.join("m5/summary.json"));
    assert_eq!(
        summary["cells"].as_array().unwrap().len(),
        5,
        "cells 0, 1, 3, 4, 6 of 7"
    );
}

#[test]
fn the_shard_comes_from_the_environment_and_machines_that_differ_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("s.toml"), SCENARIO).unwrap();
    let quick = ["--trials", "1", "--duration", "100ms", "--warmup", "0s"];
    for (i, how) in [(0, "auto/2"), (1, "env:MY_SHARD/2")] {
        let mut c = bin();
        c.current_dir(dir)
            .env("JOB_COMPLETION_INDEX", "0")
            .env("MY_SHARD", "1")
            .args(["run", "s.toml", "--out", &format!("k{i}"), "--shard", how])
            .args(quick);
        assert_exit(&c.output().unwrap(), 0);
        assert_eq!(
            read_json(&dir.join(format!("k{i}/run.json")))["shard"]["index"],
            i
        );
    }
    // Shard 1 ran on "another machine".
    let path: PathBuf = dir.join("k1/run.json");
    let mut run_json = read_json(&path);
    run_json["machine"]["cpu_model"] = "Another CPU".into();
    run_json["machine"]["cores"] = 16.into();
    std::fs::write(&path, serde_json::to_string(&run_json).unwrap()).unwrap();
    let o = iobench(&["merge", "m", "k0", "k1"], dir);
    assert_exit(&o, 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 different machines"));
    let summary = read_json(&dir.join("m/summary.json"));
    let machines = summary["machines"].as_array().unwrap();
    assert_eq!(machines.len(), 2, "{summary}");
    assert_eq!(machines[1]["machine"]["cpu_model"], "Another CPU");
    let report = std::fs::read_to_string(dir.join("m/report.md")).unwrap();
    assert!(report.contains("The shards ran on 2 machines"), "{report}");
    assert!(
        report.contains("shard 1: Another CPU, 16 cores"),
        "{report}"
    );
    assert!(
        report.contains("compared with cells that ran on another machine"),
        "{report}"
    );
    let html = std::fs::read_to_string(dir.join("m/report.html")).unwrap();
    assert!(html.contains("Another CPU"), "the page names every machine");
}
