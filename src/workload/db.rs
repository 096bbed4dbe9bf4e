//! What the database workloads share: where the servers are, connection pools, and error
//! mapping.
//!
//! # Pools
//! Every model reaches a database through at most `pool_max` connections in all, of which
//! `pool_min` are opened before the window (setup); the rest are opened on demand, inside
//! the ops that need them. In-process models share one pool: r2d2 for the blocking models,
//! deadpool (its runtime-free `managed` pool) for the async ones, each connection made
//! through the model's own runtime ([`Connector`]). A connection is checked out for one op
//! and returned after it, so two in-flight queries never share one. An op that fails, or is
//! abandoned at its deadline, leaves its connection marked broken, and the pool drops it.
//!
//! # Worker processes share the bounds
//! Processes cannot share a pool, so `processes` and `async-processes` split the bounds
//! ([`share`]): worker `i` of `k` gets ⌊n/k⌋ or ⌈n/k⌉ of each, the ⌈⌉ to the first ones,
//! so that the workers' pools add up to `pool_min` and `pool_max` exactly. A worker with no
//! connection could run no op, so these models start at most `pool_max` workers
//! ([`WorkloadSpec::pool_max`](super::WorkloadSpec::pool_max)): no model runs more than
//! `pool_max` queries at once.
//!
//! # Counting the connections
//! Every connection a trial opens carries the trial's name ([`app_name`], the trial's tag:
//! PostgreSQL's `application_name`, Redis's `CLIENT SETNAME`), which its worker processes
//! inherit. A [`ConnCounter`] thread, started before the idle footprint with a
//! connection of its own, asks the server near the window's end how many connections bear
//! that name (`pg_stat_activity`, `CLIENT LIST`): the trial's `db_connections`. The name
//! keeps other users of the same server out of the count.
//!
//! # Deadlines
//! `timeout` is a deadline for the whole op (pool checkout included) in every model. Async
//! ops run under one timer of their runtime ([`within`]). Blocking ops wait for a
//! connection at most the timeout, their sockets are bounded once per connection
//! (Redis read and write timeouts; PostgreSQL's `statement_timeout`, `tcp_user_timeout`
//! and keep-alives), and an op that ends past its deadline is a timeout error
//! ([`past_deadline`]), so that a slow op counts the same in every model; a blocking op
//! only learns of it later, when its call returns.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::WorkloadSpec;
use super::params::{Invalid, at_least_one, nonzero_duration, params};
use crate::units::HumanDuration;

use crate::measure::{Mono, Window};
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::sync::lock;

/// The default addresses: the ports `scripts/services.sh` starts its servers on.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://iobench@127.0.0.1:54329/iobench";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:63799/";

/// A database server a workload needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Redis,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::Redis => "Redis",
        }
    }

    /// The URL from the environment (`IOBENCH_POSTGRES_URL`, `IOBENCH_REDIS_URL`), or the
    /// default.
    pub fn url_from_env(self) -> String {
        let (var, default) = match self {
            Service::Postgres => ("IOBENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
            Service::Redis => ("IOBENCH_REDIS_URL", DEFAULT_REDIS_URL),
        };
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    }

    /// `None` when a TCP connection to the server's address succeeds, else why not, with
    /// the command that starts the servers.
    pub fn unreachable(self, url: &str) -> Option<String> {
        let hint = "start it with `scripts/services.sh up`, or set the workload's `url`";
        let addr = match host_port(url) {
            Some(a) => a,
            None => {
                return Some(format!(
                    "{} URL `{url}` has no host:port; {hint}",
                    self.name()
                ));
            }
        };
        let resolved = std::net::ToSocketAddrs::to_socket_addrs(&addr)
            .ok()
            .and_then(|mut a| a.next());
        let Some(sa) = resolved else {
            return Some(format!("cannot resolve {} at {addr}; {hint}", self.name()));
        };
        match std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(2)) {
            Ok(_) => None,
            Err(e) => Some(format!(
                "{} is not reachable at {addr} ({e}); {hint}",
                self.name()
            )),
        }
    }
}

/// `host:port` of a `scheme://[user@]host:port/...` URL.
pub fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    hostport.contains(':').then(|| hostport.to_string())
}

/// Resolves a URL's `host:port` to a socket address.
pub fn socket_addr(url: &str) -> Result<SocketAddr, OpError> {
    let hp = host_port(url)
        .ok_or_else(|| OpError::new(ErrorKind::Other, format!("`{url}` has no host:port")))?;
    std::net::ToSocketAddrs::to_socket_addrs(&hp)
        .map_err(|e| OpError::new(ErrorKind::Other, format!("cannot resolve {hp}: {e}")))?
        .next()
        .ok_or_else(|| OpError::new(ErrorKind::Other, format!("{hp} has no address")))
}

/// How a workload opens one connection: blocking, and on each async runtime.
pub trait Connector: Clone + Send + Sync + 'static {
    type Blocking: Send + 'static;
    type Async<R: AsyncRt>: Send + 'static;

    fn connect_blocking(&self) -> Result<Self::Blocking, OpError>;

    fn connect_async<R: AsyncRt>(
        &self,
    ) -> impl Future<Output = Result<Self::Async<R>, OpError>> + Send;

    /// One-time setup before the pool exists (a table to fill, keys to preload), on a
    /// connection of its own.
    fn setup_blocking(&self) -> Result<(), OpError> {
        Ok(())
    }

    /// The same on runtime `R`.
    fn setup_async<R: AsyncRt>(&self) -> impl Future<Output = Result<(), OpError>> + Send {
        async { Ok(()) }
    }
}

/// A pooled connection; `broken` until its op succeeds, so that an op that fails or is
/// abandoned leaves it to be dropped rather than reused.
pub struct Pooled<T> {
    pub conn: T,
    pub broken: bool,
}

/// An error type for r2d2 (which needs `std::error::Error`).
#[derive(Debug)]
pub struct PoolError(pub OpError);

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for PoolError {}

pub struct BlockingManager<C>(pub C);

impl<C: Connector> r2d2::ManageConnection for BlockingManager<C> {
    type Connection = Pooled<C::Blocking>;
    type Error = PoolError;

    fn connect(&self) -> Result<Self::Connection, PoolError> {
        self.0
            .connect_blocking()
            .map(|conn| Pooled {
                conn,
                broken: false,
            })
            .map_err(PoolError)
    }

    fn is_valid(&self, _: &mut Self::Connection) -> Result<(), PoolError> {
        Ok(())
    }

    fn has_broken(&self, c: &mut Self::Connection) -> bool {
        c.broken
    }
}

pub struct AsyncManager<C, R>(pub C, PhantomData<fn() -> R>);

impl<C: Connector, R: AsyncRt> deadpool::managed::Manager for AsyncManager<C, R> {
    type Type = Pooled<C::Async<R>>;
    type Error = OpError;

    async fn create(&self) -> Result<Self::Type, OpError> {
        Ok(Pooled {
            conn: self.0.connect_async::<R>().await?,
            broken: false,
        })
    }

    async fn recycle(
        &self,
        obj: &mut Self::Type,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<OpError> {
        if obj.broken {
            Err(deadpool::managed::RecycleError::message("broken"))
        } else {
            Ok(())
        }
    }
}

pub type BlockingPool<C> = r2d2::Pool<BlockingManager<C>>;
pub type AsyncPool<C, R> = deadpool::managed::Pool<AsyncManager<C, R>>;

/// The pool of this process, built by the first worker that opens a session; shared by
/// clones of the workload's [`Resolved`](super::Resolved) (serde leaves it out).
#[derive(Clone, Default)]
pub struct PoolSlot(Arc<Mutex<Option<Box<dyn Any + Send>>>>);

impl std::fmt::Debug for PoolSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolSlot")
    }
}

impl PartialEq for PoolSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

params! {
    /// A database workload's pool, the same keys for every database: the connections of
    /// the whole model (worker processes split them, [`Pool::share`]), and the deadline of
    /// each op, the wait for a connection included.
    #[derive(Copy)]
    pub struct Pool {
        /// connections opened before the window, 0 for none (in all: worker processes split it)
        pool_min: u32 = 5 => [unit = "connections"],
        /// most connections, so most ops in flight (in all: worker processes split it)
        pool_max: u32 = 10 => [unit = "connections", check = at_least_one],
        /// deadline of each op, the wait for a connection included (and limit on connecting)
        timeout: HumanDuration = HumanDuration::secs(10) => [check = nonzero_duration],
    }
    check: min_within_max;
}

/// `pool_min` connections are opened first: no more than `pool_max`.
fn min_within_max(p: &Pool, written: &[&str]) -> Result<(), (&'static str, Invalid)> {
    if p.pool_min <= p.pool_max {
        return Ok(());
    }
    let key = match written.contains(&"pool_min") {
        true => "pool_min",
        false => "pool_max",
    };
    let why = Invalid::new(format!(
        "pool_min {} is above pool_max {}",
        p.pool_min, p.pool_max
    ))
    .hint("pool_min connections are opened first; it cannot exceed pool_max");
    Err((key, why))
}

impl Pool {
    /// Worker process `i` of `k`'s part of the pool ([`share`]), so that the workers' pools
    /// add up to the model's.
    pub fn share(&self, i: u32, k: u32) -> Pool {
        Pool {
            pool_min: share(self.pool_min, i, k),
            pool_max: share(self.pool_max, i, k),
            ..*self
        }
    }
}

impl PoolSlot {
    /// The blocking pool, built on first use after the connector's setup (`pool_min`
    /// connections are opened now).
    ///
    /// r2d2's `min_idle` would keep that many connections *idle*, opening more as ops check
    /// them out, where deadpool opens more only when none is free; so both pools are
    /// filled the same way instead: `pool_min` connections checked out and returned. r2d2
    /// opens connections and reaps them on a helper thread pool (3 threads by default);
    /// it gets one thread, the least it can run with, which `peak_threads` shows.
    pub fn blocking<C: Connector>(
        &self,
        connector: &C,
        cfg: &Pool,
    ) -> Result<BlockingPool<C>, OpError> {
        let mut slot = lock(&self.0);
        if let Some(p) = slot
            .as_ref()
            .and_then(|b| b.downcast_ref::<BlockingPool<C>>())
        {
            return Ok(p.clone());
        }
        connector.setup_blocking()?;
        let helper = scheduled_thread_pool::ScheduledThreadPool::builder()
            .num_threads(1)
            .thread_name_pattern("r2d2-{}")
            .build();
        let pool = r2d2::Pool::builder()
            .max_size(cfg.pool_max)
            .min_idle(Some(0))
            .thread_pool(Arc::new(helper))
            .test_on_check_out(false)
            .connection_timeout(cfg.timeout.0)
            .build(BlockingManager(connector.clone()))
            .map_err(|e| OpError::new(ErrorKind::Refused, format!("connection pool: {e}")))?;
        let held = (0..cfg.pool_min.min(cfg.pool_max))
            .map(|_| checkout_blocking(&pool))
            .collect::<Result<Vec<_>, _>>()?;
        for mut h in held {
            h.broken = false;
        }
        *slot = Some(Box::new(pool.clone()));
        Ok(pool)
    }

    /// The async pool of runtime `R`, built on first use after the connector's setup
    /// (`pool_min` connections are opened now).
    pub async fn get_async<C: Connector, R: AsyncRt>(
        &self,
        connector: &C,
        cfg: &Pool,
    ) -> Result<AsyncPool<C, R>, OpError> {
        // The tasks of one runtime open their sessions one after another, so the first
        // builds the pool and the others find it.
        if let Some(p) = lock(&self.0)
            .as_ref()
            .and_then(|b| b.downcast_ref::<AsyncPool<C, R>>())
        {
            return Ok(p.clone());
        }
        connector.setup_async::<R>().await?;
        let pool = deadpool::managed::Pool::builder(AsyncManager(connector.clone(), PhantomData))
            .max_size(cfg.pool_max as usize)
            .build()
            .map_err(|e| OpError::new(ErrorKind::Other, format!("connection pool: {e}")))?;
        // Exactly `pool_min`, as for the blocking pool: with 0, none before the window.
        let mut held = Vec::new();
        for _ in 0..cfg.pool_min.min(cfg.pool_max) {
            held.push(within::<R, _>(cfg.timeout.0, checkout_async::<C, R>(&pool)).await?);
        }
        for h in &mut held {
            h.broken = false;
        }
        drop(held);
        *lock(&self.0) = Some(Box::new(pool.clone()));
        Ok(pool)
    }
}

/// A connection for one op, marked broken until the op says otherwise; the wait for one
/// is bounded by the pool's `timeout`.
pub fn checkout_blocking<C: Connector>(
    pool: &BlockingPool<C>,
) -> Result<r2d2::PooledConnection<BlockingManager<C>>, OpError> {
    let mut c = pool.get().map_err(|e| {
        OpError::new(
            ErrorKind::Timeout,
            format!("no pooled connection free in time: {e}"),
        )
    })?;
    c.broken = true;
    Ok(c)
}

/// A connection for one op on runtime `R`, marked broken until the op says otherwise. No
/// timer of its own: the op's deadline ([`within`]) covers the wait.
pub async fn checkout_async<C: Connector, R: AsyncRt>(
    pool: &AsyncPool<C, R>,
) -> Result<deadpool::managed::Object<AsyncManager<C, R>>, OpError> {
    let mut c = pool.get().await.map_err(|e| match e {
        deadpool::managed::PoolError::Backend(e) => e,
        other => OpError::new(ErrorKind::Other, format!("connection pool: {other}")),
    })?;
    c.broken = true;
    Ok(c)
}

/// A blocking op that `started` and ended after `timeout`: a timeout error, as the same op
/// is in an async model, whose timer abandons it at the deadline.
pub fn past_deadline(started: Instant, timeout: Duration) -> Result<(), OpError> {
    let took = started.elapsed();
    if took > timeout {
        return Err(OpError::new(
            ErrorKind::Timeout,
            format!("the op took {took:?}, past its deadline of {timeout:?}"),
        ));
    }
    Ok(())
}

/// Runs `f` on runtime `R` within `timeout`; past it, a timeout error.
pub async fn within<R: AsyncRt, T>(
    timeout: Duration,
    f: impl Future<Output = Result<T, OpError>> + Send,
) -> Result<T, OpError> {
    R::timeout(timeout, f).await.unwrap_or_else(|| {
        Err(OpError::new(
            ErrorKind::Timeout,
            format!("not done within {timeout:?}"),
        ))
    })
}

/// Awaits an async op's whole future: in place in optimised builds, so that an op costs
/// no allocation; boxed in debug builds, where the nested driver futures are hundreds of
/// KiB, too large to hold inside every task and move around on an executor's stack.
macro_rules! boxed_in_debug {
    ($f:expr) => {{
        #[cfg(debug_assertions)]
        let r = Box::pin($f).await;
        #[cfg(not(debug_assertions))]
        let r = $f.await;
        r
    }};
}
pub(crate) use boxed_in_debug;

/// Worker `i`'s share of `total` split over `k` workers: ⌈total/k⌉ for the first
/// `total mod k`, ⌊total/k⌋ for the others, so that the shares add up to `total`.
pub fn share(total: u32, i: u32, k: u32) -> u32 {
    let k = k.max(1);
    total / k + u32::from(i < total % k)
}

/// The name this process's connections carry: its trial's ([`super::trial_tag`]).
pub fn app_name() -> String {
    super::trial_tag()
}

/// A connection to the server that counts the trial's connections on it.
enum Counting {
    Postgres(postgres::Client),
    Redis(redis::Connection),
}

impl Counting {
    fn open(service: Service, url: &str) -> Result<Counting, String> {
        let limit = Duration::from_secs(5);
        match service {
            Service::Postgres => {
                let mut cfg: postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
                cfg.connect_timeout(limit)
                    .application_name("iobench-counter");
                cfg.connect(postgres::NoTls)
                    .map(Counting::Postgres)
                    .map_err(|e| e.to_string())
            }
            Service::Redis => {
                let c = redis::Client::open(url)
                    .and_then(|c| c.get_connection_with_timeout(limit))
                    .map_err(|e| e.to_string())?;
                c.set_read_timeout(Some(limit)).map_err(|e| e.to_string())?;
                Ok(Counting::Redis(c))
            }
        }
    }

    /// The connections named `name` open on the server now, this one left out.
    fn count(&mut self, name: &str) -> Result<u64, String> {
        match self {
            Counting::Postgres(c) => {
                let row = c
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                        &[&name],
                    )
                    .map_err(|e| e.to_string())?;
                Ok(row.get::<_, i64>(0) as u64)
            }
            Counting::Redis(c) => {
                let list: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .query(c)
                    .map_err(|e| e.to_string())?;
                Ok(count_named(&list, name))
            }
        }
    }
}

/// Lines of a Redis `CLIENT LIST` reply whose `name` field is `name`.
fn count_named(list: &str, name: &str) -> u64 {
    let field = format!("name={name}");
    list.lines()
        .filter(|l| l.split(' ').any(|f| f == field))
        .count() as u64
}

/// Counts a database trial's connections on the server, once, near the window's end.
///
/// # How it works
/// [`ConnCounter::start`] opens its own connection and starts a thread, both before the
/// idle footprint, so that neither is charged to the model's memory per op. The thread
/// waits for the window ([`ConnCounter::begin`]), sleeps until a little before its end
/// (a tenth of the window, at most 50 ms), while every worker is still inside its loop
/// and its pool is alive, and asks the server once. A counted window has no known end,
/// and is not counted.
pub struct ConnCounter {
    window: std::sync::mpsc::Sender<Window>,
    thread: std::thread::JoinHandle<Option<u64>>,
}

impl ConnCounter {
    /// For a database workload, a counter of the connections named [`app_name`]; `None`
    /// for any other workload, or where the server cannot be reached now (the trial will
    /// say why).
    pub fn start(workload: &WorkloadSpec) -> Option<ConnCounter> {
        let (service, url) = match workload {
            WorkloadSpec::Postgres(p) => (Service::Postgres, p.url.clone()),
            WorkloadSpec::Redis(r) => (Service::Redis, r.url.clone()),
            _ => return None,
        };
        let url = url.unwrap_or_else(|| service.url_from_env());
        let name = app_name();
        let mut conn = Counting::open(service, &url).ok()?;
        let (window, rx) = std::sync::mpsc::channel::<Window>();
        let thread = std::thread::Builder::new()
            .name("db-counter".into())
            .spawn(move || {
                let w = rx.recv().ok().filter(|w| w.count.is_none())?;
                let len = w.measure_until.since(w.measure_from);
                let lead = (len / 10).min(Duration::from_millis(50));
                // Counted at the window's middle and shortly before its end; a count that
                // completes after the end (a busy machine woke this thread late, and the
                // workers may be gone) is not the window's. The most seen counts.
                let mut most = None;
                for at in [
                    w.measure_from.plus(len / 2),
                    Mono(w.measure_until.0 - lead.as_nanos() as u64),
                ] {
                    at.sleep_until();
                    if let Ok(n) = conn.count(&name) {
                        if Mono::now() < w.measure_until {
                            most = most.max(Some(n));
                        }
                    }
                }
                most
            })
            .ok()?;
        Some(ConnCounter { window, thread })
    }

    /// The window has been opened.
    pub fn begin(&self, w: Window) {
        let _ = self.window.send(w);
    }

    /// The count, once taken; `None` where it could not be.
    pub fn finish(self) -> Option<u64> {
        drop(self.window);
        self.thread.join().ok().flatten()
    }
}

pub use crate::stats::Rng;

impl Default for Rng {
    fn default() -> Self {
        Rng::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_of_urls() {
        assert_eq!(
            host_port("postgres://iobench@127.0.0.1:54329/iobench").as_deref(),
            Some("127.0.0.1:54329")
        );
        assert_eq!(
            host_port("redis://127.0.0.1:63799/").as_deref(),
            Some("127.0.0.1:63799")
        );
        assert_eq!(host_port("redis://localhost/"), None);
    }

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for total in [0, 1, 5, 10, 64] {
            for k in 1..=12 {
                let s: Vec<u32> = (0..k).map(|i| share(total, i, k)).collect();
                assert_eq!(s.iter().sum::<u32>(), total, "{total} over {k}: {s:?}");
                let (lo, hi) = (total / k, total.div_ceil(k));
                assert!(s.iter().all(|&x| x == lo || x == hi), "{s:?}");
                assert!(
                    s.windows(2).all(|w| w[0] >= w[1]),
                    "the ceilings first: {s:?}"
                );
            }
        }
        // pool_min ≤ pool_max holds worker by worker.
        assert!((0..4).all(|i| share(5, i, 4) <= share(10, i, 4)));
    }

    #[test]
    fn an_op_past_its_deadline_is_a_timeout() {
        let t = Instant::now();
        assert!(past_deadline(t, Duration::from_secs(60)).is_ok());
        std::thread::sleep(Duration::from_millis(5));
        let e = past_deadline(t, Duration::from_millis(1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
    }

    #[test]
    fn client_list_lines_are_counted_by_exact_name() {
        let list = "id=3 addr=127.0.0.1:5 fd=8 name=iobench-7-0 age=1\n\
                    id=4 addr=127.0.0.1:6 fd=9 name=iobench-7-01 age=1\n\
                    id=5 addr=127.0.0.1:7 fd=10 name= age=1\n\
                    id=6 addr=127.0.0.1:8 fd=11 name=iobench-7-0 age=2\n";
        assert_eq!(count_named(list, "iobench-7-0"), 2);
        assert_eq!(count_named(list, "other"), 0);
    }

    #[test]
    fn an_unreachable_service_names_the_command() {
        let why = Service::Redis.unreachable("redis://127.0.0.1:9/").unwrap();
        assert!(why.contains("scripts/services.sh up"), "{why}");
    }
}
