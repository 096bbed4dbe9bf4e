//! The blocking exchange driver: an op on a blocking socket, each call bounded by the op's
//! deadline through the socket's timeouts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::conn::{Conn, Endpoint};
use super::deadline::{Deadline, SLACK};
use super::exchange::{Exchange, Progress, closed};
use crate::measure::counters::CONNECTS;
use crate::op::OpError;

/// A blocking call's error: a socket timeout is the op's deadline passing.
fn call_error(e: std::io::Error, deadline: &Deadline) -> OpError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => deadline.expired(),
        _ => e.into(),
    }
}

/// Connects a blocking socket within `timeout`, with read and write timeouts of `timeout`.
pub fn connect_blocking(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, OpError> {
    dial(addr, timeout, timeout)
}

/// Connects within `within`; the socket's read and write timeouts are `limit`.
fn dial(addr: SocketAddr, within: Duration, limit: Duration) -> Result<TcpStream, OpError> {
    CONNECTS.note();
    let s = TcpStream::connect_timeout(&addr, within)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))?;
    Ok(s)
}

/// A blocking socket and the read and write timeouts it has now.
pub struct Timed {
    stream: TcpStream,
    limit: Duration,
}

impl Timed {
    /// Before a call: makes sure the socket's timeouts cannot let it run more than
    /// [`SLACK`] past `deadline`.
    fn bound(&mut self, deadline: &Deadline) -> Result<(), OpError> {
        let left = deadline.left()?;
        if self.limit > left + SLACK {
            self.set(left)?;
        }
        Ok(())
    }

    /// At an op's start: gives the socket back its full timeout if an earlier op lowered
    /// it (else a call could time out before the op's deadline).
    fn restore(&mut self, timeout: Duration) -> Result<(), OpError> {
        if self.limit + SLACK < timeout {
            self.set(timeout)?;
        }
        Ok(())
    }

    fn set(&mut self, limit: Duration) -> Result<(), OpError> {
        self.stream.set_read_timeout(Some(limit))?;
        self.stream.set_write_timeout(Some(limit))?;
        self.limit = limit;
        Ok(())
    }
}

/// One request and its reply on a blocking stream, each call bounded by `deadline`;
/// `replied` is set once a byte of the reply has arrived.
fn exchange_blocking(
    s: &mut Timed,
    proto: &mut impl Exchange,
    buf: &mut [u8],
    deadline: &Deadline,
    replied: &mut bool,
) -> Result<(), OpError> {
    let request = proto.request();
    let mut sent = 0;
    while sent < request.len() {
        s.bound(deadline)?;
        match s.stream.write(&request[sent..]) {
            Ok(0) => return Err(closed()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(call_error(e, deadline)),
        }
    }
    proto.reset();
    loop {
        s.bound(deadline)?;
        let n = match s.stream.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(call_error(e, deadline)),
        };
        if n == 0 {
            return Err(closed());
        }
        *replied = true;
        if let Progress::Done(r) = proto.feed(&buf[..n]) {
            return r;
        }
    }
}

impl<P: Exchange> Conn<Timed, P> {
    /// A blocking connection to `to`, connected now with keep-alive (else by each op).
    pub fn open_blocking(to: Endpoint, proto: P) -> Result<Self, OpError> {
        let stream = to
            .keep_alive
            .then(|| connect_blocking(to.addr, to.timeout))
            .transpose()?;
        let timed = stream.map(|stream| Timed {
            stream,
            limit: to.timeout,
        });
        Ok(Conn::with(to, timed, proto))
    }

    /// One op on a blocking stream, done within the workload's timeout.
    pub fn op_blocking(&mut self) -> Result<(), OpError> {
        let Endpoint { addr, timeout, .. } = self.to;
        let deadline = Deadline::after(timeout);
        loop {
            let reused = self.reusing();
            let stream = match &mut self.stream {
                Some(s) => {
                    s.restore(timeout)?;
                    s
                }
                None => {
                    let stream = dial(addr, deadline.left()?, timeout)?;
                    self.stream.insert(Timed {
                        stream,
                        limit: timeout,
                    })
                }
            };
            let mut replied = false;
            let r = exchange_blocking(
                stream,
                &mut self.proto,
                &mut self.buf,
                &deadline,
                &mut replied,
            );
            if let Some(r) = self.settle(r, replied, reused) {
                return r;
            }
        }
    }
}
