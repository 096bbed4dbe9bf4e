//! Request–reply over a TCP stream: the sans-I/O protocol interface ([`Exchange`]) and
//! the two drivers that run it, one blocking and one async, which differ only in how they
//! wait. Both send the same bytes and feed the reply to the same parser.
//!
//! # How it works
//! - **Read buffer.** A connection reads into a buffer as long as the largest reply its op
//!   expects ([`Exchange::reply_size`]: the echoed frame, an HTTP reply's body and head), at
//!   most [`MAX_READ_BUF`]; a longer reply is read in pieces. Every model gets the same
//!   buffer for the same workload, zeroed once when the connection's session is made.
//! - **Timeout.** A workload's `timeout` is a deadline for the whole op: connecting (when
//!   the op must), sending, receiving, and a resend after a closed reused connection.
//!   - Async: one `R::timeout` around the whole op, so one timer per op.
//!   - Blocking: the socket's `SO_RCVTIMEO`/`SO_SNDTIMEO` bound each call. They are set
//!     to the full `timeout` when the socket is opened, and before a call they are lowered
//!     to the time the op has left only where the socket's would let the call run more than
//!     [`SLACK`] past the deadline (so only in ops that already took more than that), and
//!     raised back at the next op's start. A fast op pays no system call for its deadline.
//! - **Counts.** Every client connection opened notes `measure::counters::CONNECTS`, and
//!   every request sent again after a reused connection turned out closed notes `RETRIES`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::measure::counters::{CONNECTS, RETRIES};
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;

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
    /// The longest reply this op expects, in bytes: the read buffer's length (at most
    /// [`MAX_READ_BUF`]).
    fn reply_size(&self) -> usize;
}

/// The longest read buffer a connection gets; a longer reply is read in pieces.
pub const MAX_READ_BUF: usize = 16 * 1024;

/// The read buffer's length for replies (or requests, on a server) of at most `largest`
/// bytes.
pub fn read_buf_len(largest: usize) -> usize {
    largest.clamp(64, MAX_READ_BUF)
}

/// How far past its deadline a blocking call may be allowed to run before the socket's
/// timeout is lowered to the time left: the resolution of tokio's timer, so that blocking
/// and async ops end equally close to their deadline.
pub const SLACK: Duration = Duration::from_millis(1);

/// The error of a read that found the connection closed.
pub(crate) fn closed() -> OpError {
    OpError::new(ErrorKind::Reset, "the target closed the connection")
}

/// The moment an op started and the moment it must be done by.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// The time left, or the timeout error once there is none.
    pub fn left(&self) -> Result<Duration, OpError> {
        match self.at.checked_duration_since(Instant::now()) {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(self.expired()),
        }
    }

    /// The error of an op that ran out of time.
    pub fn expired(&self) -> OpError {
        timed_out(self.timeout)
    }
}

/// The error of an op that was not done within `timeout`.
pub(crate) fn timed_out(timeout: Duration) -> OpError {
    OpError::new(
        ErrorKind::Timeout,
        format!("the op was not done within {timeout:?}"),
    )
}

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
    to: Endpoint,
    stream: Option<S>,
    /// Ops the current stream has carried.
    used: u64,
    pub proto: P,
    buf: Vec<u8>,
}

impl<S, P: Exchange> Conn<S, P> {
    /// A connection to `to` (`stream` is already open, or the first op connects). Without
    /// keep-alive, every op opens a new one.
    fn with(to: Endpoint, stream: Option<S>, proto: P) -> Self {
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
        if r.is_err() || !self.to.keep_alive || self.proto.peer_closes() {
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
    use crate::rt::Tokio;
    use crate::workload::tcp_echo::EchoExchange;
    use std::net::TcpListener;

    /// An echo server that reads one request, waits `first`, then sends the echo back a
    /// byte every `gap`.
    fn slow_server(payload: usize, first: Duration, gap: Duration) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut req = vec![0; 8 + payload];
                    if s.read_exact(&mut req).is_err() {
                        return;
                    }
                    std::thread::sleep(first);
                    for b in req {
                        if s.write_all(&[b]).is_err() {
                            return;
                        }
                        std::thread::sleep(gap);
                    }
                });
            }
        });
        addr
    }

    /// Runs one op against `addr` on a blocking and on a tokio connection; each must fail
    /// with a timeout at the deadline (within a loaded machine's margin), never later.
    fn ends_at_the_deadline(addr: SocketAddr, payload: usize, timeout: Duration) {
        let check = |r: Result<(), OpError>, took: Duration, how: &str| {
            let e = r.expect_err("a reply slower than the deadline must fail");
            assert_eq!(e.kind, ErrorKind::Timeout, "{how}: {e}");
            assert!(
                took >= timeout,
                "{how}: failed after {took:?}, before {timeout:?}"
            );
            assert!(
                took < timeout + Duration::from_millis(150),
                "{how}: failed after {took:?}: the deadline is {timeout:?}"
            );
        };
        let proto = || EchoExchange::new(payload, Duration::ZERO);
        let to = Endpoint {
            addr,
            timeout,
            keep_alive: true,
        };
        let mut c = Conn::<Timed, _>::with(to, None, proto());
        let t = Instant::now();
        check(c.op_blocking(), t.elapsed(), "blocking");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut c = Conn::with(to, None, proto());
            let t = Instant::now();
            check(c.op_async::<Tokio>().await, t.elapsed(), "tokio");
        });
    }

    /// `timeout` bounds the whole op, not each call: a reply trickled a byte every 20 ms
    /// gives every read a byte well within a per-call limit, and still fails at the
    /// deadline.
    #[test]
    fn the_timeout_is_a_deadline_for_the_whole_op() {
        let timeout = Duration::from_millis(200);
        let addr = slow_server(20, Duration::ZERO, Duration::from_millis(20));
        ends_at_the_deadline(addr, 20, timeout);
    }

    /// A blocking read that starts with little time left gets only that time: a first
    /// byte at 300 ms of a 400 ms deadline, then nothing, fails at 400 ms (a socket left
    /// at its full timeout would wait until 700 ms).
    #[test]
    fn a_late_read_gets_only_the_time_left() {
        let timeout = Duration::from_millis(400);
        let addr = slow_server(20, Duration::from_millis(300), Duration::from_secs(5));
        ends_at_the_deadline(addr, 20, timeout);
    }

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
