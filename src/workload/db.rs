//! What the database workloads share: where the servers are, connection pools, and error
//! mapping.
//!
//! # Pools
//! Every model reaches a database through a pool of `pool_min` to `pool_max` connections,
//! shared by the workers of one process: r2d2 for the blocking models, deadpool (its
//! runtime-free `managed` pool) for the async ones, each connection made through the
//! model's own runtime ([`Connector`]). A connection is checked out for one op and returned
//! after it, so two in-flight queries never share one. An op that fails, or is abandoned at
//! its timeout, leaves its connection marked broken, and the pool drops it. The pool is built
//! and `pool_min` connections are opened before the window (setup); the rest are opened on
//! demand, inside the ops that need them. Worker processes (processes, async-processes)
//! each have a pool of their own, as a pre-forked server's workers do.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ErrorKind, OpError};
use crate::model::runtime::AsyncRt;

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
/// clones of the workload (serde leaves it out).
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

/// Pool sizes and limits.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    pub min: u32,
    pub max: u32,
    pub timeout: Duration,
}

impl PoolSlot {
    /// The blocking pool, built on first use after the connector's setup (`pool_min`
    /// connections are opened now).
    pub fn blocking<C: Connector>(
        &self,
        connector: &C,
        cfg: PoolConfig,
    ) -> Result<BlockingPool<C>, OpError> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = slot
            .as_ref()
            .and_then(|b| b.downcast_ref::<BlockingPool<C>>())
        {
            return Ok(p.clone());
        }
        connector.setup_blocking()?;
        let pool = r2d2::Pool::builder()
            .max_size(cfg.max)
            .min_idle(Some(cfg.min.min(cfg.max)))
            .test_on_check_out(false)
            .connection_timeout(cfg.timeout)
            .build(BlockingManager(connector.clone()))
            .map_err(|e| OpError::new(ErrorKind::Refused, format!("connection pool: {e}")))?;
        *slot = Some(Box::new(pool.clone()));
        Ok(pool)
    }

    /// The async pool of runtime `R`, built on first use after the connector's setup
    /// (`pool_min` connections are opened now).
    pub async fn get_async<C: Connector, R: AsyncRt>(
        &self,
        connector: &C,
        cfg: PoolConfig,
    ) -> Result<AsyncPool<C, R>, OpError> {
        // The tasks of one runtime open their sessions one after another, so the first
        // builds the pool and the others find it.
        if let Some(p) = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|b| b.downcast_ref::<AsyncPool<C, R>>())
        {
            return Ok(p.clone());
        }
        connector.setup_async::<R>().await?;
        let pool = deadpool::managed::Pool::builder(AsyncManager(connector.clone(), PhantomData))
            .max_size(cfg.max as usize)
            .build()
            .map_err(|e| OpError::new(ErrorKind::Other, format!("connection pool: {e}")))?;
        let mut held = Vec::new();
        for _ in 0..cfg.min.min(cfg.max).max(1) {
            held.push(checkout_async::<C, R>(&pool, cfg.timeout).await?);
        }
        for h in &mut held {
            h.broken = false;
        }
        drop(held);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(pool.clone()));
        Ok(pool)
    }
}

/// A connection for one op, marked broken until the op says otherwise.
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

/// A connection for one op on runtime `R`, within `timeout`, marked broken until the op
/// says otherwise.
pub async fn checkout_async<C: Connector, R: AsyncRt>(
    pool: &AsyncPool<C, R>,
    timeout: Duration,
) -> Result<deadpool::managed::Object<AsyncManager<C, R>>, OpError> {
    let got = R::timeout(timeout, pool.get()).await.ok_or_else(|| {
        OpError::new(
            ErrorKind::Timeout,
            format!("no pooled connection free within {timeout:?}"),
        )
    })?;
    let mut c = got.map_err(|e| match e {
        deadpool::managed::PoolError::Backend(e) => e,
        other => OpError::new(ErrorKind::Other, format!("connection pool: {other}")),
    })?;
    c.broken = true;
    Ok(c)
}

/// Runs `f` on runtime `R` within `timeout`; past it, a timeout error.
pub async fn within<R: AsyncRt, T>(
    timeout: Duration,
    f: impl Future<Output = Result<T, OpError>> + Send,
) -> Result<T, OpError> {
    R::timeout(timeout, f).await.unwrap_or_else(|| {
        Err(OpError::new(
            ErrorKind::Timeout,
            format!("no reply within {timeout:?}"),
        ))
    })
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
    fn an_unreachable_service_names_the_command() {
        let why = Service::Redis.unreachable("redis://127.0.0.1:9/").unwrap();
        assert!(why.contains("scripts/services.sh up"), "{why}");
    }
}
