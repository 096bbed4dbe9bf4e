//! `sleep`: each op waits `latency`. The calibration workload: its ideal throughput is
//! C / latency, so measured / ideal is the efficiency of a model and of the harness.
//!
//! Verification: an op counts only if it really waited at least `latency` (a timer that
//! fires early is a `mismatch`).
//!
//! `block_every = N`: one op in N of each async task sleeps with `std::thread::sleep`,
//! blocking its event loop (see `cpu_mix`); blocking models sleep that way anyway.

use super::Workload;
use super::params::{nonzero_duration, params};

use crate::measure::Mono;
use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;
use crate::units::HumanDuration;

params! {
    #[serde(deny_unknown_fields)]
    pub struct Sleep {
        /// how long each op waits
        latency: HumanDuration = HumanDuration::ms(10) => [check = nonzero_duration],
        /// async models: one op in N sleeps with std::thread::sleep, blocking the event loop (0:
        /// never)
        #[serde(default, skip_serializing_if = "super::is_zero")]
        block_every: u32 = 0 => [unit = "ops"],
    }
}

impl Sleep {
    fn check(&self, started: Mono) -> Result<(), OpError> {
        let waited = Mono::now().since(started);
        if waited >= self.latency.0 {
            Ok(())
        } else {
            Err(OpError::new(
                ErrorKind::Mismatch,
                format!(
                    "woke after {waited:?}, before the {} asked for",
                    self.latency
                ),
            ))
        }
    }
}

impl Workload for Sleep {
    type Session = ();
    /// The task's op count (for `block_every`).
    type AsyncSession<R: AsyncRt> = u64;

    fn open(&self) -> Result<(), OpError> {
        Ok(())
    }

    fn op(&self, _: &mut ()) -> Result<(), OpError> {
        let started = Mono::now();
        std::thread::sleep(self.latency.0);
        self.check(started)
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<u64, OpError> {
        Ok(0)
    }

    // A plain function returning an `async move` block: an `async fn` would keep its
    // arguments twice in the op's state, which every task holds.
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    fn op_async<R: AsyncRt>(
        &self,
        n: &mut u64,
    ) -> impl std::future::Future<Output = Result<(), OpError>> + Send {
        async move {
            let started = Mono::now();
            match super::cpu_mix::blocks(self.block_every, *n) {
                true => std::thread::sleep(self.latency.0),
                false => R::sleep(self.latency.0).await,
            }
            *n += 1;
            self.check(started)
        }
    }
}
