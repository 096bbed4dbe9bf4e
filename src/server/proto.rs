//! The server side of the two protocols, without I/O: request parsing and reply writing,
//! written once and used by every model's server.
//!
//! HTTP/1.1: `GET` of the talk's routes (`/` and `/{name}` greet, `/json` answers
//! `{"hello": "world"}`, also `/bytes/{n}`), bodies from [`expected_body`], the same table
//! the client checks against. Echo: the tcp-echo frame (an 8-byte header with the payload's
//! length, then the payload), echoed whole.

use serde::{Deserialize, Serialize};

use crate::workload::http_get::{BadHead, expected_body, head_len};
use crate::workload::tcp_echo::HEADER;

/// Largest request head (HTTP) or payload (echo) a server accepts.
const MAX_REQUEST: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Http,
    Echo,
}

/// What the parser found in the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// No complete request yet: read more.
    NeedMore,
    /// A reply was written to `out`; `close` when the connection ends after it.
    Reply { close: bool },
    /// The request cannot be served; `out` holds an error reply (HTTP) or nothing (echo),
    /// and the connection is closed after it.
    Bad(String),
}

/// One connection's state on the server: bytes received and not yet parsed.
pub struct ServerConn {
    protocol: Protocol,
    /// Answer one request, then close (the workload's `keep_alive = false`).
    one_request: bool,
    received: Vec<u8>,
}

impl ServerConn {
    pub fn new(protocol: Protocol, one_request: bool) -> ServerConn {
        ServerConn {
            protocol,
            one_request,
            received: Vec::with_capacity(1024),
        }
    }

    /// Adds bytes read from the connection.
    pub fn feed(&mut self, data: &[u8]) {
        self.received.extend_from_slice(data);
    }

    /// Takes the next complete request from what was received and writes its reply into
    /// `out` (appending).
    pub fn next(&mut self, out: &mut Vec<u8>) -> Next {
        let next = match self.protocol {
            Protocol::Http => self.next_http(out),
            Protocol::Echo => self.next_echo(out),
        };
        match next {
            Next::Reply { close } => Next::Reply {
                close: close || self.one_request,
            },
            other => other,
        }
    }

    fn next_echo(&mut self, out: &mut Vec<u8>) -> Next {
        if self.received.len() < HEADER {
            return Next::NeedMore;
        }
        let len = u32::from_le_bytes(self.received[..4].try_into().expect("4 bytes")) as usize;
        if len > MAX_REQUEST {
            return Next::Bad(format!("payload of {len} bytes is too large"));
        }
        if self.received.len() < HEADER + len {
            return Next::NeedMore;
        }
        out.extend_from_slice(&self.received[..HEADER + len]);
        self.received.drain(..HEADER + len);
        Next::Reply { close: false }
    }

    fn next_http(&mut self, out: &mut Vec<u8>) -> Next {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let len = match head_len(req.parse(&self.received), self.received.len(), MAX_REQUEST) {
            Ok(Some(len)) => len,
            Ok(None) => return Next::NeedMore,
            Err(BadHead::TooLong) => {
                write_response(out, 431, "text/plain", b"request head too large", true);
                return Next::Bad("request head too large".into());
            }
            Err(BadHead::Unreadable(e)) => {
                write_response(out, 400, "text/plain", b"bad request", true);
                return Next::Bad(format!("unreadable request: {e}"));
            }
        };
        let has_body = req.headers.iter().any(|h| {
            (h.name.eq_ignore_ascii_case("content-length") && h.value != b"0")
                || h.name.eq_ignore_ascii_case("transfer-encoding")
        });
        if req.method != Some("GET") || has_body {
            write_response(out, 405, "text/plain", b"only GET without a body", true);
            return Next::Bad(format!("method {:?}", req.method));
        }
        let connection = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("connection"))
            .map(|h| h.value.to_ascii_lowercase());
        // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told
        // to keep it.
        let close = match req.version {
            Some(1) => connection.as_deref() == Some(b"close"),
            _ => connection.as_deref() != Some(b"keep-alive"),
        } || self.one_request;
        let path = req.path.unwrap_or("/");
        let path = path.split('?').next().unwrap_or(path);
        match expected_body(path) {
            Some(body) => {
                let kind = if path == "/json" {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                };
                write_response(out, 200, kind, &body, close);
            }
            None => write_response(out, 404, "text/plain", b"not found", close),
        }
        self.received.drain(..len);
        Next::Reply { close }
    }
}

fn write_response(out: &mut Vec<u8>, status: u16, kind: &str, body: &[u8], close: bool) {
    use std::io::Write;
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Request Header Fields Too Large",
    };
    let connection = if close { "close" } else { "keep-alive" };
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::http_get::{HttpExchange, HttpGet};
    use crate::workload::stream::{Exchange, Progress};
    use crate::workload::tcp_echo::EchoExchange;

    /// Feeds `req` to `server` in two pieces cut at `at`: after the first it needs more.
    /// Returns the reply buffer.
    fn fed_in_two(server: &mut ServerConn, req: &[u8], at: usize) -> Vec<u8> {
        server.feed(&req[..at]);
        let mut out = Vec::new();
        assert_eq!(server.next(&mut out), Next::NeedMore);
        server.feed(&req[at..]);
        out
    }

    /// The client's parser accepts what the server writes, for every route.
    #[test]
    fn the_client_accepts_every_route() {
        for path in ["/", "/ana", "/json", "/bytes/100"] {
            let spec = HttpGet {
                path: path.into(),
                ..HttpGet::default()
            };
            let mut client = HttpExchange::new(&spec, "x").unwrap();
            let mut server = ServerConn::new(Protocol::Http, false);
            // Two pipelined requests, the first fed in two pieces.
            let req = client.request().to_vec();
            let mut out = fed_in_two(&mut server, &req, 10);
            server.feed(&req);
            for _ in 0..2 {
                out.clear();
                assert_eq!(server.next(&mut out), Next::Reply { close: false });
                client.reset();
                assert_eq!(client.feed(&out), Progress::Done(Ok(())), "{path}");
                assert!(!client.peer_closes());
            }
            assert_eq!(server.next(&mut out), Next::NeedMore);
        }
    }

    #[test]
    fn one_request_servers_say_they_close() {
        let mut client = HttpExchange::new(&HttpGet::default(), "x").unwrap();
        let mut server = ServerConn::new(Protocol::Http, true);
        server.feed(client.request());
        let mut out = Vec::new();
        assert_eq!(server.next(&mut out), Next::Reply { close: true });
        client.reset();
        assert_eq!(client.feed(&out), Progress::Done(Ok(())));
        assert!(client.peer_closes());
    }

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mut s = ServerConn::new(Protocol::Http, false);
        s.feed(b"GET /a/b HTTP/1.1\r\n\r\n");
        let mut out = Vec::new();
        assert_eq!(s.next(&mut out), Next::Reply { close: false });
        assert!(out.starts_with(b"HTTP/1.1 404"));
        let mut s = ServerConn::new(Protocol::Http, false);
        s.feed(b"POST / HTTP/1.1\r\ncontent-length: 1\r\n\r\nx");
        out.clear();
        assert!(matches!(s.next(&mut out), Next::Bad(_)));
        assert!(out.starts_with(b"HTTP/1.1 405"));
    }

    #[test]
    fn echo_replies_with_the_whole_frame() {
        let mut client = EchoExchange::new(300, std::time::Duration::ZERO);
        let mut s = ServerConn::new(Protocol::Echo, false);
        let req = client.request().to_vec();
        let mut out = fed_in_two(&mut s, &req, 5);
        assert_eq!(s.next(&mut out), Next::Reply { close: false });
        client.reset();
        assert_eq!(client.feed(&out), Progress::Done(Ok(())));
    }
}
