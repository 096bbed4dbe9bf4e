//! Pure statistics over trial figures: no I/O, no clocks.

use serde::{Deserialize, Serialize};

/// A figure across trials: the median, its range and the coefficient of variation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation / mean; `None` with fewer than two values or a zero mean.
    pub cv: Option<f64>,
    /// How many trials had this figure.
    pub n: usize,
}

/// Median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample standard deviation (n − 1).
pub fn std_dev(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let var = values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
    Some(var.sqrt())
}

/// The spread of `values`, `None` when there are none.
pub fn spread(values: &[f64]) -> Option<Spread> {
    let values: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let median = median(&values)?;
    let m = mean(&values)?;
    Some(Spread {
        median,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        cv: std_dev(&values).filter(|_| m != 0.0).map(|s| s / m.abs()),
        n: values.len(),
    })
}

/// A small, fast random source (xorshift64*): for keys and row ids of database sessions,
/// bootstrap resamples, and the A/B order.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded differently for every session of every process.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Rng {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Rng::seeded(u64::from(std::process::id()) << 32 ^ n)
    }

    /// A generator that gives the same sequence for the same seed.
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }

    /// A number unique to this session's sequence (for values that must not repeat).
    pub fn id(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn spread_of_values() {
        let s = spread(&[10.0, 12.0, 14.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (12.0, 10.0, 14.0, 3));
        assert!((s.cv.unwrap() - 2.0 / 12.0).abs() < 1e-12);
        assert_eq!(spread(&[5.0]).unwrap().cv, None);
        assert_eq!(spread(&[0.0, 0.0]).unwrap().cv, None);
        assert!(spread(&[]).is_none());
    }
}
