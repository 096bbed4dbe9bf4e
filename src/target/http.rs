//! The HTTP target: HTTP/1.1 with keep-alive, served by hyper. Routes are those of
//! [`expected_body`]; `?delay=<n>us` (or any humane duration, `?delay=10ms`) waits before
//! answering, on a timerfd, which is not rounded up to a millisecond tick.
//!
//! What is not HTTP/1 gets 400 (from hyper) and a request head longer than [`MAX_HEAD`]
//! 431, and the connection is closed after either; a request body, which no route takes,
//! is not read (hyper closes the connection rather than read it to its end).

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::units::HumanDuration;
use crate::workload::http_get::expected_body;

/// The longest request head (request line and headers) answered. hyper's read buffer is
/// this size too, so that it stops reading a head that never ends (it refuses one that
/// does not fit after a read, which may have filled more than it asked).
pub const MAX_HEAD: usize = 64 << 10;

pub async fn run(listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let stream = super::accept(&listener).await;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(handle);
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The length of `req`'s head as sent: the request line, each header line and the blank
/// line (without formatting the URI, which this runs for every request).
fn head_len<B>(req: &Request<B>) -> usize {
    let uri = req.uri();
    let target = uri.scheme_str().map_or(0, |s| s.len() + "://".len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(1, |p| p.as_str().len());
    let line = req.method().as_str().len() + " ".len() + target + " HTTP/1.1\r\n".len();
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + ": ".len() + v.len() + "\r\n".len())
        .sum();
    line + headers + "\r\n".len()
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if head_len(&req) > MAX_HEAD {
        let resp = Response::builder()
            .status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .header("connection", "close")
            .body(Full::new(Bytes::new()))
            .expect("a valid response");
        return Ok(resp);
    }
    let delay = req
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("delay="))
        .and_then(|d| d.parse::<HumanDuration>().ok());
    if let Some(d) = delay.filter(|d| !d.0.is_zero()) {
        // A failed timer (no fds left) answers at once rather than not at all; the
        // client sees the missing delay in its latency.
        let _ = super::timer::sleep(d.0).await;
    }
    let (status, body, kind) = match expected_body(req.uri().path()) {
        Some(body) if req.uri().path() == "/json" => (StatusCode::OK, body, "application/json"),
        Some(body) => (StatusCode::OK, body, "text/plain"),
        None => (StatusCode::NOT_FOUND, b"not found".to_vec(), "text/plain"),
    };
    let resp = Response::builder()
        .status(status)
        .header("content-type", kind)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response");
    super::answered();
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heads_length_is_its_bytes_as_sent() {
        let sent = "GET /ana?delay=1ms HTTP/1.1\r\nhost: t\r\nx-big: aaaa\r\n\r\n";
        let req = Request::get("/ana?delay=1ms")
            .header("host", "t")
            .header("x-big", "aaaa")
            .body(())
            .unwrap();
        assert_eq!(head_len(&req), sent.len());
    }
}
