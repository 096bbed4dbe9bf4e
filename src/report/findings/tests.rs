//! Verdicts on made-up summaries: each claim holds, fails, or is not measured.

use serde_json::{Value, json};

use super::Language::Rust;
use super::claims::*;
use super::evidence::*;
use super::*;
use crate::figure::Figure;

/// A figure whose trials were `v`.
fn fig(v: &[f64]) -> Value {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    json!({"median": s[s.len() / 2], "min": lo, "max": hi, "cv": 0.0, "n": v.len(), "values": v})
}

/// An ok cell of `workload` (its parameters) under `model` at `c`, with figures.
fn cell(workload: Value, model: &str, c: u32, figures: &[(Figure, &[f64])]) -> Value {
    let kind = workload["kind"].as_str().unwrap().to_string();
    let mut v = json!({
        "id": format!("{kind}{}/{model}/c{c}/closed", workload),
        "workload": kind, "params": workload, "model": model, "concurrency": c,
        "mode": "closed", "status": "ok",
        "trials": {"planned": 3, "ok": 3, "failed": 0}, "reasons": [], "errors": {},
    });
    for (f, values) in figures {
        match f.key().split_once('.') {
            Some((a, b)) => v[a][b] = fig(values),
            None => v[f.key()] = fig(values),
        }
    }
    v
}

fn summary(cells: Vec<Value>) -> Summary {
    serde_json::from_value(json!({
        "schema": 3, "scenario": "t",
        "machine": {"cpu_model": null, "cores": 2, "memory_bytes": null, "kernel": null,
            "os": "linux", "rustc": null, "iobench_version": "0", "git_commit": null,
            "limit_nofile": null, "limit_nproc": null},
        "cells": cells,
    }))
    .unwrap()
}

fn sleep() -> Value {
    json!({"kind": "sleep", "latency": "10ms"})
}

fn pss(model: &str, c: u32, v: &[f64]) -> Value {
    cell(sleep(), model, c, &[(Figure::PeakPss, v)])
}

#[test]
fn every_pair_counts_and_overlapping_trials_decide_nothing() {
    // At C = 10 the loop is clearly smaller; at C = 100 clearly larger (a broken loop):
    // the best cell alone would say "holds".
    let s = summary(vec![
        pss("tokio-current-thread", 10, &[1.0e6, 1.1e6, 1.2e6]),
        pss("processes", 10, &[5.0e6, 5.1e6, 5.2e6]),
        pss("tokio-current-thread", 100, &[9.0e6, 9.1e6, 9.2e6]),
        pss("processes", 100, &[6.0e6, 6.1e6, 6.2e6]),
    ]);
    let f = cheaper_than_processes(&s, &Rust);
    assert_eq!(f.verdict, Verdict::Mixed, "{}", f.evidence);
    assert!(
        f.evidence
            .starts_with("1 of 2 comparisons hold, 1 does not")
    );
    assert_eq!(f.cells.len(), 4, "{:?}", f.cells);
    // Ranges that overlap: a 10% smaller median decides nothing.
    let s = summary(vec![
        pss("smol", 10, &[0.9e6, 1.0e6, 1.3e6]),
        pss("processes", 10, &[1.0e6, 1.1e6, 1.2e6]),
    ]);
    let f = cheaper_than_processes(&s, &Rust);
    assert_eq!(f.verdict, Verdict::Undecided, "{}", f.evidence);
    // One trial has no spread to judge by.
    let s = summary(vec![
        pss("smol", 10, &[1.0e6]),
        pss("processes", 10, &[5.0e6]),
    ]);
    assert_eq!(
        cheaper_than_processes(&s, &Rust).verdict,
        Verdict::Undecided
    );
}

#[test]
fn a_loop_whose_threads_grow_with_concurrency_is_not_one_thread() {
    let cells = |threads_at_100: f64| {
        summary(
            [(1, 2.0, 1.0), (100, threads_at_100, 99.0)]
                .into_iter()
                .map(|(c, t, a)| {
                    cell(
                        sleep(),
                        "smol",
                        c,
                        &[
                            (Figure::PeakThreads, &[t, t, t]),
                            (Figure::HarnessThreads, &[1.0, 1.0, 1.0]),
                            (Figure::AchievedConcurrency, &[a * 0.98, a, a * 1.01]),
                        ],
                    )
                })
                .collect(),
        )
    };
    assert_eq!(one_thread(&cells(2.0), &Rust).verdict, Verdict::Holds);
    let f = one_thread(&cells(60.0), &Rust);
    assert_eq!(f.verdict, Verdict::DoesNotHold, "{}", f.evidence);
}

fn mix(compute: &str, block_every: u32, model: &str, tput: &[f64]) -> Value {
    let mut w = json!({"kind": "cpu-mix", "wait": "10ms", "via": "sleep", "compute": compute,
        "timeout": "10s"});
    if block_every > 0 {
        w["block_every"] = json!(block_every);
    }
    cell(
        w,
        model,
        64,
        &[
            (Figure::Throughput, tput),
            (Figure::P99, &[20e3, 21e3, 22e3]),
        ],
    )
}

#[test]
fn the_stall_is_the_loop_losing_more_than_the_threads_beyond_the_spread() {
    let run = |loop_after: &[f64]| {
        cpu_heavy_stalls(
            &summary(vec![
                mix("0s", 0, "tokio-current-thread", &[6000.0, 6100.0, 6200.0]),
                mix("0s", 0, "threads", &[6000.0, 6100.0, 6200.0]),
                mix("10ms", 20, "tokio-current-thread", loop_after),
                mix("10ms", 20, "threads", &[5900.0, 6000.0, 6100.0]),
            ]),
            &Rust,
        )
    };
    let f = run(&[1900.0, 2000.0, 2100.0]);
    assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
    assert!(
        f.evidence.contains("one op in 20 computing 10ms"),
        "{}",
        f.evidence
    );
    assert_eq!(f.cells.len(), 4);
    // Kept as much as the threads: within the spread, not a stall.
    let f = run(&[5800.0, 6000.0, 6150.0]);
    assert_eq!(f.verdict, Verdict::Undecided, "{}", f.evidence);
    // Without a cpu-mix baseline (no op computing), not measured.
    let f = cpu_heavy_stalls(
        &summary(vec![
            mix("10ms", 20, "tokio-current-thread", &[1.0, 2.0, 3.0]),
            mix("10ms", 20, "threads", &[1.0, 2.0, 3.0]),
        ]),
        &Rust,
    );
    assert_eq!(f.verdict, Verdict::NotMeasured);
}

#[test]
fn the_crossover_holds_only_where_the_loop_first_keeps_up_then_falls_behind() {
    let at = |compute: &str, l: f64, p: f64| {
        vec![
            mix(compute, 0, "tokio-current-thread", &[l * 0.98, l, l * 1.02]),
            mix(compute, 0, "thread-pool", &[p * 0.98, p, p * 1.02]),
        ]
    };
    let s = summary([at("0s", 6000.0, 6100.0), at("5ms", 1500.0, 4000.0)].concat());
    let f = waiting_outweighs_computing(&s, &Rust);
    assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
    let s = summary([at("0s", 3000.0, 6100.0), at("5ms", 1500.0, 4000.0)].concat());
    assert_eq!(
        waiting_outweighs_computing(&s, &Rust).verdict,
        Verdict::DoesNotHold
    );
}

/// `v` as a cell of an external model in `language`, standing for `like`.
fn external(mut v: Value, language: Option<&str>, like: Option<&str>) -> Value {
    v["language"] = json!(language);
    v["like"] = json!(like);
    v
}

/// A sleep cell at C = 1000 with its throughput and memory per op.
fn busy(model: &str, tput: &[f64], mem: &[f64]) -> Value {
    cell(
        sleep(),
        model,
        1000,
        &[(Figure::Throughput, tput), (Figure::MemPerOp, mem)],
    )
}

/// iobench's own cells at C = 1000: the loop holds against the threads.
fn rust_cells() -> Vec<Value> {
    vec![
        busy(
            "tokio-current-thread",
            &[89000.0, 90000.0, 91000.0],
            &[1400.0, 1450.0, 1500.0],
        ),
        busy(
            "threads",
            &[95000.0, 96000.0, 97000.0],
            &[10000.0, 10100.0, 10200.0],
        ),
    ]
}

/// Python's asyncio and threading at C = 1000, standing for the loop and the threads.
fn python_cells() -> Vec<Value> {
    vec![
        external(
            busy(
                "py-asyncio",
                &[9700.0, 9800.0, 9900.0],
                &[2048.0, 2150.0, 2252.0],
            ),
            Some("python"),
            Some("tokio-current-thread"),
        ),
        external(
            busy(
                "py-threading",
                &[9600.0, 9700.0, 9800.0],
                &[30720.0, 31744.0, 32768.0],
            ),
            Some("python"),
            Some("threads"),
        ),
    ]
}

fn python() -> Language {
    Language::External(Some("python".into()))
}

#[test]
fn python_cells_get_a_verdict_of_their_own_and_rusts_is_unchanged() {
    let rust_only = summary(rust_cells());
    let both = summary([rust_cells(), python_cells()].concat());
    assert_eq!(Language::present(&both), vec![Rust, python()]);
    assert_eq!(Language::present(&rust_only), vec![Rust]);

    let f = hundreds_in_one_program(&both, &python());
    assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
    assert_eq!(f.language, python());
    assert_eq!(
        f.evidence,
        "In Python, 1 of 1 comparison hold, 0 do not, 0 within the trials' range: \
         sleep[kind=sleep,latency=10ms] C = 1000: py-asyncio did 9800 (9700–9900) ops/s with \
         2.1 KiB (2.0 KiB–2.2 KiB) per op, py-threading 9700 (9600–9800) ops/s with \
         31.0 KiB (30.0 KiB–32.0 KiB) per op (holds)"
    );
    let ids = |f: &Finding| {
        f.cells
            .iter()
            .map(|c| c.split('/').nth(1).unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&f), ["py-asyncio", "py-threading"]);

    // Rust's verdict reads iobench's own cells as it did before there were Python ones.
    let before = hundreds_in_one_program(&rust_only, &Rust);
    let after = hundreds_in_one_program(&both, &Rust);
    assert_eq!(after.verdict, Verdict::Holds);
    assert_eq!(after.evidence, before.evidence);
    assert_eq!(after.cells, before.cells);
    assert_eq!(ids(&after), ["tokio-current-thread", "threads"]);
    assert!(
        after.evidence.starts_with("1 of 1 comparison hold"),
        "{}",
        after.evidence
    );
    assert!(!after.evidence.contains("py-"), "{}", after.evidence);

    // Every claim, Rust's finding and then Python's; Rust's as without the Python cells.
    let all = findings(&both);
    let langs: Vec<Language> = all.iter().map(|f| f.language.clone()).collect();
    assert_eq!(
        langs,
        (0..5).flat_map(|_| [Rust, python()]).collect::<Vec<_>>()
    );
    let rust: Vec<String> = all
        .iter()
        .filter(|f| f.language == Rust)
        .map(|f| format!("{:?} {}", f.verdict, f.evidence))
        .collect();
    let alone: Vec<String> = findings(&rust_only)
        .iter()
        .map(|f| format!("{:?} {}", f.verdict, f.evidence))
        .collect();
    assert_eq!(rust, alone);
    // Python has no processes model: not measured, saying how it would be.
    assert_eq!(all[3].verdict, Verdict::NotMeasured);
    assert!(
        all[3]
            .evidence
            .starts_with("In Python, needs a single-thread event loop and the processes model")
            && all[3]
                .evidence
                .ends_with(", each external model counted as the iobench model its `like` names"),
        "{}",
        all[3].evidence
    );
}

#[test]
fn a_python_cell_without_like_is_in_no_claim() {
    // Far better than either, were it counted.
    let gevent = external(
        busy(
            "py-gevent",
            &[50000.0, 50001.0, 50002.0],
            &[10.0, 11.0, 12.0],
        ),
        Some("python"),
        None,
    );
    let with = summary([python_cells(), vec![gevent.clone()]].concat());
    let f = hundreds_in_one_program(&with, &python());
    assert_eq!(
        f.evidence,
        hundreds_in_one_program(&summary(python_cells()), &python()).evidence
    );
    assert!(!f.evidence.contains("py-gevent"), "{}", f.evidence);
    assert!(
        findings(&with)
            .iter()
            .all(|f| !f.evidence.contains("py-gevent")
                && !f.cells.iter().any(|c| c.contains("py-gevent")))
    );
    // Alone, it makes Python a language of the run whose claims are not measured.
    let alone = summary(vec![gevent]);
    assert_eq!(Language::present(&alone), vec![Rust, python()]);
    let fs = findings(&alone);
    assert!(
        fs.iter()
            .all(|f| f.verdict == Verdict::NotMeasured && f.cells.is_empty())
    );
    // ...nor is it Rust's, though it names no like.
    assert!(
        fs.iter()
            .filter(|f| f.language == Rust)
            .all(|f| !f.evidence.starts_with("In "))
    );
}

#[test]
fn languages_are_never_compared_with_each_other() {
    // A loop in Rust and threads in Python; threads in JavaScript and a loop in Python;
    // processes in Rust against a loop in Python: no language has both of a pair.
    let js = Language::External(Some("javascript".into()));
    let s = summary(vec![
        rust_cells().remove(0),
        python_cells().remove(1),
        external(
            busy(
                "node-workers",
                &[9000.0, 9100.0, 9200.0],
                &[90000.0, 91000.0, 92000.0],
            ),
            Some("JavaScript"),
            Some("threads"),
        ),
        pss("processes", 1000, &[5.0e7, 5.1e7, 5.2e7]),
        external(
            pss("py-asyncio", 1000, &[1.0e6, 1.1e6, 1.2e6]),
            Some("python"),
            Some("tokio-current-thread"),
        ),
    ]);
    assert_eq!(Language::present(&s), vec![Rust, js.clone(), python()]);
    for lang in [Rust, js.clone(), python()] {
        let f = hundreds_in_one_program(&s, &lang);
        assert_eq!(
            f.verdict,
            Verdict::NotMeasured,
            "{}: {}",
            lang.name(),
            f.evidence
        );
        let f = cheaper_than_processes(&s, &lang);
        assert_eq!(
            f.verdict,
            Verdict::NotMeasured,
            "{}: {}",
            lang.name(),
            f.evidence
        );
    }
    assert_eq!(js.name(), "Javascript");
    // Two Python loops against one Python threads model: a comparison each, named.
    let uvloop = external(
        busy(
            "py-uvloop",
            &[9750.0, 9850.0, 9950.0],
            &[1024.0, 1100.0, 1200.0],
        ),
        Some("python"),
        Some("tokio-current-thread"),
    );
    let f = hundreds_in_one_program(&summary([python_cells(), vec![uvloop]].concat()), &python());
    assert!(
        f.evidence.starts_with("In Python, 2 of 2 comparisons hold"),
        "{}",
        f.evidence
    );
    assert!(
        f.evidence.contains("py-asyncio did 9800") && f.evidence.contains("py-uvloop did 9850"),
        "{}",
        f.evidence
    );
}

#[test]
fn python_sweeps_and_loops_name_their_own_models() {
    let py = |v: Value, like: &str| external(v, Some("python"), Some(like));
    // The stall: py-asyncio kept a third, py-threading nearly all.
    let s = summary(vec![
        py(
            mix("0s", 0, "py-asyncio", &[600.0, 610.0, 620.0]),
            "tokio-current-thread",
        ),
        py(
            mix("0s", 0, "py-threading", &[600.0, 610.0, 620.0]),
            "threads",
        ),
        py(
            mix("10ms", 20, "py-asyncio", &[190.0, 200.0, 210.0]),
            "tokio-current-thread",
        ),
        py(
            mix("10ms", 20, "py-threading", &[590.0, 600.0, 610.0]),
            "threads",
        ),
    ]);
    let f = cpu_heavy_stalls(&s, &python());
    assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
    assert!(
        f.evidence.contains(": py-asyncio kept 33% (31%–35%) of its throughput (p99 21.0 ms to 21.0 ms), py-threading kept 98% (95%–102%)"),
        "{}",
        f.evidence
    );
    assert_eq!(cpu_heavy_stalls(&s, &Rust).verdict, Verdict::NotMeasured);
    // The crossover against a Python thread pool.
    let at = |compute: &str, l: f64, p: f64| {
        vec![
            py(
                mix(compute, 0, "py-asyncio", &[l * 0.98, l, l * 1.02]),
                "tokio-current-thread",
            ),
            py(
                mix(compute, 0, "py-pool", &[p * 0.98, p, p * 1.02]),
                "thread-pool",
            ),
        ]
    };
    let s = summary([at("0s", 600.0, 610.0), at("5ms", 150.0, 400.0)].concat());
    let f = waiting_outweighs_computing(&s, &python());
    assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
    assert!(
        f.evidence.contains(
            ", py-asyncio: keeps up with the thread pool (py-pool) to compute / wait 0.00"
        ),
        "{}",
        f.evidence
    );
    // One thread: the loop's own threads stay one while its ops grow.
    let s = summary(
        [(1, 1.0), (100, 99.0)]
            .into_iter()
            .map(|(c, a)| {
                py(
                    cell(
                        sleep(),
                        "py-asyncio",
                        c,
                        &[
                            (Figure::PeakThreads, &[2.0, 2.0, 2.0]),
                            (Figure::HarnessThreads, &[1.0, 1.0, 1.0]),
                            (Figure::AchievedConcurrency, &[a * 0.98, a, a * 1.01]),
                        ],
                    ),
                    "tokio-current-thread",
                )
            })
            .collect(),
    );
    let f = one_thread(&s, &python());
    assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
    assert!(f.evidence.starts_with("In Python, 1 of 1 comparison hold, 0 do not, 0 within the trials' range: py-asyncio sleep[kind=sleep,latency=10ms] from C = 1 to 100"), "{}", f.evidence);
}
