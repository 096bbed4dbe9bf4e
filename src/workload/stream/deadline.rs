//! An op's deadline: the whole op's `timeout` ([`Deadline`]), its error, and how far past it
//! a blocking call may run ([`SLACK`]).

use std::time::{Duration, Instant};

use crate::op::{ErrorKind, OpError};

/// How far past its deadline a blocking call may be allowed to run before the socket's
/// timeout is lowered to the time left: the resolution of tokio's timer, so that blocking
/// and async ops end equally close to their deadline.
pub const SLACK: Duration = Duration::from_millis(1);

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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};

    use super::*;
    use crate::rt::Tokio;
    use crate::workload::stream::{Conn, Endpoint, Timed};
    use crate::workload::tcp_echo::EchoExchange;

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
}
