//! A full disk: the run stops with the path and the OS's reason, and every file left on the
//! disk is whole (each JSON file parses, every line of results.jsonl is a record). The disk
//! is a small tmpfs mounted for the test; where it cannot be mounted (not root) the test
//! is skipped with the reason, and on CI (`CI` set) it must run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run_command, scenario};
use tempfile::TempDir;

/// A tmpfs of `bytes`, unmounted when dropped.
struct SmallDisk {
    dir: TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let size = format!("size={}", bytes.div_ceil(4096) * 4096);
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(dir.path())
            .output();
        let why = match out {
            Ok(o) if o.status.success() => return Some(SmallDisk { dir }),
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
            Err(e) => format!("cannot run mount: {e}"),
        };
        common::skip_unless_ci(&format!(
            "cannot mount a tmpfs (this test needs root): {why}"
        ));
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Every file under `dir` is whole: JSON files parse, results.jsonl is lines of JSON,
/// HTML ends its document; no temporary file is left.
fn assert_all_whole(dir: &Path) {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    for p in &files {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".tmp-"),
            "a temporary file was left: {}",
            p.display()
        );
        let text = || std::fs::read_to_string(p).unwrap();
        match p.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                serde_json::from_str::<serde_json::Value>(&text())
                    .unwrap_or_else(|e| panic!("{} does not parse: {e}", p.display()));
            }
            Some("jsonl") => {
                let t = text();
                assert!(
                    t.is_empty() || t.ends_with('\n'),
                    "{} ends mid-line",
                    p.display()
                );
                for line in t.lines() {
                    serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| {
                        panic!("a line of {} does not parse: {e}", p.display())
                    });
                }
            }
            Some("html") => assert!(text().trim_end().ends_with("</html>"), "{}", p.display()),
            _ => {}
        }
    }
}

/// Enough cells that their records cannot all fit in what is left of the disk.
fn many_cells() -> String {
    let cs: Vec<String> = (1..=30).map(|c| c.to_string()).collect();
    format!(
        r#"
name = "full-disk"
[run]
trials = 1
warmup = "0s"
duration = "20ms"
models = ["sequential", "threads"]
concurrency = [{}]
[[workload]]
kind = "sleep"
latency = "1ms"
"#,
        cs.join(", ")
    )
}

#[test]
fn a_full_disk_stops_the_run_with_the_reason_and_leaves_every_file_whole() {
    // The run's private copy of the binary fills most of the disk; 64 KiB are left for
    // run.json and the records of 60 trials (about 2 KiB each).
    let binary = std::fs::metadata(env!("CARGO_BIN_EXE_iobench"))
        .unwrap()
        .len();
    let Some(disk) = SmallDisk::mount(binary + 64 * 1024) else {
        return;
    };
    let (_dir, path, _) = scenario(&many_cells());
    let out = disk.path().join("run");
    let o = run_command(&path, &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains(&*out.to_string_lossy()),
        "the error names the path and the reason: {stderr}"
    );
    let records = std::fs::read_to_string(out.join("results.jsonl")).unwrap_or_default();
    let n = records.lines().count();
    eprintln!("{n} records were written before the disk was full: {stderr}");
    assert!(
        n > 0 && n < 60,
        "{n} records: the disk was meant to fill mid-run"
    );
    assert!(
        !out.join(".iobench-trials").exists(),
        "the private binary is removed"
    );
    assert_all_whole(&out);
}

#[test]
fn a_report_that_cannot_be_written_leaves_the_old_one() {
    let (_dir, path, out) = scenario(
        "name = \"x\"\n[run]\ntrials = 1\nwarmup = \"0s\"\nduration = \"50ms\"\nmodels = [\"threads\"]\nconcurrency = [1, 4]\n[[workload]]\nkind = \"sleep\"\nlatency = \"1ms\"\n",
    );
    common::assert_exit(&run_command(&path, &out).output().unwrap(), 0);
    let size: u64 = std::fs::read_dir(&out)
        .unwrap()
        .chain(std::fs::read_dir(out.join("charts")).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().len().div_ceil(4096) * 4096 + 4096)
        .sum();
    let Some(disk) = SmallDisk::mount(size + 64 * 1024) else {
        return;
    };
    let copy = disk.path().join("run");
    let cp = Command::new("cp")
        .arg("-r")
        .arg(&out)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    let before = std::fs::read_to_string(copy.join("summary.json")).unwrap();
    // Fill what is left.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4096", "status=none"])
        .arg(format!("of={}", disk.path().join("filler").display()))
        .stderr(std::process::Stdio::null())
        .status();
    let o = common::bin().arg("report").arg(&copy).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains("cannot write"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(copy.join("summary.json")).unwrap(),
        before,
        "the old summary is still there, whole"
    );
    assert_all_whole(&copy);
}
