//! `sleep`: each op waits `latency`. The calibration workload: its ideal throughput is
//! C / latency, so measured / ideal is the efficiency of a model and of the harness.
//!
//! Verification: an op counts only if it really waited at least `latency` (a timer that
//! fires early is a `mismatch`).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{ErrorKind, OpError, Workload};
use crate::model::runtime::AsyncRt;
use crate::units::HumanDuration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sleep {
    /// How long each op waits.
    pub latency: HumanDuration,
}

impl Default for Sleep {
    fn default() -> Self {
        Sleep {
            latency: HumanDuration(Duration::from_millis(10)),
        }
    }
}

impl Sleep {
    fn check(&self, started: Instant) -> Result<(), OpError> {
        let waited = started.elapsed();
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
    type AsyncSession<R: AsyncRt> = ();

    fn open(&self) -> Result<(), OpError> {
        Ok(())
    }

    fn op(&self, _: &mut ()) -> Result<(), OpError> {
        let started = Instant::now();
        std::thread::sleep(self.latency.0);
        self.check(started)
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<(), OpError> {
        Ok(())
    }

    async fn op_async<R: AsyncRt>(&self, _: &mut ()) -> Result<(), OpError> {
        let started = Instant::now();
        R::sleep(self.latency.0).await;
        self.check(started)
    }
}
