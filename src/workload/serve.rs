//! The server workloads, `http-serve` and `echo-serve`: the model under test is the
//! server (see `crate::server`), and the trial is the client. The client's op is the
//! `http-get` or `tcp-echo` op, run on a tokio runtime of `client_threads` threads in the
//! trial process, so every response is checked exactly as those workloads check theirs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http_get::HttpGet;
use super::tcp_echo::TcpEcho;
use crate::scenario::Cell;
use crate::server::ServerSpec;
use crate::server::proto::Protocol;
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServe {
    /// The route the load generator asks for.
    pub path: String,
    /// The handler's wait before each reply (a slow backend call).
    pub delay: HumanDuration,
    /// The client's limit on connecting and on each request.
    pub timeout: HumanDuration,
    /// Threads of the load generator's runtime (and of wrk).
    pub client_threads: u32,
    pub load_generator: LoadGenerator,
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
            target: None,
        }
    }
}

impl HttpServe {
    /// The client's workload: a kept-alive GET of `path`, the body checked.
    pub fn client(&self) -> HttpGet {
        HttpGet {
            path: self.path.clone(),
            server_delay: HumanDuration(Duration::ZERO),
            timeout: self.timeout,
            keep_alive: true,
            target: self.target.clone(),
        }
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
            target: None,
        }
    }
}

impl EchoServe {
    /// The client's workload: the tcp-echo frame on a kept connection, compared byte for
    /// byte.
    pub fn client(&self) -> TcpEcho {
        TcpEcho {
            payload: self.payload,
            server_delay: HumanDuration(Duration::ZERO),
            timeout: self.timeout,
            target: self.target.clone(),
        }
    }
}

/// What the server under test of `cell` serves.
pub fn server_spec(protocol: Protocol, delay: HumanDuration, cell: &Cell) -> ServerSpec {
    ServerSpec {
        protocol,
        delay: delay.0,
        pool_size: cell.pool_size,
        processes: cell.process_cap,
        event_loops: cell.event_loops,
    }
}
