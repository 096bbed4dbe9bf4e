//! The memory guard: before a cell's trial starts, its peak memory is estimated, and a
//! cell whose estimate is past 80% of the memory available is skipped with both numbers
//! as its reason, so that a sweep to a million does not take the machine (or the
//! orchestrator) down with it.
//!
//! The estimate scales the largest smaller concurrency of the same model and workload
//! that ran ok in this run: idle + (peak − idle) per op in flight × the ops in flight
//! asked. With none, it assumes a conservative cost per op in flight of the model's kind.

use crate::measure::room::{Room, room};
use crate::plan::{ModelKind, RunCell};
use crate::record::{TrialRecord, TrialStatus};
use crate::units::HumanSize;

/// The share of the available memory a cell's estimate may take.
pub const SHARE: f64 = 0.8;

/// The ops `cell` has in flight at once (its threads, jobs, processes or tasks).
fn in_flight(cell: &RunCell) -> u64 {
    let c = cell.concurrency;
    u64::from(match cell.model {
        ModelKind::Sequential => 1,
        ModelKind::ThreadPool => c.min(cell.pool_size),
        ModelKind::Processes => c.min(cell.process_cap),
        _ => c,
    })
}

/// What one op in flight is assumed to cost where no smaller cell says, and the idle
/// footprint: more than any model measured here takes (threads about 10 KiB, processes
/// about 160 KiB, event-loop tasks under 1 KiB). A model a scenario defines is assumed to
/// cost four times the iobench model its `like` names (an interpreter's thread or task
/// is larger), or 1 MiB an op without one.
fn assumed(cell: &RunCell) -> (u64, u64) {
    let of = |m: ModelKind| match m {
        ModelKind::Processes | ModelKind::AsyncProcesses => 4 << 20,
        ModelKind::Sequential | ModelKind::Threads | ModelKind::ThreadPool => 64 << 10,
        _ => 4 << 10,
    };
    let per_op = match &cell.external {
        Some(e) => e.like.map_or(1 << 20, |m| 4 * of(m)),
        None => of(cell.model),
    };
    (per_op, 64 << 20)
}

/// A cell's peak memory, estimated, and from what.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub bytes: f64,
    pub from: String,
}

/// The estimate of `cell`'s peak from the trials `done` so far.
pub fn estimate(cell: &RunCell, done: &[TrialRecord]) -> Estimate {
    let n = in_flight(cell) as f64;
    let smaller = done
        .iter()
        .filter(|r| r.status == TrialStatus::Ok)
        .filter(|r| r.cell.model_name() == cell.model_name() && r.cell.workload == cell.workload)
        .filter(|r| r.cell.concurrency < cell.concurrency)
        .filter_map(|r| {
            let f = &r.figures;
            let (peak, idle, ops) = (f.peak_pss_bytes?, f.idle_pss_bytes?, f.workers?);
            (ops > 0).then(|| {
                let per_op = peak.saturating_sub(idle) as f64 / ops as f64;
                (r.cell.concurrency, per_op, idle as f64)
            })
        })
        // The largest smaller C; of its trials, the costliest.
        .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    match smaller {
        Some((c, per_op, idle)) => Estimate {
            bytes: idle + per_op * n,
            from: format!(
                "from C = {c} in this run: {} per op in flight and {} idle",
                HumanSize(per_op as u64),
                HumanSize(idle as u64)
            ),
        },
        None => {
            let (per_op, idle) = assumed(cell);
            Estimate {
                bytes: idle as f64 + per_op as f64 * n,
                from: format!(
                    "no smaller cell of this model ran ok: {} per op in flight and {} idle assumed",
                    HumanSize(per_op),
                    HumanSize(idle)
                ),
            }
        }
    }
}

/// Why `cell` must not start, given the trials `done` and the memory `room`, or `None`.
pub fn refuse(cell: &RunCell, done: &[TrialRecord], room: Option<&Room>) -> Option<String> {
    let room = room?;
    let e = estimate(cell, done);
    let allowed = room.bytes as f64 * SHARE;
    (e.bytes > allowed).then(|| {
        format!(
            "skipped by the memory guard: its peak is estimated at {} ({}), more than {:.0}% of the {} available ({})",
            gib(e.bytes),
            e.from,
            SHARE * 100.0,
            gib(room.bytes as f64),
            room.what
        )
    })
}

/// [`refuse`] against the memory available now.
pub fn refuse_now(cell: &RunCell, done: &[TrialRecord]) -> Option<String> {
    refuse(cell, done, room().as_ref())
}

fn gib(bytes: f64) -> String {
    format!("{:.2} GiB", bytes / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn cells() -> Vec<RunCell> {
        let toml = "name = \"g\"\n[run]\nmodels = [\"smol\"]\nconcurrency = [1000, 1000000000]\n[[workload]]\nkind = \"sleep\"\n";
        let s = crate::scenario::Scenario::parse(toml, Path::new("g.toml")).unwrap();
        s.cells().into_iter().map(RunCell::new).collect()
    }

    #[test]
    fn a_cell_is_estimated_from_a_smaller_one_of_its_model_or_assumed() {
        let cells = cells();
        let big = &cells[1];
        let room = Room {
            bytes: 16 << 30,
            what: "test".into(),
        };
        // Nothing ran: 4 KiB a task assumed, 4 TB in all.
        let e = estimate(big, &[]);
        assert!(e.from.starts_with("no smaller cell"), "{e:?}");
        assert!(refuse(big, &[], Some(&room)).is_some());
        // C = 1000 peaked at 20 MB with 18 MB idle: 2 KB a task, about 2 TB at 10^9.
        let mut r = TrialRecord::failed(&cells[0], 0, String::new(), String::new());
        r.status = TrialStatus::Ok;
        r.figures.peak_pss_bytes = Some(20_000_000);
        r.figures.idle_pss_bytes = Some(18_000_000);
        r.figures.workers = Some(1000);
        let e = estimate(big, std::slice::from_ref(&r));
        assert!((e.bytes - (18e6 + 2000.0 * 1e9)).abs() < 1.0, "{e:?}");
        assert!(e.from.starts_with("from C = 1000 in this run"), "{e:?}");
        let why = refuse(big, std::slice::from_ref(&r), Some(&room)).unwrap();
        assert!(
            why.contains("more than 80% of the 16.00 GiB available (test)"),
            "{why}"
        );
        // The small cell itself fits.
        assert_eq!(refuse(&cells[0], &[], Some(&room)), None);
    }
}
