//! `dns`: each op sends an A query over UDP and checks the answer: the same id, NOERROR,
//! and the address the synthetic zone gives that name.
//!
//! # Timeout and retries
//! `timeout` is the op's deadline, as in every workload; `retries` splits it into
//! `retries + 1` equal tries. The query is sent at the start of each try, and an op with no
//! answer by the deadline is a `timeout` error. With the defaults (1 s, 2 retries) the
//! query goes out at 0, 333 ms and 667 ms, and the op gives up at 1 s. An answer to an
//! earlier try's query still counts (the ids are the op's).
//! - Blocking: the socket's receive timeout is the try's length, set once at setup; after
//!   a stale datagram it is lowered to what is left of the try (and restored at the next
//!   op), as `stream` does for TCP.
//! - Async: one `R::timeout` per try, until the try's end.
//!
//! The synthetic zone answers every name with an address derived from the name
//! ([`synthetic_address`]), so any answer can be checked. A server delay is asked for with a
//! first label `d<microseconds>` (`d10000.www.example.test`), which the embedded server
//! (`iobench serve dns`) reads; with no delay the name is queried as written.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::params::{Invalid, between, nonzero_duration, params};
use super::stream::{SLACK, resolve};
use super::{Bound, Workload};
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::units::HumanDuration;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

params! {
    #[serde(deny_unknown_fields)]
    pub struct Dns {
        /// the name queried (type A)
        name: String = "www.example.test".into() => [check = a_dns_name],
        /// how long the server waits before answering
        server_delay: HumanDuration = HumanDuration::ZERO,
        /// the op's deadline over all its tries (past it: a timeout error)
        timeout: HumanDuration = HumanDuration::secs(1) => [check = nonzero_duration],
        /// times an unanswered query is sent again, at equal steps within timeout
        retries: u32 = 2 => [unit = "tries", check = (between::<0, 100>)],
        /// host:port of a DNS server iobench did not start
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String> = None => [shown = "(embedded)"],
    }
}

fn a_dns_name(_key: &str, name: &String) -> Result<(), Invalid> {
    match name.is_empty() || Name::from_ascii(name).is_err() {
        true => Err(Invalid::new(format!("`{name}` is not a DNS name"))),
        false => Ok(()),
    }
}

/// The synthetic zone's address for `name` (FNV-1a of the lower-case name without its final
/// dot, in 10.0.0.0/8).
pub fn synthetic_address(name: &str) -> Ipv4Addr {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let [_, a, b, c] = h.to_be_bytes();
    Ipv4Addr::new(10, a, b, c)
}

/// The delay a query name asks for, from a first label `d<microseconds>`.
pub fn delay_of(name: &str) -> Duration {
    name.split('.')
        .next()
        .and_then(|l| l.strip_prefix('d'))
        .and_then(|us| us.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_micros)
}

/// What a received datagram means for the query in flight.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// A reply to another (earlier, retried) query: keep waiting.
    Stale,
    Done(Result<(), OpError>),
}

/// The DNS client without I/O.
pub struct DnsExchange {
    qname: Name,
    expected: Ipv4Addr,
    next_id: u16,
}

fn mismatch(why: impl Into<String>) -> Answer {
    Answer::Done(Err(OpError::new(ErrorKind::Mismatch, why.into())))
}

impl DnsExchange {
    pub fn new(spec: &Dns, seed: u16) -> Result<DnsExchange, OpError> {
        let delay = spec.server_delay.0.as_micros();
        let queried = match delay {
            0 => spec.name.clone(),
            us => format!("d{us}.{}", spec.name),
        };
        let qname = Name::from_ascii(format!("{}.", queried.trim_end_matches('.')))
            .map_err(|e| OpError::new(ErrorKind::Other, format!("bad name `{queried}`: {e}")))?;
        Ok(DnsExchange {
            expected: synthetic_address(&queried),
            qname,
            next_id: seed,
        })
    }

    /// A new query: its id and bytes.
    pub fn query(&mut self) -> (u16, Vec<u8>) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut m = Message::new();
        m.set_id(id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(self.qname.clone(), RecordType::A));
        (id, m.to_vec().expect("a query encodes"))
    }

    /// Checks a datagram against the query `id`.
    pub fn check(&self, id: u16, reply: &[u8]) -> Answer {
        let m = match Message::from_vec(reply) {
            Ok(m) => m,
            Err(e) => return mismatch(format!("unreadable answer: {e}")),
        };
        if m.id() != id {
            return Answer::Stale;
        }
        if m.response_code() != ResponseCode::NoError {
            return mismatch(format!("response code {}", m.response_code()));
        }
        let addrs: Vec<Ipv4Addr> = m
            .answers()
            .iter()
            .filter_map(|r| match r.data() {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect();
        if addrs == [self.expected] {
            Answer::Done(Ok(()))
        } else {
            mismatch(format!("answer {addrs:?}, the zone has {}", self.expected))
        }
    }
}

/// A worker's socket and its query state.
pub struct Session<S> {
    socket: S,
    proto: DnsExchange,
    buf: Vec<u8>,
    /// The blocking socket's receive timeout now.
    limit: Duration,
}

impl Bound<Dns> {
    fn addr(&self) -> Result<SocketAddr, OpError> {
        resolve(self.run.target.as_deref())
    }
}

impl Dns {
    fn session<S>(&self, socket: S) -> Result<Session<S>, OpError> {
        // Workers start their ids apart so that stale answers are not mistaken for fresh ones.
        let seed = (std::process::id() as u16).wrapping_mul(7919) ^ next_seed();
        Ok(Session {
            socket,
            proto: DnsExchange::new(self, seed)?,
            buf: vec![0; 1500],
            limit: self.try_len(),
        })
    }

    /// How long each of the op's tries waits for an answer.
    fn try_len(&self) -> Duration {
        (self.timeout.0 / (self.retries + 1)).max(Duration::from_micros(1))
    }

    fn gave_up(&self) -> OpError {
        OpError::new(
            ErrorKind::Timeout,
            format!(
                "no answer to {} tries within {}",
                self.retries + 1,
                self.timeout
            ),
        )
    }
}

/// The time until `end`, `None` once it has come.
fn time_to(end: Instant) -> Option<Duration> {
    end.checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

fn next_seed() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    NEXT.fetch_add(4099, Ordering::Relaxed)
}

impl Workload for Bound<Dns> {
    type Session = Session<UdpSocket>;
    type AsyncSession<R: AsyncRt> = Session<R::Udp>;

    fn open(&self) -> Result<Self::Session, OpError> {
        let addr = self.addr()?;
        let any: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .expect("a literal address");
        let socket = UdpSocket::bind(any)?;
        socket.connect(addr)?;
        socket.set_read_timeout(Some(self.try_len()))?;
        self.session(socket)
    }

    fn op(&self, s: &mut Self::Session) -> Result<(), OpError> {
        let (id, query) = s.proto.query();
        let (start, step) = (Instant::now(), self.try_len());
        if s.limit + SLACK < step {
            s.socket.set_read_timeout(Some(step))?;
            s.limit = step;
        }
        for k in 1..=self.retries + 1 {
            let try_end = start + step * k;
            s.socket.send(&query)?;
            while let Some(left) = time_to(try_end) {
                if s.limit > left + SLACK {
                    s.socket.set_read_timeout(Some(left))?;
                    s.limit = left;
                }
                match s.socket.recv(&mut s.buf) {
                    Ok(n) => match s.proto.check(id, &s.buf[..n]) {
                        Answer::Stale => continue,
                        Answer::Done(r) => return r,
                    },
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(self.gave_up())
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<Self::AsyncSession<R>, OpError> {
        let socket = R::udp_connect(self.addr()?).await?;
        self.session(socket)
    }

    async fn op_async<R: AsyncRt>(&self, s: &mut Self::AsyncSession<R>) -> Result<(), OpError> {
        let (id, query) = s.proto.query();
        let (start, step) = (Instant::now(), self.try_len());
        for k in 1..=self.retries + 1 {
            let try_end = start + step * k;
            R::send(&s.socket, &query).await?;
            while let Some(left) = time_to(try_end) {
                match R::timeout(left, R::recv(&s.socket, &mut s.buf)).await {
                    Some(Ok(n)) => match s.proto.check(id, &s.buf[..n]) {
                        Answer::Stale => continue,
                        Answer::Done(r) => return r,
                    },
                    None => break,
                    Some(Err(e)) => return Err(e.into()),
                }
            }
        }
        Err(self.gave_up())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::A;

    fn answer(q: &[u8], addr: Ipv4Addr) -> Vec<u8> {
        let q = Message::from_vec(q).unwrap();
        let mut m = Message::new();
        m.set_id(q.id()).set_message_type(MessageType::Response);
        let name = q.queries()[0].name().clone();
        m.add_answer(Record::from_rdata(name, 60, RData::A(A(addr))));
        m.to_vec().unwrap()
    }

    #[test]
    fn checks_answers() {
        let spec = Dns {
            server_delay: HumanDuration(Duration::from_millis(10)),
            ..Dns::default()
        };
        let mut e = DnsExchange::new(&spec, 7).unwrap();
        let (id, q) = e.query();
        assert_eq!(
            delay_of(
                &Message::from_vec(&q).unwrap().queries()[0]
                    .name()
                    .to_ascii()
            ),
            Duration::from_millis(10)
        );
        let right = synthetic_address("d10000.www.example.test");
        assert_eq!(e.check(id, &answer(&q, right)), Answer::Done(Ok(())));
        assert!(
            matches!(e.check(id, &answer(&q, Ipv4Addr::new(10, 0, 0, 1))), Answer::Done(Err(ref err)) if err.kind == ErrorKind::Mismatch)
        );
        let (id2, _) = e.query();
        assert_eq!(e.check(id2, &answer(&q, right)), Answer::Stale);
    }
}
