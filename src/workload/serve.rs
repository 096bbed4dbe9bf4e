//! The server workloads, `http-serve` and `echo-serve`: the model under test is the
//! server (see `crate::server`), and the trial is the client. The client's op is the
//! `http-get` or `tcp-echo` op, run on a tokio runtime of `client_threads` threads in the
//! trial process, so every response is checked exactly as those workloads check theirs.
//!
//! `keep_alive` is one setting for both sides: every server model keeps a connection for
//! its life (true) or closes it after each reply (false), and the client keeps one
//! connection per task or opens a new one for each op to match.

use serde::{Deserialize, Serialize};

use super::http_get::{HttpExchange, HttpGet, expected_body};
use super::params::{Invalid, between, choice_value, nonzero_duration, nonzero_size, params};
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

choice_value!(LoadGenerator);

fn kept() -> bool {
    true
}

params! {
    #[serde(deny_unknown_fields)]
    pub struct HttpServe {
        /// the route the load generator asks for: /, /{name}, /json
        path: String = "/".into() => [check = a_server_route],
        /// the handler's wait per request (a slow backend): awaited in async servers, blocking in
        /// threads
        delay: HumanDuration = HumanDuration::ZERO,
        /// the client's deadline per request (connecting when it must, the whole reply)
        timeout: HumanDuration = HumanDuration::secs(10) => [check = nonzero_duration],
        /// threads of the load generator (iobench's and wrk's)
        client_threads: u32 = 1 => [unit = "threads", check = (between::<1, 1024>)],
        /// "wrk": also run wrk against the same server and record its figures beside iobench's
        load_generator: LoadGenerator = LoadGenerator::Iobench,
        /// every server keeps a connection for its life (fixed-worker servers: clients beyond the
        /// workers wait), or closes after each reply
        #[serde(default = "kept")]
        keep_alive: bool = true,
    }
}

/// http-serve's `path`: one the server under test answers.
fn a_server_route(_key: &str, path: &String) -> Result<(), Invalid> {
    let served = path.starts_with('/') && expected_body(path).is_some();
    match served && !path.starts_with("/bytes/") {
        true => Ok(()),
        false => Err(
            Invalid::new(format!("`{path}` is not one of the server's routes"))
                .hint("the server answers /, /{name} and /json"),
        ),
    }
}

impl HttpServe {
    /// The client's workload: a GET of `path` on a kept-alive connection (or a new one per
    /// request, asking `Connection: close`), the body checked.
    pub fn client(&self) -> HttpGet {
        HttpGet {
            path: self.path.clone(),
            server_delay: HumanDuration::ZERO,
            timeout: self.timeout,
            keep_alive: self.keep_alive,
            target: None,
        }
    }

    /// The longest request the server reads: the client's, with the longest local
    /// `Host` (wrk's is shorter).
    pub fn largest_request(&self) -> usize {
        HttpExchange::new(&self.client(), "127.0.0.1:65535").map_or(1024, |e| e.request().len())
    }
}

params! {
    #[serde(deny_unknown_fields)]
    pub struct EchoServe {
        /// bytes sent and echoed per op
        payload: HumanSize = HumanSize(1024) => [check = nonzero_size],
        /// the handler's wait before each echo
        delay: HumanDuration = HumanDuration::ZERO,
        /// the client's deadline per op (connecting when it must, the whole echo)
        timeout: HumanDuration = HumanDuration::secs(10) => [check = nonzero_duration],
        /// threads of the load generator
        client_threads: u32 = 1 => [unit = "threads", check = (between::<1, 1024>)],
        /// every server keeps a connection for its life, or closes after each echo (the client then
        /// connects per op)
        // The echo frame cannot say that the server closes, so the client opens a new
        // connection before each op when false.
        #[serde(default = "kept")]
        keep_alive: bool = true,
    }
}

impl EchoServe {
    /// The client's workload: the tcp-echo frame, compared byte for byte, on a kept
    /// connection or a new one per op.
    pub fn client(&self) -> TcpEcho {
        TcpEcho {
            payload: self.payload,
            server_delay: HumanDuration::ZERO,
            timeout: self.timeout,
            target: None,
            keep_alive: self.keep_alive,
        }
    }
}
