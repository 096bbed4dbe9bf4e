//! The pools (r2d2 for the blocking models, deadpool for the async ones), [`PoolSlot`]
//! (this process's pool, built on first use) and checking a connection out for one op.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use super::config::Pool;
use super::connector::Connector;
use super::deadline::within;
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::sync::lock;

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
/// clones of the workload's [`Resolved`](crate::workload::Resolved) (serde leaves it out).
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
