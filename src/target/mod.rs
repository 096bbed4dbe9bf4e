//! Embedded targets: real servers on loopback that the network workloads talk to, each run
//! as its own `iobench serve` process so that the model under test is measured alone.
//!
//! Targets run on tokio's multi-thread runtime so that they are not the bottleneck. Their
//! delays use a timerfd ([`timer::sleep`]), which is not rounded up to tokio's millisecond
//! tick.

pub mod dns;
pub mod echo;
pub mod http;
pub mod launch;
pub mod timer;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;

use crate::measure::served::Served;
pub use crate::workload::targets::TargetKind;

/// The count of requests answered, when the run asked for one (`--count`).
static SERVED: OnceLock<Served> = OnceLock::new();

/// One request answered (a reply written or sent).
#[inline]
pub(crate) fn answered() {
    if let Some(s) = SERVED.get() {
        s.add();
    }
}

/// Runs a target until killed (or, with `watch_stdin`, until stdin closes). The first line
/// on stdout is the address it bound. With `count`, every reply adds one to the count in
/// that file (`measure::served`), which the trials read.
pub fn serve(
    kind: TargetKind,
    listen: SocketAddr,
    watch_stdin: bool,
    count: Option<&Path>,
) -> anyhow::Result<()> {
    if let Some(path) = count {
        let served = Served::create(path)
            .map_err(|e| anyhow::anyhow!("cannot make the count file {}: {e}", path.display()))?;
        let _ = SERVED.set(served);
    }
    if watch_stdin {
        // SAFETY: prctl with PR_SET_PDEATHSIG only sets a signal for this process.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        std::thread::spawn(|| {
            let mut sink = [0u8; 64];
            while matches!(std::io::Read::read(&mut std::io::stdin(), &mut sink), Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    }
    crate::measure::rusage::raise_nofile_limit();
    // The kernel lets a sleeping thread's wake-up slip by its timer slack (50 µs by default)
    // to batch wake-ups; a target's delays should not. Threads inherit the slack of the
    // thread that creates them, so the runtime's workers, built next, get 1 ns too.
    // SAFETY: prctl with PR_SET_TIMERSLACK only sets this thread's slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let lateness = timer::calibrate().await?;
        let announce = |addr: SocketAddr| -> std::io::Result<()> {
            let mut out = std::io::stdout();
            writeln!(out, "{addr}")?;
            out.flush()?;
            eprintln!(
                "iobench serve {}: listening on {addr} (timers armed {lateness:?} early for this machine's wake-up latency)",
                kind.name()
            );
            Ok(())
        };
        match kind {
            TargetKind::Echo | TargetKind::Http => {
                let listener = tokio::net::TcpListener::bind(listen).await?;
                announce(listener.local_addr()?)?;
                match kind {
                    TargetKind::Echo => echo::run(listener).await,
                    _ => http::run(listener).await,
                }
            }
            TargetKind::Dns => {
                let socket = tokio::net::UdpSocket::bind(listen).await?;
                announce(socket.local_addr()?)?;
                dns::run(socket).await
            }
        }
    })
}
