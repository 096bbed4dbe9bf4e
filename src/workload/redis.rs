//! `redis`: the talk's aioredis example, against a real Redis server, through a pool of
//! `pool_min` to `pool_max` connections (5 and 10 by default, as in the talk).
//!
//! - `set-get`: SET the session's own key to a value that differs every op, GET it back and
//!   compare (two round trips).
//! - `get`: GET one of `keys` keys, preloaded once during setup, and compare with the value
//!   it must hold.
//!
//! Blocking models use the `redis` crate's sync connection; async models its multiplexed
//! connection (one op at a time on each, through the pool) over the model's own socket, with
//! the connection's driver task spawned on the model's own executor. Every connection
//! names itself (`CLIENT SETNAME`, one round trip when it is opened) so that the trial can
//! count its connections on the server.
//!
//! `timeout` is the op's deadline in every model (see `db`'s "Deadlines"): one timer
//! around the async op; read and write timeouts set once on a blocking connection, and a
//! blocking op that ends past the deadline is a timeout error.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::db::{
    AsyncPool, BlockingPool, Connector, Pool, Rng, app_name, boxed_in_debug, checkout_async,
    checkout_blocking, past_deadline, socket_addr, within,
};
use super::params::{between, choice_value, nonzero_size, params};
use super::{Bound, Workload};
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::units::HumanSize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisCommand {
    SetGet,
    Get,
}

choice_value!(RedisCommand);

params! {
    pub struct Redis {
        /// set-get (SET a key, GET it back: the talk's) or get (preloaded keys)
        command: RedisCommand = RedisCommand::SetGet,
        /// bytes per value
        value_size: HumanSize = HumanSize(64) => [check = nonzero_size],
        /// get: keys preloaded in setup
        keys: u32 = 1000 => [unit = "keys", check = (between::<1, 100_000_000>)],
        /// The pool and each op's deadline, as every database workload has them.
        #[serde(flatten)]
        pool: Pool,
        /// the server
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String> = None => [shown = "$IOBENCH_REDIS_URL or redis://127.0.0.1:63799/"],
    }
}

/// The value of seed `seed`: the seed's hex digits, lowest first (so that even a 3-byte
/// value changes with every op), then a pattern, `size` bytes in all.
pub fn value(seed: u64, size: usize) -> Vec<u8> {
    let mut v: Vec<u8> = format!("{seed:016x}").bytes().rev().collect();
    v.resize(size.max(16), 0);
    for (i, b) in v.iter_mut().enumerate().skip(16) {
        *b = b'a' + ((seed as usize).wrapping_add(i * 7) % 26) as u8;
    }
    v.truncate(size);
    v
}

fn key_of(i: u64) -> String {
    format!("iobench:get:{i}")
}

fn redis_error(e: redis::RedisError) -> OpError {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connection_refusal() {
        ErrorKind::Refused
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() {
        ErrorKind::Reset
    } else {
        ErrorKind::Other
    };
    OpError::new(kind, format!("redis: {e}"))
}

fn check(got: Option<Vec<u8>>, want: &[u8], key: &str) -> Result<(), OpError> {
    match got {
        Some(v) if v == want => Ok(()),
        Some(v) => Err(OpError::new(
            ErrorKind::Mismatch,
            format!(
                "GET {key} returned {} bytes that differ from the {} stored",
                v.len(),
                want.len()
            ),
        )),
        None => Err(OpError::new(
            ErrorKind::Mismatch,
            format!("GET {key} returned nothing"),
        )),
    }
}

#[derive(Clone)]
pub struct RedisConnector {
    url: String,
    timeout: Duration,
    /// `get`: the keys it reads, written once in setup (their count, and the value size).
    preload: Option<(u32, usize)>,
}

impl RedisConnector {
    fn preload_pipe(&self) -> Option<redis::Pipeline> {
        let (keys, size) = self.preload?;
        let mut pipe = redis::pipe();
        for i in 0..u64::from(keys) {
            pipe.cmd("SET").arg(key_of(i)).arg(value(i, size)).ignore();
        }
        Some(pipe)
    }
}

impl Connector for RedisConnector {
    type Blocking = redis::Connection;
    type Async<R: AsyncRt> = redis::aio::MultiplexedConnection;

    fn connect_blocking(&self) -> Result<redis::Connection, OpError> {
        let client = redis::Client::open(self.url.as_str()).map_err(redis_error)?;
        let mut c = client
            .get_connection_with_timeout(self.timeout)
            .map_err(redis_error)?;
        c.set_read_timeout(Some(self.timeout))
            .map_err(redis_error)?;
        c.set_write_timeout(Some(self.timeout))
            .map_err(redis_error)?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(app_name())
            .query::<()>(&mut c)
            .map_err(redis_error)?;
        Ok(c)
    }

    async fn connect_async<R: AsyncRt>(&self) -> Result<Self::Async<R>, OpError> {
        let info = redis::IntoConnectionInfo::into_connection_info(self.url.as_str())
            .map_err(redis_error)?;
        let addr = socket_addr(&self.url)?;
        let timeout = self.timeout;
        within::<R, _>(timeout, async move {
            let stream = R::connect(addr).await?;
            // Timeouts are the workload's, on the model's own timer.
            let cfg = redis::AsyncConnectionConfig::new()
                .set_response_timeout(None)
                .set_connection_timeout(None);
            let (mut conn, driver) = redis::aio::MultiplexedConnection::new_with_config(
                info.redis_settings(),
                R::tokio_io(stream),
                cfg,
            )
            .await
            .map_err(redis_error)?;
            R::spawn_detached(driver);
            redis::cmd("CLIENT")
                .arg("SETNAME")
                .arg(app_name())
                .query_async::<()>(&mut conn)
                .await
                .map_err(redis_error)?;
            Ok(conn)
        })
        .await
    }

    fn setup_blocking(&self) -> Result<(), OpError> {
        match self.preload_pipe() {
            Some(pipe) => pipe
                .query::<()>(&mut self.connect_blocking()?)
                .map_err(redis_error),
            None => Ok(()),
        }
    }

    async fn setup_async<R: AsyncRt>(&self) -> Result<(), OpError> {
        match self.preload_pipe() {
            Some(pipe) => {
                let mut c = self.connect_async::<R>().await?;
                within::<R, _>(self.timeout, async move {
                    pipe.query_async::<()>(&mut c).await.map_err(redis_error)
                })
                .await
            }
            None => Ok(()),
        }
    }
}

pub struct Session<P> {
    pool: P,
    rng: Rng,
    /// The session's own key (set-get).
    key: String,
    ops: u64,
}

impl Redis {
    fn connector(&self) -> RedisConnector {
        RedisConnector {
            url: self.url.clone().unwrap_or_default(),
            timeout: self.pool.timeout.0,
            preload: (self.command == RedisCommand::Get)
                .then_some((self.keys, self.value_size.0 as usize)),
        }
    }

    fn session<P>(&self, pool: P) -> Session<P> {
        let rng = Rng::new();
        Session {
            pool,
            key: format!("iobench:set-get:{:x}", rng.id()),
            rng,
            ops: 0,
        }
    }

    /// The op's key and the value it must read (and, for set-get, write first).
    fn next(&self, s: &mut Session<impl Sized>) -> (String, Vec<u8>) {
        s.ops += 1;
        match self.command {
            RedisCommand::SetGet => (
                s.key.clone(),
                value(s.rng.id() ^ s.ops, self.value_size.0 as usize),
            ),
            RedisCommand::Get => {
                let i = s.rng.below(u64::from(self.keys));
                (key_of(i), value(i, self.value_size.0 as usize))
            }
        }
    }
}

impl Workload for Bound<Redis> {
    type Session = Session<BlockingPool<RedisConnector>>;
    type AsyncSession<R: AsyncRt> = Session<AsyncPool<RedisConnector, R>>;

    fn open(&self) -> Result<Self::Session, OpError> {
        let pool = self.run.pool.blocking(&self.connector(), &self.pool)?;
        Ok(self.session(pool))
    }

    fn op(&self, s: &mut Self::Session) -> Result<(), OpError> {
        let started = std::time::Instant::now();
        let (key, want) = self.next(s);
        let mut c = checkout_blocking(&s.pool)?;
        if self.command == RedisCommand::SetGet {
            redis::cmd("SET")
                .arg(&key)
                .arg(&want)
                .query::<()>(&mut c.conn)
                .map_err(redis_error)?;
        }
        let got: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&key)
            .query(&mut c.conn)
            .map_err(redis_error)?;
        c.broken = false;
        past_deadline(started, self.pool.timeout.0)?;
        check(got, &want, &key)
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<Self::AsyncSession<R>, OpError> {
        let connector = self.connector();
        let pool = Box::pin(self.run.pool.get_async::<_, R>(&connector, &self.pool)).await?;
        Ok(self.session(pool))
    }

    async fn op_async<R: AsyncRt>(&self, s: &mut Self::AsyncSession<R>) -> Result<(), OpError> {
        let (key, want) = self.next(s);
        // One timer for the whole op, the checkout included.
        boxed_in_debug!(within::<R, _>(
            self.pool.timeout.0,
            self.exchange_async::<R>(&s.pool, &key, &want)
        ))
    }
}

impl Redis {
    /// The async op's body: a pooled connection, SET (set-get), GET, the check.
    async fn exchange_async<R: AsyncRt>(
        &self,
        pool: &AsyncPool<RedisConnector, R>,
        key: &str,
        want: &[u8],
    ) -> Result<(), OpError> {
        let mut c = checkout_async::<_, R>(pool).await?;
        if self.command == RedisCommand::SetGet {
            redis::cmd("SET")
                .arg(key)
                .arg(want)
                .query_async::<()>(&mut c.conn)
                .await
                .map_err(redis_error)?;
        }
        let got: Option<Vec<u8>> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut c.conn)
            .await
            .map_err(redis_error)?;
        c.broken = false;
        check(got, want, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_their_size_and_differ_by_seed() {
        assert_eq!(value(7, 64).len(), 64);
        assert_eq!(value(7, 4).len(), 4);
        assert_ne!(value(7, 64), value(8, 64));
        assert_ne!(value(7, 3), value(8, 3), "short values still differ");
        assert_eq!(value(7, 64), value(7, 64));
    }

    #[test]
    fn a_wrong_value_is_a_mismatch() {
        let e = check(Some(b"other".to_vec()), b"value", "k").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Mismatch);
        let e = check(None, b"value", "k").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Mismatch);
        assert!(check(Some(b"value".to_vec()), b"value", "k").is_ok());
    }
}
