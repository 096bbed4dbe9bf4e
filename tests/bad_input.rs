//! Malformed scenarios exit 2 before anything runs, name the file, line and column, and
//! write nothing.

mod common;

use common::{bin, run, scenario};

const GOOD: &str = "name = \"x\"\n[run]\ntrials = 1\nduration = \"1s\"\nmodels = [\"threads\"]\n[[workload]]\nkind = \"sleep\"\n";

/// Runs `toml` and asserts that it is refused with exit 2 before anything runs: the
/// scenario's file at `line_col`, `words` and a hint on stderr, and no run folder.
fn rejects(toml: &str, line_col: &str, words: &str) {
    let r = run(toml, &[]);
    let stderr = r.stderr();
    assert_eq!(r.code(), Some(2), "{stderr}");
    let at = format!("{}:{line_col}", r.scenario.display());
    assert!(stderr.contains(&at), "expected `{at}` in:\n{stderr}");
    assert!(stderr.contains(words), "expected `{words}` in:\n{stderr}");
    assert!(stderr.contains("hint:"), "no hint in:\n{stderr}");
    assert!(
        !r.out.exists(),
        "a run folder was written for a bad scenario"
    );
}

#[test]
fn the_good_one_is_good() {
    // Guards the cases below: each breaks exactly one thing of this scenario.
    let (_dir, path, _out) = scenario(GOOD);
    iobench::Scenario::load(&path).unwrap();
}

/// One test per case: `name: "from" => "to" at "line:col" says "words";` replaces `from`
/// with `to` in GOOD, and the run must be refused at that line and column with those words.
macro_rules! rejected {
    ($($name:ident: $from:literal => $to:literal at $at:literal says $words:literal;)*) => {
        $(
            #[test]
            fn $name() {
                rejects(&GOOD.replace($from, $to), $at, $words);
            }
        )*
    };
}

rejected! {
    toml_syntax_error: "[run]" => "[run" at "2:5" says "";
    unknown_key: "trials = 1" => "trails = 1" at "3:1" says "unknown field `trails`";
    unknown_model: "\"threads\"" => "\"fibers\"" at "5:11" says "fibers";
    zero_duration: "\"1s\"" => "\"0s\"" at "4:12" says "longer than zero";
    unknown_workload_kind: "kind = \"sleep\"" => "kind = \"nap\"" at "7:8" says "nap";
    size_past_any_machine:
        "kind = \"sleep\"" => "kind = \"tcp-echo\"\npayload = \"99999999999GiB\"" at "8:11"
        says "`99999999999GiB` is larger than any size iobench accepts, 1GiB";
    duration_past_a_week:
        "\"1s\"" => "\"99999999999999999999999s\"" at "4:12"
        says "is longer than any duration iobench accepts, 604800s";
    a_count_past_its_bound:
        "kind = \"sleep\"" => "kind = \"http-serve\"\nclient_threads = 5000" at "8:18"
        says "must be from 1 to 1024, got 5000";
    concurrency_past_u32:
        "trials = 1" => "trials = 1\nconcurrency = [4294967296]" at "4:15"
        says "4294967296 is too large: the most is 4294967295";
    a_model_that_does_not_run_the_workload:
        "\"threads\"" => "\"threads\", \"io-uring\"" at "5:10"
        says "model `io-uring` does not run workload `sleep`";
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
    let output = common::run_command(&path, &out).output().unwrap();
    common::assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("already holds a run"));
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl")).unwrap(),
        "{}\n",
        "untouched"
    );
}

#[test]
fn a_cell_declared_twice_is_refused() {
    let r = run(&format!("{GOOD}[[workload]]\nkind = \"sleep\"\n"), &[]);
    r.assert_exit(2);
    assert!(r.stderr().contains("declared twice"), "{}", r.stderr());
    assert!(!r.out.exists());
}
