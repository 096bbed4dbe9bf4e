//! The embedded targets a network workload may need started: their names. The servers
//! themselves are `crate::target`'s.

use serde::{Deserialize, Serialize};

/// The closed list of embedded targets.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// TCP: echoes each request, after the delay its header asks for.
    Echo,
    /// HTTP/1.1 (hyper): `/`, `/{name}`, `/json`, `/bytes/{n}`, `?delay=10ms`.
    Http,
    /// UDP DNS: A records of a synthetic zone, a first label `d<µs>` delays the answer.
    Dns,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Echo => "echo",
            TargetKind::Http => "http",
            TargetKind::Dns => "dns",
        }
    }
}
