//! `http-get`: each op sends `GET path` (on the worker's keep-alive connection, or a new
//! one per op with `keep_alive = false`) and checks the status and the whole body.
//!
//! The routes are the talk's: `/` greets "Anonymous", `/{name}` greets the name, `/json`
//! answers `{"hello": "world"}`, `/bytes/{n}` answers n bytes. [`expected_body`] says what
//! each path must answer; the embedded server (`iobench serve http`) answers from it too.
//! A server-side delay is asked for with the query `?delay=<microseconds>us`.

use super::params::{Invalid, nonzero_duration, params};
use super::stream::{Conn, Endpoint, Exchange, Progress, Timed};
use super::{Bound, Workload};
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::units::HumanDuration;

/// Largest `/bytes/{n}` the routes serve.
pub const MAX_BYTES: usize = 64 << 20;
/// Largest response head the client accepts.
const MAX_HEAD: usize = 16 * 1024;
/// Room for a reply's head in the read buffer: a status line and a few headers, as
/// iobench's servers and hyper write them (about 100 bytes); a longer head is read in
/// pieces.
const HEAD_ROOM: usize = 256;

params! {
    #[serde(deny_unknown_fields)]
    pub struct HttpGet {
        /// the route: /, /{name}, /json, /bytes/{n}
        path: String = "/".into() => [check = a_route],
        /// how long the server waits before answering
        server_delay: HumanDuration = HumanDuration::ZERO,
        /// the op's deadline: connecting when it must, the request and the whole reply (past it: a
        /// timeout error)
        // The talk's `async_timeout.timeout(10)`.
        timeout: HumanDuration = HumanDuration::secs(10) => [check = nonzero_duration],
        /// one connection per worker, or a new one per request
        keep_alive: bool = true,
        /// host:port of an HTTP server iobench did not start
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String> = None => [shown = "(embedded)"],
    }
}

/// http-get's `path`: one the routes serve.
fn a_route(_key: &str, path: &String) -> Result<(), Invalid> {
    match expected_body(path) {
        Some(_) => Ok(()),
        None => Err(Invalid::new(format!("`{path}` is not one of the routes"))
            .hint("paths are /, /{name}, /json and /bytes/{n}")),
    }
}

/// The body a path must answer with, `None` for a path the routes do not serve.
pub fn expected_body(path: &str) -> Option<Vec<u8>> {
    let rest = path.strip_prefix('/')?;
    match rest {
        "" => Some(b"Hello, Anonymous".to_vec()),
        "json" => Some(br#"{"hello": "world"}"#.to_vec()),
        _ => match rest.strip_prefix("bytes/") {
            Some(n) => {
                let n: usize = n.parse().ok().filter(|n| *n <= MAX_BYTES)?;
                Some((0..n).map(|i| b'a' + (i % 26) as u8).collect())
            }
            None if !rest.contains('/') => Some(format!("Hello, {rest}").into_bytes()),
            None => None,
        },
    }
}

enum State {
    Head,
    Body { seen: usize },
}

/// The HTTP/1.1 client without I/O: one GET and a parser that checks the reply.
pub struct HttpExchange {
    request: Vec<u8>,
    expected: Vec<u8>,
    head: Vec<u8>,
    state: State,
    /// The last reply said `Connection: close`.
    closes: bool,
}

fn mismatch(why: impl Into<String>) -> Progress {
    Progress::Done(Err(OpError::new(ErrorKind::Mismatch, why.into())))
}

/// Why an HTTP head (a request's or a reply's) cannot be read.
pub enum BadHead {
    /// Not complete within the longest head accepted.
    TooLong,
    Unreadable(httparse::Error),
}

/// What httparse's `parsed` result says of the head at the start of `seen` bytes, for
/// clients and servers alike: its length once complete, `None` while it is incomplete and
/// shorter than `max`.
pub fn head_len(
    parsed: httparse::Result<usize>,
    seen: usize,
    max: usize,
) -> Result<Option<usize>, BadHead> {
    match parsed {
        Ok(httparse::Status::Complete(len)) => Ok(Some(len)),
        Ok(httparse::Status::Partial) if seen < max => Ok(None),
        Ok(httparse::Status::Partial) => Err(BadHead::TooLong),
        Err(e) => Err(BadHead::Unreadable(e)),
    }
}

impl HttpExchange {
    pub fn new(spec: &HttpGet, host: &str) -> Result<HttpExchange, OpError> {
        let expected = expected_body(&spec.path).ok_or_else(|| {
            OpError::new(
                ErrorKind::Other,
                format!("path `{}` is not one of the routes", spec.path),
            )
        })?;
        let delay = spec.server_delay.0.as_micros();
        let query = if delay > 0 {
            format!("?delay={delay}us")
        } else {
            String::new()
        };
        let connection = if spec.keep_alive {
            "keep-alive"
        } else {
            "close"
        };
        let request = format!(
            "GET {}{query} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: iobench\r\nConnection: {connection}\r\n\r\n",
            spec.path
        )
        .into_bytes();
        Ok(HttpExchange {
            request,
            expected,
            head: Vec::new(),
            state: State::Head,
            closes: false,
        })
    }

    fn body(&mut self, data: &[u8], seen: usize) -> Progress {
        let want = &self.expected[seen..];
        if data.len() > want.len() {
            return mismatch("more bytes than the body's length");
        }
        if data != &want[..data.len()] {
            return mismatch(format!("the body differs from the route's at byte {seen}"));
        }
        let seen = seen + data.len();
        if seen == self.expected.len() {
            Progress::Done(Ok(()))
        } else {
            self.state = State::Body { seen };
            Progress::NeedMore
        }
    }
}

impl Exchange for HttpExchange {
    fn request(&self) -> &[u8] {
        &self.request
    }

    fn reset(&mut self) {
        self.head.clear();
        self.state = State::Head;
        self.closes = false;
    }

    fn peer_closes(&self) -> bool {
        self.closes
    }

    fn reply_size(&self) -> usize {
        HEAD_ROOM + self.expected.len()
    }

    fn feed(&mut self, data: &[u8]) -> Progress {
        match self.state {
            State::Body { seen } => self.body(data, seen),
            State::Head => {
                self.head.extend_from_slice(data);
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut resp = httparse::Response::new(&mut headers);
                let len = match head_len(resp.parse(&self.head), self.head.len(), MAX_HEAD) {
                    Ok(Some(len)) => len,
                    Ok(None) => return Progress::NeedMore,
                    Err(BadHead::TooLong) => return mismatch("response head too long"),
                    Err(BadHead::Unreadable(e)) => {
                        return mismatch(format!("unreadable response: {e}"));
                    }
                };
                if resp.code != Some(200) {
                    return mismatch(format!("status {} instead of 200", resp.code.unwrap_or(0)));
                }
                self.closes = resp.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("connection")
                        && h.value.eq_ignore_ascii_case(b"close")
                });
                let length = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| {
                        std::str::from_utf8(h.value)
                            .ok()?
                            .trim()
                            .parse::<usize>()
                            .ok()
                    });
                match length {
                    Some(n) if n == self.expected.len() => {}
                    Some(n) => {
                        return mismatch(format!(
                            "content-length {n}, the route's body has {}",
                            self.expected.len()
                        ));
                    }
                    None => return mismatch("no content-length"),
                }
                let rest = self.head.split_off(len);
                if self.expected.is_empty() && rest.is_empty() {
                    return Progress::Done(Ok(()));
                }
                self.body(&rest, 0)
            }
        }
    }
}

impl Bound<HttpGet> {
    /// Where a session connects, and its exchange (the target's `host:port` is the Host
    /// header).
    fn parts(&self) -> Result<(Endpoint, HttpExchange), OpError> {
        let target = self.run.target.as_deref();
        let to = Endpoint::resolve(target, self.timeout.0, self.keep_alive)?;
        Ok((to, HttpExchange::new(self, target.unwrap_or_default())?))
    }
}

impl Workload for Bound<HttpGet> {
    type Session = Conn<Timed, HttpExchange>;
    type AsyncSession<R: AsyncRt> = Conn<R::Tcp, HttpExchange>;

    fn open(&self) -> Result<Self::Session, OpError> {
        let (to, proto) = self.parts()?;
        Conn::open_blocking(to, proto)
    }

    fn op(&self, s: &mut Self::Session) -> Result<(), OpError> {
        s.op_blocking()
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<Self::AsyncSession<R>, OpError> {
        let (to, proto) = self.parts()?;
        Conn::open_async::<R>(to, proto).await
    }

    async fn op_async<R: AsyncRt>(&self, s: &mut Self::AsyncSession<R>) -> Result<(), OpError> {
        s.op_async::<R>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(path: &str) -> HttpExchange {
        let spec = HttpGet {
            path: path.into(),
            server_delay: HumanDuration::ms(10),
            ..HttpGet::default()
        };
        HttpExchange::new(&spec, "127.0.0.1:80").unwrap()
    }

    #[test]
    fn routes() {
        assert_eq!(expected_body("/").unwrap(), b"Hello, Anonymous");
        assert_eq!(expected_body("/ana").unwrap(), b"Hello, ana");
        assert_eq!(expected_body("/json").unwrap(), br#"{"hello": "world"}"#);
        assert_eq!(expected_body("/bytes/30").unwrap().len(), 30);
        assert!(expected_body("/a/b").is_none());
    }

    #[test]
    fn request_bytes() {
        let e = exchange("/ana");
        assert!(
            e.request()
                .starts_with(b"GET /ana?delay=10000us HTTP/1.1\r\nHost: 127.0.0.1:80\r\n")
        );
    }

    #[test]
    fn parses_a_reply_in_pieces() {
        let mut e = exchange("/ana");
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nHello, ana";
        for split in [1, 10, 38, 40, reply.len() - 1] {
            e.reset();
            assert_eq!(e.feed(&reply[..split]), Progress::NeedMore, "split {split}");
            assert_eq!(
                e.feed(&reply[split..]),
                Progress::Done(Ok(())),
                "split {split}"
            );
        }
    }

    #[test]
    fn wrong_replies_are_mismatches() {
        for reply in [
            &b"HTTP/1.1 404 Not Found\r\ncontent-length: 10\r\n\r\nHello, ana"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nHello, bob",
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nHello, an",
            b"HTTP/1.1 200 OK\r\n\r\nHello, ana",
        ] {
            let mut e = exchange("/ana");
            e.reset();
            match e.feed(reply) {
                Progress::Done(Err(err)) => assert_eq!(err.kind, ErrorKind::Mismatch),
                other => panic!("{other:?} for {}", String::from_utf8_lossy(reply)),
            }
        }
    }
}
