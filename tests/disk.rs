//! Disk workloads: a file changed behind the reader is an error, never a success, and the
//! run's scratch folder is gone when the run ends, whatever became of its trials.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{read_records, run};

/// The scratch folders iobench left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("iobench-scratch-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_file_changed_behind_the_reader_is_a_mismatch_and_the_scratch_folder_goes() {
    let scratch_parent = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
name = "corrupt"
[run]
trials = 1
warmup = "100ms"
duration = "1500ms"
models = ["threads", "tokio-current-thread"]
concurrency = [2]
[[workload]]
kind = "disk-read"
size = "8KiB"
files = 4
dir = "{}"
"#,
        scratch_parent.path().display()
    );
    let (_dir, path, out) = common::scenario(&toml);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iobench"))
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the read set exists and the first trial has started, change one file: same
    // size, other bytes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let manifest = loop {
        let found = leftovers(scratch_parent.path())
            .first()
            .map(|n| scratch_parent.path().join(n).join("MANIFEST"));
        if let Some(m) = found.filter(|m| m.is_file()) {
            break m;
        }
        assert!(Instant::now() < deadline, "no scratch folder appeared");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(500));
    let victim = manifest.with_file_name("f00000");
    // Overwritten in place (no truncation), so a reader never sees it short.
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .unwrap();
    f.write_all(&[0x5a; 8 * 1024]).unwrap();
    drop(f);
    assert!(child.wait().unwrap().success());
    let records = read_records(&out);
    assert_eq!(records.len(), 2);
    for r in &records {
        let model = r["cell"]["model"].as_str().unwrap();
        let mismatches = r["errors"]["mismatch"].as_u64().unwrap_or(0);
        assert!(
            mismatches > 0,
            "{model}: the changed file was read as good: {r}"
        );
        assert!(
            r["ops"].as_u64().unwrap() > 0,
            "{model}: the other files read fine"
        );
        let sample = r["error_samples"]["mismatch"].as_str().unwrap();
        assert!(
            sample.contains("f00000") && sample.contains("CRC-32"),
            "{sample}"
        );
    }
    assert!(
        leftovers(scratch_parent.path()).is_empty(),
        "the scratch folder outlived the run"
    );
}

#[test]
fn the_scratch_folder_goes_after_a_failed_trial_too() {
    let scratch_parent = tempfile::tempdir().unwrap();
    // A trial timeout 1 ms past the window: the trial is killed, and the run goes on.
    let toml = format!(
        r#"
name = "killed"
[run]
trials = 1
warmup = "0s"
duration = "1s"
models = ["processes"]
concurrency = [2]
[[workload]]
kind = "disk-write"
size = "4KiB"
dir = "{}"
trial_timeout = "1001ms"
"#,
        scratch_parent.path().display()
    );
    let r = run(&toml, &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let records = r.records();
    assert_eq!(records[0]["status"], "failed", "{}", records[0]);
    assert!(
        leftovers(scratch_parent.path()).is_empty(),
        "the scratch folder outlived the run: {:?}",
        leftovers(scratch_parent.path())
    );
}

#[test]
fn disk_sizes_outside_4kib_to_1mib_are_refused_with_their_line() {
    let r = run(
        "name = \"x\"\n[[workload]]\nkind = \"disk-read\"\nsize = \"2MiB\"\n",
        &[],
    );
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().contains(":4:8:"), "{}", r.stderr());
    assert!(
        r.stderr().contains("outside 4KiB to 1MiB"),
        "{}",
        r.stderr()
    );
}
