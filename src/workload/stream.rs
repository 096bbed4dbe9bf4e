//! Request–reply over a TCP stream: the sans-I/O protocol interface ([`Exchange`]) and
//! the two drivers that run it, one blocking and one async, which differ only in how they
//! wait. Both send the same bytes and feed the reply to the same parser.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::{ErrorKind, OpError};
use crate::measure::counters::{CONNECTS, RETRIES};
use crate::model::runtime::AsyncRt;

/// Whether a reply is complete.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    Done(Result<(), OpError>),
}

/// A protocol's client side without I/O: the request's bytes and a reply parser.
pub trait Exchange {
    /// The bytes of one request.
    fn request(&self) -> &[u8];
    /// Prepares to parse a new reply.
    fn reset(&mut self);
    /// Feeds received bytes; says when the reply is complete, and whether it was right.
    fn feed(&mut self, data: &[u8]) -> Progress;
    /// Whether the last reply said that the server closes the connection after it
    /// (HTTP's `Connection: close`): the next op then opens a new one.
    fn peer_closes(&self) -> bool {
        false
    }
}

/// Size of the read buffer of one connection.
pub const READ_BUF: usize = 16 * 1024;

/// The error of a read that found the connection closed.
pub(crate) fn closed() -> OpError {
    OpError::new(ErrorKind::Reset, "the target closed the connection")
}

/// Connects a blocking socket with read and write timeouts.
pub fn connect_blocking(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, OpError> {
    CONNECTS.note();
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// One request and its reply on a blocking stream; `replied` is set once a byte of the
/// reply has arrived.
pub fn exchange_blocking(
    s: &mut TcpStream,
    proto: &mut impl Exchange,
    buf: &mut [u8],
    replied: &mut bool,
) -> Result<(), OpError> {
    s.write_all(proto.request())?;
    proto.reset();
    loop {
        let n = s.read(buf)?;
        if n == 0 {
            return Err(closed());
        }
        *replied = true;
        if let Progress::Done(r) = proto.feed(&buf[..n]) {
            return r;
        }
    }
}

/// One request and its reply on runtime `R`'s stream, within `timeout`; `replied` is set
/// once a byte of the reply has arrived.
pub async fn exchange_async<R: AsyncRt, P: Exchange + Send>(
    s: &mut R::Tcp,
    proto: &mut P,
    buf: &mut [u8],
    timeout: Duration,
    replied: &mut bool,
) -> Result<(), OpError> {
    let exchange = async {
        R::write_all(s, proto.request()).await?;
        proto.reset();
        loop {
            let n = R::read(s, buf).await?;
            if n == 0 {
                return Err(closed());
            }
            *replied = true;
            if let Progress::Done(r) = proto.feed(&buf[..n]) {
                return r;
            }
        }
    };
    R::timeout(timeout, exchange).await.unwrap_or_else(|| {
        Err(OpError::new(
            ErrorKind::Timeout,
            format!("no reply within {timeout:?}"),
        ))
    })
}

/// Connects on runtime `R` within `timeout`.
pub async fn connect_async<R: AsyncRt>(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<R::Tcp, OpError> {
    CONNECTS.note();
    match R::timeout(timeout, R::connect(addr)).await {
        Some(r) => Ok(r?),
        None => Err(OpError::new(
            ErrorKind::Timeout,
            format!("no connection within {timeout:?}"),
        )),
    }
}

/// A worker's connection: reconnected by the next op after an error, so that a target
/// that restarts is measured as errors and then successes, never a hang.
///
/// A server may close a kept-alive connection between two requests (one that answers one
/// request per connection does so every time). When a reused connection is found closed
/// before any byte of the reply arrived, the op reconnects and sends its request once more,
/// as HTTP clients do for idempotent requests; the op's latency includes both tries.
pub struct Conn<S, P> {
    addr: SocketAddr,
    timeout: Duration,
    keep_alive: bool,
    stream: Option<S>,
    /// Ops the current stream has carried.
    used: u64,
    pub proto: P,
    buf: Vec<u8>,
}

impl<S, P: Exchange> Conn<S, P> {
    /// A connection to `addr` (`stream` is already open, or the first op connects).
    /// Without `keep_alive`, every op opens a new one.
    pub fn new(
        addr: SocketAddr,
        timeout: Duration,
        keep_alive: bool,
        stream: Option<S>,
        proto: P,
    ) -> Self {
        Conn {
            addr,
            timeout,
            keep_alive,
            stream,
            used: 0,
            proto,
            buf: vec![0; READ_BUF],
        }
    }

    /// After an exchange: `None` to try again on a new connection, else the op's result.
    fn settle(
        &mut self,
        r: Result<(), OpError>,
        replied: bool,
        reused: bool,
    ) -> Option<Result<(), OpError>> {
        if matches!(&r, Err(e) if e.kind == ErrorKind::Reset) && !replied && reused {
            self.stream = None;
            RETRIES.note();
            return None;
        }
        self.used += 1;
        if r.is_err() || !self.keep_alive || self.proto.peer_closes() {
            self.stream = None;
        }
        Some(r)
    }

    /// Whether the next op goes out on a stream that has carried one before.
    fn reusing(&mut self) -> bool {
        if self.stream.is_none() {
            self.used = 0;
        }
        self.used > 0
    }
}

impl<P: Exchange> Conn<TcpStream, P> {
    /// One op on a blocking stream.
    pub fn op_blocking(&mut self) -> Result<(), OpError> {
        loop {
            let reused = self.reusing();
            let stream = match &mut self.stream {
                Some(s) => s,
                None => self
                    .stream
                    .insert(connect_blocking(self.addr, self.timeout)?),
            };
            let mut replied = false;
            let r = exchange_blocking(stream, &mut self.proto, &mut self.buf, &mut replied);
            if let Some(r) = self.settle(r, replied, reused) {
                return r;
            }
        }
    }
}

impl<S: Send, P: Exchange + Send> Conn<S, P> {
    /// One op on runtime `R`'s stream.
    pub async fn op_async<R: AsyncRt<Tcp = S>>(&mut self) -> Result<(), OpError> {
        loop {
            let reused = self.reusing();
            let stream = match &mut self.stream {
                Some(s) => s,
                None => self
                    .stream
                    .insert(connect_async::<R>(self.addr, self.timeout).await?),
            };
            let mut replied = false;
            let r = exchange_async::<R, P>(
                stream,
                &mut self.proto,
                &mut self.buf,
                self.timeout,
                &mut replied,
            )
            .await;
            if let Some(r) = self.settle(r, replied, reused) {
                return r;
            }
        }
    }
}

/// Resolves a workload's `target` (`host:port`) once, at setup.
pub fn resolve(target: Option<&str>) -> Result<SocketAddr, OpError> {
    let target = target.ok_or_else(|| {
        OpError::new(
            ErrorKind::Other,
            "no target: the orchestrator starts one, or set `target`",
        )
    })?;
    use std::net::ToSocketAddrs;
    target
        .to_socket_addrs()
        .map_err(|e| {
            OpError::new(
                ErrorKind::Other,
                format!("cannot resolve target `{target}`: {e}"),
            )
        })?
        .next()
        .ok_or_else(|| {
            OpError::new(
                ErrorKind::Other,
                format!("target `{target}` has no address"),
            )
        })
}
