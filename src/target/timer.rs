//! A fine-grained sleep for targets: a timerfd registered with tokio's reactor.
//!
//! tokio's timer rounds a sleep up to its next millisecond tick, and async-io's timer wakes
//! its own reactor thread, which then wakes the task's thread: both add hundreds of
//! microseconds to a 10 ms delay. A timerfd is armed with nanosecond precision and wakes
//! the worker thread that waits on it directly.
//!
//! What remains is the machine's wake-up latency (on a virtual machine, 100–250 µs). A
//! target measures it once at start ([`calibrate`]: the median lateness of 31 short sleeps)
//! and arms each timer that much earlier, so the delay a peer sees is, on average, the one
//! asked for.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The median wake-up lateness measured by [`calibrate`], in nanoseconds.
static LATENESS_NS: AtomicU64 = AtomicU64::new(0);

/// Measures how late a timer wakes on this machine and corrects later sleeps by it.
/// Returns the lateness.
pub async fn calibrate() -> io::Result<Duration> {
    let mut late = Vec::with_capacity(31);
    for _ in 0..31 {
        let t = Instant::now();
        arm_and_wait(Duration::from_millis(2)).await?;
        late.push(t.elapsed().saturating_sub(Duration::from_millis(2)));
    }
    late.sort();
    let median = late[late.len() / 2];
    LATENESS_NS.store(median.as_nanos() as u64, Ordering::Relaxed);
    Ok(median)
}

/// Below this, a wake-up before the deadline is taken as on time.
const CLOSE_ENOUGH: Duration = Duration::from_micros(20);

/// Waits `d` on the current tokio runtime: armed early by the calibrated wake-up lateness,
/// and, when the wake-up comes early after all (a busy thread wakes at once), armed again
/// for what is left, so a delay never ends more than 20 µs before it was asked to.
pub async fn sleep(d: Duration) -> io::Result<()> {
    let deadline = Instant::now() + d;
    let early = Duration::from_nanos(LATENESS_NS.load(Ordering::Relaxed));
    arm_and_wait(d.saturating_sub(early)).await?;
    let left = deadline.saturating_duration_since(Instant::now());
    if left > CLOSE_ENOUGH {
        arm_and_wait(left).await?;
    }
    Ok(())
}

async fn arm_and_wait(d: Duration) -> io::Result<()> {
    // SAFETY: timerfd_create returns a new fd or -1; we own it from here.
    let raw = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a valid fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            // A zero it_value would disarm the timer: wait at least a nanosecond.
            tv_nsec: (d.subsec_nanos().max(u32::from(d.as_secs() == 0))) as libc::c_long,
        },
    };
    // SAFETY: arming the timerfd we own with a spec we own.
    if unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is owned by the AsyncFd, which deregisters it before closing it.
    let afd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
    loop {
        let mut guard = afd.readable().await?;
        let mut expirations = [0u8; 8];
        // SAFETY: reading 8 bytes into a buffer of 8 from the fd we own.
        let n = unsafe { libc::read(afd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
        if n == 8 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::WouldBlock {
            return Err(e);
        }
        guard.clear_ready();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_about_as_long_as_asked() {
        // SAFETY: prctl with PR_SET_TIMERSLACK only sets this thread's slack, as `serve` does.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let lateness = calibrate().await.unwrap();
            let mut over = Duration::ZERO;
            for _ in 0..20 {
                let t = std::time::Instant::now();
                sleep(Duration::from_millis(5)).await.unwrap();
                let took = t.elapsed();
                assert!(took >= Duration::from_millis(5) - CLOSE_ENOUGH, "{took:?}");
                over += took.saturating_sub(Duration::from_millis(5));
            }
            let t = std::time::Instant::now();
            let mut tick = Duration::ZERO;
            for _ in 0..20 {
                let t = std::time::Instant::now();
                tokio::time::sleep(Duration::from_millis(5)).await;
                tick += t.elapsed() - Duration::from_millis(5);
            }
            eprintln!(
                "lateness {lateness:?}; corrected timerfd overshoot {:?}, tokio overshoot {:?} (mean of 20, {:?})",
                over / 20,
                tick / 20,
                t.elapsed()
            );
        });
    }
}
