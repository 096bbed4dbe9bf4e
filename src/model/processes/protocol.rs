//! The wire format between the trial and its worker processes, which both sides share:
//! version [`PROTOCOL`] of `docs/worker-protocol.md`, which external workers speak too.
//!
//! - Trial → worker, on the worker's stdin: [`ToWorker`] messages, one JSON line each (the
//!   worker reads a byte at a time, so nothing past a line is buffered).
//! - Worker → trial, on the worker's stdout: frames of one kind byte, a little-endian `u32`
//!   length and the payload. Kind `J` carries a [`FromWorker`] message in JSON, kind `L` a
//!   batch of ops ([`Op`]): for each, two little-endian `u64`. The first is a latency in ns;
//!   the second is the uncorrected latency of an open-mode op, or one of the markers below
//!   (no latency comes near them), which says what the first is.

use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::measure::{OpCounts, Window};
use crate::model::driver::Usage;
use crate::workload::{Resolved, WorkloadSpec};

/// The version of the worker protocol (`docs/worker-protocol.md`) these messages are.
pub const PROTOCOL: u32 = 1;
/// The longest payload a frame may have (65,536 ops).
pub const MAX_FRAME: usize = 1 << 20;

/// Ops a worker buffers before sending them (64 × 16 bytes = 1 KiB). One write per 64 ops
/// keeps the system call at about 10 ns per op (`cargo bench --bench overhead`; with 8 it
/// was 62 ns).
pub const BATCH: usize = 64;
/// Bytes of one op in a batch.
pub const OP_BYTES: usize = 16;

/// The second word of an op: a verified closed-mode op, which has no uncorrected latency.
const NONE: u64 = u64::MAX;
/// A failed op: the first word is its latency.
const FAILED: u64 = u64::MAX - 1;
/// An open-mode op due inside the window that never started: the first word is the
/// latency it had reached when the window closed.
const DROPPED: u64 = u64::MAX - 2;
/// An op in flight for the whole window: the first word is its age at the window's end.
const UNFINISHED: u64 = u64::MAX - 3;

/// The kind byte of a frame carrying a [`FromWorker`] message.
const JSON: u8 = b'J';
/// The kind byte of a frame carrying a batch of ops.
const OPS: u8 = b'L';

/// What one worker process runs: its workload, and its place in the trial's schedule.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// [`PROTOCOL`].
    pub protocol: u32,
    pub workload: WorkloadSpec,
    /// What the run resolved for it (a pool is the process's own: not sent).
    pub resolved: Resolved,
    /// Ops the worker keeps in flight.
    pub concurrency: u32,
    /// iobench's own workers: `concurrency` tasks on a tokio current-thread loop (true), or
    /// one blocking op at a time (false). External workers run their own model.
    pub tasks: bool,
    /// The index of its first worker (or task) among `of`, for the open-loop schedule.
    pub first: u32,
    pub of: u32,
    pub rate: Option<f64>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ToWorker {
    Setup(Plan),
    Go { window: Window },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum FromWorker {
    /// An external worker's first message: loaded, and the protocol it speaks.
    Hello {
        protocol: u32,
    },
    Ready {
        /// An external worker that keeps fewer than `concurrency` ops in flight (a pool of
        /// 64 threads): how many. Memory per op is divided by it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_flight: Option<u32>,
    },
    SetupFailed {
        error: String,
    },
    Done {
        /// Failed ops by kind, late starts, pacing lag (their latencies went as ops).
        counts: OpCounts,
        usage: Usage,
        /// When the worker's last op ended (CLOCK_MONOTONIC ns).
        #[serde(default)]
        last_end: u64,
    },
}

/// One finished op, as a worker sends it and the trial records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A verified op: its latency and, in open mode, its uncorrected latency (ns).
    Ok { ns: u64, uncorrected: Option<u64> },
    /// A failed op's latency (its error is counted in the worker's [`OpCounts`]).
    Failed { ns: u64 },
    /// Open mode: an op due inside the window that never started, and the latency it had
    /// reached when the window closed.
    Dropped { lag_ns: u64 },
    /// An op in flight for the whole window, and its age at the window's end.
    Unfinished { lag_ns: u64 },
}

impl Op {
    #[inline]
    pub fn encode(self) -> [u8; OP_BYTES] {
        let (first, second) = match self {
            Op::Ok { ns, uncorrected } => (ns, uncorrected.unwrap_or(NONE)),
            Op::Failed { ns } => (ns, FAILED),
            Op::Dropped { lag_ns } => (lag_ns, DROPPED),
            Op::Unfinished { lag_ns } => (lag_ns, UNFINISHED),
        };
        let mut bytes = [0u8; OP_BYTES];
        bytes[..8].copy_from_slice(&first.to_le_bytes());
        bytes[8..].copy_from_slice(&second.to_le_bytes());
        bytes
    }

    #[inline]
    pub fn decode(bytes: &[u8; OP_BYTES]) -> Op {
        let first = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let second = u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes"));
        match second {
            NONE => Op::Ok {
                ns: first,
                uncorrected: None,
            },
            FAILED => Op::Failed { ns: first },
            DROPPED => Op::Dropped { lag_ns: first },
            UNFINISHED => Op::Unfinished { lag_ns: first },
            un => Op::Ok {
                ns: first,
                uncorrected: Some(un),
            },
        }
    }
}

/// Writes one frame of `kind`, whole.
fn write_frame(out: &mut impl Write, kind: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out.write_all(&head)?;
    out.write_all(payload)?;
    out.flush()
}

/// Worker → trial: a batch of encoded ops ([`Op::encode`], at most [`BATCH`]).
pub fn send_ops(out: &mut impl Write, ops: &[u8]) -> std::io::Result<()> {
    write_frame(out, OPS, ops)
}

/// Worker → trial: a message.
pub(crate) fn send_message(out: &mut impl Write, msg: &FromWorker) -> anyhow::Result<()> {
    Ok(write_frame(out, JSON, &serde_json::to_vec(msg)?)?)
}

/// Trial → worker: a message, as one line.
pub(crate) fn send_line(out: &mut impl Write, msg: &ToWorker) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(msg)?;
    line.push(b'\n');
    out.write_all(&line)?;
    Ok(out.flush()?)
}

/// Trial → worker: reads one line, a byte at a time so that nothing beyond it is buffered.
pub(crate) fn read_line<T: DeserializeOwned>(input: &mut impl Read) -> anyhow::Result<T> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    loop {
        anyhow::ensure!(input.read(&mut byte)? == 1, "the trial closed the pipe");
        if byte[0] == b'\n' {
            return Ok(serde_json::from_slice(&line)?);
        }
        line.push(byte[0]);
    }
}

/// A frame received from a worker.
#[derive(Debug, PartialEq)]
pub(crate) enum Frame {
    Message(FromWorker),
    /// A batch of encoded ops (read them with [`ops`]).
    Ops(Vec<u8>),
}

/// The ops of a batch's payload.
pub fn ops(payload: &[u8]) -> impl Iterator<Item = Op> + '_ {
    payload
        .chunks_exact(OP_BYTES)
        .map(|op| Op::decode(op.try_into().expect("16 bytes")))
}

/// Bytes received from a worker, cut into frames.
#[derive(Default)]
pub(crate) struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    /// Adds bytes received.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if one has arrived.
    pub fn next(&mut self) -> anyhow::Result<Option<Frame>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(self.buf[1..5].try_into().expect("4 bytes")) as usize;
        anyhow::ensure!(
            len <= MAX_FRAME,
            "a frame of {len} bytes (at most {MAX_FRAME}: docs/worker-protocol.md)"
        );
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        match kind {
            JSON => Ok(Some(Frame::Message(serde_json::from_slice(&payload)?))),
            OPS if payload.len() % OP_BYTES == 0 => Ok(Some(Frame::Ops(payload))),
            OPS => anyhow::bail!(
                "a batch of {} bytes, not a whole number of {OP_BYTES}-byte ops",
                payload.len()
            ),
            k => anyhow::bail!("a frame of unknown kind {k}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cut_a_stream() {
        let mut bytes = Vec::new();
        send_message(&mut bytes, &FromWorker::Ready { in_flight: None }).unwrap();
        send_ops(&mut bytes, &[7u8; OP_BYTES]).unwrap();
        let mut f = Frames::default();
        f.extend(&bytes[..4]);
        assert!(f.next().unwrap().is_none());
        f.extend(&bytes[4..]);
        assert_eq!(
            f.next().unwrap(),
            Some(Frame::Message(FromWorker::Ready { in_flight: None }))
        );
        assert_eq!(f.next().unwrap(), Some(Frame::Ops(vec![7u8; OP_BYTES])));
        assert!(f.next().unwrap().is_none());
        f.extend(&[b'X', 0, 0, 0, 0]);
        assert!(f.next().is_err(), "an unknown kind is an error");
    }

    #[test]
    fn ops_come_back_as_they_were_sent() {
        let sent = [
            Op::Ok {
                ns: 5,
                uncorrected: None,
            },
            Op::Ok {
                ns: 9,
                uncorrected: Some(4),
            },
            Op::Failed { ns: 7 },
            Op::Dropped { lag_ns: 9 },
            Op::Unfinished { lag_ns: 11 },
        ];
        let bytes: Vec<u8> = sent.iter().flat_map(|op| op.encode()).collect();
        assert_eq!(bytes.len(), sent.len() * OP_BYTES);
        assert_eq!(ops(&bytes).collect::<Vec<_>>(), sent);
        // The layout: the latency, then the marker.
        assert_eq!(&bytes[32..40], &7u64.to_le_bytes());
        assert_eq!(&bytes[40..48], &FAILED.to_le_bytes());
    }

    /// Every message the protocol's document shows parses as the message it is and comes
    /// back the same when written again: the document and the code cannot drift.
    #[test]
    fn the_documented_messages_round_trip() {
        let doc = include_str!("../../../docs/worker-protocol.md");
        let mut seen = Vec::new();
        for block in doc.split("```json").skip(1) {
            let block = block.split("```").next().unwrap();
            for v in serde_json::Deserializer::from_str(block).into_iter::<serde_json::Value>() {
                let v = v.expect("the document's JSON parses");
                let kind = v["type"]
                    .as_str()
                    .expect("a message has a type")
                    .to_string();
                let again = match kind.as_str() {
                    "setup" | "go" => {
                        let m: ToWorker = serde_json::from_value(v.clone())
                            .unwrap_or_else(|e| panic!("{kind}: {e}: {v}"));
                        serde_json::to_value(&m).unwrap()
                    }
                    _ => {
                        let m: FromWorker = serde_json::from_value(v.clone())
                            .unwrap_or_else(|e| panic!("{kind}: {e}: {v}"));
                        serde_json::to_value(&m).unwrap()
                    }
                };
                // Written again, every field the document shows is there with its value
                // (the writer may add the fields it always writes).
                fn within(shown: &serde_json::Value, written: &serde_json::Value) -> bool {
                    match (shown, written) {
                        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                            a.iter().all(|(k, v)| {
                                v.is_null() && !b.contains_key(k)
                                    || b.get(k).is_some_and(|w| within(v, w))
                            })
                        }
                        (serde_json::Value::Number(a), serde_json::Value::Number(b)) => {
                            a.as_f64() == b.as_f64()
                        }
                        (a, b) => a == b,
                    }
                }
                assert!(within(&v, &again), "{kind}: shown {v}, written {again}");
                seen.push(kind);
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen,
            ["done", "go", "hello", "ready", "setup", "setup_failed"]
        );
    }

    #[test]
    fn lines_are_read_one_at_a_time() {
        let mut bytes = Vec::new();
        send_line(
            &mut bytes,
            &ToWorker::Go {
                window: Window::starting_now(std::time::Duration::ZERO, std::time::Duration::ZERO),
            },
        )
        .unwrap();
        bytes.extend_from_slice(b"rest");
        let mut input = &bytes[..];
        let msg: ToWorker = read_line(&mut input).unwrap();
        assert!(matches!(msg, ToWorker::Go { .. }));
        assert_eq!(input, b"rest", "nothing past the line was read");
    }
}
