//! What a worker process measures of itself over the window.

use serde::{Deserialize, Serialize};

use crate::measure::counters::Counts;
use crate::measure::rusage::Rusage;

/// What a worker process measures of itself over the window: its CPU, and the events of
/// [`counters`](crate::measure::counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub rusage: Rusage,
    #[serde(default)]
    pub counts: Counts,
}

impl Usage {
    pub fn now() -> Usage {
        Usage {
            rusage: Rusage::this_process(),
            counts: Counts::now(),
        }
    }

    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            rusage: self.rusage.since(&earlier.rusage),
            counts: self.counts.since(&earlier.counts),
        }
    }
}
