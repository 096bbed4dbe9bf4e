//! What one operation's outcome is, for every layer above: how long it took ([`Timing`]),
//! or why it did not count ([`OpError`], by [`ErrorKind`]). Plain data, imported by the
//! workloads that produce it, the drivers that time it and the recorder that counts it.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a finished op took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// From the op's start (closed) or from when it was due (open).
    pub latency: Duration,
    /// Open mode only: from the op's actual start (the uncorrected latency).
    pub service: Option<Duration>,
    /// Open mode: started more than the driver's `LATE` after it was due.
    pub late: bool,
    /// Open mode, an op that waited for its due time: how late it woke (the pacing error).
    pub pace_lag: Option<Duration>,
}

/// Why an operation did not count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Timeout,
    Refused,
    Reset,
    /// The reply did not match what was expected (wrong bytes, early wake-up).
    Mismatch,
    /// A resource limit: thread spawn EAGAIN, file descriptors, process cap.
    ResourceExhausted,
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Timeout,
        ErrorKind::Refused,
        ErrorKind::Reset,
        ErrorKind::Mismatch,
        ErrorKind::ResourceExhausted,
        ErrorKind::Other,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A failed operation: its kind and a human explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    pub kind: ErrorKind,
    pub message: Cow<'static, str>,
}

impl OpError {
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        OpError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl From<std::io::Error> for OpError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
            K::ConnectionRefused => ErrorKind::Refused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                ErrorKind::Reset
            }
            _ if matches!(
                e.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::EAGAIN)
            ) =>
            {
                ErrorKind::ResourceExhausted
            }
            _ => ErrorKind::Other,
        };
        OpError::new(kind, e.to_string())
    }
}
