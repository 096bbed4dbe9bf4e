//! Results files from elsewhere are untrusted: `report`, `compare` and `merge` given a
//! results.jsonl or summary.json that is cut short, of another schema version, with absurd
//! figures (NaN, 1e999, negative ops or latencies, 10^300, strings for numbers, a histogram
//! that does not decode), garbage or empty. Each either refuses it (exit 2, naming the file)
//! or leaves the line out with a warning naming the file and the line; none panics, and no
//! report it writes holds NaN or inf.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, read_json, run_ok};
use serde_json::Value;
use tempfile::TempDir;

/// A tiny real run: 2 trials of 4 cells (threads and smol at C = 1 and 4), 8 records.
const SCENARIO: &str = r#"name = "untrusted"
[run]
trials = 2
warmup = "20ms"
duration = "100ms"
models = ["threads", "smol"]
concurrency = [1, 4]
[[workload]]
kind = "sleep"
latency = "2ms"
"#;

/// Bytes that are neither UTF-8 nor JSON, over two lines.
const GARBAGE: &[u8] = b"\x00\xff\xfe{\"schema\":1,\x80\x81\n\xc3\x28 garbage\n";

/// A good run, and a place for corrupted copies of it.
struct Good {
    run: common::Run,
    tmp: TempDir,
}

fn good() -> Good {
    Good {
        run: run_ok(SCENARIO, &[]),
        tmp: tempfile::tempdir().unwrap(),
    }
}

impl Good {
    /// A copy of the run folder named `name`, without what `report` writes, with
    /// results.jsonl replaced by `edit` of its text.
    fn copy(&self, name: &str, edit: impl FnOnce(String) -> Vec<u8>) -> PathBuf {
        let dir = self.tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(self.run.out.join("run.json"), dir.join("run.json")).unwrap();
        let text = std::fs::read_to_string(self.run.out.join("results.jsonl")).unwrap();
        std::fs::write(dir.join("results.jsonl"), edit(text)).unwrap();
        dir
    }

    /// A copy of the run folder with summary.json replaced by `edit` of its text.
    fn summary_copy(&self, name: &str, edit: impl FnOnce(String) -> Vec<u8>) -> PathBuf {
        let dir = self.tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(self.run.out.join("run.json"), dir.join("run.json")).unwrap();
        let text = std::fs::read_to_string(self.run.out.join("summary.json")).unwrap();
        std::fs::write(dir.join("summary.json"), edit(text)).unwrap();
        dir
    }
}

/// `text` with line `n` (from 1) replaced by `f` of it.
fn edit_line(text: &str, n: usize, f: impl Fn(&str) -> String) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[n - 1] = f(&lines[n - 1]);
    (lines.join("\n") + "\n").into_bytes()
}

/// A record's line with the first value of figure `key` after `started_at` (so none of
/// its cell's) replaced by the raw JSON text `value`.
fn set(line: &str, key: &str, value: &str) -> String {
    let from = line.find("\"started_at\"").expect("a record");
    let pat = format!("\"{key}\":");
    let at = from
        + line[from..]
            .find(&pat)
            .unwrap_or_else(|| panic!("{key} in {line}"));
    let start = at + pat.len();
    let end = start + line[start..].find([',', '}']).expect("a value");
    format!("{}{value}{}", &line[..start], &line[end..])
}

/// Runs the binary with `args` in `dir`.
fn iobench(dir: &Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Never a panic: exit 0, 2 (or 3, a failed gate, for compare), never 101.
#[track_caller]
fn no_panic(o: &Output, what: &str) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{what} panicked:\n{err}");
    assert!(
        matches!(o.status.code(), Some(0 | 2 | 3)),
        "{what}: exit {:?}:\n{err}",
        o.status.code()
    );
}

/// Whether `text` holds NaN or inf as a word (`+inf%`, `NaN`, `Infinity`).
fn non_finite_word(text: &str) -> Option<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| ["nan", "inf", "infinity"].contains(&w.to_ascii_lowercase().as_str()))
}

/// Every report file in `dir` is free of NaN and inf, and its JSON files parse.
#[track_caller]
fn finite_reports(dir: &Path) {
    for f in ["report.md", "report.html", "summary.json", "compare.json"] {
        let path = dir.join(f);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Some(w) = non_finite_word(&text) {
            panic!("{} holds `{w}`", path.display());
        }
        if f.ends_with(".json") {
            read_json(&path);
        }
    }
}

/// The ok trials a summary counts.
fn ok_trials(summary: &Value) -> u64 {
    common::cells(summary)
        .iter()
        .map(|c| c["trials"]["ok"].as_u64().unwrap())
        .sum()
}

/// `iobench report` of a copy whose line `line` is `edit`ed: it succeeds, warns naming the
/// file and the line and `says`, leaves that line's trial out, and writes finite reports.
#[track_caller]
fn report_skips(name: &str, line: usize, edit: impl Fn(&str) -> String, says: &[&str]) {
    let g = good();
    let dir = g.copy(name, |t| edit_line(&t, line, edit));
    let o = iobench(g.tmp.path(), &["report", name]);
    no_panic(&o, name);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{name}: {err}");
    let at = format!(
        "{}:{line}:",
        Path::new(name).join("results.jsonl").display()
    );
    assert!(err.contains(&at), "{name}: no warning at {at}:\n{err}");
    for s in says {
        assert!(
            err.contains(s),
            "{name}: the warning does not say `{s}`:\n{err}"
        );
    }
    assert_eq!(
        ok_trials(&read_json(&dir.join("summary.json"))),
        7,
        "{name}"
    );
    finite_reports(&dir);
}

#[test]
fn report_skips_a_line_cut_short_naming_it() {
    report_skips(
        "cut",
        8,
        |l| l[..l.len() / 2].to_string(),
        &["could not be read"],
    );
}

#[test]
fn report_skips_a_line_of_another_schema_saying_both_versions() {
    report_skips(
        "schema",
        2,
        |l| l.replacen("\"schema\":1", "\"schema\":999", 1),
        &["schema 999", "reads schema 1"],
    );
}

#[test]
fn report_skips_nan_and_1e999_and_negative_ops() {
    for (name, key, value) in [
        ("nan", "throughput_ops_per_sec", "NaN"),
        ("infinity", "throughput_ops_per_sec", "Infinity"),
        ("e999", "throughput_ops_per_sec", "1e999"),
        ("negative-ops", "ops", "-5"),
        ("string-ops", "ops", "\"many\""),
    ] {
        report_skips(name, 3, |l| set(l, key, value), &["could not be read"]);
    }
}

#[test]
fn report_skips_figures_that_cannot_have_been_measured() {
    for (name, key, value, says) in [
        (
            "e300",
            "throughput_ops_per_sec",
            "1e300",
            "throughput_ops_per_sec",
        ),
        ("negative-p99", "p99", "-3.5", "latency_us.p99"),
        ("efficiency", "efficiency", "1000000.0", "efficiency"),
        ("error-rate", "error_rate", "2.5", "error_rate"),
        ("window", "window_secs", "-1.0", "window_secs"),
    ] {
        report_skips(name, 2, |l| set(l, key, value), &[says]);
    }
}

#[test]
fn report_skips_a_histogram_that_does_not_decode() {
    report_skips(
        "histogram",
        5,
        |l| set(l, "latency_histogram", "\"HISTFAAAnot-a-histogram\""),
        &["histogram"],
    );
}

#[test]
fn report_warns_of_garbage_and_of_an_empty_results_file() {
    let g = good();
    let dir = g.copy("garbage", |_| GARBAGE.to_vec());
    let o = iobench(g.tmp.path(), &["report", "garbage"]);
    no_panic(&o, "garbage");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for line in [1, 2] {
        let at = format!("garbage/results.jsonl:{line}:");
        assert!(err.contains(&at), "no warning at {at}:\n{err}");
    }
    finite_reports(&dir);

    let dir = g.copy("empty", |_| Vec::new());
    let o = iobench(g.tmp.path(), &["report", "empty"]);
    no_panic(&o, "empty");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("empty/results.jsonl") && err.contains("no trial record"),
        "{err}"
    );
    assert_eq!(ok_trials(&read_json(&dir.join("summary.json"))), 0);
    finite_reports(&dir);
}

/// `iobench compare good NAME` of a copy whose summary.json is `edit`ed (and the other way
/// round): refused with exit 2, naming the file and saying `says`, no verdicts written.
#[track_caller]
fn compare_refuses(name: &str, edit: impl Fn(String) -> Vec<u8>, says: &str) {
    let g = good();
    let good_dir = g.run.out.to_str().unwrap();
    let dir = g.summary_copy(name, &edit);
    let file = format!("{name}/summary.json");
    for args in [
        ["compare", good_dir, name],
        ["compare", file.as_str(), good_dir],
    ] {
        let o = iobench(g.tmp.path(), &args);
        no_panic(&o, name);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&file),
            "{args:?}: the file is not named:\n{err}"
        );
        assert!(
            err.contains(says),
            "{args:?}: does not say `{says}`:\n{err}"
        );
        assert!(!dir.join("compare.json").exists(), "{args:?}");
    }
}

/// summary.json with the first cell's throughput replaced by `f` of it.
fn throughput(text: String, f: impl Fn(&mut Value)) -> Vec<u8> {
    let mut s: Value = serde_json::from_str(&text).unwrap();
    f(&mut s["cells"][0]["throughput_ops_per_sec"]);
    serde_json::to_vec_pretty(&s).unwrap()
}

/// summary.json with the first cell's throughput median written as the JSON text `raw`.
fn raw_median(text: String, raw: &str) -> Vec<u8> {
    let marker = 123_456_789.25;
    let t = throughput(text, |t| t["median"] = marker.into());
    String::from_utf8(t)
        .unwrap()
        .replacen(&marker.to_string(), raw, 1)
        .into_bytes()
}

#[test]
fn compare_refuses_a_summary_cut_short_garbage_or_empty() {
    compare_refuses(
        "cut",
        |t| t.as_bytes()[..t.len() / 2].to_vec(),
        "not an iobench summary",
    );
    compare_refuses("garbage", |_| GARBAGE.to_vec(), "cannot read");
    compare_refuses("empty", |_| Vec::new(), "not an iobench summary");
}

#[test]
fn compare_refuses_a_nan_or_1e999_median() {
    compare_refuses("nan", |t| raw_median(t, "NaN"), "not an iobench summary");
    compare_refuses("e999", |t| raw_median(t, "1e999"), "not an iobench summary");
}

#[test]
fn compare_refuses_figures_that_cannot_have_been_measured() {
    compare_refuses(
        "negative",
        |t| {
            throughput(t, |v| {
                v["values"] = serde_json::json!([-5.0, -6.0]);
                v["median"] = (-5.5).into();
            })
        },
        "throughput_ops_per_sec",
    );
    compare_refuses(
        "e300",
        |t| throughput(t, |v| v["values"] = serde_json::json!([1e300, 1e300])),
        "throughput_ops_per_sec",
    );
    compare_refuses(
        "strings",
        |t| throughput(t, |v| v["values"] = serde_json::json!(["fast", "faster"])),
        "throughput_ops_per_sec",
    );
    compare_refuses(
        "histogram",
        |t| {
            let mut s: Value = serde_json::from_str(&t).unwrap();
            s["cells"][0]["latency_histogram"] = "HISTFAAAnot-a-histogram".into();
            serde_json::to_vec_pretty(&s).unwrap()
        },
        "histogram",
    );
}

#[test]
fn compare_of_extreme_but_possible_figures_writes_no_inf() {
    // Latencies from a picosecond to a week are each possible; their ratio's interval
    // overflows a float. The verdicts say so without inf.
    let g = good();
    let dir = g.summary_copy("extreme", |t| {
        let mut s: Value = serde_json::from_str(&t).unwrap();
        s["cells"][0]["latency_us"]["p99"]["values"] = serde_json::json!([1e-6, 6e11]);
        serde_json::to_vec_pretty(&s).unwrap()
    });
    let step = g.tmp.path().join("step-summary.md");
    let o = bin()
        .current_dir(g.tmp.path())
        .env("GITHUB_STEP_SUMMARY", &step)
        .args(["compare", g.run.out.to_str().unwrap(), "extreme"])
        .output()
        .unwrap();
    no_panic(&o, "extreme");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(non_finite_word(&out).is_none(), "{out}");
    let md = std::fs::read_to_string(&step).unwrap();
    assert!(non_finite_word(&md).is_none(), "{md}");
    finite_reports(&dir);
}

/// `iobench merge OUT NAME` of a copy whose line `line` is `edit`ed.
fn merge(g: &Good, name: &str, line: usize, edit: impl Fn(&str) -> String) -> Output {
    g.copy(name, |t| edit_line(&t, line, edit));
    let out = format!("merged-{name}");
    let o = iobench(g.tmp.path(), &["merge", &out, name]);
    no_panic(&o, name);
    o
}

#[test]
fn merge_refuses_a_record_of_another_schema() {
    let g = good();
    let o = merge(&g, "schema", 4, |l| {
        l.replacen("\"schema\":1", "\"schema\":999", 1)
    });
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for s in ["schema/results.jsonl:4:", "schema 999", "reads schema 1"] {
        assert!(err.contains(s), "does not say `{s}`:\n{err}");
    }
    assert!(!g.tmp.path().join("merged-schema/results.jsonl").exists());
}

#[test]
fn merge_leaves_out_untrusted_lines_naming_them() {
    let g = good();
    for (name, line, value) in [("e300", 2, "1e300"), ("nan", 6, "NaN")] {
        let o = merge(&g, name, line, |l| set(l, "throughput_ops_per_sec", value));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {err}");
        let at = format!("{name}/results.jsonl:{line}:");
        assert!(err.contains(&at), "{name}: no warning at {at}:\n{err}");
        let out = g.tmp.path().join(format!("merged-{name}"));
        assert_eq!(common::read_records(&out).len(), 7, "{name}");
        assert_eq!(ok_trials(&read_json(&out.join("summary.json"))), 7);
        finite_reports(&out);
    }
    g.copy("garbage", |_| GARBAGE.to_vec());
    let o = iobench(g.tmp.path(), &["merge", "merged-garbage", "garbage"]);
    no_panic(&o, "garbage");
    let err = stderr(&o);
    assert!(err.contains("garbage/results.jsonl:1:"), "{err}");
    finite_reports(&g.tmp.path().join("merged-garbage"));
}
