//! Verdicts on made-up summaries: each claim holds, fails, or is not measured.

use serde_json::{Value, json};

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
    let f = cheaper_than_processes(&s);
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
    let f = cheaper_than_processes(&s);
    assert_eq!(f.verdict, Verdict::Undecided, "{}", f.evidence);
    // One trial has no spread to judge by.
    let s = summary(vec![
        pss("smol", 10, &[1.0e6]),
        pss("processes", 10, &[5.0e6]),
    ]);
    assert_eq!(cheaper_than_processes(&s).verdict, Verdict::Undecided);
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
    assert_eq!(one_thread(&cells(2.0)).verdict, Verdict::Holds);
    let f = one_thread(&cells(60.0));
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
        cpu_heavy_stalls(&summary(vec![
            mix("0s", 0, "tokio-current-thread", &[6000.0, 6100.0, 6200.0]),
            mix("0s", 0, "threads", &[6000.0, 6100.0, 6200.0]),
            mix("10ms", 20, "tokio-current-thread", loop_after),
            mix("10ms", 20, "threads", &[5900.0, 6000.0, 6100.0]),
        ]))
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
    let f = cpu_heavy_stalls(&summary(vec![
        mix("10ms", 20, "tokio-current-thread", &[1.0, 2.0, 3.0]),
        mix("10ms", 20, "threads", &[1.0, 2.0, 3.0]),
    ]));
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
    let f = waiting_outweighs_computing(&s);
    assert_eq!(f.verdict, Verdict::Holds, "{}", f.evidence);
    let s = summary([at("0s", 3000.0, 6100.0), at("5ms", 1500.0, 4000.0)].concat());
    assert_eq!(
        waiting_outweighs_computing(&s).verdict,
        Verdict::DoesNotHold
    );
}
