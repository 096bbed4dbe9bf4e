//! What a run is made of, before anything runs: the models ([`ModelKind`]), how ops are
//! issued ([`LoadMode`]) and the matrix's points ([`Cell`]: workload × model × concurrency
//! × mode, with the protocol its trials follow), and a cell as a run resolved it
//! ([`RunCell`]). `scenario` builds cells from TOML; the run resolves them; the
//! orchestrator, the trials and the reports read them.

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;
use crate::workload::{Resolved, WorkloadKind, WorkloadSpec};

/// The workloads the io-uring model runs (its ops are its own, not `Workload`'s).
pub const IO_URING_WORKLOADS: [WorkloadKind; 3] = [
    WorkloadKind::TcpEcho,
    WorkloadKind::DiskRead,
    WorkloadKind::DiskWrite,
];

/// The closed list of models. Adding one is a compile error wherever it must be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Sequential,
    Threads,
    ThreadPool,
    Processes,
    TokioCurrentThread,
    AsyncStd,
    Smol,
    TokioMultiThread,
    AsyncProcesses,
    IoUring,
    /// A model a scenario defines (`[[model]]`): a server command, or a worker command
    /// that speaks `docs/worker-protocol.md`. Its cell carries it ([`Cell::external`]).
    External,
}

impl ModelKind {
    /// iobench's own models (not `External`, which a scenario defines).
    pub const ALL: &'static [ModelKind] = &[
        ModelKind::Sequential,
        ModelKind::Threads,
        ModelKind::ThreadPool,
        ModelKind::Processes,
        ModelKind::TokioCurrentThread,
        ModelKind::AsyncStd,
        ModelKind::Smol,
        ModelKind::TokioMultiThread,
        ModelKind::AsyncProcesses,
        ModelKind::IoUring,
    ];

    /// The models a scenario runs when it names none: all but `io-uring` (the last of
    /// `ALL`), which runs only some workloads and is named where it is wanted.
    pub const SUBJECTS: &'static [ModelKind] = Self::ALL.split_at(Self::ALL.len() - 1).0;

    /// Whether this model runs `workload` (io-uring runs three).
    pub fn runs(self, workload: WorkloadKind) -> bool {
        match self {
            ModelKind::IoUring => IO_URING_WORKLOADS.contains(&workload),
            // What an external model runs is its definition's `runs`.
            ModelKind::External => false,
            _ => true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Sequential => "sequential",
            ModelKind::Threads => "threads",
            ModelKind::ThreadPool => "thread-pool",
            ModelKind::Processes => "processes",
            ModelKind::TokioCurrentThread => "tokio-current-thread",
            ModelKind::AsyncStd => "async-std",
            ModelKind::Smol => "smol",
            ModelKind::TokioMultiThread => "tokio-multi-thread",
            ModelKind::AsyncProcesses => "async-processes",
            ModelKind::IoUring => "io-uring",
            ModelKind::External => "external",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ModelKind::Sequential => "one op at a time on one thread, whatever C is asked",
            ModelKind::Threads => {
                "one OS thread per in-flight op: C threads running ops back to back"
            }
            ModelKind::ThreadPool => {
                "a rayon pool of min(C, pool_size) threads; each op is a job submitted to it"
            }
            ModelKind::Processes => {
                "min(C, process_cap) pre-forked worker processes, one op at a time each (like gunicorn sync workers)"
            }
            ModelKind::TokioCurrentThread => "C tasks on one tokio current_thread runtime",
            ModelKind::AsyncStd => {
                "C tasks on one thread (spawn_local inside block_on); async-std is discontinued upstream, kept for comparison"
            }
            ModelKind::Smol => "C tasks on a smol LocalExecutor driven by block_on on one thread",
            ModelKind::TokioMultiThread => {
                "C tasks on tokio's work-stealing multi-thread runtime (a reference, not a single-thread model)"
            }
            ModelKind::AsyncProcesses => {
                "min(C, event_loops) worker processes, each running one tokio current-thread loop with its share of the C tasks (how Sanic and uvloop deployments run)"
            }
            ModelKind::IoUring => {
                "C tasks on one tokio-uring loop: completion-based I/O, files without a thread pool (tcp-echo, disk-read, disk-write only; not in the default list)"
            }
            ModelKind::External => {
                "a model a scenario defines with [[model]]: a server command, or a worker command speaking docs/worker-protocol.md"
            }
        }
    }

    pub fn from_name(name: &str) -> Option<ModelKind> {
        Self::ALL.iter().copied().find(|m| m.name() == name)
    }
}

/// A model a scenario defines with `[[model]]`: a server under test started from a
/// command (for http-serve and echo-serve), or a client model whose worker speaks the
/// worker protocol (`docs/worker-protocol.md`). The commands keep their per-trial
/// placeholders (`{port}`, `{delay}`, …); `{python}` and `{here}` are resolved when the
/// scenario is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct External {
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
    /// The workloads it runs.
    pub runs: Vec<WorkloadKind>,
    /// Its language or stack, for the findings (e.g. "python").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The iobench model it stands for in the talk's claims (e.g. `threads` for Python's
    /// threading), so that the findings compare it as they compare that model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like: Option<ModelKind>,
    /// A server under test on another host: the address the client connects to (its
    /// command, started here, reaches it). Its memory and CPU are not this machine's to
    /// measure, and are null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// What an external model is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A server under test: `command` starts it, and it is ready when `ready` says.
    Server {
        command: Vec<String>,
        ready: Ready,
        /// How long it may take to become ready.
        ready_timeout: HumanDuration,
    },
    /// A client model: `worker` is a command that speaks the worker protocol.
    Worker { worker: Vec<String> },
}

impl Role {
    /// The command: a server's, or a worker's.
    pub fn argv(&self) -> &[String] {
        match self {
            Role::Server { command, .. } => command,
            Role::Worker { worker } => worker,
        }
    }
}

/// When an external server is ready.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ready {
    /// Its port accepts a connection.
    Port,
    /// It printed a line containing this text (on stdout or stderr).
    Line(String),
}

/// A model a scenario's `models` names: iobench's own, or one it defines.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    Own(ModelKind),
    External(Box<External>),
}

impl Model {
    pub fn name(&self) -> &str {
        match self {
            Model::Own(m) => m.name(),
            Model::External(e) => &e.name,
        }
    }

    pub fn runs(&self, workload: WorkloadKind) -> bool {
        match self {
            Model::Own(m) => m.runs(workload),
            Model::External(e) => e.runs.contains(&workload),
        }
    }
}

/// How operations are issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadMode {
    /// C workers each issue the next op when the previous one completes.
    Closed,
    /// Ops are due on a fixed schedule at `rate` ops per second, spread over the workers;
    /// latency runs from when each op was due.
    Open,
}

impl LoadMode {
    pub fn name(self) -> &'static str {
        match self {
            LoadMode::Closed => "closed",
            LoadMode::Open => "open",
        }
    }
}

/// The default `max_error_rate`: 1% of a trial's ops.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;

fn default_max_error_rate() -> f64 {
    DEFAULT_MAX_ERROR_RATE
}

fn one() -> u32 {
    1
}

/// One point of the matrix: workload × model × concurrency × mode, with its protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Stable name, e.g. `sleep[latency=10ms]/threads/c16/closed`.
    pub id: String,
    pub workload: WorkloadSpec,
    pub model: ModelKind,
    /// The definition of an external model (`model` is then `External`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
    /// Concurrency asked for.
    pub concurrency: u32,
    pub mode: LoadMode,
    /// Open mode: the offered rate, in ops per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub warmup: HumanDuration,
    pub duration: HumanDuration,
    pub trials: u32,
    pub pool_size: u32,
    pub process_cap: u32,
    #[serde(default = "one")]
    pub event_loops: u32,
    pub trial_timeout: HumanDuration,
    /// A trial whose failed ops are more than this fraction of its ops is failed, with the
    /// rate and the first error as its reason.
    #[serde(default = "default_max_error_rate")]
    pub max_error_rate: f64,
}

impl Cell {
    /// The model's name: iobench's, or the one a scenario gave an external model.
    pub fn model_name(&self) -> &str {
        match &self.external {
            Some(e) => &e.name,
            None => self.model.name(),
        }
    }
}

/// A cell as a run resolved it, before its first trial: the [`Cell`] a scenario yielded,
/// and what the run fixed for it (the pattern of divan's `RawSample` and `TimeSample`).
/// The orchestrator, the trials and the models read it; a cell's id and parameters are
/// its `cell`'s.
///
/// Written (run.json, results.jsonl, `iobench trial --cell`) as run folders have always
/// had it: the cell's fields with `target_pid`, `skip` and `ops` beside them, and the
/// workload's resolved `target`, `scratch` and `rounds` inside `workload`, where builds
/// from before this type read them too (`iobench ab` hands its cells to another build's
/// trials). Reading splits them again (`lift_resolved`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunCell {
    pub cell: Cell,
    /// The workload's target address, scratch folder, calibrated rounds and pool.
    pub resolved: Resolved,
    /// Process id of the embedded target this cell's trials talk to.
    pub target_pid: Option<u32>,
    /// Set when a service the cell needs is unreachable: why, and how to start it. The
    /// cell's trials are recorded as skipped and not run.
    pub skip: Option<String>,
    /// Counted mode (`cargo bench`): the trial runs exactly this many ops, every one
    /// measured, with no warm-up, and its window is the time they took.
    pub ops: Option<u64>,
    /// The file in which the embedded target counts the requests it answered
    /// (`measure::served`): a trial whose workers claim more verified ops than it answered
    /// fails.
    pub served: Option<std::path::PathBuf>,
}

/// A [`RunCell`]'s own fields beside its cell's, as they are written and read.
#[derive(Serialize, Deserialize)]
struct Beside<C> {
    #[serde(flatten)]
    cell: C,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ops: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    served: Option<std::path::PathBuf>,
}

/// A written cell once `lift_resolved` has moved its workload's resolved values out.
#[derive(Deserialize)]
struct Lifted {
    #[serde(flatten)]
    cell: Cell,
    #[serde(flatten)]
    resolved: Resolved,
}

impl Serialize for RunCell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let beside = Beside {
            cell: &self.cell,
            target_pid: self.target_pid,
            skip: self.skip.clone(),
            ops: self.ops,
            served: self.served.clone(),
        };
        let mut v = serde_json::to_value(beside).map_err(S::Error::custom)?;
        let resolved = serde_json::to_value(&self.resolved).map_err(S::Error::custom)?;
        if let (Some(w), Some(r)) = (
            v.get_mut("workload").and_then(|w| w.as_object_mut()),
            resolved.as_object(),
        ) {
            // A `target` the user wrote is the one the trials talk to: it is there already.
            for (key, value) in r {
                w.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        v.serialize(s)
    }
}

impl RunCell {
    /// A cell before the run resolves anything but what it wrote itself: a workload's own
    /// `target` is where its trials go.
    pub fn new(cell: Cell) -> RunCell {
        let resolved = Resolved {
            target: cell.workload.target().map(str::to_string),
            ..Resolved::default()
        };
        RunCell {
            cell,
            resolved,
            target_pid: None,
            skip: None,
            ops: None,
            served: None,
        }
    }
}

impl AsRef<Cell> for Cell {
    fn as_ref(&self) -> &Cell {
        self
    }
}

impl AsRef<Cell> for RunCell {
    fn as_ref(&self) -> &Cell {
        &self.cell
    }
}

impl std::ops::Deref for RunCell {
    type Target = Cell;
    fn deref(&self) -> &Cell {
        &self.cell
    }
}

impl<'de> Deserialize<'de> for RunCell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = serde_json::Value::deserialize(d)?;
        lift_resolved(&mut v);
        let b: Beside<Lifted> = Beside::deserialize(v).map_err(serde::de::Error::custom)?;
        Ok(RunCell {
            cell: b.cell.cell,
            resolved: b.cell.resolved,
            target_pid: b.target_pid,
            skip: b.skip,
            ops: b.ops,
            served: b.served,
        })
    }
}

/// Moves the run's values out of a written cell's `workload` (`target`, `scratch`,
/// `rounds`) to beside it. A `target` stays a parameter too where the user wrote it: where
/// the workload has a `target` parameter and the run started no target for it (no
/// `target_pid`); the address of a target the run started, or of a server under test, is
/// the run's alone.
fn lift_resolved(cell: &mut serde_json::Value) {
    let Some(cell) = cell.as_object_mut() else {
        return;
    };
    let started = cell.contains_key("target_pid");
    let Some(w) = cell.get_mut("workload").and_then(|w| w.as_object_mut()) else {
        return;
    };
    let kind: Option<WorkloadKind> = w
        .get("kind")
        .and_then(|k| serde_json::from_value(k.clone()).ok());
    let has_target = kind.is_some_and(|k| k.params().iter().any(|p| p.name == "target"));
    let mut lifted = Vec::new();
    for key in ["target", "scratch", "rounds"] {
        let Some(v) = w.get(key).cloned() else {
            continue;
        };
        if !(key == "target" && has_target && !started) {
            w.remove(key);
        }
        lifted.push((key, v));
    }
    for (key, v) in lifted {
        cell.insert(key.into(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::{ModelKind, WorkloadKind};

    #[test]
    fn the_default_models_are_all_that_run_every_workload() {
        let every = |m: &ModelKind| WorkloadKind::ALL.iter().all(|&w| m.runs(w));
        let wanted: Vec<ModelKind> = ModelKind::ALL.iter().copied().filter(every).collect();
        assert_eq!(ModelKind::SUBJECTS, wanted.as_slice());
    }
}

/// `iobench run --shard I/N`: the cells of a run are numbered in the scenarios' order, and
/// shard I of N runs every trial of cell k where k mod N = I, so that N machines together
/// run each cell exactly once (`iobench merge` puts them back together).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The environment variable Kubernetes Indexed Jobs set, which `--shard auto/N` reads.
/// The layout version of run.json (docs/schema/run.schema.json). A folder written before
/// run.json had one reads as 1.
pub const RUN_SCHEMA: u32 = 1;

/// Refuses a run.json of another layout than this binary's: `schema` as it was read
/// (absent: an older folder, of layout 1).
pub fn check_run_schema(schema: Option<u32>) -> Result<(), String> {
    match schema.unwrap_or(1) {
        RUN_SCHEMA => Ok(()),
        other => Err(format!(
            "run.json has layout {other}, this iobench reads layout {RUN_SCHEMA} (another iobench version wrote it)"
        )),
    }
}

pub const SHARD_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

impl Shard {
    /// Reads `I/N`: I is a number, `auto` (`$JOB_COMPLETION_INDEX`), or `env:VAR` (a
    /// variable the user names); `var` looks a variable up.
    pub fn parse(spec: &str, var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let usage = "--shard takes I/N: I a number from 0 to N - 1, `auto` (from $JOB_COMPLETION_INDEX) or env:VAR, e.g. --shard 0/4";
        let Some((i, n)) = spec.split_once('/') else {
            return Err(format!("--shard {spec}: {usage}"));
        };
        let count: u32 = match n.trim().parse() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(format!(
                    "--shard {spec}: N must be a whole number of 1 or more; {usage}"
                ));
            }
        };
        let (text, from) = match i.trim() {
            "auto" => (var(SHARD_INDEX_ENV), Some(SHARD_INDEX_ENV)),
            v => match v.strip_prefix("env:") {
                Some(name) => (var(name), Some(name)),
                None => (Some(v.to_string()), None),
            },
        };
        let Some(text) = text else {
            let name = from.unwrap_or_default();
            return Err(format!(
                "--shard {spec}: ${name} is not set (Kubernetes Indexed Jobs set {SHARD_INDEX_ENV}; name another variable with --shard env:VAR/{count})"
            ));
        };
        let index: u32 = text.trim().parse().map_err(|_| match from {
            Some(name) => format!("--shard {spec}: ${name} is `{text}`, not a shard index"),
            None => format!("--shard {spec}: {usage}"),
        })?;
        if index >= count {
            return Err(format!(
                "--shard {spec}: shard {index} of {count} does not exist (shards are 0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether cell number `k` (in the scenarios' order) is this shard's.
    pub fn selects(self, k: usize) -> bool {
        k % self.count as usize == self.index as usize
    }
}

/// What a sharded run folder records of its shard (run.json's `shard`): which it is, of
/// how many, and the whole run's cells it was cut from (their number and fingerprint), so
/// that `iobench merge` can tell the shards of one run from those of another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
    /// Cells of the whole run, every shard's.
    pub cells: usize,
    /// [`fingerprint`] of the whole run's cell ids.
    pub fingerprint: String,
}

/// A fingerprint of a run's cells: FNV-1a (64 bits) over their ids and protocols, in
/// order, in hex. Two runs of the same scenarios with the same options have the same one.
pub fn fingerprint<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in cells {
        let line = format!(
            "{} {} {} {} {}\n",
            c.id, c.trials, c.warmup, c.duration, c.max_error_rate
        );
        for b in line.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod shard_tests {
    use super::Shard;

    #[test]
    fn shards_are_read_from_the_spec_or_the_environment() {
        let none = |_: &str| None;
        assert_eq!(Shard::parse("1/3", none), Ok(Shard { index: 1, count: 3 }));
        let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "2".to_string());
        assert_eq!(
            Shard::parse("auto/4", k8s),
            Ok(Shard { index: 2, count: 4 })
        );
        let mine = |v: &str| (v == "MY_SHARD").then(|| "0".to_string());
        assert_eq!(
            Shard::parse("env:MY_SHARD/2", mine),
            Ok(Shard { index: 0, count: 2 })
        );
        for (bad, says) in [
            ("3/3", "shards are 0 to 2"),
            ("1", "takes I/N"),
            ("1/0", "N must be"),
            ("x/2", "takes I/N"),
            ("auto/4", "$JOB_COMPLETION_INDEX is not set"),
        ] {
            let e = Shard::parse(bad, none).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let s = Shard { index: 1, count: 3 };
        let picked: Vec<usize> = (0..8).filter(|&k| s.selects(k)).collect();
        assert_eq!(picked, [1, 4, 7]);
    }
}
