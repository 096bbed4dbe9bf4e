//! The async exchange driver: an op on runtime `R`'s stream, awaited, under one timer for
//! the whole op.

use std::net::SocketAddr;
use std::time::Duration;

use super::conn::{Conn, Endpoint};
use super::deadline::timed_out;
use super::exchange::{Exchange, Progress, closed};
use crate::measure::counters::CONNECTS;
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;

/// One request and its reply on runtime `R`'s stream, with no timer of its own (the op's
/// deadline is around it); `replied` is set once a byte of the reply has arrived.
async fn exchange_async<R: AsyncRt, P: Exchange + Send>(
    s: &mut R::Tcp,
    proto: &mut P,
    buf: &mut [u8],
    replied: &mut bool,
) -> Result<(), OpError> {
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
}

/// Connects on runtime `R` within `timeout` (at setup; an op's connect is under the op's
/// own deadline instead).
pub async fn connect_async<R: AsyncRt>(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<R::Tcp, OpError> {
    match R::timeout(timeout, dial_async::<R>(addr)).await {
        Some(r) => r,
        None => Err(OpError::new(
            ErrorKind::Timeout,
            format!("no connection within {timeout:?}"),
        )),
    }
}

/// Connects on runtime `R`, with no timer of its own.
async fn dial_async<R: AsyncRt>(addr: SocketAddr) -> Result<R::Tcp, OpError> {
    CONNECTS.note();
    Ok(R::connect(addr).await?)
}

impl<S: Send, P: Exchange + Send> Conn<S, P> {
    /// A connection to `to` on runtime `R`, connected now with keep-alive (else by each
    /// op).
    pub async fn open_async<R: AsyncRt<Tcp = S>>(to: Endpoint, proto: P) -> Result<Self, OpError> {
        let stream = match to.keep_alive {
            true => Some(connect_async::<R>(to.addr, to.timeout).await?),
            false => None,
        };
        Ok(Conn::with(to, stream, proto))
    }

    /// One op on runtime `R`'s stream, done within the workload's timeout: one timer
    /// around the whole op.
    pub async fn op_async<R: AsyncRt<Tcp = S>>(&mut self) -> Result<(), OpError> {
        let timeout = self.to.timeout;
        match R::timeout(timeout, self.op_untimed::<R>()).await {
            Some(r) => r,
            None => {
                // The exchange was cut off part way: the stream's state is unknown.
                self.stream = None;
                Err(timed_out(timeout))
            }
        }
    }

    async fn op_untimed<R: AsyncRt<Tcp = S>>(&mut self) -> Result<(), OpError> {
        loop {
            let reused = self.reusing();
            let stream = match &mut self.stream {
                Some(s) => s,
                None => self.stream.insert(dial_async::<R>(self.to.addr).await?),
            };
            let mut replied = false;
            let r =
                exchange_async::<R, P>(stream, &mut self.proto, &mut self.buf, &mut replied).await;
            if let Some(r) = self.settle(r, replied, reused) {
                return r;
            }
        }
    }
}
