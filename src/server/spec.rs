//! What a server under test serves ([`ServerSpec`]), the same for every model, and how a
//! cell's is made (`ServerSpec::of`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::proto::Protocol;
use crate::plan::Cell;
use crate::units::HumanDuration;
use crate::workload::WorkloadSpec;
use crate::workload::serve::{EchoServe, HttpServe};
use crate::workload::stream::{MAX_READ_BUF, read_buf_len};
use crate::workload::tcp_echo::HEADER;

/// What a server under test does; the same for every model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerSpec {
    pub protocol: Protocol,
    /// The handler's wait before each reply (a slow backend call).
    pub delay: Duration,
    /// Threads of the thread-pool server.
    pub pool_size: u32,
    /// Worker processes of the processes server.
    pub processes: u32,
    /// Worker processes of the async-processes server, one event loop each.
    pub event_loops: u32,
    /// Serve a connection until the client closes it (true), or close after each reply.
    #[serde(default = "kept")]
    pub keep_alive: bool,
    /// Bytes of a connection's read buffer: the longest request of the workload.
    #[serde(default = "max_read_buf")]
    pub read_buf: usize,
}

impl ServerSpec {
    /// What the server under test of `cell` serves, if its workload is a server workload.
    pub fn of(cell: &Cell) -> Option<ServerSpec> {
        match &cell.workload {
            WorkloadSpec::HttpServe(h) => Some(http_server(h, cell)),
            WorkloadSpec::EchoServe(e) => Some(echo_server(e, cell)),
            _ => None,
        }
    }
}

/// What the server under test of `cell` serves; `request` is the longest request it
/// reads, which sizes its read buffer.
fn spec(
    protocol: Protocol,
    delay: HumanDuration,
    keep_alive: bool,
    request: usize,
    cell: &Cell,
) -> ServerSpec {
    ServerSpec {
        protocol,
        delay: delay.0,
        pool_size: cell.pool_size,
        processes: cell.process_cap,
        event_loops: cell.event_loops,
        keep_alive,
        read_buf: read_buf_len(request),
    }
}

fn http_server(h: &HttpServe, cell: &Cell) -> ServerSpec {
    spec(
        Protocol::Http,
        h.delay,
        h.keep_alive,
        h.largest_request(),
        cell,
    )
}

fn echo_server(e: &EchoServe, cell: &Cell) -> ServerSpec {
    spec(
        Protocol::Echo,
        e.delay,
        e.keep_alive,
        HEADER + e.payload.0 as usize,
        cell,
    )
}

fn kept() -> bool {
    true
}

fn max_read_buf() -> usize {
    MAX_READ_BUF
}
