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

mod config;
mod connector;
mod counter;
mod deadline;
mod pool;
mod service;

pub use config::{Pool, share};
pub use connector::Connector;
pub use counter::{ConnCounter, app_name};
pub(crate) use deadline::boxed_in_debug;
pub use deadline::{past_deadline, within};
pub use pool::{
    AsyncManager, AsyncPool, BlockingManager, BlockingPool, PoolError, PoolSlot, Pooled,
    checkout_async, checkout_blocking,
};
pub use service::{DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL, Service, host_port, socket_addr};

pub use crate::stats::Rng;

impl Default for Rng {
    fn default() -> Self {
        Rng::new()
    }
}
