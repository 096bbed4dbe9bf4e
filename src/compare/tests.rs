//! The verdicts on made-up trials: A/A, clear changes, failures, missing cells.

use super::*;
use crate::stats::Rng;

/// A gated figure better when higher (or lower).
fn gated(higher_is_better: bool) -> Figure {
    match higher_is_better {
        true => Figure::Throughput,
        false => Figure::P99,
    }
}

fn one(base: &[f64], new: &[f64], higher_is_better: bool, o: &Options) -> Verdict {
    let f = gated(higher_is_better);
    let p = Pending::new("c", f, o, (base, new), LogTest::welch(base, new));
    judge(vec![p], o)[0].verdict
}

fn paired(ratios: &[f64], higher_is_better: bool, m: usize) -> Verdict {
    let o = Options::default();
    let f = gated(higher_is_better);
    // The row under test, among m − 1 others that cannot reject.
    let mut all = vec![Pending::new(
        "c",
        f,
        &o,
        (ratios, ratios),
        LogTest::paired(ratios),
    )];
    for _ in 1..m {
        let same = [1.0, 1.01, 0.99];
        all.push(Pending::new(
            "d",
            f,
            &o,
            (&same, &same),
            LogTest::paired(&same),
        ));
    }
    judge(all, &o)[0].verdict
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u = |r: &mut Rng| (r.below(1 << 53) as f64 + 0.5) / (1u64 << 53) as f64;
    let (a, b) = (u(rng), u(rng));
    (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
}

#[test]
fn paired_verdicts_need_more_than_six_ratios_on_one_side() {
    // The false regression a bootstrap gave in an A/A run: six noisy ratios above 1.
    let noisy = [1.008, 1.09, 1.12, 1.13, 1.25, 1.49];
    assert_eq!(paired(&noisy, false, 84), Verdict::Inconclusive);
    // A steady 10% drop in throughput is a regression, and the same rise an improvement.
    let drop = [0.905, 0.9, 0.895, 0.91, 0.9, 0.902];
    assert_eq!(paired(&drop, true, 84), Verdict::Regressed);
    let rise: Vec<f64> = drop.iter().map(|r| 1.0 / r).collect();
    assert_eq!(paired(&rise, true, 84), Verdict::Improved);
    // Steady ratios near 1 are no change; one pair decides nothing.
    let same = [1.001, 0.999, 1.0, 1.002, 0.998, 1.0];
    assert_eq!(paired(&same, true, 84), Verdict::NoChange);
    assert_eq!(paired(&[0.5], true, 1), Verdict::Inconclusive);
}

#[test]
fn identical_trials_are_no_change() {
    let v = [100.0, 101.0, 99.0, 100.5, 99.5];
    assert_eq!(one(&v, &v, true, &Options::default()), Verdict::NoChange);
}

#[test]
fn a_tight_drop_in_throughput_is_a_regression() {
    let b = [100.0, 101.0, 99.0, 100.5, 99.5];
    let n: Vec<f64> = b.iter().map(|x| x * 0.8).collect();
    assert_eq!(one(&b, &n, true, &Options::default()), Verdict::Regressed);
    // The same drop in a lower-is-better figure is an improvement.
    assert_eq!(one(&b, &n, false, &Options::default()), Verdict::Improved);
}

#[test]
fn a_drop_inside_wide_noise_is_inconclusive() {
    let b = [60.0, 140.0, 100.0, 75.0, 125.0];
    let n: Vec<f64> = b.iter().map(|x| x * 0.8).collect();
    assert_eq!(
        one(&b, &n, true, &Options::default()),
        Verdict::Inconclusive
    );
}

#[test]
fn a_small_significant_change_is_no_change() {
    let b = [100.0, 100.1, 99.9, 100.05, 99.95];
    let n: Vec<f64> = b.iter().map(|x| x * 0.98).collect();
    assert_eq!(one(&b, &n, true, &Options::default()), Verdict::NoChange);
}

#[test]
fn three_trials_whose_ranges_do_not_overlap_are_not_enough_at_a_table_wide_level() {
    // What the percentile bootstrap called a regression: −5.5% with 3 trials a side,
    // ranges apart. Among 42 gated comparisons, Welch's test cannot say so.
    let b = [1000.0, 1025.0, 990.0];
    let n = [945.0, 970.0, 935.0];
    let o = Options::default();
    let f = Figure::Throughput;
    let mut all = vec![Pending::new("c", f, &o, (&b, &n), LogTest::welch(&b, &n))];
    for _ in 1..42 {
        all.push(Pending::new("d", f, &o, (&b, &b), LogTest::welch(&b, &b)));
    }
    let rows = judge(all, &o);
    assert_eq!(rows[0].verdict, Verdict::Inconclusive);
    // The row says what it could have seen and how many trials would resolve it.
    assert!(rows[0].detectable_change.unwrap() > 0.05);
    let need = rows[0].trials_needed.unwrap();
    assert!(need > 3, "{need}");
}

#[test]
fn holm_rejects_what_bonferroni_rejects_and_steps_down() {
    // Ten tests with p-values a little above α / 10 except the first: Bonferroni takes
    // only the first; Holm then compares the second with α / 9, and so on.
    let o = Options::default();
    let f = Figure::Throughput;
    let mut rows = Vec::new();
    let big = LogTest {
        diff: -0.2,
        se: 0.0,
        df: 10.0,
        n: 6,
        sd: 0.0,
        paired: true,
    };
    rows.push(Pending::new("a", f, &o, (&[1.0], &[0.8]), Ok(big)));
    // p just under α / 9 = 0.00111: t with 1,000 df at p = 0.00105.
    let t = crate::stats::student_t_quantile(1.0 - 0.00105 / 2.0, 1000.0);
    let mid = LogTest {
        diff: -0.1,
        se: 0.1 / t,
        df: 1000.0,
        n: 6,
        sd: 0.0,
        paired: true,
    };
    rows.push(Pending::new("b", f, &o, (&[1.0], &[0.9]), Ok(mid)));
    for _ in 0..8 {
        let none = LogTest { diff: 0.0, ..mid };
        rows.push(Pending::new("c", f, &o, (&[1.0], &[1.0]), Ok(none)));
    }
    let out = judge(rows, &o);
    assert_eq!(out[0].verdict, Verdict::Regressed);
    assert!(out[1].p_value.unwrap() > o.significance / 10.0);
    assert_eq!(out[1].verdict, Verdict::Regressed, "Holm's second step");
}

/// The property the gate promises: tables of A/A comparisons drawn from one
/// distribution raise a false alarm in at most about `significance` of them.
#[test]
fn a_a_tables_from_one_distribution_rarely_regress() {
    let o = Options {
        gate_all: true,
        ..Options::default()
    };
    let mut rng = Rng::seeded(2026);
    let f = Figure::Throughput;
    let (tables, per_table) = (60, 40);
    let mut alarms = 0;
    for n in [3, 6] {
        for _ in 0..tables {
            let rows: Vec<Pending> = (0..per_table)
                .map(|_| {
                    // 4% noise per trial: wide enough that a 5% threshold alone would
                    // not stop false alarms.
                    let mut draw = || {
                        (0..n)
                            .map(|_| 1000.0 * (0.04 * normal(&mut rng)).exp())
                            .collect()
                    };
                    let (b, nv): (Vec<f64>, Vec<f64>) = (draw(), draw());
                    let t = LogTest::welch(&b, &nv);
                    Pending::new("c", f, &o, (&b, &nv), t)
                })
                .collect();
            if judge(rows, &o)
                .iter()
                .any(|r| r.verdict != Verdict::NoChange && r.verdict != Verdict::Inconclusive)
            {
                alarms += 1;
            }
        }
    }
    // At most 1% of 120 tables in expectation; 5 is far above what chance gives.
    assert!(
        alarms <= 5,
        "{alarms} of {} tables raised a false alarm",
        2 * tables
    );
}

#[test]
fn the_gate_fails_on_a_regression_a_missing_cell_or_an_inconclusive_row_if_asked() {
    let o = Options::default();
    let row = |v: Verdict| {
        fixed_row(
            "c",
            Figure::Throughput.label(),
            "",
            (0.0, 1.0),
            (3, 3),
            v,
            None,
        )
    };
    assert!(Report::new(vec![row(Verdict::NoChange)], vec![], vec![], &o).passed);
    assert!(!Report::new(vec![row(Verdict::Regressed)], vec![], vec![], &o).passed);
    assert!(!Report::new(vec![], vec!["c".into()], vec![], &o).passed);
    let allow = Options {
        allow_missing: true,
        ..o
    };
    assert!(Report::new(vec![], vec!["c".into()], vec![], &allow).passed);
    let strict = Options {
        fail_on_inconclusive: true,
        ..o
    };
    assert!(Report::new(vec![row(Verdict::Inconclusive)], vec![], vec![], &o).passed);
    assert!(!Report::new(vec![row(Verdict::Inconclusive)], vec![], vec![], &strict).passed);
}

#[test]
fn error_rates_regress_when_they_rise_past_the_allowance() {
    let o = Options::default();
    let r = |b, n| error_rate_row("c", (b, n), (3, 3), &o).verdict;
    assert_eq!(r(0.0, 0.0), Verdict::NoChange);
    assert_eq!(r(0.0, 0.0005), Verdict::NoChange);
    assert_eq!(r(0.0, 0.01), Verdict::Regressed);
    assert_eq!(r(0.05, 0.0505), Verdict::NoChange);
    assert_eq!(r(0.05, 0.0), Verdict::Improved);
    assert_eq!(pooled_error_rate([(1.0, 99.0), (0.0, 100.0)]), Some(0.005));
    assert_eq!(pooled_error_rate([]), None);
}
