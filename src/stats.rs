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

/// Unbiased sample variance (n − 1).
pub fn variance(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    Some(values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64)
}

/// Sample standard deviation (n − 1).
pub fn std_dev(values: &[f64]) -> Option<f64> {
    variance(values).map(f64::sqrt)
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

/// A straight line fitted by least squares: `y ≈ intercept + slope × x`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineFit {
    pub slope: f64,
    pub intercept: f64,
    /// The share of the variance of `y` the line explains; `None` when `y` is constant.
    pub r2: Option<f64>,
    /// How many points it was fitted to.
    pub n: usize,
}

/// The least-squares line through `points` (x, y); `None` with fewer than two distinct
/// finite x.
pub fn line_fit(points: &[(f64, f64)]) -> Option<LineFit> {
    let p: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let n = p.len() as f64;
    let (mx, my) = (
        p.iter().map(|q| q.0).sum::<f64>() / n,
        p.iter().map(|q| q.1).sum::<f64>() / n,
    );
    let sxx: f64 = p.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    if p.len() < 2 || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = p.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let syy: f64 = p.iter().map(|(_, y)| (y - my).powi(2)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let residual: f64 = p
        .iter()
        .map(|(x, y)| (y - intercept - slope * x).powi(2))
        .sum();
    Some(LineFit {
        slope,
        intercept,
        r2: (syy > 0.0).then(|| 1.0 - residual / syy),
        n: p.len(),
    })
}

/// A small, fast random source (xorshift64*): for keys and row ids of database sessions,
/// the trial and A/B orders, and simulated samples in tests.
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

/// ln Γ(x), Lanczos approximation (g = 7, 9 terms), for x > 0.
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |a, (i, g)| a + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised incomplete beta function I_x(a, b) (Lentz's continued fraction).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(1.0 - x, b, a);
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp() / a;
    const TINY: f64 = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    d = 1.0 / if d.abs() < TINY { TINY } else { d };
    let mut f = d;
    for m in 1..300 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        for num in [even, odd] {
            d = 1.0 + num * d;
            d = 1.0 / if d.abs() < TINY { TINY } else { d };
            c = 1.0 + num / c;
            c = if c.abs() < TINY { TINY } else { c };
            f *= c * d;
        }
        if (c * d - 1.0).abs() < 1e-14 {
            break;
        }
    }
    front * f
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The `p` quantile of Student's t with `df` degrees of freedom (bisection on the CDF).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while student_t_cdf(hi, df) < p && hi < 1e12 {
        hi *= 2.0;
    }
    // 80 halvings: from an upper end below 1e12 to well under f64's resolution of t.
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// A t test of a log ratio: its estimate, standard error and degrees of freedom, and the
/// standard deviation a planned sample would see.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogTest {
    /// The estimated log ratio NEW / BASE.
    pub diff: f64,
    pub se: f64,
    pub df: f64,
    /// The pairs (paired), or the smaller side (two samples).
    pub n: usize,
    /// Standard deviation of one log value (pooled) or of one pair's log ratio.
    pub sd: f64,
    pub paired: bool,
}

/// The interval of a ratio at some level: the point ratio, its ends, and the half-width in
/// log units that they are apart from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatioInterval {
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
    pub half_width: f64,
}

fn logs(v: &[f64]) -> Result<Vec<f64>, String> {
    match v.iter().all(|x| x.is_finite() && *x > 0.0) {
        true => Ok(v.iter().map(|x| x.ln()).collect()),
        false => Err("a value is zero or negative: no ratio".into()),
    }
}

/// The mean and variance of at least two values.
fn mean_var(v: &[f64]) -> (f64, f64) {
    match (mean(v), variance(v)) {
        (Some(m), Some(var)) => (m, var),
        _ => (f64::NAN, f64::NAN),
    }
}

impl LogTest {
    /// Welch's two-sample t test on the logarithms.
    pub fn welch(base: &[f64], new: &[f64]) -> Result<LogTest, String> {
        if base.len() < 2 || new.len() < 2 {
            return Err("needs at least 2 trials a side".into());
        }
        let (lb, ln) = (logs(base)?, logs(new)?);
        let ((mb, vb), (mn, vn)) = (mean_var(&lb), mean_var(&ln));
        let (nb, nn) = (lb.len() as f64, ln.len() as f64);
        let (qb, qn) = (vb / nb, vn / nn);
        let se = (qb + qn).sqrt();
        let df = match se > 0.0 {
            true => (qb + qn).powi(2) / (qb * qb / (nb - 1.0) + qn * qn / (nn - 1.0)),
            false => nb + nn - 2.0,
        };
        Ok(LogTest {
            diff: mn - mb,
            se,
            df,
            n: lb.len().min(ln.len()),
            sd: ((vb + vn) / 2.0).sqrt(),
            paired: false,
        })
    }

    /// The paired t test on the logarithms of the ratios B / A.
    pub fn paired(ratios: &[f64]) -> Result<LogTest, String> {
        if ratios.len() < 2 {
            return Err("needs at least 2 pairs".into());
        }
        let l = logs(ratios)?;
        let (m, v) = mean_var(&l);
        let n = l.len() as f64;
        Ok(LogTest {
            diff: m,
            se: (v / n).sqrt(),
            df: n - 1.0,
            n: l.len(),
            sd: v.sqrt(),
            paired: true,
        })
    }

    /// The two-sided p-value of "no change".
    pub fn p_value(&self) -> f64 {
        if self.se == 0.0 {
            return if self.diff == 0.0 { 1.0 } else { 0.0 };
        }
        let t = (self.diff / self.se).abs();
        (2.0 * (1.0 - student_t_cdf(t, self.df))).clamp(0.0, 1.0)
    }

    /// The half-width, in log units, of the two-sided interval at level `alpha`.
    pub fn half_width(&self, alpha: f64) -> f64 {
        student_t_quantile(1.0 - alpha / 2.0, self.df) * self.se
    }

    /// The ratio NEW / BASE (of geometric means, or of the pairs' geometric mean) and its
    /// two-sided Student-t interval at level `alpha`.
    pub fn interval(&self, alpha: f64) -> RatioInterval {
        let half = self.half_width(alpha);
        RatioInterval {
            ratio: self.diff.exp(),
            low: (self.diff - half).exp(),
            high: (self.diff + half).exp(),
            half_width: half,
        }
    }

    /// The trials a side (pairs) whose interval at `alpha` would be no wider than
    /// ±`threshold` at this noise; `None` beyond 1,000.
    pub fn trials_needed(&self, alpha: f64, threshold: f64) -> Option<usize> {
        let target = (1.0 + threshold).ln();
        let fits = |n: usize| {
            let k = n as f64;
            let (df, se) = match self.paired {
                true => (k - 1.0, self.sd / k.sqrt()),
                false => (2.0 * k - 2.0, self.sd * (2.0 / k).sqrt()),
            };
            student_t_quantile(1.0 - alpha / 2.0, df) * se <= target
        };
        // The half-width shrinks as n grows: a binary search of 2..=1000.
        if !fits(1000) {
            return None;
        }
        let (mut lo, mut hi) = (2, 1000);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if fits(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn student_t_matches_tables() {
        // Two-sided 95% and 99% critical values from any t table.
        for (p, df, want) in [
            (0.975, 5.0, 2.5706),
            (0.995, 5.0, 4.0321),
            (0.975, 1.0, 12.706),
            (0.975, 30.0, 2.0423),
            (0.9995, 9.0, 4.7809),
        ] {
            let t = student_t_quantile(p, df);
            assert!(
                (t - want).abs() < 1e-3 * want,
                "t({p}, {df}) = {t}, want {want}"
            );
        }
        assert!((student_t_cdf(0.0, 4.0) - 0.5).abs() < 1e-12);
    }

    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn variances() {
        assert_eq!(variance(&[1.0, 2.0, 3.0, 4.0]), Some(5.0 / 3.0));
        assert_eq!(variance(&[7.0]), None);
        assert_eq!(std_dev(&[2.0, 4.0]), Some(2f64.sqrt()));
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn welch_on_logarithms() {
        // Logs 0, 0.1, 0.2 (mean 0.1, variance 0.01) against 0.3, 0.5 (0.4, 0.02).
        let base = [0.0f64, 0.1, 0.2].map(f64::exp);
        let new = [0.3f64, 0.5].map(f64::exp);
        let t = LogTest::welch(&base, &new).unwrap();
        assert!(close(t.diff, 0.3), "{t:?}");
        assert!(close(t.se, (0.01 / 3.0 + 0.01f64).sqrt()), "{t:?}");
        // Welch–Satterthwaite: (1/75)² / ((1/300)² / 2 + (1/100)²) = 32 / 19.
        assert!(close(t.df, 32.0 / 19.0), "{t:?}");
        assert!(close(t.sd, 0.015f64.sqrt()), "{t:?}");
        assert_eq!((t.n, t.paired), (2, false));
        // Equal samples: no difference, and the pooled degrees of freedom.
        let same = LogTest::welch(&[5.0, 5.0], &[5.0, 5.0, 5.0]).unwrap();
        assert_eq!((same.diff, same.se, same.df), (0.0, 0.0, 3.0));
        assert!(LogTest::welch(&[1.0], &[1.0, 2.0]).is_err());
        assert!(LogTest::welch(&[1.0, 0.0], &[1.0, 2.0]).is_err());
        assert!(LogTest::welch(&[1.0, 2.0], &[-1.0, 2.0]).is_err());
    }

    #[test]
    fn paired_on_logarithms_and_its_interval() {
        // Log ratios 0.1, 0.2, 0.3: mean 0.2, variance 0.01, 2 degrees of freedom.
        let t = LogTest::paired(&[0.1f64, 0.2, 0.3].map(f64::exp)).unwrap();
        assert!(
            close(t.diff, 0.2) && close(t.se, (0.01f64 / 3.0).sqrt()),
            "{t:?}"
        );
        assert_eq!((t.df, t.n, t.paired), (2.0, 3, true));
        assert!(close(t.sd, 0.1), "{t:?}");
        // With 2 df, P(|T| > t) = 1 − t / √(2 + t²).
        let tt = t.diff / t.se;
        let p = 1.0 - tt / (2.0 + tt * tt).sqrt();
        assert!((t.p_value() - p).abs() < 1e-9, "{} vs {p}", t.p_value());
        // 95%: t(0.975, 2) = 4.3027 from the table.
        let ci = t.interval(0.05);
        assert!((ci.half_width / t.se - 4.3027).abs() < 1e-3, "{ci:?}");
        assert!(close(ci.ratio, 0.2f64.exp()));
        assert!(close(ci.low, (0.2 - ci.half_width).exp()));
        assert!(close(ci.high, (0.2 + ci.half_width).exp()));
        assert_eq!(ci.half_width, t.half_width(0.05));
        assert!(LogTest::paired(&[1.1]).is_err());
        assert!(LogTest::paired(&[1.1, f64::NAN]).is_err());
    }

    #[test]
    fn p_values_without_noise() {
        let none = LogTest::paired(&[1.2, 1.2, 1.2]).unwrap();
        assert_eq!((none.se, none.p_value()), (0.0, 0.0));
        let same = LogTest::paired(&[1.0, 1.0]).unwrap();
        assert_eq!(same.p_value(), 1.0);
    }

    #[test]
    fn trials_needed_is_the_fewest_that_fit() {
        let (alpha, threshold) = (0.01, 0.05);
        let target = 1.05f64.ln();
        for (sd, paired) in [(0.1, true), (0.1, false), (0.02, false), (0.01, true)] {
            let t = LogTest {
                diff: 0.0,
                se: 1.0,
                df: 3.0,
                n: 3,
                sd,
                paired,
            };
            let half = |n: usize| {
                let k = n as f64;
                match paired {
                    true => student_t_quantile(1.0 - alpha / 2.0, k - 1.0) * sd / k.sqrt(),
                    false => {
                        student_t_quantile(1.0 - alpha / 2.0, 2.0 * k - 2.0) * sd * (2.0 / k).sqrt()
                    }
                }
            };
            let want = (2..=1000).find(|&n| half(n) <= target);
            assert_eq!(
                t.trials_needed(alpha, threshold),
                want,
                "sd {sd}, paired {paired}"
            );
            assert!(want.is_some());
        }
        // Noise that no thousand trials would tame.
        let wild = LogTest {
            diff: 0.0,
            se: 1.0,
            df: 3.0,
            n: 3,
            sd: 10.0,
            paired: true,
        };
        assert_eq!(wild.trials_needed(alpha, threshold), None);
    }

    #[test]
    fn a_line_is_fitted_through_its_points() {
        use super::line_fit;
        // Memory of C tasks: 3 MB fixed, 500 bytes a task, exactly.
        let exact: Vec<(f64, f64)> = [1.0, 1e4, 1e5, 1e6]
            .iter()
            .map(|&c| (c, 3e6 + 500.0 * c))
            .collect();
        let f = line_fit(&exact).unwrap();
        assert!((f.slope - 500.0).abs() < 1e-6 && (f.intercept - 3e6).abs() < 1e-3);
        assert_eq!((f.r2, f.n), (Some(1.0), 4));
        // Noise lowers r², and the slope stays near.
        let noisy = [(1.0, 10.0), (2.0, 21.0), (3.0, 29.0), (4.0, 41.0)];
        let f = line_fit(&noisy).unwrap();
        assert!((f.slope - 10.1).abs() < 1e-9, "{f:?}");
        assert!(f.r2.unwrap() > 0.98 && f.r2.unwrap() < 1.0);
        // One x, or none finite: no line.
        assert_eq!(line_fit(&[(5.0, 1.0), (5.0, 2.0)]), None);
        assert_eq!(line_fit(&[(f64::NAN, 1.0), (1.0, 2.0)]), None);
        assert_eq!(line_fit(&[]), None);
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
