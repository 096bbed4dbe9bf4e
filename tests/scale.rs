//! Scale: a hundred thousand tasks in flight on one event loop, and threads and processes
//! asked for more than the OS lets one machine start (`scenarios/million.toml` goes to a
//! million).

mod common;

use common::{find, reason, run_ok};

#[test]
fn a_hundred_thousand_tasks_on_one_loop_give_ok_cells_with_every_figure() {
    let toml = r#"
name = "scale"
[run]
trials = 1
warmup = "1s"
duration = "1500ms"
models = ["tokio-current-thread", "smol"]
concurrency = [100000]
[[workload]]
kind = "sleep"
latency = "1s"
"#;
    let r = run_ok(toml, &[]);
    let records = r.records();
    assert_eq!(records.len(), 2);
    for rec in &records {
        let model = common::model_of(rec);
        assert_eq!(rec["status"], "ok", "{model}: {rec}");
        for f in [
            "throughput_ops_per_sec",
            "efficiency",
            "latency_us",
            "peak_pss_bytes",
            "idle_pss_bytes",
            "mem_per_op_bytes",
            "cpu_secs",
            "cpu_secs_per_1k_ops",
            "peak_threads",
            "setup_secs",
            "memory_samples",
        ] {
            assert!(!rec[f].is_null(), "{model}: {f} is null: {rec}");
        }
        // One loop keeps 100,000 one-second timers: every op is due once a second.
        let eff = rec["efficiency"].as_f64().unwrap();
        assert!(eff > 0.5, "{model}: efficiency {eff}");
        // A task of the bare loop costs about 0.35 to 0.5 KiB here; a harness that held
        // kilobytes per task (a histogram, a buffer, a copied future) would pass 2 KiB.
        let per_op = rec["mem_per_op_bytes"].as_f64().unwrap();
        assert!(
            per_op > 100.0 && per_op < 2048.0,
            "{model}: {per_op} bytes per op"
        );
    }
}

/// The most tasks (threads and processes) the kernel numbers at once.
fn pid_max() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("Linux has kernel.pid_max")
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn threads_and_processes_past_the_os_limit_fail_at_once_with_the_limit_named() {
    let c = pid_max() + 1;
    let toml = format!(
        r#"
name = "past-the-limit"
[run]
trials = 1
warmup = "0s"
duration = "300ms"
concurrency = [{c}]
process_cap = {c}
models = ["threads", "processes"]
[[workload]]
kind = "sleep"
latency = "100ms"
[[workload]]
kind = "sleep"
latency = "10ms"
concurrency = [4]
"#
    );
    let r = run_ok(&toml, &[]);
    let records = r.records();
    assert_eq!(records.len(), 4);
    for (model, what) in [("threads", "threads"), ("processes", "worker processes")] {
        let past = records
            .iter()
            .find(|x| x["cell"]["model"] == model && x["cell"]["concurrency"] == c)
            .expect("the cell past the limit has a record");
        assert_eq!(past["status"], "failed", "{past}");
        let why = reason(past);
        assert!(
            why.contains(&format!(
                "cannot start {c} {what}: the OS limit is reached first ("
            )) && why.contains(" allows ")
                && why.contains("room for"),
            "{model}: {why}"
        );
        assert!(past["peak_threads"].is_null(), "{past}");
    }
    // The run goes on: the cells within the limit are ok.
    let fine = find(&records, "cell.workload.latency", "10ms");
    assert_eq!(fine["status"], "ok", "{fine}");
    assert_eq!(
        records
            .iter()
            .filter(|x| x["cell"]["concurrency"] == 4 && x["status"] == "ok")
            .count(),
        2
    );
}

#[test]
fn a_network_cell_past_the_open_files_limit_fails_at_once_with_the_limit_named() {
    use std::os::unix::process::CommandExt;
    let toml = r#"
name = "past-nofile"
[run]
trials = 1
warmup = "0s"
duration = "300ms"
models = ["smol", "thread-pool"]
concurrency = [300, 4]
[[workload]]
kind = "tcp-echo"
"#;
    let (_dir, path, out) = common::scenario(toml);
    let mut cmd = common::run_command(&path, &out);
    // SAFETY: setrlimit between fork and exec touches only the child's own limits.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &lim) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let o = cmd.output().unwrap();
    common::assert_exit(&o, 0);
    let records = common::read_records(&out);
    let of = |model: &str, c: u32| {
        records
            .iter()
            .find(|r| r["cell"]["model"] == model && r["cell"]["concurrency"] == c)
            .unwrap_or_else(|| panic!("{model} at {c}: {records:?}"))
    };
    let past = of("smol", 300);
    assert_eq!(past["status"], "failed", "{past}");
    let why = reason(past);
    assert!(
        why.contains("cannot hold 300 sockets open in one process: too many open files (limit 256, hard limit 256"),
        "{why}"
    );
    // The pool holds 64 connections at C = 300: within the limit, it runs.
    for (model, c) in [("thread-pool", 300), ("smol", 4), ("thread-pool", 4)] {
        assert_eq!(of(model, c)["status"], "ok", "{model} at {c}");
    }
}

/// `ulimit -u` binds a user other than root: the run is made as `nobody` with a limit of
/// 50, from a copy of the binary that user can reach. Skipped with the reason where this
/// test cannot switch users (not root); on CI it must run.
#[test]
fn processes_past_ulimit_u_fail_at_once_with_the_limit_named() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = dir.path().join("iobench");
    std::fs::copy(env!("CARGO_BIN_EXE_iobench"), &bin).unwrap();
    let scenario = dir.path().join("np.toml");
    std::fs::write(
        &scenario,
        "name = \"np\"\n[run]\ntrials = 1\nwarmup = \"0s\"\nduration = \"200ms\"\nmodels = [\"processes\"]\nconcurrency = [100, 4]\nprocess_cap = 100\n[[workload]]\nkind = \"sleep\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&scenario, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = dir.path().join("out");
    let script = format!(
        "ulimit -u 50 && exec {} run {} --out {}",
        bin.display(),
        scenario.display(),
        out.display()
    );
    let o = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--", "bash", "-c", &script])
        .output();
    let o = match o {
        Ok(o) if !out.exists() && !o.status.success() => {
            let why = String::from_utf8_lossy(&o.stderr).trim().to_string();
            assert!(
                std::env::var_os("CI").is_none(),
                "on CI this test must run: {why}"
            );
            eprintln!("skipped: cannot run as nobody: {why}");
            return;
        }
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "on CI this test must run: {e}"
            );
            eprintln!("skipped: cannot run runuser: {e}");
            return;
        }
    };
    common::assert_exit(&o, 0);
    let records = common::read_records(&out);
    let of = |c: u32| {
        records
            .iter()
            .find(|r| r["cell"]["concurrency"] == c)
            .unwrap_or_else(|| panic!("C = {c}: {records:?}"))
    };
    let why = reason(of(100));
    assert!(
        why.contains("cannot start 100 worker processes: the OS limit is reached first (RLIMIT_NPROC (ulimit -u) allows 50"),
        "{why}"
    );
    assert_eq!(of(4)["status"], "ok", "{}", of(4));
}
