//! `cpu-mix`: each op waits `wait` (a sleep, or a round trip to the echo target whose
//! server waits `wait`) and then computes for `compute`. A sweep of compute / wait shows
//! where an event loop, which computes on its only thread, falls behind threads and
//! processes, which compute on every core.
//!
//! # The computation
//! A chain of dependent multiply–xor rounds ([`spin`]): no shortcut, nothing to vectorise.
//! The run calibrates it once, before any trial, against its thread's CPU clock (the
//! median of several tries: see [`rounds_per_ns`]), and hands every cell the same number
//! of rounds (`Resolved::rounds`): `compute` is CPU time of one core of this machine, and
//! every model and process does the same work. (A trial started without a run, as in
//! `cargo bench`, calibrates for itself.) Every op checks the chain's result against the
//! one computed in setup, so the work cannot be skipped.
//!
//! # CPU-heavy work on one op in N (`block_every`)
//! With `block_every = N`, only one op in N of each worker computes (for `compute`); the
//! others only wait. Every model does the same work: a blocking model computes on the op's
//! own thread, beside the others, while an async model computes on its event loop's
//! thread, and every other task on it waits (the stall the talk warns about). `sleep` takes
//! the same flag with another meaning: one op in N sleeps with `std::thread::sleep`.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::params::{choice_value, nonzero_duration, params};
use super::tcp_echo::TcpEcho;
use super::{Bound, Workload};
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::sync::lock;
use crate::units::{HumanDuration, HumanSize};

/// What an op waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// A sleep (blocking, or the runtime's timer).
    Sleep,
    /// A 64-byte round trip to the echo target, which waits `wait` before answering.
    Echo,
}

choice_value!(Via);

params! {
    #[serde(deny_unknown_fields)]
    pub struct CpuMix {
        /// how long each op waits
        wait: HumanDuration = HumanDuration::ms(1) => [check = nonzero_duration],
        /// sleep, or echo (a 64-byte round trip to the echo target, which waits `wait`)
        via: Via = Via::Sleep,
        /// CPU work after the wait, calibrated to this machine's core
        compute: HumanDuration = HumanDuration::ZERO,
        /// only one op in N computes (for `compute`), on every model; the others only wait (0:
        /// every op computes)
        #[serde(default, skip_serializing_if = "super::is_zero")]
        block_every: u32 = 0 => [unit = "ops"],
        /// via echo: the op's deadline (connecting when it must, the echo)
        timeout: HumanDuration = HumanDuration::secs(10) => [check = nonzero_duration],
        /// via echo: host:port of an echo server iobench did not start
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String> = None => [shown = "(embedded)"],
    }
}

/// `rounds` dependent rounds of a 64-bit mix, from `seed`.
#[inline(never)]
pub fn spin(rounds: u64, seed: u64) -> u64 {
    let mut x = seed;
    for _ in 0..rounds {
        x = (x ^ (x >> 29))
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
            .wrapping_add(1);
    }
    x
}

const SEED: u64 = 0x2545_F491_4F6C_DD1D;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Rounds of [`spin`] per nanosecond of one core's time, measured once per process.
///
/// The median of 15 tries of about 10 ms each, after a warm-up. On the 2-core VM the rate
/// of one try varies by ±10% from try to try, idle or not; the fastest of several tries
/// (what this once took) is the top of that spread, so every op then computed 7–10%
/// longer than `compute` (5.4 ms CPU per op for 5 ms asked). The median is the rate ops
/// really see. Thread CPU time does not count the time the thread waits for a core, so a
/// busy machine does not stretch it.
pub fn rounds_per_ns() -> f64 {
    static RATE: OnceLock<f64> = OnceLock::new();
    *RATE.get_or_init(|| {
        let rate = |rounds: u64| {
            let t0 = thread_cpu_ns();
            black_box(spin(black_box(rounds), SEED));
            rounds as f64 / (thread_cpu_ns() - t0).max(1) as f64
        };
        // A first guess, then about 20 ms of warm-up at it, which sizes the tries.
        let guess = rate(200_000);
        let guess = rate(((guess * 20e6) as u64).max(200_000));
        let rounds = ((guess * 10e6) as u64).max(10_000);
        let mut rates: Vec<f64> = (0..15).map(|_| rate(rounds)).collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    })
}

/// The rounds that take `compute` and their result, worked out once per process.
#[derive(Clone, Copy, Debug)]
pub struct Work {
    pub rounds: u64,
    expected: u64,
}

/// The rounds of [`spin`] that take `compute` on this machine's core.
pub fn rounds_for(compute: Duration) -> u64 {
    (compute.as_nanos() as f64 * rounds_per_ns()).round() as u64
}

impl Work {
    /// `rounds` of work and their result, worked out once per process.
    pub fn of(rounds: u64) -> Work {
        static DONE: std::sync::Mutex<Vec<Work>> = std::sync::Mutex::new(Vec::new());
        let mut done = lock(&DONE);
        if let Some(w) = done.iter().find(|w| w.rounds == rounds) {
            return *w;
        }
        let w = Work {
            rounds,
            expected: spin(rounds, SEED),
        };
        done.push(w);
        w
    }

    /// Computes, and checks the result.
    pub fn run(&self) -> Result<(), OpError> {
        if self.rounds == 0 {
            return Ok(());
        }
        match spin(black_box(self.rounds), black_box(SEED)) == self.expected {
            true => Ok(()),
            false => Err(OpError::new(
                ErrorKind::Mismatch,
                "the computation's result differs",
            )),
        }
    }
}

/// Whether op `n` of a worker blocks its thread, given `block_every`.
pub fn blocks(block_every: u32, n: u64) -> bool {
    block_every > 0 && n % u64::from(block_every) == u64::from(block_every) - 1
}

/// Whether op `n` of a worker computes, given `block_every` (0: every op).
fn computes(block_every: u32, n: u64) -> bool {
    block_every == 0 || blocks(block_every, n)
}

/// A worker's state: its op count, its computation, and its echo connection.
pub struct MixSession<S> {
    n: u64,
    work: Work,
    echo: Option<(Bound<TcpEcho>, S)>,
}

impl Bound<CpuMix> {
    fn work(&self) -> Work {
        Work::of(
            self.run
                .rounds
                .unwrap_or_else(|| rounds_for(self.compute.0)),
        )
    }

    /// The echo round trip of `via = "echo"`: 64 bytes to the target, which waits `wait`.
    fn echo(&self) -> Bound<TcpEcho> {
        let echo = TcpEcho {
            payload: HumanSize(64),
            server_delay: self.wait,
            timeout: self.timeout,
            target: self.target.clone(),
            keep_alive: true,
        };
        Bound::new(echo, &self.run)
    }
}

impl CpuMix {
    fn woke(&self, started: Instant) -> Result<(), OpError> {
        let waited = started.elapsed();
        match waited >= self.wait.0 {
            true => Ok(()),
            false => Err(OpError::new(
                ErrorKind::Mismatch,
                format!("woke after {waited:?}, before the {} asked for", self.wait),
            )),
        }
    }

    /// The best throughput at concurrency `c` on `cores` cores: every wait overlapped,
    /// and the computing (`compute` on one op in `block_every`) spread over the cores.
    pub fn ideal(&self, c: u32, cores: usize) -> Option<f64> {
        let share = f64::from(self.block_every.max(1));
        let (w, k) = (
            self.wait.0.as_secs_f64(),
            self.compute.0.as_secs_f64() / share,
        );
        if w + k == 0.0 {
            return None;
        }
        let waiting = f64::from(c) / (w + k);
        Some(match k > 0.0 {
            true => waiting.min(cores as f64 / k),
            false => waiting,
        })
    }
}

impl Workload for Bound<CpuMix> {
    type Session = MixSession<<Bound<TcpEcho> as Workload>::Session>;
    type AsyncSession<R: AsyncRt> = MixSession<<Bound<TcpEcho> as Workload>::AsyncSession<R>>;

    fn open(&self) -> Result<Self::Session, OpError> {
        let echo = match self.via {
            Via::Sleep => None,
            Via::Echo => {
                let e = self.echo();
                let s = e.open()?;
                Some((e, s))
            }
        };
        Ok(MixSession {
            n: 0,
            work: self.work(),
            echo,
        })
    }

    fn op(&self, s: &mut Self::Session) -> Result<(), OpError> {
        s.n += 1;
        match &mut s.echo {
            Some((e, conn)) => e.op(conn)?,
            None => {
                let started = Instant::now();
                std::thread::sleep(self.wait.0);
                self.woke(started)?;
            }
        }
        match computes(self.block_every, s.n - 1) {
            true => s.work.run(),
            false => Ok(()),
        }
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<Self::AsyncSession<R>, OpError> {
        let echo = match self.via {
            Via::Sleep => None,
            Via::Echo => {
                let e = self.echo();
                let s = e.open_async::<R>().await?;
                Some((e, s))
            }
        };
        Ok(MixSession {
            n: 0,
            work: self.work(),
            echo,
        })
    }

    async fn op_async<R: AsyncRt>(&self, s: &mut Self::AsyncSession<R>) -> Result<(), OpError> {
        s.n += 1;
        match &mut s.echo {
            Some((e, conn)) => e.op_async::<R>(conn).await?,
            None => {
                let started = Instant::now();
                R::sleep(self.wait.0).await;
                self.woke(started)?;
            }
        }
        // Computing in an async task runs on the event loop's thread, as it would in an
        // application that does not move it elsewhere.
        match computes(self.block_every, s.n - 1) {
            true => s.work.run(),
            false => Ok(()),
        }
    }
}
