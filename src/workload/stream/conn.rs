//! A workload's connections: where they go ([`Endpoint`]) and a worker's connection
//! ([`Conn`]), reconnected after an error, sent again once when a reused one is found closed.
//! The drivers' ops on it are in `blocking.rs` and `asynchronous.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use super::exchange::{Exchange, read_buf_len};
use crate::measure::counters::RETRIES;
use crate::op::{ErrorKind, OpError};

/// Where a workload's connections go and how they are used: the target's address, the op's
/// timeout (a deadline for the whole op) and whether a connection carries more than one op.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub timeout: Duration,
    pub keep_alive: bool,
}

impl Endpoint {
    /// The endpoint of a workload's `target` (`host:port`), resolved once, at setup.
    pub fn resolve(
        target: Option<&str>,
        timeout: Duration,
        keep_alive: bool,
    ) -> Result<Endpoint, OpError> {
        Ok(Endpoint {
            addr: resolve(target)?,
            timeout,
            keep_alive,
        })
    }
}

/// A worker's connection: reconnected by the next op after an error, so that a target
/// that restarts is measured as errors and then successes, never a hang.
///
/// A server may close a kept-alive connection between two requests. When a reused
/// connection is found closed before any byte of the reply arrived, the op reconnects and
/// sends its request once more, as HTTP clients do for idempotent requests; the op's
/// latency includes both tries, and the resend is counted (`RETRIES`).
pub struct Conn<S, P> {
    pub(super) to: Endpoint,
    pub(super) stream: Option<S>,
    /// Ops the current stream has carried.
    used: u64,
    pub proto: P,
    pub(super) buf: Vec<u8>,
}

impl<S, P: Exchange> Conn<S, P> {
    /// A connection to `to` (`stream` is already open, or the first op connects). Without
    /// keep-alive, every op opens a new one.
    pub(super) fn with(to: Endpoint, stream: Option<S>, proto: P) -> Self {
        let buf = vec![0; read_buf_len(proto.reply_size())];
        Conn {
            to,
            stream,
            used: 0,
            proto,
            buf,
        }
    }

    /// The read buffer's length.
    pub fn buf_len(&self) -> usize {
        self.buf.len()
    }

    /// After an exchange: `None` to try again on a new connection, else the op's result.
    pub(super) fn settle(
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
        if r.is_err() || !self.to.keep_alive || self.proto.peer_closes() {
            self.stream = None;
        }
        Some(r)
    }

    /// Whether the next op goes out on a stream that has carried one before.
    pub(super) fn reusing(&mut self) -> bool {
        if self.stream.is_none() {
            self.used = 0;
        }
        self.used > 0
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::stream::{MAX_READ_BUF, Timed};
    use crate::workload::tcp_echo::EchoExchange;

    /// The read buffer is the reply's length, capped.
    #[test]
    fn read_buffers_fit_the_reply() {
        let to = Endpoint {
            addr: "127.0.0.1:9".parse().unwrap(),
            timeout: Duration::from_secs(1),
            keep_alive: true,
        };
        let conn =
            |payload| Conn::<Timed, _>::with(to, None, EchoExchange::new(payload, Duration::ZERO));
        assert_eq!(conn(1024).buf_len(), 1024 + 8);
        assert_eq!(conn(1 << 20).buf_len(), MAX_READ_BUF);
    }
}
