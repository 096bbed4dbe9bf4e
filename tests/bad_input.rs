//! Malformed scenarios exit 2 before anything runs, name the file, line and column, and
//! write nothing.

mod common;

use common::{bin, scenario};

const GOOD: &str = "name = \"x\"\n[run]\ntrials = 1\nduration = \"1s\"\nmodels = [\"threads\"]\n[[workload]]\nkind = \"sleep\"\n";

fn rejects(toml: &str, line_col: &str, words: &str) {
    let (_dir, path, out) = scenario(toml);
    let output = bin()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let at = format!("{}:{line_col}", path.display());
    assert!(stderr.contains(&at), "expected `{at}` in:\n{stderr}");
    assert!(stderr.contains(words), "expected `{words}` in:\n{stderr}");
    assert!(stderr.contains("hint:"), "no hint in:\n{stderr}");
    assert!(!out.exists(), "a run folder was written for a bad scenario");
}

#[test]
fn the_good_one_is_good() {
    // Guards the cases below: each breaks exactly one thing of this scenario.
    let (_dir, path, _out) = scenario(GOOD);
    iobench::Scenario::load(&path).unwrap();
}

#[test]
fn toml_syntax_error() {
    rejects(&GOOD.replace("[run]", "[run"), "2:5", "");
}

#[test]
fn unknown_key() {
    rejects(
        &GOOD.replace("trials = 1", "trails = 1"),
        "3:1",
        "unknown field `trails`",
    );
}

#[test]
fn unknown_model() {
    rejects(&GOOD.replace("\"threads\"", "\"fibers\""), "5:11", "fibers");
}

#[test]
fn zero_duration() {
    rejects(
        &GOOD.replace("\"1s\"", "\"0s\""),
        "4:12",
        "longer than zero",
    );
}

#[test]
fn unknown_workload_kind() {
    rejects(
        &GOOD.replace("kind = \"sleep\"", "kind = \"nap\""),
        "7:8",
        "nap",
    );
}

#[test]
fn bad_command_line_values_exit_2() {
    let output = bin().args(["run", "--models", "fibers"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown model `fibers`"));
    let output = bin().args(["run", "--duration", "0s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_out_folder_holding_a_run_is_refused() {
    let (_dir, path, out) = scenario(GOOD);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("results.jsonl"), "{}\n").unwrap();
    let output = bin()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already holds a run"));
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl")).unwrap(),
        "{}\n",
        "untouched"
    );
}

#[test]
fn a_cell_declared_twice_is_refused() {
    let twice = format!("{GOOD}[[workload]]\nkind = \"sleep\"\n");
    let (_dir, path, out) = scenario(&twice);
    let output = bin()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("declared twice"));
    assert!(!out.exists());
}

#[test]
fn a_model_that_does_not_run_the_workload() {
    rejects(
        &GOOD.replace("\"threads\"", "\"threads\", \"io-uring\""),
        "5:10",
        "model `io-uring` does not run workload `sleep`",
    );
}
