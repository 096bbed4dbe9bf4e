//! Request–reply over a TCP stream: the sans-I/O protocol interface ([`Exchange`]) and
//! the two drivers that run it, one blocking and one async, which differ only in how they
//! wait. Both send the same bytes and feed the reply to the same parser.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::{ErrorKind, OpError};
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
}

/// Size of the read buffer of one connection.
pub const READ_BUF: usize = 16 * 1024;

fn closed() -> OpError {
    OpError::new(ErrorKind::Reset, "the target closed the connection")
}

/// Connects a blocking socket with read and write timeouts.
pub fn connect_blocking(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, OpError> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// One request and its reply on a blocking stream.
pub fn exchange_blocking(
    s: &mut TcpStream,
    proto: &mut impl Exchange,
    buf: &mut [u8],
) -> Result<(), OpError> {
    s.write_all(proto.request())?;
    proto.reset();
    loop {
        let n = s.read(buf)?;
        if n == 0 {
            return Err(closed());
        }
        if let Progress::Done(r) = proto.feed(&buf[..n]) {
            return r;
        }
    }
}

/// One request and its reply on runtime `R`'s stream, within `timeout`.
pub async fn exchange_async<R: AsyncRt, P: Exchange + Send>(
    s: &mut R::Tcp,
    proto: &mut P,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<(), OpError> {
    let exchange = async {
        R::write_all(s, proto.request()).await?;
        proto.reset();
        loop {
            let n = R::read(s, buf).await?;
            if n == 0 {
                return Err(closed());
            }
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
pub struct Conn<S, P> {
    pub stream: Option<S>,
    pub proto: P,
    pub buf: Vec<u8>,
}

impl<S, P> Conn<S, P> {
    /// A connection, or none yet (the first op connects).
    pub fn new(stream: Option<S>, proto: P) -> Self {
        Conn {
            stream,
            proto,
            buf: vec![0; READ_BUF],
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
