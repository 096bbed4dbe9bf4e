//! `iobench compare` on hand-made summaries, and the export files' shapes.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_exit, bin, read_json};
use serde_json::{Value, json};

/// A summary of one cell whose throughput trials are `tput` (other figures steady).
fn summary(scenario: &str, cells: &[(&str, &[f64])]) -> Value {
    let spread = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        json!({"median": s[s.len() / 2], "min": s[0], "max": s[s.len() - 1], "cv": null, "n": v.len(), "values": v})
    };
    let cells: Vec<Value> = cells
        .iter()
        .map(|(id, tput)| {
            json!({
                "id": id, "workload": "sleep", "params": {"latency": "10ms"},
                "model": "threads", "concurrency": 10, "mode": "closed", "status": "ok",
                "trials": {"planned": tput.len(), "ok": tput.len(), "failed": 0},
                "reasons": [], "errors": {},
                "throughput_ops_per_sec": spread(tput),
                "peak_pss_bytes": spread(&vec![5e6; tput.len()]),
            })
        })
        .collect();
    json!({
        "schema": 3, "scenario": scenario,
        "machine": {"cpu_model": null, "cores": 2, "memory_bytes": null, "kernel": null,
                    "os": "linux", "rustc": null, "iobench_version": "0.1.0", "git_commit": null,
                    "limit_nofile": null, "limit_nproc": null},
        "cells": cells,
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

/// The summary of `CELL` alone, its throughput trials `tput`.
fn one_cell(tput: &[f64]) -> Value {
    summary("ci", &[(CELL, tput)])
}

/// `iobench compare` of summary `base` against summary `new`: (exit code, stdout and
/// stderr, verdicts).
fn compare(base: &Value, new: &Value) -> (Option<i32>, String, Value) {
    compare_with(base, new, &[])
}

/// [`compare`] with `extra` arguments, the summaries written to a fresh folder first.
fn compare_with(base: &Value, new: &Value, extra: &[&str]) -> (Option<i32>, String, Value) {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (
        write(d.path(), "a.json", base),
        write(d.path(), "b.json", new),
    );
    compare_files(&a, &b, extra)
}

/// `iobench compare BASE NEW EXTRA… --json VERDICTS`, on files.
fn compare_files(base: &Path, new: &Path, extra: &[&str]) -> (Option<i32>, String, Value) {
    let json = new.with_extension("verdicts.json");
    let out = bin()
        .arg("compare")
        .arg(base)
        .arg(new)
        .args(extra)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let verdicts = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out.status.code(), stdout, verdicts)
}

/// The verdicts' row of `figure` (the first, for a one-cell fixture).
fn row<'a>(v: &'a Value, figure: &str) -> &'a Value {
    v["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["figure"] == figure)
        .unwrap_or_else(|| panic!("no {figure} row: {v}"))
}

fn verdict(v: &Value, figure: &str) -> String {
    row(v, figure)["verdict"].as_str().unwrap().to_string()
}

const TIGHT: [f64; 5] = [1000.0, 1004.0, 996.0, 1002.0, 998.0];
const CELL: &str = "sleep[latency=10ms]/threads/c10/closed";

#[test]
fn identical_runs_show_no_change() {
    let s = one_cell(&TIGHT);
    let (code, out, v) = compare(&s, &s);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(verdict(&v, "throughput"), "no_change");
    assert_eq!(verdict(&v, "peak memory"), "no_change");
    assert!(out.contains("0 regressed"), "{out}");
}

#[test]
fn a_tight_20_percent_drop_is_a_regression() {
    let slower: Vec<f64> = TIGHT.iter().map(|x| x * 0.8).collect();
    let (base, new) = (one_cell(&TIGHT), one_cell(&slower));
    let (code, out, v) = compare(&base, &new);
    assert_eq!(code, Some(3), "{out}");
    assert_eq!(verdict(&v, "throughput"), "regressed");
    assert!(out.contains("REGRESSED") && out.contains("-20.0%"), "{out}");
    // The other way round it is an improvement, and nothing regressed.
    let (code, _, v) = compare(&new, &base);
    assert_eq!(code, Some(0));
    assert_eq!(verdict(&v, "throughput"), "improved");
}

/// compare.html beside the verdicts: well-formed, the interval bars with their numbers,
/// the trials of a regressed row side by side, the rows not judged and why.
#[test]
fn compare_html_shows_the_bars_the_unjudged_and_the_regressed_trials() {
    let slower: Vec<f64> = TIGHT.iter().map(|x| x * 0.8).collect();
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (
        write(d.path(), "a.json", &one_cell(&TIGHT)),
        write(d.path(), "b.json", &one_cell(&slower)),
    );
    let (code, out, _) = compare_files(&a, &b, &[]);
    assert_eq!(code, Some(3), "{out}");
    let html = std::fs::read_to_string(b.with_extension("verdicts.html")).unwrap();
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&html, opt)
        .unwrap_or_else(|e| panic!("compare.html: {e}"));
    assert!(!html.contains("<script") && !html.contains("<link"));
    let bars: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("svg") && n.attribute("class") == Some("ci"))
        .collect();
    assert!(!bars.is_empty());
    for bar in &bars {
        let title = bar.children().find(|n| n.has_tag_name("title")).unwrap();
        assert!(title.text().unwrap().contains("interval"), "{html}");
    }
    assert!(html.contains("Gate: FAILED"));
    assert!(html.contains("Not judged, and why"));
    assert!(html.contains("Regressed: the trials side by side"));
    // Every trial of both sides, as the summaries gave them.
    for x in TIGHT.iter().chain(&slower) {
        assert!(html.contains(&format!("<td>{x:.4}</td>")), "{x} in {html}");
    }
}

#[test]
fn a_20_percent_drop_inside_wide_noise_is_inconclusive() {
    let noisy = [600.0, 1400.0, 1000.0, 750.0, 1250.0];
    let slower: Vec<f64> = noisy.iter().map(|x| x * 0.8).collect();
    let (code, out, v) = compare(&one_cell(&noisy), &one_cell(&slower));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(verdict(&v, "throughput"), "inconclusive");
}

#[test]
fn cells_in_one_run_only_are_listed() {
    let other = "sleep[latency=10ms]/smol/c10/closed";
    let both = summary("ci", &[(CELL, &TIGHT), (other, &TIGHT)]);
    let (code, out, v) = compare(&one_cell(&TIGHT), &both);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("Cells only in NEW") && out.contains(other),
        "{out}"
    );
    assert_eq!(v["only_in_new"][0], other);
}

/// The same cell with every trial failed (its ops refused), as a failed cell's summary is.
fn failed_cell(id: &str, trials: usize) -> Value {
    json!({
        "id": id, "workload": "sleep", "params": {"latency": "10ms"},
        "model": "threads", "concurrency": 10, "mode": "closed", "status": "failed",
        "trials": {"planned": trials, "ok": 0, "failed": trials},
        "reasons": vec!["no operation succeeded in the window; first Refused error: connection refused"; trials],
        "errors": {},
    })
}

#[test]
fn a_cell_that_fails_in_new_fails_the_gate_and_is_named() {
    let other = "sleep[latency=10ms]/smol/c10/closed";
    let base = summary("ci", &[(CELL, &TIGHT), (other, &TIGHT)]);
    let mut new = base.clone();
    new["cells"][0] = failed_cell(CELL, TIGHT.len());
    let (code, out, v) = compare(&base, &new);
    assert_eq!(code, Some(3), "{out}");
    let row = row(&v, "trials");
    assert_eq!(row["cell"], CELL);
    assert_eq!(row["verdict"], "regressed");
    assert!(
        out.contains(CELL) && out.contains("connection refused"),
        "{out}"
    );
    assert!(out.contains("Gate: FAILED"), "{out}");
    assert_eq!(v["passed"], false);
}

#[test]
fn a_missing_cell_fails_the_gate_unless_allowed() {
    let other = "sleep[latency=10ms]/smol/c10/closed";
    let (base, new) = (
        summary("ci", &[(CELL, &TIGHT), (other, &TIGHT)]),
        one_cell(&TIGHT),
    );
    let (code, out, v) = compare(&base, &new);
    assert_eq!(code, Some(3), "{out}");
    assert_eq!(v["missing"][0], other);
    assert!(out.contains("missing") && out.contains(other), "{out}");
    let (code, out, _) = compare_with(&base, &new, &["--allow-missing"]);
    assert_eq!(code, Some(0), "{out}");
}

/// A summary whose cell has `ops` and `failed_ops` per trial.
fn with_errors(failed: &[f64]) -> Value {
    let mut s = one_cell(&TIGHT);
    let spread = |v: &[f64]| json!({"median": v[0], "min": v[0], "max": v[0], "cv": null, "n": v.len(), "values": v});
    s["cells"][0]["ops"] = spread(&[10_000.0; 5]);
    s["cells"][0]["failed_ops"] = spread(failed);
    s
}

#[test]
fn a_rise_of_the_error_rate_fails_the_gate() {
    let base = with_errors(&[0.0; 5]);
    // 0.5% of ops fail in NEW: above the default allowance of 0.1%.
    let (code, out, v) = compare(&base, &with_errors(&[50.0; 5]));
    assert_eq!(code, Some(3), "{out}");
    let row = row(&v, "error rate");
    assert_eq!(row["verdict"], "regressed", "{row}");
    assert!(out.contains("0.498%"), "{out}");
    // A few failures in 50,000 ops are within the allowance.
    let (code, out, _) = compare(&base, &with_errors(&[1.0, 0.0, 2.0, 0.0, 1.0]));
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_a_fixtures_from_one_distribution_give_no_regression() {
    // 20 cells, 3 trials a side, every value 1000 × a spread of ±4% from a fixed sequence:
    // both sides from one distribution, as two runs of one build are.
    let noise = |k: usize| 1000.0 * (1.0 + 0.04 * (((k * 7919) % 101) as f64 / 50.0 - 1.0));
    let cells = |offset: usize| -> Vec<(String, Vec<f64>)> {
        (0..20)
            .map(|c| {
                (
                    format!("sleep[latency=10ms]/threads/c{c}/closed"),
                    (0..3).map(|t| noise(offset + c * 3 + t)).collect(),
                )
            })
            .collect()
    };
    let as_refs = |v: &[(String, Vec<f64>)]| -> Value {
        let r: Vec<(&str, &[f64])> = v.iter().map(|(i, x)| (i.as_str(), x.as_slice())).collect();
        summary("ci", &r)
    };
    let (code, out, v) = compare(&as_refs(&cells(0)), &as_refs(&cells(1000)));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(v["regressed"], 0, "{out}");
    assert_eq!(v["improved"], 0, "{out}");
    // The table says what it could judge, and the rows what they could see.
    assert!(out.contains("gated figures judged"), "{out}");
    assert!(v["comparisons"][0]["detectable_change"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_input_exits_2_and_says_which() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &one_cell(&TIGHT));
    let missing = d.path().join("nope.json");
    let (code, out, _) = compare_files(&a, &missing, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("nope.json"), "{out}");

    let other = write(d.path(), "c.json", &summary("other", &[(CELL, &TIGHT)]));
    let (code, out, _) = compare_files(&a, &other, &[]);
    assert_eq!(code, Some(2));
    assert!(out.contains("scenario"), "{out}");

    let mut old = one_cell(&TIGHT);
    old["schema"] = json!(2);
    let old = write(d.path(), "old.json", &old);
    let (code, out, _) = compare_files(&old, &a, &[]);
    assert_eq!(code, Some(2));
    assert!(out.contains("format 2"), "{out}");
}

#[test]
fn a_run_exports_baselines_and_ci_formats_of_the_documented_shape() {
    let toml = "name = \"exports\"\n[run]\ntrials = 2\nwarmup = \"50ms\"\nduration = \"200ms\"\n\
                models = [\"threads\"]\nconcurrency = [4]\n[[workload]]\nkind = \"sleep\"\nlatency = \"5ms\"\n";
    let (dir, path, out) = common::scenario(toml);
    let f = |n: &str| dir.path().join(n);
    let r = common::run_command(&path, &out)
        .current_dir(dir.path())
        .args(["--save-baseline", "test-base"])
        .arg("--export")
        .arg("bmf")
        .arg(f("bmf.json"))
        .arg("--export")
        .arg("github-action-benchmark")
        .arg(f("gab.json"))
        .arg("--export")
        .arg("csv")
        .arg(f("bench.csv"))
        .output()
        .unwrap();
    assert_exit(&r, 0);
    let id = "sleep[latency=5ms]/threads/c4/closed";

    let bmf = read_json(&f("bmf.json"));
    let t = &bmf[id]["throughput"];
    let (v, lo, hi) = (
        t["value"].as_f64().unwrap(),
        t["lower_value"].as_f64().unwrap(),
        t["upper_value"].as_f64().unwrap(),
    );
    assert!(lo <= v && v <= hi && v > 0.0, "{t}");
    assert!(bmf[id]["latency-p99-us"]["value"].as_f64().unwrap() > 0.0);

    let (big, small) = (read_json(&f("gab.json")), read_json(&f("gab.smaller.json")));
    for item in big
        .as_array()
        .unwrap()
        .iter()
        .chain(small.as_array().unwrap())
    {
        for k in ["name", "unit", "value", "range"] {
            assert!(!item[k].is_null(), "{k} in {item}");
        }
    }
    assert_eq!(big[0]["name"], format!("{id} throughput"));
    assert_eq!(small.as_array().unwrap().len(), 3, "p99, memory, CPU");

    let csv = std::fs::read_to_string(f("bench.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("cell,figure,unit,higher_is_better,median,min,max,cv,trials")
    );
    assert_eq!(lines.count(), 4);

    // The saved baseline compares against the run it came from: nothing regressed.
    let cmp = bin()
        .current_dir(dir.path())
        .args(["compare", "--baseline", "test-base"])
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&cmp, 0);
    assert!(f("reports/baselines/test-base.json").is_file());
}

/// `iobench ab` with the same build on both sides: two run folders, paired verdicts, and
/// no regression from noise on a steady cell.
#[test]
fn ab_runs_two_builds_interleaved() {
    let (dir, path, out) = common::scenario(AB_SCENARIO);
    let exe = env!("CARGO_BIN_EXE_iobench");
    // At 0.001 over the gated table (Holm), a false alarm from noise is one run in a
    // thousand or fewer: the same build on both sides must pass.
    assert_exit(&ab(dir.path(), exe, exe, &path, &out), 0);
    for side in ["a", "b"] {
        let recs = common::read_records(&out.join(side));
        assert_eq!(recs.len(), 8, "side {side}");
        assert!(recs.iter().all(|r| r["status"] == "ok"));
    }
    let v = read_json(&out.join("compare.json"));
    let t = row(&v, "throughput");
    assert_eq!(t["base_trials"], 8, "eight pairs");
    // A steady sleep's throughput is the same build's on both sides.
    assert_ne!(t["verdict"], "regressed", "{t}");
    assert_ne!(t["verdict"], "improved", "{t}");
    assert_eq!(v["regressed"], 0, "{v}");
    // Bad input: a binary that does not exist.
    let r = bin()
        .args(["ab", "--a", "/nonexistent/iobench", "--b", exe])
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("/nonexistent/iobench"));
}

/// A steady cell for `ab`: threads at C = 8 sleeping 5 ms, 8 pairs of 200 ms (at a
/// significance of 0.001, 4 pairs could not tell even a real slowdown on a loaded machine).
const AB_SCENARIO: &str = "name = \"ab\"\n[run]\ntrials = 8\nwarmup = \"50ms\"\nduration = \"200ms\"\n\
    models = [\"threads\"]\nconcurrency = [8]\n[[workload]]\nkind = \"sleep\"\nlatency = \"5ms\"\n";

/// `iobench ab --a A --b B SCENARIO --out OUT --significance 0.001`.
fn ab(dir: &Path, a: &str, b: &str, scenario: &Path, out: &Path) -> std::process::Output {
    bin()
        .current_dir(dir)
        .args(["ab", "--a", a, "--b", b, "--significance", "0.001"])
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// The other side of the A/A test: a B that is really slower is caught at the same
/// significance. B is this binary behind a script that makes the sleep of every cell it is
/// handed 4× longer (5 ms to 20 ms), so its throughput falls to a quarter.
#[test]
fn ab_finds_a_b_that_is_really_slower() {
    let (dir, path, out) = common::scenario(AB_SCENARIO);
    let exe = env!("CARGO_BIN_EXE_iobench");
    let slower = dir.path().join("slower-iobench");
    std::fs::write(
        &slower,
        format!(
            "#!/bin/sh\n\
             for a in \"$@\"; do shift; set -- \"$@\" \"$(printf '%s' \"$a\" | sed 's/\"latency\":\"5ms\"/\"latency\":\"20ms\"/')\"; done\n\
             exec '{exe}' \"$@\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&slower, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_exit(
        &ab(dir.path(), exe, slower.to_str().unwrap(), &path, &out),
        3,
    );
    let v = read_json(&out.join("compare.json"));
    let t = row(&v, "throughput");
    assert_eq!(t["verdict"], "regressed", "{t}");
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(html.contains("Regressed: the trials side by side"));
    let b = common::read_records(&out.join("b"));
    assert!(
        b.iter().all(|r| r["cell"]["workload"]["latency"] == "20ms"),
        "B ran the slower cell"
    );
}
