//! Workloads: what one operation does, defined once for every model.
//!
//! A workload's parameters are plain serde data ([`WorkloadSpec`]), declared once per
//! workload ([`params`]); what a run resolves for it (where its target listens, its scratch
//! folder, cpu-mix's rounds, the process's pool) is [`Resolved`], beside them. Its behaviour
//! is the [`Workload`] trait: a blocking operation and an async one that send the same
//! request and do the same checking, and differ only in how they wait. Models are generic
//! over `Workload`, so the hot path has no dynamic dispatch; [`WorkloadSpec::visit`] turns
//! the data into a concrete type ([`Bound`]: the parameters and what was resolved) once per
//! trial.
//!
//! Not here: scheduling (that is `model`), timing and recording (that is `model::driver`).

pub mod cpu_mix;
pub mod db;
pub mod disk;
pub mod dns;
pub mod http_get;
pub mod params;
pub mod postgres;
pub mod redis;
pub mod serve;
pub mod sleep;
pub mod stream;
pub mod targets;
pub mod tcp_echo;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::op::OpError;
use crate::rt::AsyncRt;
use crate::sync::lock;
use params::{Invalid, Param, Params};
use targets::TargetKind;

/// `$body` with `$p` bound to the parameters of whichever workload `$spec` is.
macro_rules! each_spec {
    ($spec:expr, $p:ident => $body:expr) => {
        match $spec {
            WorkloadSpec::Sleep($p) => $body,
            WorkloadSpec::TcpEcho($p) => $body,
            WorkloadSpec::HttpGet($p) => $body,
            WorkloadSpec::Dns($p) => $body,
            WorkloadSpec::HttpServe($p) => $body,
            WorkloadSpec::EchoServe($p) => $body,
            WorkloadSpec::Postgres($p) => $body,
            WorkloadSpec::Redis($p) => $body,
            WorkloadSpec::DiskRead($p) => $body,
            WorkloadSpec::DiskWrite($p) => $body,
            WorkloadSpec::CpuMix($p) => $body,
        }
    };
}

/// The closed list of workloads. Adding one is a compile error wherever it must be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    Sleep,
    TcpEcho,
    HttpGet,
    Dns,
    HttpServe,
    EchoServe,
    Postgres,
    Redis,
    DiskRead,
    DiskWrite,
    CpuMix,
}

impl WorkloadKind {
    pub const ALL: &'static [WorkloadKind] = &[
        WorkloadKind::Sleep,
        WorkloadKind::TcpEcho,
        WorkloadKind::HttpGet,
        WorkloadKind::Dns,
        WorkloadKind::HttpServe,
        WorkloadKind::EchoServe,
        WorkloadKind::Postgres,
        WorkloadKind::Redis,
        WorkloadKind::DiskRead,
        WorkloadKind::DiskWrite,
        WorkloadKind::CpuMix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Sleep => "sleep",
            WorkloadKind::TcpEcho => "tcp-echo",
            WorkloadKind::HttpGet => "http-get",
            WorkloadKind::Dns => "dns",
            WorkloadKind::HttpServe => "http-serve",
            WorkloadKind::EchoServe => "echo-serve",
            WorkloadKind::Postgres => "postgres",
            WorkloadKind::Redis => "redis",
            WorkloadKind::DiskRead => "disk-read",
            WorkloadKind::DiskWrite => "disk-write",
            WorkloadKind::CpuMix => "cpu-mix",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            WorkloadKind::Sleep => {
                "each op waits `latency` (a blocking sleep, or the runtime's own timer); \
                 ideal throughput is C / latency, so it calibrates the harness"
            }
            WorkloadKind::TcpEcho => {
                "a persistent TCP connection per worker; each op writes `payload` bytes, reads \
                 them back and compares them (target: iobench serve echo)"
            }
            WorkloadKind::HttpGet => {
                "each op sends GET `path` (HTTP/1.1) and checks the status and the whole body \
                 (target: iobench serve http)"
            }
            WorkloadKind::Dns => {
                "each op sends an A query over UDP and checks the answer's id and address, \
                 retrying on silence (target: iobench serve dns, a synthetic zone)"
            }
            WorkloadKind::HttpServe => {
                "the model is the HTTP server (/, /{name}, /json) and iobench's client drives it \
                 from its own process: kept-alive GETs, every body checked; server CPU and memory \
                 measured"
            }
            WorkloadKind::EchoServe => {
                "the model is the TCP echo server and iobench's client drives it from its own \
                 process: each op sends `payload` bytes and checks the echo"
            }
            WorkloadKind::Postgres => {
                "each op runs `query` on a real PostgreSQL server through a pool (postgres crate \
                 for blocking models, tokio-postgres on each runtime's own sockets for async) and \
                 checks the rows (server: scripts/services.sh up)"
            }
            WorkloadKind::Redis => {
                "each op runs `command` on a real Redis server through a pool (the redis crate, \
                 sync or async on each runtime's own sockets) and checks the value read \
                 (server: scripts/services.sh up)"
            }
            WorkloadKind::DiskRead => {
                "each op reads one file of `size` bytes, chosen at random from `files` prepared in a scratch folder, and checks its CRC-32; async models use their runtime's file API (a thread pool underneath); `cache = \"cold\"` drops the file's pages first"
            }
            WorkloadKind::DiskWrite => {
                "each op writes `size` bytes to the worker's own file in a scratch folder (optionally fsynced) and checks the file's size"
            }
            WorkloadKind::CpuMix => {
                "each op waits `wait` (a sleep, or an echo round trip) and then computes for `compute` (calibrated CPU work, its result checked): where the event loop's one thread stops keeping up"
            }
        }
    }

    /// Every parameter of this kind, from its declaration (`params!` in its file).
    pub fn params(self) -> Vec<Param> {
        each_spec!(&WorkloadSpec::default_of(self), p => params_of(p))
    }
}

fn params_of<P: Params>(_: &P) -> Vec<Param> {
    P::params()
}

/// Where a worker process finds its trial's tag.
pub const TRIAL_TAG_ENV: &str = "IOBENCH_TRIAL_TAG";

static TRIAL_TAG: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// A name unique to the running trial, which its worker processes share: what its database
/// connections call themselves and what its disk-write files are named after. The one
/// [`new_trial_tag`] gave, or [`TRIAL_TAG_ENV`] in a worker process, or `iobench-<pid>`.
pub fn trial_tag() -> String {
    let mut tag = lock(&TRIAL_TAG);
    tag.get_or_insert_with(|| {
        std::env::var(TRIAL_TAG_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("iobench-{}", std::process::id()))
    })
    .clone()
}

/// A fresh tag for a trial starting in this process (`iobench-<pid>-<n>`): what an earlier
/// trial left (a connection the server still lists, a file of a killed trial) is not this
/// one's.
pub fn new_trial_tag() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let tag = format!(
        "iobench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    *lock(&TRIAL_TAG) = Some(tag.clone());
    tag
}

/// A disk workload's scratch folder: where it goes, and the read set to fill it with
/// (files, bytes each).
pub struct ScratchNeed<'a> {
    pub dir: Option<&'a str>,
    pub fill: Option<(u32, u64)>,
}

/// What a run resolved for one workload, beside the parameters a scenario wrote (divan's
/// `RawSample` and `TimeSample`: the one is what was asked, the other what was found):
/// where its target listens, its scratch folder, cpu-mix's calibrated rounds, and the
/// process's database pool. `plan::RunCell` carries it with its cell.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    /// `host:port` the workload talks to: its own `target`, the embedded target the run
    /// started, or (set by the trial) the server under test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A disk workload's scratch folder, made and filled by the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch: Option<String>,
    /// cpu-mix: the rounds of `spin` that take `compute`, calibrated once by the run, so
    /// that every model and every process computes the same amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u64>,
    /// A database workload's pool in this process, built by its first session (never
    /// written: each process builds its own).
    #[serde(skip)]
    pub pool: db::PoolSlot,
}

/// A workload's parameters with what the run resolved for it: what the models run (a
/// parameter reads through to `params`).
#[derive(Clone, Debug)]
pub struct Bound<P> {
    pub params: P,
    pub run: Resolved,
}

impl<P> Bound<P> {
    pub fn new(params: P, run: &Resolved) -> Bound<P> {
        Bound {
            params,
            run: run.clone(),
        }
    }
}

impl<P> std::ops::Deref for Bound<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.params
    }
}

/// One workload with its parameters: what a scenario's `[[workload]]` table resolves to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WorkloadSpec {
    Sleep(sleep::Sleep),
    TcpEcho(tcp_echo::TcpEcho),
    HttpGet(http_get::HttpGet),
    Dns(dns::Dns),
    HttpServe(serve::HttpServe),
    EchoServe(serve::EchoServe),
    Postgres(postgres::Postgres),
    Redis(redis::Redis),
    DiskRead(disk::DiskRead),
    DiskWrite(disk::DiskWrite),
    CpuMix(cpu_mix::CpuMix),
}

impl WorkloadSpec {
    pub fn kind(&self) -> WorkloadKind {
        match self {
            WorkloadSpec::Sleep(_) => WorkloadKind::Sleep,
            WorkloadSpec::TcpEcho(_) => WorkloadKind::TcpEcho,
            WorkloadSpec::HttpGet(_) => WorkloadKind::HttpGet,
            WorkloadSpec::Dns(_) => WorkloadKind::Dns,
            WorkloadSpec::HttpServe(_) => WorkloadKind::HttpServe,
            WorkloadSpec::EchoServe(_) => WorkloadKind::EchoServe,
            WorkloadSpec::Postgres(_) => WorkloadKind::Postgres,
            WorkloadSpec::Redis(_) => WorkloadKind::Redis,
            WorkloadSpec::DiskRead(_) => WorkloadKind::DiskRead,
            WorkloadSpec::DiskWrite(_) => WorkloadKind::DiskWrite,
            WorkloadSpec::CpuMix(_) => WorkloadKind::CpuMix,
        }
    }

    /// The workload of `kind` with every parameter at its default.
    pub fn default_of(kind: WorkloadKind) -> WorkloadSpec {
        match kind {
            WorkloadKind::Sleep => WorkloadSpec::Sleep(Default::default()),
            WorkloadKind::TcpEcho => WorkloadSpec::TcpEcho(Default::default()),
            WorkloadKind::HttpGet => WorkloadSpec::HttpGet(Default::default()),
            WorkloadKind::Dns => WorkloadSpec::Dns(Default::default()),
            WorkloadKind::HttpServe => WorkloadSpec::HttpServe(Default::default()),
            WorkloadKind::EchoServe => WorkloadSpec::EchoServe(Default::default()),
            WorkloadKind::Postgres => WorkloadSpec::Postgres(Default::default()),
            WorkloadKind::Redis => WorkloadSpec::Redis(Default::default()),
            WorkloadKind::DiskRead => WorkloadSpec::DiskRead(Default::default()),
            WorkloadKind::DiskWrite => WorkloadSpec::DiskWrite(Default::default()),
            WorkloadKind::CpuMix => WorkloadSpec::CpuMix(Default::default()),
        }
    }

    /// Reads and checks parameter `key`; `None` when this kind has no such parameter.
    pub fn set<'de, D: serde::Deserializer<'de>>(
        &mut self,
        key: &str,
        value: D,
    ) -> Option<Result<(), Invalid>> {
        each_spec!(self, p => Params::set(p, key, value))
    }

    /// Checks across parameters once the `written` keys are set: the key to point at and
    /// why.
    pub fn check(&self, written: &[&str]) -> Result<(), (&'static str, Invalid)> {
        each_spec!(self, p => Params::check(p, written))
    }

    /// The database server this workload needs, and its URL field.
    pub fn service(&mut self) -> Option<(db::Service, &mut Option<String>)> {
        match self {
            WorkloadSpec::Postgres(p) => Some((db::Service::Postgres, &mut p.url)),
            WorkloadSpec::Redis(r) => Some((db::Service::Redis, &mut r.url)),
            _ => None,
        }
    }

    /// A database workload's `pool_max`: the most connections, and so the most queries in
    /// flight, of the whole model. Worker-process models start no more workers than this.
    pub fn pool_max(&self) -> Option<u32> {
        match self {
            WorkloadSpec::Postgres(p) => Some(p.pool.pool_max),
            WorkloadSpec::Redis(r) => Some(r.pool.pool_max),
            _ => None,
        }
    }

    /// Worker process `i` of `k`'s part of a database workload: its share of the pool
    /// ([`db::Pool::share`]), so that the workers' pools add up to the model's.
    pub fn worker_share(&self, i: u32, k: u32) -> WorkloadSpec {
        let mut w = self.clone();
        match &mut w {
            WorkloadSpec::Postgres(postgres::Postgres { pool, .. })
            | WorkloadSpec::Redis(redis::Redis { pool, .. }) => {
                *pool = pool.share(i, k);
            }
            _ => {}
        }
        w
    }

    /// Threads of the client runtime that drives a server workload.
    pub fn client_threads(&self) -> u32 {
        match self {
            WorkloadSpec::HttpServe(h) => h.client_threads,
            WorkloadSpec::EchoServe(e) => e.client_threads,
            _ => 1,
        }
    }

    /// Whether wrk runs after iobench's own window.
    pub fn uses_wrk(&self) -> bool {
        matches!(self, WorkloadSpec::HttpServe(h) if h.load_generator == serve::LoadGenerator::Wrk)
    }

    /// Whether each op in flight holds a socket of its own (a connection, or a UDP socket),
    /// so that C ops in flight need C open files in a process.
    pub fn socket_per_op(&self) -> bool {
        match self {
            WorkloadSpec::TcpEcho(_)
            | WorkloadSpec::HttpGet(_)
            | WorkloadSpec::Dns(_)
            | WorkloadSpec::HttpServe(_)
            | WorkloadSpec::EchoServe(_) => true,
            WorkloadSpec::CpuMix(m) => m.via == cpu_mix::Via::Echo,
            // A pool's connections are at most pool_max.
            WorkloadSpec::Postgres(_) | WorkloadSpec::Redis(_) => false,
            WorkloadSpec::Sleep(_) | WorkloadSpec::DiskRead(_) | WorkloadSpec::DiskWrite(_) => {
                false
            }
        }
    }

    /// The embedded target this workload needs started, if it has no `target` of its own.
    pub fn needs_target(&self) -> Option<TargetKind> {
        match self {
            WorkloadSpec::Sleep(_) => None,
            WorkloadSpec::TcpEcho(t) => t.target.is_none().then_some(TargetKind::Echo),
            WorkloadSpec::HttpGet(h) => h.target.is_none().then_some(TargetKind::Http),
            WorkloadSpec::Dns(d) => d.target.is_none().then_some(TargetKind::Dns),
            // The trial starts the server under test itself.
            WorkloadSpec::HttpServe(_) | WorkloadSpec::EchoServe(_) => None,
            WorkloadSpec::Postgres(_) | WorkloadSpec::Redis(_) => None,
            WorkloadSpec::DiskRead(_) | WorkloadSpec::DiskWrite(_) => None,
            WorkloadSpec::CpuMix(m) => {
                (m.via == cpu_mix::Via::Echo && m.target.is_none()).then_some(TargetKind::Echo)
            }
        }
    }

    /// For a disk workload, what its scratch folder needs.
    pub fn scratch(&self) -> Option<ScratchNeed<'_>> {
        match self {
            WorkloadSpec::DiskRead(d) => Some(ScratchNeed {
                dir: d.dir.as_deref(),
                fill: Some((d.files, d.size.0)),
            }),
            WorkloadSpec::DiskWrite(d) => Some(ScratchNeed {
                dir: d.dir.as_deref(),
                fill: None,
            }),
            _ => None,
        }
    }

    /// cpu-mix: the rounds of computing for every trial of the run, calibrated now.
    pub fn calibrate(&self) -> Option<u64> {
        match self {
            WorkloadSpec::CpuMix(m) => Some(cpu_mix::rounds_for(m.compute.0)),
            _ => None,
        }
    }

    /// The `target` parameter, of the workloads that have one.
    pub fn target(&self) -> Option<&str> {
        match self {
            WorkloadSpec::TcpEcho(t) => t.target.as_deref(),
            WorkloadSpec::HttpGet(h) => h.target.as_deref(),
            WorkloadSpec::Dns(d) => d.target.as_deref(),
            WorkloadSpec::CpuMix(m) => m.target.as_deref(),
            _ => None,
        }
    }

    /// Sets the `target` parameter (`--target`), of the workloads that have one.
    pub fn set_target(&mut self, addr: &str) {
        let target = match self {
            WorkloadSpec::TcpEcho(t) => &mut t.target,
            WorkloadSpec::HttpGet(h) => &mut h.target,
            WorkloadSpec::Dns(d) => &mut d.target,
            WorkloadSpec::CpuMix(m) => &mut m.target,
            _ => return,
        };
        *target = Some(addr.to_string());
    }

    /// The best throughput a perfect model could reach at concurrency `c`, in ops per
    /// second, where the workload has one.
    pub fn ideal_ops_per_sec(&self, c: u32) -> Option<f64> {
        match self {
            WorkloadSpec::Sleep(s) => Some(f64::from(c) / s.latency.0.as_secs_f64()),
            WorkloadSpec::TcpEcho(t) => ideal_for_delay(c, t.server_delay),
            WorkloadSpec::HttpGet(h) => ideal_for_delay(c, h.server_delay),
            WorkloadSpec::Dns(d) => ideal_for_delay(c, d.server_delay),
            WorkloadSpec::HttpServe(h) => ideal_for_delay(c, h.delay),
            WorkloadSpec::EchoServe(e) => ideal_for_delay(c, e.delay),
            // At most pool_max queries are in flight in one pool.
            WorkloadSpec::Postgres(p) => match p.query {
                postgres::PgQuery::Sleep => ideal_for_delay(c.min(p.pool.pool_max), p.server_delay),
                _ => None,
            },
            WorkloadSpec::Redis(_) => None,
            WorkloadSpec::DiskRead(_) | WorkloadSpec::DiskWrite(_) => None,
            WorkloadSpec::CpuMix(m) => m.ideal(
                c,
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            ),
        }
    }

    /// The parameters alone (the spec without its `kind`), as JSON.
    pub fn params(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("workload specs serialize");
        if let Some(map) = v.as_object_mut() {
            map.remove("kind");
        }
        v
    }

    /// A short label such as `sleep[latency=10ms]`.
    pub fn label(&self) -> String {
        label(self.kind().name(), &self.params())
    }

    /// Calls `visitor` with the concrete workload type, bound to what the run resolved.
    pub fn visit<V: WorkloadVisitor>(&self, run: &Resolved, visitor: V) -> V::Output {
        match self {
            WorkloadSpec::Sleep(s) => visitor.visit(s.clone()),
            WorkloadSpec::TcpEcho(t) => visitor.visit(Bound::new(t.clone(), run)),
            WorkloadSpec::HttpGet(h) => visitor.visit(Bound::new(h.clone(), run)),
            WorkloadSpec::Dns(d) => visitor.visit(Bound::new(d.clone(), run)),
            // A server workload's op is its client's.
            WorkloadSpec::HttpServe(h) => visitor.visit(Bound::new(h.client(), run)),
            WorkloadSpec::EchoServe(e) => visitor.visit(Bound::new(e.client(), run)),
            WorkloadSpec::Postgres(p) => visitor.visit(Bound::new(p.clone(), run)),
            WorkloadSpec::Redis(r) => visitor.visit(Bound::new(r.clone(), run)),
            WorkloadSpec::DiskRead(d) => visitor.visit(Bound::new(d.clone(), run)),
            WorkloadSpec::DiskWrite(d) => visitor.visit(Bound::new(d.clone(), run)),
            WorkloadSpec::CpuMix(m) => visitor.visit(Bound::new(m.clone(), run)),
        }
    }
}

/// A workload's label from its kind's name and its parameters (as JSON), such as
/// `sleep[latency=10ms]`: the first part of a cell's id.
pub fn label(kind: &str, params: &serde_json::Value) -> String {
    let inner: Vec<String> = params
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{kind}[{}]", inner.join(","))
}

/// For `skip_serializing_if`: a count left at its default of 0 stays out of labels.
pub fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// C / delay: with a server delay, an op can be no faster than the delay.
fn ideal_for_delay(c: u32, delay: crate::units::HumanDuration) -> Option<f64> {
    (!delay.0.is_zero()).then(|| f64::from(c) / delay.0.as_secs_f64())
}

/// Generic code that needs the concrete workload type (models are generic over it).
pub trait WorkloadVisitor {
    type Output;
    fn visit<W: Workload>(self, workload: W) -> Self::Output;
}

/// What one operation does, blocking and async. Every op checks its result.
pub trait Workload: Send + Sync + 'static {
    /// Per-worker state of blocking models (a connection, a buffer).
    type Session: Send + 'static;
    /// Per-task state of async models on runtime `R`.
    type AsyncSession<R: AsyncRt>: Send + 'static;

    /// Builds a worker's state; runs before the measured window.
    fn open(&self) -> Result<Self::Session, OpError>;
    /// One operation, verified.
    fn op(&self, session: &mut Self::Session) -> Result<(), OpError>;

    /// Builds a task's state; runs before the measured window.
    fn open_async<R: AsyncRt>(
        &self,
    ) -> impl Future<Output = Result<Self::AsyncSession<R>, OpError>> + Send;
    /// One operation, verified, waiting through runtime `R`.
    fn op_async<R: AsyncRt>(
        &self,
        session: &mut Self::AsyncSession<R>,
    ) -> impl Future<Output = Result<(), OpError>> + Send;
}
