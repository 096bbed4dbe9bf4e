//! The orchestrator: runs every trial of a scenario in a fresh child process, with a hard
//! timeout, and appends each record to `results.jsonl` the moment the trial ends.
//!
//! # How it works
//! 1. Trials are ordered in rounds (trial 0 of every cell, then trial 1, ...), so slow
//!    drift of the machine spreads over all cells instead of biasing one, and the cells of
//!    each round are shuffled from the run's seed (drawn per run, printed, recorded in
//!    run.json, repeated with `--seed`), so that no model always follows the same
//!    neighbour and inherits its TIME_WAIT sockets, dirty pages or the target's state.
//! 2. Each trial is `iobench trial --cell JSON --trial N`, in a process group of its own:
//!    killing the group also ends the `processes` model's workers.
//! 3. The child prints one JSON record. A child that crashes, exits non-zero, prints no
//!    record or outlives its timeout is recorded as failed with the reason, and the run
//!    goes on.
//! 4. Trials run from a private copy of the binary ([`PrivateBinary`]), not the file the
//!    orchestrator and the embedded targets run: processes that map the same file share
//!    its text pages, and PSS would charge the trial only a part of them, a part that
//!    changes as other processes start and stop.
//! 5. Ctrl-C (SIGINT) or SIGTERM kills the running trial's group and stops the run; the
//!    finished trials are already on disk, and the summary is written from them.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::plan::{Cell, RunCell};
use crate::record::TrialRecord;
use crate::record::utc_now_rfc3339;
use crate::report::console::Progress;
use crate::stats::Rng;

/// A copy of an iobench binary that only the trials (and their worker processes) run.
/// A file that other processes also run (the orchestrator, the embedded targets) shares
/// its text pages with them, and PSS would charge a trial only a part of them: a memory
/// "improvement" from nothing, or a figure that moves as workers start.
pub struct PrivateBinary {
    path: PathBuf,
    /// Removed on drop (a run's copy); `ab` keeps its copies beside its results.
    remove: bool,
}

impl PrivateBinary {
    /// Copies `from` to `to`. Call it before any other thread or child exists (before the
    /// targets start): a child forked while the copy's file is open for writing would keep
    /// it open, and exec'ing it would fail with ETXTBSY.
    pub fn copy(from: &Path, to: &Path, remove: bool) -> anyhow::Result<PrivateBinary> {
        if let Err(e) = std::fs::copy(from, to) {
            // A copy cut short (a full disk) is no binary to leave behind.
            let _ = std::fs::remove_file(to);
            return Err(e)
                .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()));
        }
        Ok(PrivateBinary {
            path: to.to_path_buf(),
            remove,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateBinary {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Routes SIGINT, SIGTERM and SIGHUP (a closed terminal) to a flag the orchestrator polls.
pub fn install_interrupt_handler() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        libc::signal(libc::SIGHUP, handler as libc::sighandler_t);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// `results.jsonl`, appended to and flushed to disk one record at a time.
pub struct ResultsFile {
    path: PathBuf,
    file: File,
}

impl ResultsFile {
    pub fn create(path: &Path) -> anyhow::Result<ResultsFile> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(ResultsFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one record as one line, synced; a failed append leaves no partial line.
    pub fn append(&mut self, record: &TrialRecord) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        crate::files::append_line(&mut self.file, &self.path, &line)
    }
}

/// The order trials run in: (cell index, trial index), in rounds (trial t of every cell
/// before trial t + 1 of any), the cells of each round in an order shuffled from `seed`.
pub fn schedule<C: AsRef<Cell>>(cells: &[C], seed: u64) -> Vec<(usize, u32)> {
    let mut rng = Rng::seeded(seed);
    let trials = |i: usize| cells[i].as_ref().trials;
    let most = (0..cells.len()).map(trials).max().unwrap_or(0);
    let mut order = Vec::new();
    for t in 0..most {
        let mut round: Vec<(usize, u32)> = (0..cells.len())
            .filter(|&i| t < trials(i))
            .map(|i| (i, t))
            .collect();
        // Fisher–Yates.
        for i in (1..round.len()).rev() {
            round.swap(i, rng.below(i as u64 + 1) as usize);
        }
        order.extend(round);
    }
    order
}

/// A seed for the order when none is given: the clock's nanoseconds.
pub fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// The trials of `cells` in the order `seed` gives them, less those `done` (cell id, trial)
/// holds: what a run, or a resumed one, has left to run.
pub fn remaining(cells: &[RunCell], seed: u64, done: &HashSet<(String, u32)>) -> Vec<(usize, u32)> {
    schedule(cells, seed)
        .into_iter()
        .filter(|&(ci, t)| !done.contains(&(cells[ci].id.clone(), t)))
        .collect()
}

/// Runs the trials `order` gives ([`remaining`]), each unless the memory guard refuses it
/// (from `earlier` records and those of this call); returns the records in the order they
/// finished and whether the run was interrupted.
pub fn run_all(
    exe: &Path,
    cells: &[RunCell],
    order: Vec<(usize, u32)>,
    earlier: &[TrialRecord],
    results: &mut ResultsFile,
    progress: &Progress,
) -> anyhow::Result<(Vec<TrialRecord>, bool)> {
    let mut records = Vec::new();
    let mut seen: Vec<TrialRecord> = earlier.to_vec();
    for (n, (ci, t)) in order.into_iter().enumerate() {
        if interrupted() {
            return Ok((records, true));
        }
        let cell = &cells[ci];
        progress.started(cell, t);
        let skip = cell
            .skip
            .clone()
            .or_else(|| crate::guard::refuse_now(cell, &seen));
        let record = match (crate::model::past_os_limit(cell), skip) {
            // A cell the OS refuses fails, as its trial would, without starting one.
            (Some(why), _) => TrialRecord::failed(cell, t, utc_now_rfc3339(), why),
            (None, Some(why)) => {
                let mut r = TrialRecord::failed(cell, t, utc_now_rfc3339(), why);
                r.status = crate::record::TrialStatus::Skipped;
                r
            }
            (None, None) => run_one(exe, cell, t)?,
        };
        if interrupted() && record.status != crate::record::TrialStatus::Ok {
            // Cut short by Ctrl-C: not a result.
            return Ok((records, true));
        }
        results.append(&record)?;
        progress.finished(n + 1, &record);
        seen.push(record.clone());
        records.push(record);
    }
    Ok((records, false))
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGINT => "SIGINT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        _ => return format!("signal {sig}"),
    };
    format!("signal {sig} ({name})")
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("killed by {}", signal_name(sig)),
        _ => status.to_string(),
    }
}

/// The last `max` bytes of `text`, on a char boundary, trimmed.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].trim()
}

/// What a trial's stderr says about its end: a panic's message, or the last lines.
fn explain(stderr: &str) -> &str {
    match stderr.find("panicked at") {
        Some(at) => {
            let rest = &stderr[at..];
            let end = ["stack backtrace:", "note: run with"]
                .iter()
                .filter_map(|m| rest.find(m))
                .min()
                .unwrap_or(rest.len());
            tail(&rest[..end], 1500)
        }
        None => tail(stderr, 1500),
    }
}

fn kill_group(pgid: u32) {
    // SAFETY: kill with a negative pid signals the process group we created.
    unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
}

/// Runs one trial in a child process and returns its record, failed or not.
pub fn run_one(exe: &Path, cell: &RunCell, trial: u32) -> anyhow::Result<TrialRecord> {
    let started_at = utc_now_rfc3339();
    let oom_before = crate::measure::room::oom_kills();
    let cell_json = serde_json::to_string(cell)?;
    let spawned = Command::new(exe)
        .args(["trial", "--trial", &trial.to_string(), "--cell", &cell_json])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let why = format!("could not start the trial process: {e}");
            return Ok(TrialRecord::failed(cell, trial, started_at, why));
        }
    };
    let pgid = child.id();
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + cell.trial_timeout.0;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
        }
        if timed_out || interrupted() {
            kill_group(pgid);
            break child.wait()?;
        }
        thread::sleep(Duration::from_millis(10));
    };
    // Whatever the outcome, leave no worker behind.
    kill_group(pgid);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let fail = |why: String| {
        let detail = explain(&stderr);
        let reason = if detail.is_empty() {
            why
        } else {
            format!("{why}; stderr: {detail}")
        };
        Ok(TrialRecord::failed(cell, trial, started_at.clone(), reason))
    };
    if timed_out {
        return fail(format!(
            "timed out after {} (trial_timeout) and was killed",
            cell.trial_timeout
        ));
    }
    if interrupted() {
        return fail("interrupted".into());
    }
    if !status.success() {
        let oom_after = crate::measure::room::oom_kills();
        if let (Some(libc::SIGKILL), Some(a), Some(b)) = (status.signal(), oom_before, oom_after) {
            if b > a {
                return fail(format!(
                    "killed by the kernel: out of memory (its memory cgroup's oom_kill count rose from {a} to {b} while it ran)"
                ));
            }
        }
        return fail(format!("trial process {}", describe(status)));
    }
    let Some(line) = stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        return fail("trial process printed no record".into());
    };
    match serde_json::from_str::<TrialRecord>(line) {
        Ok(r) => Ok(r),
        Err(e) => fail(format!("trial process printed an unreadable record: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_are_shuffled_from_the_seed() {
        let toml = "name = \"s\"\n[run]\ntrials = 3\nconcurrency = [1, 2, 3, 4]\n\
                    models = [\"threads\", \"smol\"]\n[[workload]]\nkind = \"sleep\"\n";
        let scenario = crate::scenario::Scenario::parse(toml, Path::new("s.toml")).unwrap();
        let mut cells = scenario.cells();
        assert_eq!(cells.len(), 8);
        cells[3].trials = 2;
        let s = schedule(&cells, 7);
        assert_eq!(s.len(), 3 * 7 + 2);
        // Every trial of round t runs before any of round t + 1, each once.
        assert!(s.windows(2).all(|w| w[0].1 <= w[1].1), "{s:?}");
        let mut sorted = s.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), s.len());
        // The same seed repeats the order; another seed shuffles it otherwise.
        assert_eq!(s, schedule(&cells, 7));
        assert_ne!(s, schedule(&cells, 8));
        let round0: Vec<usize> = s.iter().filter(|x| x.1 == 0).map(|x| x.0).collect();
        assert_ne!(
            round0,
            (0..8).collect::<Vec<_>>(),
            "shuffled within the round"
        );
    }

    #[test]
    fn the_executable_is_mapped_whole() {
        if !crate::measure::memory::map_own_executable() {
            return; // a kernel before 5.14: nothing to check
        }
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let (mut size, mut rss, mut ours) = (0u64, 0u64, false);
        for line in smaps.lines() {
            let mut f = line.split_whitespace();
            match f.next() {
                Some("Size:") => {
                    size += if ours {
                        f.next().unwrap().parse().unwrap()
                    } else {
                        0
                    }
                }
                Some("Rss:") => {
                    rss += if ours {
                        f.next().unwrap().parse().unwrap()
                    } else {
                        0
                    }
                }
                Some(first) if first.contains('-') => {
                    ours = line.split_whitespace().nth(5) == exe.to_str();
                }
                _ => {}
            }
        }
        assert!(size > 0);
        assert!(
            rss * 10 >= size * 9,
            "{rss} of {size} KiB of the executable resident"
        );
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abc\n", 10), "abc");
        assert_eq!(tail("héllo", 4), "llo");
    }

    #[test]
    fn explains_panics() {
        let e = "thread 'main' panicked at src/x.rs:1:2:\nboom\nstack backtrace:\n  0: f\n";
        assert_eq!(explain(e), "panicked at src/x.rs:1:2:\nboom");
        assert_eq!(explain("a\nerror: b\n"), "a\nerror: b");
    }

    #[test]
    fn describes_signals() {
        assert_eq!(
            describe(ExitStatus::from_raw(9)),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(describe(ExitStatus::from_raw(2 << 8)), "exited with code 2");
    }
}
