//! External models (`[[model]]`): servers started from a command and client models whose
//! worker speaks docs/worker-protocol.md. What fails must fail with its reason while the
//! run goes on; what a worker claims is checked against the target; nothing of an
//! external model outlives its trial.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::procs::{cmdline, pids};
use common::{find, run_ok};

/// The private Python environment (scripts/python-env.sh), or why the test cannot run: on
/// CI it must (the test fails), elsewhere it is skipped with the reason.
fn python() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-python/bin/python");
    if p.exists() {
        return Some(p);
    }
    let why = format!("{} is missing: run scripts/python-env.sh", p.display());
    common::skip_unless_ci(&why);
    None
}

/// Processes whose command line holds `marker` (a test's own folder).
fn left_with(marker: &str) -> Vec<(u32, String)> {
    pids()
        .into_iter()
        .filter(|&p| p != std::process::id())
        .map(|p| (p, cmdline(p).replace('\0', " ")))
        .filter(|(_, c)| c.contains(marker))
        .collect()
}

#[test]
fn servers_that_cannot_start_exit_or_never_listen_fail_with_the_reason_and_the_run_goes_on() {
    // A unique argument marks the never-ready server's process.
    let marker = format!("31.{}", std::process::id());
    let toml = format!(
        r#"name = "broken-servers"
[run]
trials = 1
warmup = "100ms"
duration = "300ms"
concurrency = [4]
models = ["missing", "quits", "mute", "threads"]

[[model]]
name = "missing"
command = ["/nonexistent/iobench-server", "--port", "{{port}}"]

[[model]]
name = "quits"
command = ["sh", "-c", "echo the port {{port}} is taken >&2; exit 3"]

[[model]]
name = "mute"
command = ["sleep", "{marker}"]
ready_timeout = "1s"

[[workload]]
kind = "http-serve"
delay = "2ms"
"#
    );
    let started = Instant::now();
    let r = run_ok(&toml, &[]);
    let took = started.elapsed();
    let records = r.records();
    assert_eq!(records.len(), 4, "every cell ran: {records:?}");
    let reason = |model: &str| {
        let rec = records
            .iter()
            .find(|x| x["cell"]["external"]["name"] == model || x["cell"]["model"] == model)
            .unwrap_or_else(|| panic!("a record of {model}"));
        assert_eq!(rec["status"], "failed", "{rec}");
        rec["reason"].as_str().unwrap().to_string()
    };
    let missing = reason("missing");
    assert!(
        missing.contains("could not start") && missing.contains("/nonexistent/iobench-server"),
        "{missing}"
    );
    let quits = reason("quits");
    assert!(
        quits.contains("exited before it was ready") && quits.contains("is taken"),
        "the exit and the server's last words: {quits}"
    );
    let mute = reason("mute");
    assert!(
        mute.contains("not ready within 1s") && mute.contains("for its port"),
        "{mute}"
    );
    let threads = records
        .iter()
        .find(|x| x["cell"]["model"] == "threads")
        .unwrap();
    assert_eq!(threads["status"], "ok", "the run went on: {threads}");
    // Four trials, one of them waiting its 1 s bound: far from the 30 s trial timeout.
    assert!(took < Duration::from_secs(25), "took {took:?}");
    assert!(
        left_with(&marker).is_empty(),
        "the never-ready server was killed with its group: {:?}",
        left_with(&marker)
    );
    // Each external model is a cell of its own, under its own name.
    let summary = r.summary();
    for m in ["missing", "quits", "mute"] {
        let c = find(summary["cells"].as_array().unwrap(), "model", m);
        assert_eq!(c["status"], "failed", "{c}");
    }
}

/// A scenario of one worker model `name`, running `script` (with `args`) on tcp-echo
/// against the echo target, which counts its answers, and on sleep, where no lane can
/// finish more than one op per latency.
fn checked_worker(python: &Path, name: &str, script: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("external/python")
        .join(script);
    let mut argv = vec![python.display().to_string(), script.display().to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let argv: Vec<String> = argv.iter().map(|w| format!("{w:?}")).collect();
    format!(
        r#"name = "{name}"
[run]
trials = 1
warmup = "100ms"
duration = "300ms"
concurrency = [4]
models = ["{name}"]

[[model]]
name = "{name}"
worker = [{}]
runs = ["tcp-echo", "sleep"]

[[workload]]
kind = "tcp-echo"
server_delay = "1ms"

[[workload]]
kind = "sleep"
latency = "10ms"
"#,
        argv.join(", ")
    )
}

#[test]
fn a_worker_that_claims_ops_it_never_ran_is_caught() {
    let Some(python) = python() else { return };
    let toml = checked_worker(&python, "liar", "liar.py", &[]);
    let r = run_ok(&toml, &[]);
    let records = r.records();
    assert_eq!(records.len(), 2);
    let by = |kind: &str| {
        records
            .iter()
            .find(|x| x["cell"]["workload"]["kind"] == kind)
            .unwrap()
    };
    let echo = by("tcp-echo");
    assert_eq!(echo["status"], "failed", "{echo}");
    let why = echo["reason"].as_str().unwrap();
    assert!(
        why.contains("verified ops, the target answered 0 requests"),
        "caught by the target's count: {why}"
    );
    let sleep = by("sleep");
    assert_eq!(sleep["status"], "failed", "{sleep}");
    let why = sleep["reason"].as_str().unwrap();
    assert!(
        why.contains("can finish at most"),
        "caught by physics: {why}"
    );
}

#[test]
fn an_honest_worker_passes_the_same_checks() {
    let Some(python) = python() else { return };
    let toml = checked_worker(&python, "py-asyncio", "worker.py", &["--model", "asyncio"]);
    let r = run_ok(&toml, &[]);
    for rec in r.records() {
        assert_eq!(rec["status"], "ok", "{rec}");
        assert!(rec["ops"].as_u64().unwrap() > 0, "{rec}");
    }
}

#[test]
fn nothing_of_an_external_model_outlives_its_run() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("external/python");
    // Copies of a pre-forking server and of the worker, run from this test's own folder,
    // so that their processes are known by their command lines.
    let servers = dir.path().join("servers");
    std::fs::create_dir(&servers).unwrap();
    for f in ["gunicorn_sync.py", "common.py"] {
        std::fs::copy(root.join("servers").join(f), servers.join(f)).unwrap();
    }
    copy_dir(&root, dir.path(), &["worker.py"]);
    copy_dir(
        &root.join("iobench_worker"),
        &dir.path().join("iobench_worker"),
        &[],
    );
    let toml = format!(
        r#"name = "orphans"
[run]
trials = 1
warmup = "100ms"
duration = "300ms"
concurrency = [8]
process_cap = 3
models = ["py-gunicorn-sync", "py-multiprocessing"]

[[model]]
name = "py-gunicorn-sync"
command = ["{python}", "{{here}}/servers/gunicorn_sync.py", "--port", "{{port}}", "--delay", "{{delay}}", "--workers", "{{workers}}"]

[[model]]
name = "py-multiprocessing"
worker = ["{python}", "{{here}}/worker.py", "--model", "multiprocessing", "--processes", "{{process_cap}}"]
runs = ["sleep"]

[[workload]]
kind = "http-serve"
delay = "2ms"
models = ["py-gunicorn-sync"]

[[workload]]
kind = "sleep"
latency = "5ms"
models = ["py-multiprocessing"]
"#,
        python = python.display()
    );
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, toml).unwrap();
    let out = dir.path().join("out");
    let output = common::run_command(&path, &out).output().unwrap();
    common::assert_exit(&output, 0);
    let records = common::read_records(&out);
    assert_eq!(records.len(), 2);
    for rec in &records {
        assert_eq!(rec["status"], "ok", "{rec}");
        // The model's whole tree was measured: the master and its workers, or the worker
        // and its processes.
        assert!(rec["peak_processes"].as_u64().unwrap() >= 4, "{rec}");
    }
    let marker = dir.path().display().to_string();
    assert!(
        left_with(&marker).is_empty(),
        "left behind: {:?}",
        left_with(&marker)
    );
}

/// Copies the files of `from` (only `only`'s, when given) into `to`.
fn copy_dir(from: &Path, to: &Path, only: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name();
        let keep = only.is_empty() || only.iter().any(|o| name == *o);
        if keep && e.path().is_file() {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

#[test]
fn a_scenario_names_its_own_models_and_list_shows_them() {
    let (_dir, path, _out) = common::scenario(
        r#"name = "defines"
[run]
models = ["py-x", "threads"]

[[model]]
name = "py-x"
worker = ["python3", "w.py", "--c", "{concurrency}"]
runs = ["sleep"]
description = "a made-up worker"

[[workload]]
kind = "sleep"
"#,
    );
    let out = common::bin().arg("list").arg(&path).output().unwrap();
    common::assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Models scenario `defines` defines"), "{text}");
    assert!(
        text.contains("py-x") && text.contains("client model") && text.contains("runs sleep"),
        "{text}"
    );
    assert!(text.contains("python3 w.py --c {concurrency}"), "{text}");
}

#[test]
fn mistakes_in_a_model_table_name_the_file_line_and_column() {
    let cases: &[(&str, &str)] = &[
        (
            "[[model]]\nname = \"threads\"\nworker = [\"w\"]\nruns = [\"sleep\"]\n",
            "one of iobench's own models",
        ),
        (
            "[[model]]\nname = \"w\"\nworker = [\"w\", \"{porrt}\"]\nruns = [\"sleep\"]\n",
            "`{porrt}` is not a placeholder",
        ),
        (
            "[[model]]\nname = \"w\"\ncommand = [\"s\"]\nworker = [\"w\"]\n",
            "both `command` and `worker`",
        ),
        (
            "[[model]]\nname = \"w\"\nworker = [\"w\"]\nruns = [\"http-serve\"]\n",
            "give its server as a `command`",
        ),
        (
            "[[model]]\nname = \"w\"\nworker = [\"w\"]\n",
            "does not say which workloads it runs",
        ),
        (
            "[[model]]\nname = \"s\"\ncommand = [\"s\"]\nready = \"soon\"\n",
            "is not a way to be ready",
        ),
        (
            "[[model]]\nname = \"w\"\nworker = [\"w\"]\nruns = [\"sleep\"]\nhost = \"h\"\n",
            "`host` is for a server's `command`",
        ),
        (
            "[[model]]\nname = \"s\"\ncommand = [\"s\"]\nhost = \"h:80\"\n",
            "is not a host name",
        ),
    ];
    for (table, message) in cases {
        let toml = format!(
            "name = \"bad\"\n[run]\nmodels = [\"threads\"]\n[[workload]]\nkind = \"sleep\"\n{table}"
        );
        let (_dir, path, out) = common::scenario(&toml);
        let o = common::run_command(&path, &out).output().unwrap();
        common::assert_exit(&o, 2);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(message), "{table}: {err}");
        assert!(
            err.contains(&format!("{}:", path.display()))
                && err.lines().next().unwrap().matches(':').count() >= 3,
            "file:line:col: {err}"
        );
    }
    // A model the scenario does not define.
    let (_dir, path, out) = common::scenario(
        "name = \"bad\"\n[run]\nmodels = [\"py-nowhere\"]\n[[workload]]\nkind = \"sleep\"\n",
    );
    let o = common::run_command(&path, &out).output().unwrap();
    common::assert_exit(&o, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(":3:") && err.contains("unknown model `py-nowhere`"),
        "{err}"
    );
}

#[test]
fn without_the_python_environment_the_python_cells_are_skipped_saying_how_to_make_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join(".venv-python/bin/python");
    let toml = r#"name = "no-python"
[run]
trials = 1
warmup = "100ms"
duration = "300ms"
concurrency = [2]
models = ["py-asyncio", "threads"]

[[model]]
name = "py-asyncio"
worker = ["{python}", "worker.py", "--model", "asyncio"]
runs = ["sleep"]

[[workload]]
kind = "sleep"
latency = "5ms"
"#;
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, toml).unwrap();
    let out = dir.path().join("out");
    let o = common::run_command(&path, &out)
        .env("IOBENCH_PYTHON", &missing)
        .output()
        .unwrap();
    common::assert_exit(&o, 0);
    let records = common::read_records(&out);
    let py = records
        .iter()
        .find(|r| r["cell"]["external"]["name"] == "py-asyncio")
        .unwrap();
    assert_eq!(py["status"], "skipped", "{py}");
    let why = py["reason"].as_str().unwrap();
    assert!(why.contains("scripts/python-env.sh"), "{why}");
    let threads = records
        .iter()
        .find(|r| r["cell"]["model"] == "threads")
        .unwrap();
    assert_eq!(threads["status"], "ok", "the other cells run: {threads}");
}
