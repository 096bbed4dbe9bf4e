//! The shared template: every workload on every model, through the real binary, must give
//! an ok cell with every figure present.

mod common;

use common::{get, run};
use iobench::ModelKind;

/// Figures every ok trial must carry (non-null).
const FIGURES: &[&str] = &[
    "cpu_secs",
    "ops",
    "window_secs",
    "throughput_ops_per_sec",
    "latency_us.p50",
    "latency_us.p90",
    "latency_us.p99",
    "latency_us.p99_9",
    "latency_us.max",
    "cpu_secs_per_1k_ops",
    "peak_rss_bytes",
    "peak_pss_bytes",
    "idle_rss_bytes",
    "idle_pss_bytes",
    "mem_per_op_bytes",
    "peak_threads",
    "peak_processes",
    "achieved_concurrency",
    "setup_secs",
    "failed_ops",
    "error_rate",
];

/// Figures of workloads with an ideal throughput (a delay).
const IDEAL_FIGURES: &[&str] = &["ideal_ops_per_sec", "efficiency"];

/// Figures of client workloads only (the model runs the client, in the trial's tree).
const CLIENT_FIGURES: &[&str] = &[
    "cpu_user_secs",
    "cpu_sys_secs",
    "ctx_switches_voluntary",
    "ctx_switches_involuntary",
    "workers",
];

/// Figures of server workloads only (the model is the server; the trial is its client).
const SERVER_FIGURES: &[&str] = &["client_cpu_secs"];

/// Workload tables the template runs, one per workload kind (a table may hold several
/// `[[workload]]`s, each a cell). All but the database and disk ones have an ideal throughput (a
/// delay), so `efficiency` is a figure they must carry. The database ones need the servers
/// of `scripts/services.sh up` (scripts/test.sh starts them).
const WORKLOADS: &[(&str, &str)] = &[
    (
        "sleep",
        "kind = \"sleep\"\nlatency = \"5ms\"\n\
         [[workload]]\nkind = \"sleep\"\nlatency = \"5ms\"\nblock_every = 3",
    ),
    (
        "tcp-echo",
        // Also at C = 100: memory per op must then be above zero on every model.
        "kind = \"tcp-echo\"\npayload = \"2KiB\"\nserver_delay = \"2ms\"\nconcurrency = [4, 100]",
    ),
    (
        "http-get",
        "kind = \"http-get\"\npath = \"/ana\"\nserver_delay = \"2ms\"",
    ),
    ("dns", "kind = \"dns\"\nserver_delay = \"2ms\""),
    // Every route of the server, each a cell of its own.
    (
        "http-serve",
        "kind = \"http-serve\"\npath = \"/\"\ndelay = \"2ms\"\n\
         [[workload]]\nkind = \"http-serve\"\npath = \"/ana\"\ndelay = \"2ms\"\n\
         [[workload]]\nkind = \"http-serve\"\npath = \"/json\"\ndelay = \"2ms\"",
    ),
    (
        "echo-serve",
        "kind = \"echo-serve\"\npayload = \"2KiB\"\ndelay = \"2ms\"",
    ),
    (
        "postgres",
        "kind = \"postgres\"\nquery = \"sleep\"\nserver_delay = \"2ms\"\n\
         [[workload]]\nkind = \"postgres\"\nquery = \"select-1\"\n\
         [[workload]]\nkind = \"postgres\"\nquery = \"point-select\"\nrows = 500",
    ),
    (
        "redis",
        "kind = \"redis\"\ncommand = \"set-get\"\n\
         [[workload]]\nkind = \"redis\"\ncommand = \"get\"\nkeys = 50",
    ),
    (
        "disk-read",
        "kind = \"disk-read\"\nsize = \"16KiB\"\nfiles = 8\n\
         [[workload]]\nkind = \"disk-read\"\nsize = \"16KiB\"\nfiles = 8\ncache = \"cold\"",
    ),
    // The fsync cell's window is longer: one fdatasync on a shared VM's disk has been seen
    // to take 500 ms, longer than the template's 300 ms.
    (
        "disk-write",
        "kind = \"disk-write\"\nsize = \"8KiB\"\n\
         [[workload]]\nkind = \"disk-write\"\nsize = \"8KiB\"\nfsync = true\nduration = \"1500ms\"",
    ),
    (
        "cpu-mix",
        "kind = \"cpu-mix\"\nwait = \"2ms\"\ncompute = \"200us\"\n\
         [[workload]]\nkind = \"cpu-mix\"\nwait = \"2ms\"\nvia = \"echo\"\ncompute = \"200us\"",
    ),
];

/// Whether a cell of this workload table has an ideal throughput.
fn has_ideal(rec: &serde_json::Value) -> bool {
    let w = &rec["cell"]["workload"];
    match w["kind"].as_str().unwrap() {
        "redis" | "disk-read" | "disk-write" => false,
        "postgres" => w["query"] == "sleep",
        _ => true,
    }
}

#[test]
fn the_template_covers_every_workload() {
    let covered: Vec<&str> = WORKLOADS.iter().map(|(k, _)| *k).collect();
    let all: Vec<&str> = iobench::WorkloadKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    assert_eq!(covered, all);
}

/// What an external client model runs where iobench's tables ask for more than its worker
/// implements (docs/worker-protocol.md: the talk's queries and commands, no blocking op).
const EXTERNAL_WORKLOADS: &[(&str, &str)] = &[
    ("sleep", "kind = \"sleep\"\nlatency = \"5ms\""),
    ("postgres", "kind = \"postgres\"\nquery = \"select-1\""),
    ("redis", "kind = \"redis\"\ncommand = \"set-get\""),
];

/// A model's `[[model]]` table, written again from its definition.
fn definition(e: &iobench::plan::External) -> String {
    use iobench::plan::{Ready, Role};
    let list = |v: &[String]| {
        let words: Vec<String> = v
            .iter()
            .map(|w| serde_json::to_string(w).unwrap())
            .collect();
        format!("[{}]", words.join(", "))
    };
    let runs: Vec<String> = e.runs.iter().map(|k| format!("\"{}\"", k.name())).collect();
    let role = match &e.role {
        Role::Server {
            command,
            ready,
            ready_timeout,
        } => {
            let ready = match ready {
                Ready::Port => "port".to_string(),
                Ready::Line(t) => format!("line:{t}"),
            };
            format!(
                "command = {}\nready = \"{ready}\"\nready_timeout = \"{ready_timeout}\"",
                list(command)
            )
        }
        Role::Worker { worker } => format!("worker = {}", list(worker)),
    };
    format!(
        "[[model]]\nname = \"{}\"\n{role}\nruns = [{}]\n",
        e.name,
        runs.join(", ")
    )
}

fn template(model: &str) {
    let m = ModelKind::from_name(model).expect("a model");
    template_of(model, Some(m), "");
}

/// The template for `model`: one of iobench's (`own`), or one whose `[[model]]` table is
/// `defined`.
fn template_of(model: &str, own: Option<ModelKind>, defined: &str) {
    let external = match own {
        Some(_) => None,
        None => {
            let s = iobench::Scenario::parse(
                &format!("name = \"d\"\n[[workload]]\nkind = \"sleep\"\n{defined}"),
                std::path::Path::new("d.toml"),
            )
            .expect("the definition parses");
            s.externals.into_iter().find(|e| e.name == model)
        }
    };
    for (kind, table) in WORKLOADS {
        let k = *iobench::WorkloadKind::ALL
            .iter()
            .find(|k| k.name() == *kind)
            .expect("a workload");
        let table = match (&external, own) {
            (Some(e), _) if e.runs.contains(&k) => EXTERNAL_WORKLOADS
                .iter()
                .find(|(w, _)| w == kind)
                .map_or(*table, |(_, t)| *t),
            (None, Some(m)) if m.runs(k) => *table,
            _ => continue,
        };
        let toml = format!(
            "name = \"template\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\nduration = \"300ms\"\n\
             models = [\"{model}\"]\nconcurrency = [4]\n{defined}[[workload]]\n{table}\n"
        );
        let r = run(&toml, &[]);
        assert_eq!(r.code(), Some(0), "{kind} on {model}: {}", r.stderr());
        let cells = table.matches("[[workload]]").count() + 1 + table.matches("[4, 100]").count();
        let records = r.records();
        assert_eq!(records.len(), cells, "{kind} on {model}");
        // Where the kernel refuses io_uring, its cells are skipped and say why; where the
        // probe finds io_uring allowed, a skipped cell fails (below, as not ok).
        if own == Some(ModelKind::IoUring) {
            match iobench::model::io_uring::probe() {
                Some(why) => {
                    eprintln!("io-uring refused here, its cells only checked as skipped: {why}");
                    for rec in &records {
                        assert_eq!(rec["status"], "skipped", "{rec}");
                        assert_eq!(rec["reason"], why.as_str());
                    }
                    continue;
                }
                None => {
                    for rec in &records {
                        assert_ne!(
                            rec["status"], "skipped",
                            "{kind}: io_uring is allowed here (the probe says so), yet skipped: {rec}"
                        );
                    }
                }
            }
        }
        let server = kind.ends_with("-serve");
        let side = if server {
            SERVER_FIGURES
        } else {
            CLIENT_FIGURES
        };
        let summary = r.summary();
        for rec in &records {
            assert_eq!(rec["status"], "ok", "{kind} on {model}: {rec}");
            let ideal = if has_ideal(rec) { IDEAL_FIGURES } else { &[] };
            for f in FIGURES.iter().chain(side).chain(ideal) {
                assert!(
                    !get(rec, f).is_null(),
                    "{kind} on {model}: `{f}` missing in {rec}"
                );
            }
            assert!(rec["ops"].as_u64().unwrap() > 0);
            assert!(rec["peak_threads"].as_u64().unwrap() >= 1);
            assert!(rec["errors"].as_object().unwrap().is_empty(), "{rec}");
            bounds(own, k, rec);
            let cell = summary["cells"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == rec["cell"]["id"])
                .unwrap();
            // Every op's latency is kept, and the cell's percentiles come from them all.
            assert!(
                rec["latency_histogram"]
                    .as_str()
                    .is_some_and(|h| h.starts_with("HISTFAAA")),
                "{kind} on {model}: no latency histogram"
            );
            assert!(
                get(cell, "latency_us.p99.merged").is_number(),
                "{kind} on {model}: no merged p99"
            );
            assert_eq!(cell["status"], "ok", "{cell}");
            assert_eq!(cell["model"], model);
            if let Some(e) = &external {
                assert_eq!(cell["language"].as_str(), e.language.as_deref(), "{cell}");
            }
            assert_eq!(cell["workload"], *kind);
            for f in FIGURES.iter().chain(side).chain(ideal) {
                assert!(
                    get(cell, &format!("{f}.median")).is_number(),
                    "{kind} on {model}: summary lacks `{f}`"
                );
            }
        }
        assert!(summary["machine"]["cores"].as_u64().unwrap() >= 1);
    }
}

/// Threads a single-loop model may start besides its loop's own, for workload `k`: what each
/// runtime is known to start (measured: thread names in /proc/PID/task/*/comm during a trial).
/// None for models that start threads by design.
fn helper_threads(m: ModelKind, k: iobench::WorkloadKind) -> Option<u64> {
    use iobench::WorkloadKind as W;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    // Files are read and written on the runtime's blocking pool (tokio::fs, the `blocking`
    // crate); a pool thread can be started while another is finishing, so the count is
    // bounded by the pool's cap, not by C: tokio's default `max_blocking_threads` is 512,
    // `blocking`'s BLOCKING_MAX_THREADS 500.
    let disk = matches!(k, W::DiskRead | W::DiskWrite);
    Some(match m {
        ModelKind::TokioCurrentThread => {
            if disk {
                512
            } else {
                0
            }
        }
        // tokio-uring is a current-thread tokio runtime with a ring: no helper thread of
        // its own. A file op the kernel cannot complete at once goes to the kernel's io-wq
        // workers ("iou-wrk-PID"), which show as the process's threads; for regular files
        // they are "bounded" workers, at most 4 per online CPU (io_uring.c,
        // `io_init_wq_offload`). Socket ops complete by polling, without them.
        ModelKind::IoUring => {
            if disk {
                4 * online_cpus()
            } else {
                0
            }
        }
        // async-io's reactor thread ("async-io"), started on first use.
        ModelKind::Smol => 1 + if disk { 500 } else { 0 },
        // async-io's reactor, and async-global-executor's workers ("async-std/runtime"), one
        // per available core, started when the runtime starts and idle here (our tasks are
        // spawned with `spawn_local`).
        ModelKind::AsyncStd => 1 + cores + if disk { 500 } else { 0 },
        ModelKind::Sequential
        | ModelKind::Threads
        | ModelKind::ThreadPool
        | ModelKind::Processes
        | ModelKind::TokioMultiThread
        | ModelKind::AsyncProcesses
        | ModelKind::External => return None,
    })
}

/// CPUs online (what io_uring sizes its workers by), which may exceed the cores this
/// process may run on.
fn online_cpus() -> u64 {
    // SAFETY: sysconf only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1) as u64
}

/// Bounds a broken model would fail, on one ok record against a healthy target.
fn bounds(own: Option<ModelKind>, k: iobench::WorkloadKind, rec: &serde_json::Value) {
    let f = |p: &str| {
        get(rec, p)
            .as_f64()
            .unwrap_or_else(|| panic!("`{p}` in {rec}"))
    };
    let c = f("cell.concurrency");
    let model = rec["cell"]["external"]["name"]
        .as_str()
        .or(rec["cell"]["model"].as_str());
    let what = format!("{} on {} at C = {c}", k.name(), model.unwrap_or("?"));
    if let Some(helpers) = own.and_then(|m| helper_threads(m, k)) {
        // The harness's threads (its sampler) are counted apart; a single loop is one.
        let own = f("peak_threads") - f("harness_threads");
        assert!(
            own <= (helpers + 1) as f64,
            "{what}: {own} threads of its own, more than its loop and {helpers} helper(s)"
        );
    }
    // Sequential holds one op whatever C is (its memory is one session's, within the noise
    // of PSS); every other model holds at least 64 ops at C = 100.
    let sequential = own == Some(ModelKind::Sequential) || model == Some("py-sequential");
    if c >= 100.0 && !sequential {
        // Only the sign: the divisor (C, or the ops really in flight) is not this test's.
        assert!(f("mem_per_op_bytes") > 0.0, "{what}: no memory per op");
    }
    assert!(
        f("cpu_secs") > 0.0,
        "{what}: no CPU time for {} ops: {rec}",
        f("ops")
    );
    // Little's law over the window (ops × mean latency / window) counts in full the ops
    // that began before the window and ended in it: per slot at most one op, at most the
    // longest latency. So it may pass C by C × max latency / window, never more.
    let (window, max) = (f("window_secs"), f("latency_us.max") / 1e6);
    let achieved = f("achieved_concurrency");
    assert!(
        achieved <= c * (1.0 + max / window) + 1e-9,
        "{what}: {achieved} ops in flight for C = {c} (longest op {max} s in a {window} s window)"
    );
    assert_eq!(
        f("error_rate"),
        0.0,
        "{what}: errors against a healthy target"
    );
    assert_eq!(f("failed_ops"), 0.0, "{what}");
}

macro_rules! every_model {
    ($($test:ident => $model:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                template($model);
            }
        )*

        /// A model added to `ModelKind` without a line here fails this test.
        #[test]
        fn the_template_covers_every_model() {
            let covered = [$($model),*];
            let all: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
            assert_eq!(covered.to_vec(), all);
        }
    };
}

every_model! {
    sequential => "sequential",
    threads => "threads",
    thread_pool => "thread-pool",
    processes => "processes",
    tokio_current_thread => "tokio-current-thread",
    async_std => "async-std",
    smol => "smol",
    tokio_multi_thread => "tokio-multi-thread",
    async_processes => "async-processes",
    io_uring => "io-uring",
}

/// Every model `scenarios/talk.toml` defines (the talk's Python stacks, external/python/),
/// through the same template. Needs the environment of scripts/python-env.sh: without it the
/// test says so and passes, except on CI (`CI` set), where it fails.
///
/// One test runs them one after another: two Python trials at once share the interpreter's
/// and the libraries' pages, so each one's PSS (its share of them) falls while the other
/// runs, by more than a model's memory per op at C = 100. (iobench's own trials run from a
/// private copy of the binary for the same reason; a user's interpreter is theirs.)
macro_rules! every_talk_model {
    ($($test:ident => $model:literal),* $(,)?) => {
        #[test]
        fn every_talk_model() {
            $(talk_template($model);)*
        }

        /// A model added to scenarios/talk.toml without a line here fails this test.
        #[test]
        fn the_template_covers_every_talk_model() {
            let covered = [$($model),*];
            let talk = talk();
            let all: Vec<&str> = talk.externals.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(covered.to_vec(), all);
        }
    };
}

fn talk() -> iobench::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/talk.toml");
    iobench::Scenario::load(&path).expect("scenarios/talk.toml")
}

fn talk_template(model: &str) {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-python/bin/python");
    if !python.exists() {
        let why = format!("{} is missing: run scripts/python-env.sh", python.display());
        common::skip_unless_ci(&why);
        return;
    }
    let talk = talk();
    let e = talk
        .externals
        .iter()
        .find(|e| e.name == model)
        .expect("defined in talk.toml");
    template_of(model, None, &definition(e));
}

every_talk_model! {
    py_sequential => "py-sequential",
    py_threads => "py-threads",
    py_thread_pool => "py-thread-pool",
    py_multiprocessing => "py-multiprocessing",
    py_asyncio => "py-asyncio",
    py_asyncio_uvloop => "py-asyncio-uvloop",
    py_aiohttp => "py-aiohttp",
    py_sanic => "py-sanic",
    py_gunicorn_sync => "py-gunicorn-sync",
    py_threading => "py-threading",
    py_uvicorn_uvloop => "py-uvicorn-uvloop",
    py_echo_asyncio => "py-echo-asyncio",
    py_echo_uvloop => "py-echo-uvloop",
    py_echo_threading => "py-echo-threading",
    py_echo_prefork => "py-echo-prefork",
}
