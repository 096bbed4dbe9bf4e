//! Disk workloads: a file changed behind the reader is an error, never a success, and the
//! run's scratch folder is gone when the run ends, whatever became of its trials.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{model_of, read_records, reason, run, run_ok, wait_for};

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
run = {{ trials = 1, warmup = "100ms", duration = "1500ms", models = ["threads", "tokio-current-thread"], concurrency = [2] }}
[[workload]]
kind = "disk-read"
size = "8KiB"
files = 4
dir = "{}"
"#,
        scratch_parent.path().display()
    );
    let (_dir, path, out) = common::scenario(&toml);
    let child = common::spawn_run(&path, &out, &[]);
    // Once the read set exists and the first trial has started, change one file: same
    // size, other bytes.
    let manifest = wait_for("a scratch folder", Duration::from_secs(30), || {
        leftovers(scratch_parent.path())
            .first()
            .map(|n| scratch_parent.path().join(n).join("MANIFEST"))
            .filter(|m| m.is_file())
    });
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
    common::assert_exit(&child.wait_with_output().unwrap(), 0);
    let records = read_records(&out);
    assert_eq!(records.len(), 2);
    for r in &records {
        let model = model_of(r);
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
run = {{ trials = 1, warmup = "0s", duration = "1s", models = ["processes"], concurrency = [2] }}
[[workload]]
kind = "disk-write"
size = "4KiB"
dir = "{}"
trial_timeout = "1001ms"
"#,
        scratch_parent.path().display()
    );
    let r = run_ok(&toml, &[]);
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
    r.assert_exit(2);
    assert!(r.stderr().contains(":4:8:"), "{}", r.stderr());
    assert!(
        r.stderr().contains("outside 4KiB to 1MiB"),
        "{}",
        r.stderr()
    );
}

/// What disk-write wrote is read back after the window: a file whose bytes changed fails
/// the check, with the file and both checksums named.
#[test]
fn a_written_file_that_reads_back_wrong_fails_the_check() {
    use iobench::workload::disk::{DiskWrite, verify_files};
    use iobench::workload::{Bound, Resolved, Workload as _};
    let dir = tempfile::tempdir().unwrap();
    let params = DiskWrite {
        size: iobench::units::HumanSize(8 * 1024),
        ..DiskWrite::default()
    };
    let at = Resolved {
        scratch: Some(dir.path().display().to_string()),
        ..Resolved::default()
    };
    let w = Bound::new(params, &at);
    let tag = iobench::workload::trial_tag();
    let written = |w: &Bound<DiskWrite>| {
        let mut s = w.open().unwrap();
        w.op(&mut s).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].clone()
    };
    // Intact: checked, and removed.
    written(&w);
    assert_eq!(verify_files(dir.path(), &tag, 8 * 1024), Ok(1));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // One byte changed, the size kept: only the checksum can tell.
    let victim = written(&w);
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[4000] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let why = verify_files(dir.path(), &tag, 8 * 1024).unwrap_err();
    assert!(
        why.contains(&victim.display().to_string()) && why.contains("CRC-32"),
        "{why}"
    );
    // Cut short.
    let victim = written(&w);
    std::fs::write(&victim, &bytes[..100]).unwrap();
    let why = verify_files(dir.path(), &tag, 8 * 1024).unwrap_err();
    assert!(why.contains("100 bytes"), "{why}");
    // Another trial's files are not this one's.
    written(&w);
    assert_eq!(verify_files(dir.path(), "iobench-0-0", 8 * 1024), Ok(0));
}

/// Every model's disk-write trial passes the read-back, and leaves no written file.
#[test]
fn disk_write_trials_read_back_what_they_wrote() {
    let scratch_parent = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
name = "readback"
run = {{ trials = 1, warmup = "100ms", duration = "400ms", models = ["sequential", "threads", "processes", "tokio-current-thread", "smol", "async-processes"], concurrency = [3] }}
[[workload]]
kind = "disk-write"
size = "8KiB"
dir = "{}"
"#,
        scratch_parent.path().display()
    );
    // Without fsync: the read-back is what is tested, and one fdatasync on this VM's disk
    // has been seen to take 500 ms, longer than the whole window.
    let r = run_ok(&toml, &[]);
    let records = r.records();
    assert_eq!(records.len(), 6);
    for rec in &records {
        assert_eq!(rec["status"], "ok", "{rec}");
        assert!(rec["ops"].as_u64().unwrap() > 0, "{rec}");
    }
}

/// A written file changed behind the writer (same size, other bytes) passes every op's
/// size check, but not the read-back after the window: the trial fails and says why.
#[test]
fn a_written_file_changed_behind_the_writer_fails_the_trial() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let scratch_parent = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
name = "overwritten"
run = {{ trials = 1, warmup = "100ms", duration = "400ms", models = ["threads", "processes", "tokio-current-thread"], concurrency = [2] }}
[[workload]]
kind = "disk-write"
size = "4KiB"
dir = "{}"
"#,
        scratch_parent.path().display()
    );
    // Overwrites, in place, every file the writers made, for as long as the run lasts.
    let stop = AtomicBool::new(false);
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            use std::io::Write as _;
            while !stop.load(Ordering::Relaxed) {
                for d in leftovers(scratch_parent.path()) {
                    let Ok(files) = std::fs::read_dir(scratch_parent.path().join(d)) else {
                        continue;
                    };
                    for f in files.filter_map(Result::ok) {
                        if !f.file_name().to_string_lossy().starts_with("w-") {
                            continue;
                        }
                        if let Ok(mut h) = std::fs::OpenOptions::new().write(true).open(f.path()) {
                            let _ = h.write_all(&[0x5a; 4096]);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let r = run(&toml, &[]);
        stop.store(true, Ordering::Relaxed);
        r
    });
    r.assert_exit(0);
    let records = r.records();
    assert_eq!(records.len(), 3);
    for rec in &records {
        assert_eq!(rec["status"], "failed", "{rec}");
        let why = reason(rec);
        assert!(
            why.contains("read-back failed") && why.contains("CRC-32"),
            "{why}"
        );
    }
}
