//! `postgres`: the talk's aiopg example and two more queries, against a real PostgreSQL
//! server, through a pool of `pool_min` to `pool_max` connections.
//!
//! - `select-1`: `SELECT 1`, iterate the rows, check there is one and it is 1.
//! - `sleep`: `SELECT 1 FROM pg_sleep($1)`, a server-side wait of `server_delay`; the row is
//!   checked, and so is the wait (an op faster than the delay is a mismatch).
//! - `point-select`: `SELECT val FROM iobench_points_<rows> WHERE id = $1` on a random id of
//!   a table of `rows` rows, created and filled once during setup; the value is checked.
//!
//! Blocking models use the `postgres` crate; async models use `tokio-postgres` over the
//! model's own socket (`connect_raw`), with the connection's driver task spawned on the
//! model's own executor, so async-std and smol run no tokio reactor. Each connection
//! prepares its statement once, when it is opened.
//!
//! `timeout` is the op's deadline in every model (see `db`'s "Deadlines"). Every pooled
//! connection, blocking or async, also asks the server for `statement_timeout = timeout`
//! (in its startup packet, so at no cost per op), which ends a query the server is stuck
//! on; that bounds a blocking query, which the `postgres` crate cannot time out itself.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::db::{
    AsyncPool, BlockingPool, Connector, Pool, Rng, app_name, boxed_in_debug, checkout_async,
    checkout_blocking, past_deadline, socket_addr, within,
};
use super::params::{Invalid, between, choice_value, params};
use super::{Bound, Workload};
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::units::HumanDuration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PgQuery {
    #[serde(rename = "select-1")]
    Select1,
    Sleep,
    PointSelect,
}

choice_value!(PgQuery);

params! {
    pub struct Postgres {
        /// select-1 (SELECT 1, the talk's), sleep (SELECT pg_sleep(server_delay)), point-select (a
        /// row by random id)
        query: PgQuery = PgQuery::Select1,
        /// sleep: the server-side wait per query
        server_delay: HumanDuration = HumanDuration::ms(5),
        /// point-select: rows in the table, filled once in setup
        rows: u32 = 10_000 => [unit = "rows", check = (between::<1, 100_000_000>)],
        /// The pool and each op's deadline, as every database workload has them.
        #[serde(flatten)]
        pool: Pool,
        /// the server
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String> = None => [shown = "$IOBENCH_POSTGRES_URL or postgres://iobench@127.0.0.1:54329/iobench"],
    }
    check: delay_only_for_sleep;
}

/// `server_delay` is the wait of `query = "sleep"`, and of no other query.
fn delay_only_for_sleep(p: &Postgres, written: &[&str]) -> Result<(), (&'static str, Invalid)> {
    if p.query == PgQuery::Sleep || !written.contains(&"server_delay") {
        return Ok(());
    }
    let why = Invalid::new("`server_delay` only applies to query = \"sleep\"")
        .hint("remove it, or set query = \"sleep\"");
    Err(("server_delay", why))
}

fn pg_error(e: tokio_postgres::Error) -> OpError {
    use std::error::Error as _;
    if e.is_closed() {
        return OpError::new(ErrorKind::Reset, format!("postgres: {e}"));
    }
    if let Some(io) = e.source().and_then(|s| s.downcast_ref::<std::io::Error>()) {
        let mut o = OpError::from(std::io::Error::new(io.kind(), io.to_string()));
        o.message = format!("postgres: {e}: {io}").into();
        return o;
    }
    match e.as_db_error() {
        Some(db) => OpError::new(
            // The server ended the query at `statement_timeout`: the op's deadline.
            if *db.code() == tokio_postgres::error::SqlState::QUERY_CANCELED {
                ErrorKind::Timeout
            } else {
                ErrorKind::Other
            },
            format!(
                "postgres: {} {}: {}",
                db.severity(),
                db.code().code(),
                db.message()
            ),
        ),
        None => OpError::new(ErrorKind::Other, format!("postgres: {e}")),
    }
}

fn mismatch(why: String) -> OpError {
    OpError::new(ErrorKind::Mismatch, why)
}

/// The table of `point-select`.
fn table(rows: u32) -> String {
    format!("iobench_points_{rows}")
}

fn expected_val(id: i32) -> String {
    format!("value-{id}")
}

/// Creates and fills the point-select table unless it is already whole; an advisory lock
/// keeps worker processes from filling it twice at once.
fn setup_sql(rows: u32) -> (String, String, String) {
    let t = table(rows);
    (
        format!(
            "SELECT pg_advisory_lock(727262); CREATE TABLE IF NOT EXISTS {t} (id integer PRIMARY KEY, val text NOT NULL)"
        ),
        format!("SELECT count(*) FROM {t}"),
        format!(
            "TRUNCATE {t}; INSERT INTO {t} SELECT g, 'value-' || g FROM generate_series(1, {rows}) g; ANALYZE {t}"
        ),
    )
}

const UNLOCK: &str = "SELECT pg_advisory_unlock(727262)";

#[derive(Clone)]
pub struct PgConnector {
    url: String,
    timeout: Duration,
    sql: String,
    /// `point-select`: the rows of the table to create in setup.
    table_rows: Option<u32>,
}

impl PgConnector {
    /// The same settings for blocking and async connections: the trial's name, and for a
    /// pooled one (`pooled`; setup's filling of a table is not bounded) the deadline as
    /// `statement_timeout`.
    fn config(&self, pooled: bool) -> Result<tokio_postgres::Config, OpError> {
        let mut cfg: tokio_postgres::Config = self
            .url
            .parse()
            .map_err(|e| OpError::new(ErrorKind::Other, format!("postgres URL: {e}")))?;
        cfg.connect_timeout(self.timeout)
            .application_name(app_name());
        if pooled {
            cfg.options(format!(
                "-c statement_timeout={}",
                self.timeout.as_millis().max(1)
            ));
        }
        Ok(cfg)
    }

    fn client_blocking(&self, pooled: bool) -> Result<postgres::Client, OpError> {
        postgres::Config::from(self.config(pooled)?)
            .connect(postgres::NoTls)
            .map_err(pg_error)
    }

    async fn client_async<R: AsyncRt>(
        &self,
        pooled: bool,
    ) -> Result<tokio_postgres::Client, OpError> {
        let cfg = self.config(pooled)?;
        let addr = socket_addr(&self.url)?;
        within::<R, _>(self.timeout, async move {
            let stream = R::connect(addr).await?;
            let (client, conn) = cfg
                .connect_raw(R::tokio_io(stream), tokio_postgres::NoTls)
                .await
                .map_err(pg_error)?;
            R::spawn_detached(async move {
                let _ = conn.await;
            });
            Ok(client)
        })
        .await
    }
}

impl Postgres {
    fn sql(&self) -> String {
        match self.query {
            PgQuery::Select1 => "SELECT 1".into(),
            PgQuery::Sleep => "SELECT 1 FROM pg_sleep($1)".into(),
            PgQuery::PointSelect => format!("SELECT val FROM {} WHERE id = $1", table(self.rows)),
        }
    }

    fn connector(&self) -> PgConnector {
        PgConnector {
            url: self.url.clone().unwrap_or_default(),
            timeout: self.pool.timeout.0,
            sql: self.sql(),
            table_rows: (self.query == PgQuery::PointSelect).then_some(self.rows),
        }
    }

    /// The op's parameter (a row id, or the delay in seconds).
    fn param(&self, rng: &mut Rng) -> Param {
        match self.query {
            PgQuery::Select1 => Param::None,
            PgQuery::Sleep => Param::Secs(self.server_delay.0.as_secs_f64()),
            PgQuery::PointSelect => Param::Id(rng.below(u64::from(self.rows)) as i32 + 1),
        }
    }

    /// Checks the rows an op read.
    fn check(
        &self,
        rows: &[tokio_postgres::Row],
        param: &Param,
        took: Duration,
    ) -> Result<(), OpError> {
        if rows.len() != 1 {
            return Err(mismatch(format!("{} rows instead of 1", rows.len())));
        }
        match *param {
            Param::None | Param::Secs(_) => {
                let v: i32 = rows[0].try_get(0).map_err(pg_error)?;
                if v != 1 {
                    return Err(mismatch(format!("read {v} instead of 1")));
                }
                if matches!(param, Param::Secs(_)) && took < self.server_delay.0 {
                    return Err(mismatch(format!(
                        "pg_sleep returned after {took:?}, before its {:?}",
                        self.server_delay.0
                    )));
                }
            }
            Param::Id(id) => {
                let v: &str = rows[0].try_get(0).map_err(pg_error)?;
                if v != expected_val(id) {
                    return Err(mismatch(format!("row {id} holds `{v}`")));
                }
            }
        }
        Ok(())
    }
}

impl Postgres {
    /// The async op's body: a pooled connection, the query, the check.
    async fn query_async<R: AsyncRt>(
        &self,
        pool: &AsyncPool<PgConnector, R>,
        param: &Param,
    ) -> Result<(), OpError> {
        let mut c = checkout_async::<_, R>(pool).await?;
        let (client, stmt) = &c.conn;
        let t = Instant::now();
        let rows = client
            .query(stmt, &param.as_params())
            .await
            .map_err(pg_error)?;
        let took = t.elapsed();
        c.broken = false;
        self.check(&rows, param, took)
    }
}

enum Param {
    None,
    Secs(f64),
    Id(i32),
}

impl Param {
    fn as_params(&self) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
        match self {
            Param::None => vec![],
            Param::Secs(s) => vec![s],
            Param::Id(i) => vec![i],
        }
    }
}

impl Connector for PgConnector {
    type Blocking = (postgres::Client, postgres::Statement);
    type Async<R: AsyncRt> = (tokio_postgres::Client, tokio_postgres::Statement);

    fn connect_blocking(&self) -> Result<Self::Blocking, OpError> {
        let mut client = self.client_blocking(true)?;
        let stmt = client.prepare(&self.sql).map_err(pg_error)?;
        Ok((client, stmt))
    }

    async fn connect_async<R: AsyncRt>(&self) -> Result<Self::Async<R>, OpError> {
        let client = self.client_async::<R>(true).await?;
        let stmt = within::<R, _>(self.timeout, async {
            client.prepare(&self.sql).await.map_err(pg_error)
        })
        .await?;
        Ok((client, stmt))
    }

    fn setup_blocking(&self) -> Result<(), OpError> {
        let Some(rows) = self.table_rows else {
            return Ok(());
        };
        let (lock_create, count, fill) = setup_sql(rows);
        let mut c = self.client_blocking(false)?;
        c.batch_execute(&lock_create).map_err(pg_error)?;
        let n: i64 = c.query_one(&count, &[]).map_err(pg_error)?.get(0);
        if n != i64::from(rows) {
            c.batch_execute(&fill).map_err(pg_error)?;
        }
        c.batch_execute(UNLOCK).map_err(pg_error)
    }

    async fn setup_async<R: AsyncRt>(&self) -> Result<(), OpError> {
        let Some(rows) = self.table_rows else {
            return Ok(());
        };
        let (lock_create, count, fill) = setup_sql(rows);
        let c = self.client_async::<R>(false).await?;
        within::<R, _>(Duration::from_secs(600), async {
            c.batch_execute(&lock_create).await.map_err(pg_error)?;
            let n: i64 = c.query_one(&count, &[]).await.map_err(pg_error)?.get(0);
            if n != i64::from(rows) {
                c.batch_execute(&fill).await.map_err(pg_error)?;
            }
            c.batch_execute(UNLOCK).await.map_err(pg_error)
        })
        .await
    }
}

pub struct Session<P> {
    pool: P,
    rng: Rng,
}

impl Workload for Bound<Postgres> {
    type Session = Session<BlockingPool<PgConnector>>;
    type AsyncSession<R: AsyncRt> = Session<AsyncPool<PgConnector, R>>;

    fn open(&self) -> Result<Self::Session, OpError> {
        let pool = self.run.pool.blocking(&self.connector(), &self.pool)?;
        Ok(Session {
            pool,
            rng: Rng::new(),
        })
    }

    fn op(&self, s: &mut Self::Session) -> Result<(), OpError> {
        let started = Instant::now();
        let param = self.param(&mut s.rng);
        let mut c = checkout_blocking(&s.pool)?;
        let (client, stmt) = &mut c.conn;
        let t = Instant::now();
        let rows = client.query(&*stmt, &param.as_params()).map_err(pg_error)?;
        let took = t.elapsed();
        c.broken = false;
        past_deadline(started, self.pool.timeout.0)?;
        self.check(&rows, &param, took)
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<Self::AsyncSession<R>, OpError> {
        let connector = self.connector();
        let pool = Box::pin(self.run.pool.get_async::<_, R>(&connector, &self.pool)).await?;
        Ok(Session {
            pool,
            rng: Rng::new(),
        })
    }

    async fn op_async<R: AsyncRt>(&self, s: &mut Self::AsyncSession<R>) -> Result<(), OpError> {
        let param = self.param(&mut s.rng);
        // One timer for the whole op, the checkout included.
        boxed_in_debug!(within::<R, _>(
            self.pool.timeout.0,
            self.query_async::<R>(&s.pool, &param)
        ))
    }
}
