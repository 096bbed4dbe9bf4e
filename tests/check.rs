//! `iobench check` (and `run --dry-run`): a scenario checked without running it, its cells
//! listed and its wall time estimated; a malformed one refused like `run` refuses it.

mod common;

use common::{bin, scenario};

const TOML: &str = "name = \"x\"\n[run]\ntrials = 2\nwarmup = \"100ms\"\nduration = \"400ms\"\nmodels = [\"threads\", \"smol\"]\nconcurrency = [1, 8]\n[[workload]]\nkind = \"sleep\"\nlatency = \"5ms\"\n";

#[test]
fn check_lists_the_cells_and_estimates_the_wall_time_without_running() {
    let (dir, path, _) = scenario(TOML);
    for args in [vec!["check"], vec!["run", "--dry-run"]] {
        let o = bin()
            .args(&args)
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        common::assert_exit(&o, 0);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("4 cells, 8 trials"), "{text}");
        for id in [
            "sleep[latency=5ms]/threads/c1/closed",
            "sleep[latency=5ms]/smol/c8/closed",
        ] {
            assert!(text.contains(id), "{id} missing: {text}");
        }
        // 8 × (0.1 + 0.4) s of windows, and each trial's start, measured.
        assert!(
            text.contains("8 trials' warm-ups and windows 4.0 s"),
            "{text}"
        );
        assert!(
            text.contains("to start and end a trial (measured)"),
            "{text}"
        );
        assert!(!dir.path().join("reports").exists(), "check ran something");
    }
}

#[test]
fn check_refuses_a_malformed_scenario_with_its_line_and_column() {
    let (_dir, path, _) = scenario(&TOML.replace("\"5ms\"", "\"5 parsecs\""));
    let o = bin().arg("check").arg(&path).output().unwrap();
    common::assert_exit(&o, 2);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("{}:10:11", path.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: durations are strings with a unit"),
        "{stderr}"
    );
}

#[test]
fn a_run_prints_its_estimate_before_its_first_trial() {
    let r = common::run_ok(TOML, &[]);
    let stderr = r.stderr();
    let estimate = stderr.find("estimated wall time").expect("an estimate");
    let first = stderr.find("[1/8]").unwrap_or(stderr.len());
    assert!(estimate < first, "{stderr}");
}
