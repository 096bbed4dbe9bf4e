//! Embedded targets: real servers on loopback that the network workloads talk to, each run
//! as its own `iobench serve` process so that the model under test is measured alone.
//!
//! Targets run on tokio's multi-thread runtime so that they are not the bottleneck. Their
//! delays use a timerfd ([`timer::sleep`]), which is not rounded up to tokio's millisecond
//! tick.
//!
//! A target answers whoever reaches it, so each accepts only its own framing and drops a
//! client that sends anything else or more than a cap ([`echo`]'s payload, [`http`]'s head;
//! [`dns`] drops what does not parse), and running out of file descriptors only pauses its
//! accept loop ([`accept`]).

pub mod dns;
pub mod echo;
pub mod http;
pub mod launch;
pub mod timer;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

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

/// How long an accept loop waits when the process is out of file descriptors (or the
/// kernel of buffers) before it tries again: the waiting connection stays queued, so trying
/// at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// The next connection, with `TCP_NODELAY` set. A failure to accept one connection never
/// ends the target: a connection the peer already gave up is skipped, and running out of
/// file descriptors is waited out ([`ACCEPT_BACKOFF`]) until a connection closes.
pub(crate) async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((s, _)) => {
                // Fails only for a connection already reset, which its first read reports.
                let _ = s.set_nodelay(true);
                return s;
            }
            Err(e) => {
                let transient = matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                );
                if !transient {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }
}

/// The warning `serve` prints when it listens where other machines can reach it: the
/// targets have no authentication, and answer anyone who connects.
fn exposure_warning(kind: TargetKind, addr: SocketAddr) -> Option<String> {
    (!addr.ip().to_canonical().is_loopback()).then(|| {
        format!(
            "warning: iobench serve {} listens on {addr}, which is not a loopback address: it \
             answers anyone who can reach it (it has no authentication); --listen 127.0.0.1:PORT \
             keeps it on this machine",
            kind.name()
        )
    })
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
            if let Some(warning) = exposure_warning(kind, addr) {
                eprintln!("{warning}");
            }
            eprintln!(
                "iobench serve {}: listening on {addr} (timers armed {lateness:?} early for this machine's wake-up latency)",
                kind.name()
            );
            Ok(())
        };
        match kind {
            TargetKind::Echo | TargetKind::Http => {
                let listener = TcpListener::bind(listen).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_address_is_quiet() {
        for quiet in [
            "127.0.0.1:7000",
            "127.1.2.3:0",
            "[::1]:7000",
            "[::ffff:127.0.0.1]:0",
        ] {
            let addr = quiet.parse().unwrap();
            assert_eq!(exposure_warning(TargetKind::Echo, addr), None, "{quiet}");
        }
        for loud in ["0.0.0.0:7000", "10.0.0.2:7000", "[::]:7000", "[fe80::1]:53"] {
            let addr = loud.parse().unwrap();
            let warning = exposure_warning(TargetKind::Http, addr).expect(loud);
            assert!(warning.contains(&addr.to_string()), "{warning}");
            assert!(warning.contains("answers anyone"), "{warning}");
        }
    }
}
