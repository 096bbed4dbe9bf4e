//! [`Pool`]: the parameters every database workload shares, and [`share`], how worker
//! processes split its bounds.

use crate::units::HumanDuration;
use crate::workload::params::{Invalid, between, nonzero_duration, params};

params! {
    /// A database workload's pool, the same keys for every database: the connections of
    /// the whole model (worker processes split them, [`Pool::share`]), and the deadline of
    /// each op, the wait for a connection included.
    #[derive(Copy)]
    pub struct Pool {
        /// connections opened before the window, 0 for none (in all: worker processes split it)
        pool_min: u32 = 5 => [unit = "connections"],
        /// most connections, so most ops in flight (in all: worker processes split it)
        pool_max: u32 = 10 => [unit = "connections", check = (between::<1, 10_000>)],
        /// deadline of each op, the wait for a connection included (and limit on connecting)
        timeout: HumanDuration = HumanDuration::secs(10) => [check = nonzero_duration],
    }
    check: min_within_max;
}

/// `pool_min` connections are opened first: no more than `pool_max`.
fn min_within_max(p: &Pool, written: &[&str]) -> Result<(), (&'static str, Invalid)> {
    if p.pool_min <= p.pool_max {
        return Ok(());
    }
    let key = match written.contains(&"pool_min") {
        true => "pool_min",
        false => "pool_max",
    };
    let why = Invalid::new(format!(
        "pool_min {} is above pool_max {}",
        p.pool_min, p.pool_max
    ))
    .hint("pool_min connections are opened first; it cannot exceed pool_max");
    Err((key, why))
}

impl Pool {
    /// Worker process `i` of `k`'s part of the pool ([`share`]), so that the workers' pools
    /// add up to the model's.
    pub fn share(&self, i: u32, k: u32) -> Pool {
        Pool {
            pool_min: share(self.pool_min, i, k),
            pool_max: share(self.pool_max, i, k),
            ..*self
        }
    }
}

/// Worker `i`'s share of `total` split over `k` workers: ⌈total/k⌉ for the first
/// `total mod k`, ⌊total/k⌋ for the others, so that the shares add up to `total`.
pub fn share(total: u32, i: u32, k: u32) -> u32 {
    let k = k.max(1);
    total / k + u32::from(i < total % k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for total in [0, 1, 5, 10, 64] {
            for k in 1..=12 {
                let s: Vec<u32> = (0..k).map(|i| share(total, i, k)).collect();
                assert_eq!(s.iter().sum::<u32>(), total, "{total} over {k}: {s:?}");
                let (lo, hi) = (total / k, total.div_ceil(k));
                assert!(s.iter().all(|&x| x == lo || x == hi), "{s:?}");
                assert!(
                    s.windows(2).all(|w| w[0] >= w[1]),
                    "the ceilings first: {s:?}"
                );
            }
        }
        // pool_min ≤ pool_max holds worker by worker.
        assert!((0..4).all(|i| share(5, i, 4) <= share(10, i, 4)));
    }
}
