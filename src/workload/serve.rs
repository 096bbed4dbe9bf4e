//! The server workloads, `http-serve` and `echo-serve`: the model under test is the
//! server (see `crate::server`), and the trial is the client. The client's op is the
//! `http-get` or `tcp-echo` op, run on a tokio runtime of `client_threads` threads in the
//! trial process, so every response is checked exactly as those workloads check theirs.
//!
//! `keep_alive` is one setting for both sides: every server model keeps a connection for
//! its life (true) or closes it after each reply (false), and the client keeps one
//! connection per task or opens a new one for each op to match.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http_get::{HttpExchange, HttpGet};
use super::stream::Exchange as _;
use super::tcp_echo::TcpEcho;
use crate::units::{HumanDuration, HumanSize};

/// Who drives the load: iobench's own client, and optionally wrk after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadGenerator {
    #[default]
    Iobench,
    /// iobench's client for the window, then wrk for a window of the same length against
    /// the same server with the same connections; both are recorded.
    Wrk,
}

fn kept() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServe {
    /// The route the load generator asks for.
    pub path: String,
    /// The handler's wait before each reply (a slow backend call).
    pub delay: HumanDuration,
    /// The client's deadline for each op (connecting when it must, request and reply).
    pub timeout: HumanDuration,
    /// Threads of the load generator's runtime (and of wrk).
    pub client_threads: u32,
    pub load_generator: LoadGenerator,
    /// Every server model keeps a connection for its life (a server with a fixed number
    /// of workers then holds a worker per connection, and clients beyond its workers
    /// wait), or closes it after each reply (`Connection: close`).
    #[serde(default = "kept")]
    pub keep_alive: bool,
    /// The server's address, set by the trial once it listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Default for HttpServe {
    fn default() -> Self {
        HttpServe {
            path: "/".into(),
            delay: HumanDuration(Duration::ZERO),
            timeout: HumanDuration(Duration::from_secs(10)),
            client_threads: 1,
            load_generator: LoadGenerator::Iobench,
            keep_alive: true,
            target: None,
        }
    }
}

impl HttpServe {
    /// The client's workload: a GET of `path` on a kept-alive connection (or a new one per
    /// request, asking `Connection: close`), the body checked.
    pub fn client(&self) -> HttpGet {
        HttpGet {
            path: self.path.clone(),
            server_delay: HumanDuration(Duration::ZERO),
            timeout: self.timeout,
            keep_alive: self.keep_alive,
            target: self.target.clone(),
        }
    }

    /// The longest request the server reads: the client's, with the longest local
    /// `Host` (wrk's is shorter).
    pub fn largest_request(&self) -> usize {
        let client = HttpGet {
            target: None,
            ..self.client()
        };
        HttpExchange::new(&client, "127.0.0.1:65535").map_or(1024, |e| e.request().len())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoServe {
    /// Bytes sent and echoed per op.
    pub payload: HumanSize,
    /// The handler's wait before each echo.
    pub delay: HumanDuration,
    pub timeout: HumanDuration,
    pub client_threads: u32,
    /// As `http-serve`'s; the echo frame cannot say that the server closes, so the client
    /// opens a new connection before each op when false.
    #[serde(default = "kept")]
    pub keep_alive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Default for EchoServe {
    fn default() -> Self {
        EchoServe {
            payload: HumanSize(1024),
            delay: HumanDuration(Duration::ZERO),
            timeout: HumanDuration(Duration::from_secs(10)),
            client_threads: 1,
            keep_alive: true,
            target: None,
        }
    }
}

impl EchoServe {
    /// The client's workload: the tcp-echo frame, compared byte for byte, on a kept
    /// connection or a new one per op.
    pub fn client(&self) -> TcpEcho {
        TcpEcho {
            payload: self.payload,
            server_delay: HumanDuration(Duration::ZERO),
            timeout: self.timeout,
            target: self.target.clone(),
            keep_alive: self.keep_alive,
        }
    }
}
