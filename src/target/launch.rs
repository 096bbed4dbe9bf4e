//! Starting and stopping the embedded targets a run needs: each is `iobench serve KIND` in
//! its own process, probed until it answers, and killed when the run ends (also when it is
//! interrupted or fails). A target also exits when the orchestrator dies: it watches its
//! stdin, which only the orchestrator holds, and has `PR_SET_PDEATHSIG`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::TargetKind;
use crate::units::HumanDuration;
use crate::workload::dns::Dns;
use crate::workload::{Bound, Resolved, Workload};

/// Whether the target at `addr` answers: a TCP connection, or a DNS query answered right.
fn answers(kind: TargetKind, addr: SocketAddr) -> bool {
    match kind {
        TargetKind::Echo | TargetKind::Http => {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        }
        TargetKind::Dns => {
            let params = Dns {
                timeout: HumanDuration(Duration::from_millis(200)),
                retries: 0,
                ..Dns::default()
            };
            let at = Resolved {
                target: Some(addr.to_string()),
                ..Resolved::default()
            };
            let probe = Bound::new(params, &at);
            probe.open().and_then(|mut s| probe.op(&mut s)).is_ok()
        }
    }
}

/// How long a target may take to print its address and accept a connection.
const START_TIMEOUT: Duration = Duration::from_secs(10);

struct Running {
    kind: TargetKind,
    child: Child,
    addr: String,
    /// The file it counts its answers in (removed when it stops).
    count: PathBuf,
    /// Held open: the target exits when it closes.
    _stdin: ChildStdin,
}

/// The targets of one run; dropping it stops them.
#[derive(Default)]
pub struct Targets(Vec<Running>);

impl Targets {
    /// Starts one target of each kind.
    pub fn start(exe: &Path, kinds: &BTreeSet<TargetKind>) -> anyhow::Result<Targets> {
        let mut targets = Targets::default();
        for &kind in kinds {
            targets.0.push(start_one(exe, kind)?);
        }
        Ok(targets)
    }

    pub fn addr(&self, kind: TargetKind) -> Option<&str> {
        self.0
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| t.addr.as_str())
    }

    pub fn pid(&self, kind: TargetKind) -> Option<u32> {
        self.0.iter().find(|t| t.kind == kind).map(|t| t.child.id())
    }

    /// The file in which the target of `kind` counts the requests it answered.
    pub fn count_file(&self, kind: TargetKind) -> Option<&Path> {
        self.0
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| t.count.as_path())
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        for t in &mut self.0 {
            let _ = t.child.kill();
            let _ = t.child.wait();
            let _ = std::fs::remove_file(&t.count);
        }
    }
}

fn start_one(exe: &Path, kind: TargetKind) -> anyhow::Result<Running> {
    let count = std::env::temp_dir().join(format!(
        "iobench-served-{}-{}",
        std::process::id(),
        kind.name()
    ));
    let mut child = Command::new(exe)
        .args([
            "serve",
            kind.name(),
            "--listen",
            "127.0.0.1:0",
            "--watch-stdin",
            "--count",
        ])
        .arg(&count)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start the {} target", kind.name()))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let running = |addr: String| Running {
        kind,
        child,
        addr,
        count,
        _stdin: stdin,
    };
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(l) if !l.trim().is_empty() => l,
        _ => {
            let mut r = running(String::new());
            let _ = r.child.kill();
            anyhow::bail!("the {} target did not print its address", kind.name());
        }
    };
    let r = running(line.trim().to_string());
    let deadline = Instant::now() + START_TIMEOUT;
    let addr = r
        .addr
        .parse()
        .context("the target printed an unreadable address")?;
    while !answers(kind, addr) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the {} target at {addr} does not answer",
            kind.name()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(r)
}
