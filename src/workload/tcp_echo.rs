//! `tcp-echo`: a persistent connection per worker; each op writes a payload and reads it
//! back, and the echoed bytes are compared with what was sent.
//!
//! The request is an 8-byte header (payload length and the server delay in microseconds,
//! both `u32` little-endian) and the payload. The whole request is echoed, so any plain echo
//! server is a valid target; iobench's own (`iobench serve echo`) also reads the header to
//! wait the delay before echoing, which models a slow peer.

use std::time::Duration;

use super::params::{Invalid, nonzero_duration, params};
use super::stream::{Conn, Endpoint, Exchange, Progress, Timed};
use super::{Bound, Workload};
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::units::{HumanDuration, HumanSize};

/// Length of the request header.
pub const HEADER: usize = 8;

/// The largest payload: what a scenario may ask for, and the most the echo target
/// (`target::echo`) reads before it drops the client.
pub const MAX_PAYLOAD: u64 = 64 << 20;

params! {
    #[serde(deny_unknown_fields)]
    pub struct TcpEcho {
        /// bytes sent and echoed per op (1B to 64MiB)
        payload: HumanSize = HumanSize(1024) => [check = an_echo_payload],
        /// how long the target waits before echoing
        server_delay: HumanDuration = HumanDuration::ZERO,
        /// the op's deadline: connecting when it must, sending, the whole echo
        timeout: HumanDuration = HumanDuration::secs(10) => [check = nonzero_duration],
        /// host:port of an echo server iobench did not start
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String> = None => [shown = "(embedded)"],
        /// One connection per worker (true), or a new one per op: set by `echo-serve`
        /// against a server that closes after each echo (the echo frame cannot say so),
        /// never by a scenario.
        #[serde(skip, default = "kept")]
        keep_alive: bool = true => internal,
    }
}

fn kept() -> bool {
    true
}

/// A tcp-echo `payload`: 1 byte to [`MAX_PAYLOAD`], which the echo target accepts.
fn an_echo_payload(key: &str, v: &HumanSize) -> Result<(), Invalid> {
    match v.0 {
        0 => Err(Invalid::new(format!("{key} must be at least 1 byte"))),
        n if n > MAX_PAYLOAD => Err(Invalid::new(format!(
            "{key} {v} is over {}, the largest payload the echo target accepts",
            HumanSize(MAX_PAYLOAD)
        ))),
        _ => Ok(()),
    }
}

/// The echo protocol without I/O.
pub struct EchoExchange {
    request: Vec<u8>,
    seen: usize,
}

impl EchoExchange {
    pub fn new(payload: usize, delay: Duration) -> EchoExchange {
        let mut request = Vec::with_capacity(HEADER + payload);
        request.extend_from_slice(&(payload as u32).to_le_bytes());
        request.extend_from_slice(&(delay.as_micros().min(u32::MAX as u128) as u32).to_le_bytes());
        // A pattern that shifts with position, so that a misplaced byte is caught.
        request.extend((0..payload).map(|i| (i.wrapping_mul(131) ^ (i >> 8)) as u8));
        EchoExchange { request, seen: 0 }
    }
}

impl Exchange for EchoExchange {
    fn request(&self) -> &[u8] {
        &self.request
    }

    fn reset(&mut self) {
        self.seen = 0;
    }

    fn feed(&mut self, data: &[u8]) -> Progress {
        let want = &self.request[self.seen..];
        if data.len() > want.len() || data != &want[..data.len()] {
            let at = self.seen
                + data
                    .iter()
                    .zip(want)
                    .position(|(a, b)| a != b)
                    .unwrap_or(want.len());
            return Progress::Done(Err(OpError::new(
                ErrorKind::Mismatch,
                format!("echo differs from what was sent at byte {at}"),
            )));
        }
        self.seen += data.len();
        if self.seen == self.request.len() {
            Progress::Done(Ok(()))
        } else {
            Progress::NeedMore
        }
    }

    fn reply_size(&self) -> usize {
        self.request.len()
    }
}

impl TcpEcho {
    pub(crate) fn proto(&self) -> EchoExchange {
        EchoExchange::new(self.payload.0 as usize, self.server_delay.0)
    }
}

impl Bound<TcpEcho> {
    fn endpoint(&self) -> Result<Endpoint, OpError> {
        Endpoint::resolve(self.run.target.as_deref(), self.timeout.0, self.keep_alive)
    }
}

impl Workload for Bound<TcpEcho> {
    type Session = Conn<Timed, EchoExchange>;
    type AsyncSession<R: AsyncRt> = Conn<R::Tcp, EchoExchange>;

    fn open(&self) -> Result<Self::Session, OpError> {
        Conn::open_blocking(self.endpoint()?, self.proto())
    }

    fn op(&self, s: &mut Self::Session) -> Result<(), OpError> {
        s.op_blocking()
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<Self::AsyncSession<R>, OpError> {
        Conn::open_async::<R>(self.endpoint()?, self.proto()).await
    }

    async fn op_async<R: AsyncRt>(&self, s: &mut Self::AsyncSession<R>) -> Result<(), OpError> {
        s.op_async::<R>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echo_parser_accepts_the_request_in_pieces() {
        let mut p = EchoExchange::new(100, Duration::from_millis(10));
        let req = p.request().to_vec();
        assert_eq!(req.len(), HEADER + 100);
        assert_eq!(&req[4..8], &10_000u32.to_le_bytes());
        p.reset();
        assert_eq!(p.feed(&req[..50]), Progress::NeedMore);
        assert_eq!(p.feed(&req[50..]), Progress::Done(Ok(())));
    }

    #[test]
    fn a_payload_is_one_byte_to_what_the_target_accepts() {
        for ok in [1, 1024, MAX_PAYLOAD] {
            assert!(an_echo_payload("payload", &HumanSize(ok)).is_ok(), "{ok}");
        }
        assert!(an_echo_payload("payload", &HumanSize(0)).is_err());
        let e = an_echo_payload("payload", &HumanSize(MAX_PAYLOAD + 1)).unwrap_err();
        assert!(e.message.contains("64MiB"), "{}", e.message);
    }

    #[test]
    fn a_wrong_byte_is_a_mismatch() {
        let mut p = EchoExchange::new(100, Duration::ZERO);
        let mut req = p.request().to_vec();
        req[60] ^= 1;
        p.reset();
        match p.feed(&req) {
            Progress::Done(Err(e)) => {
                assert_eq!(e.kind, ErrorKind::Mismatch);
                assert!(e.message.contains("byte 60"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}
