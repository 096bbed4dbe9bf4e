//! The HTTP target: HTTP/1.1 with keep-alive, served by hyper. Routes are those of
//! [`expected_body`]; `?delay=<n>us` (or any humane duration, `?delay=10ms`) waits before
//! answering, on a timerfd, which is not rounded up to a millisecond tick.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::units::HumanDuration;
use crate::workload::http_get::expected_body;

pub async fn run(listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(handle);
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
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
