//! Memory, threads and processes of a process tree, read from /proc, and the sampler
//! thread that watches them (and CPU) during a trial's measured window.
//!
//! # How it works
//! 1. A [`Sampler`] thread is started before the trial builds anything; it waits.
//! 2. When the trial opens its window it hands the [`Window`] over. The sampler sleeps to
//!    the window's start, reads `getrusage` of the trial process, then samples the tree
//!    (the trial process and every descendant, found through /proc) every `interval`,
//!    keeping the peaks, and reads `getrusage` again at the window's end.
//! 3. RSS comes from `/proc/PID/statm`; PSS, which splits shared pages between the
//!    processes that map them, from `/proc/PID/smaps_rollup`; threads from `/proc/PID/stat`.
//!
//! The sampler's own CPU time is measured and reported, so its cost is visible.

use std::collections::HashMap;
use std::fs;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::clock::{Mono, Window};
use super::counters::Counts;
use super::rusage::Rusage;

/// One reading of a process tree.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TreeSample {
    pub rss_bytes: u64,
    /// `None` when smaps_rollup could not be read for some process of the tree.
    pub pss_bytes: Option<u64>,
    pub threads: u64,
    pub processes: u64,
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as u64 }
}

/// (ppid, num_threads) of a process, from /proc/PID/stat.
fn stat_fields(pid: u32) -> Option<(u32, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; fields resume after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... num_threads(17).
    Some((f.get(1)?.parse().ok()?, f.get(17)?.parse().ok()?))
}

/// `root` and all its descendants.
pub fn tree_pids(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((ppid, _)) = stat_fields(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend(c);
        }
        i += 1;
    }
    out
}

/// A process's CPU time at one moment, read two ways.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuReading {
    /// Its live threads' time, to the nanosecond (each /proc/PID/task/TID/schedstat; the
    /// process's own schedstat is the main thread's alone). Threads that have exited are
    /// not in it.
    live_ns: u64,
    /// Every thread's time, the exited ones' included (/proc/PID/stat utime + stime: the
    /// same total, in clock ticks of 10 ms).
    all_ticks: u64,
}

impl CpuReading {
    /// CPU seconds used between `earlier` and this reading: the threads' nanoseconds,
    /// unless threads that exited between the two took more than two ticks with them
    /// (the tick total grew by more than the live threads' time can explain); then the
    /// tick total, to 10 ms.
    pub fn secs_since(&self, earlier: Option<&CpuReading>) -> f64 {
        let (live0, ticks0) = earlier.map_or((0, 0), |e| (e.live_ns, e.all_ticks));
        let live = self.live_ns.saturating_sub(live0) as f64 / 1e9;
        let ticks = self.all_ticks.saturating_sub(ticks0) as f64 / clock_ticks_per_sec();
        if ticks > live + 2.0 / clock_ticks_per_sec() {
            ticks
        } else {
            live
        }
    }
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
fn process_ticks(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) … utime(11) stime(12).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The CPU a process has used so far; `None` when it cannot be read (it has exited, or a
/// live thread's schedstat is unreadable: a figure we cannot measure is null, not 0).
pub fn cpu_reading(pid: u32) -> Option<CpuReading> {
    let mut live_ns = 0u64;
    for t in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        match fs::read_to_string(t.path().join("schedstat")) {
            Ok(s) => live_ns += s.split_whitespace().next()?.parse::<u64>().ok()?,
            // A thread that exited while being read: its time is in the tick total.
            Err(_) if !t.path().exists() => {}
            Err(_) => return None,
        }
    }
    Some(CpuReading {
        live_ns,
        all_ticks: process_ticks(pid)?,
    })
}

/// CPU readings of every process of `pids`, by pid; `None` when one of them that is still
/// alive cannot be read.
fn tree_cpu(pids: &[u32]) -> Option<HashMap<u32, CpuReading>> {
    let mut out = HashMap::new();
    for &p in pids {
        match cpu_reading(p) {
            Some(c) => {
                out.insert(p, c);
            }
            None if !std::path::Path::new(&format!("/proc/{p}")).exists() => {}
            None => return None,
        }
    }
    Some(out)
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn pss_bytes(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = s.lines().find(|l| l.starts_with("Pss:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Reads the tree rooted at `root` once. Processes that exit while being read are skipped.
pub fn sample_tree(root: u32) -> TreeSample {
    sample_pids(&tree_pids(root))
}

/// Reads the given processes once; those that have exited are skipped.
pub fn sample_pids(pids: &[u32]) -> TreeSample {
    static PSS_READABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let pss_readable = *PSS_READABLE.get_or_init(|| pss_bytes(std::process::id()).is_some());
    let mut t = TreeSample {
        pss_bytes: pss_readable.then_some(0),
        ..TreeSample::default()
    };
    for &pid in pids {
        let pss = if pss_readable {
            pss_bytes(pid)
        } else {
            Some(0)
        };
        // A process that cannot be read whole is exiting: it is left out of this sample.
        let (Some((_, threads)), Some(rss), Some(pss)) = (stat_fields(pid), rss_bytes(pid), pss)
        else {
            continue;
        };
        t.processes += 1;
        t.threads += threads;
        t.rss_bytes += rss;
        t.pss_bytes = t.pss_bytes.map(|a| a + pss);
    }
    t
}

/// What the sampler saw during the window.
#[derive(Clone, Copy, Debug, Default)]
pub struct SamplerReport {
    pub peak: TreeSample,
    /// Peak PSS, `None` if any sample lacked it.
    pub peak_pss_bytes: Option<u64>,
    pub samples: u64,
    /// CPU of the trial process during the window, the sampler's own excluded (worker
    /// processes report theirs).
    pub rusage: Rusage,
    /// CPU time the sampler thread itself used, in seconds.
    pub sampler_cpu_secs: f64,
    /// CPU time the embedded target used during the window, in seconds.
    pub target_cpu_secs: Option<f64>,
    /// When the watched tree is not the trial's own (a server under test): its CPU seconds
    /// during the window, from /proc ([`CpuReading::secs_since`]: threads that exit during
    /// the window are counted; processes that exit are not).
    pub tree_cpu_secs: Option<f64>,
    /// Retries and connects of the trial process during the window.
    pub counts: Counts,
}

/// The sampler thread of one trial.
pub struct Sampler {
    start: mpsc::Sender<Window>,
    handle: JoinHandle<SamplerReport>,
}

impl Sampler {
    /// Watches the tree rooted at `root` (the trial process, or a server under test).
    /// `target` is the pid of an embedded target whose CPU is read at the window's edges.
    pub fn spawn(interval: Duration, root: u32, target: Option<u32>) -> std::io::Result<Sampler> {
        let (start, rx) = mpsc::channel::<Window>();
        let handle = std::thread::Builder::new()
            .name("iobench-sampler".into())
            .spawn(move || match rx.recv() {
                Ok(window) => watch(window, &rx, interval, root, target),
                Err(_) => SamplerReport::default(),
            })?;
        Ok(Sampler { start, handle })
    }

    /// Starts watching `window`.
    pub fn begin(&self, window: Window) {
        let _ = self.start.send(window);
    }

    /// Waits for the window to end and returns what was seen. A window that ends early
    /// (a counted window, or a model that failed) ends its readings here and now.
    pub fn finish(self) -> SamplerReport {
        drop(self.start);
        self.handle.join().unwrap_or_default()
    }
}

/// Samples the sampler takes in a window at the least (the last one at its end): a window
/// of 400 ms is sampled every 20 ms.
pub const MIN_SAMPLES: u32 = 20;
/// The sampler waits this many times as long as its last sample took, when that still
/// leaves [`MIN_SAMPLES`], so that a large tree costs about 2% of a core; its CPU is
/// reported (`sampler_cpu_secs`) and left out of the model's.
const COST_FACTOR: u32 = 50;

/// Sleeps until `t`, or less if the trial says the window is over (`finish`); returns
/// `false` then.
fn pause_until(t: Mono, stop: &mpsc::Receiver<Window>) -> bool {
    let now = Mono::now();
    match stop.recv_timeout(t.since(now)) {
        Err(mpsc::RecvTimeoutError::Timeout) => true,
        Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => t <= Mono::now(),
    }
}

fn watch(
    window: Window,
    stop: &mpsc::Receiver<Window>,
    interval: Duration,
    root: u32,
    target: Option<u32>,
) -> SamplerReport {
    let me = root;
    let foreign = root != std::process::id();
    window.measure_from.sleep_until();
    let target0 = target.and_then(cpu_reading);
    let process0 = Rusage::this_process();
    let counts0 = Counts::now();
    let own0 = Rusage::this_thread();
    let mut r = SamplerReport {
        peak_pss_bytes: Some(0),
        ..SamplerReport::default()
    };
    let tree0 = foreign.then(|| tree_cpu(&tree_pids(me)));
    // At least MIN_SAMPLES in the window, whatever `interval` says.
    let most = window.duration() / MIN_SAMPLES;
    let period = interval.min(most);
    let take = |r: &mut SamplerReport| {
        // The tree is found again at every sample: a worker started late is not missed.
        let s = sample_tree(me);
        r.samples += 1;
        r.peak.rss_bytes = r.peak.rss_bytes.max(s.rss_bytes);
        r.peak.threads = r.peak.threads.max(s.threads);
        r.peak.processes = r.peak.processes.max(s.processes);
        r.peak_pss_bytes = r.peak_pss_bytes.zip(s.pss_bytes).map(|(a, b)| a.max(b));
    };
    let mut ended = false;
    // On a grid from the window's start, so that a late wake-up (a busy machine) does not
    // push every later sample back.
    let mut due = Mono::now();
    loop {
        let t = Mono::now();
        take(&mut r);
        let cost = Mono::now().since(t) * COST_FACTOR;
        due = due.plus(period.max(cost.min(most)));
        let next = due;
        if next >= window.measure_until {
            break;
        }
        if !pause_until(next, stop) {
            ended = true;
            break;
        }
    }
    if !ended {
        pause_until(window.measure_until, stop);
    }
    // The last sample at the window's end (or where a counted window's model returned).
    take(&mut r);
    let counts = Counts::now().since(&counts0);
    let own = Rusage::this_thread().since(&own0);
    // The trial's CPU without the sampler's own, which is reported on its own.
    r.rusage = Rusage::this_process().since(&process0).since(&own);
    r.sampler_cpu_secs = own.user_secs + own.sys_secs;
    r.counts = counts;
    r.target_cpu_secs = target0
        .zip(target.and_then(cpu_reading))
        .map(|(a, b)| b.secs_since(Some(&a)));
    r.tree_cpu_secs = tree0.flatten().and_then(|before| {
        let after = tree_cpu(&tree_pids(me))?;
        Some(
            after
                .iter()
                .map(|(pid, c)| c.secs_since(before.get(pid)))
                .sum(),
        )
    });
    r.peak.pss_bytes = r.peak_pss_bytes;
    r
}

/// Maps every page of this process's executable (`MADV_POPULATE_READ`), so that code run
/// for the first time during the window (the harness's, the workload's, the runtime's) is
/// not counted as memory per op. A trial calls it before its idle sample: the binary's
/// code becomes a fixed cost, the same for every model, and a worker process that runs
/// the same file adds only its own pages to the tree's PSS. Returns false where nothing
/// was mapped (kernels before 5.14 lack the call).
pub fn map_own_executable() -> bool {
    let (Ok(exe), Ok(maps)) = (
        std::fs::read_link("/proc/self/exe"),
        std::fs::read_to_string("/proc/self/maps"),
    ) else {
        return false;
    };
    let mut mapped = false;
    for line in maps.lines() {
        // "start-end perms offset dev inode path"
        let mut f = line.split_whitespace();
        let (Some(range), Some(path)) = (f.next(), f.nth(4)) else {
            continue;
        };
        if std::path::Path::new(path) != exe {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        // SAFETY: advice on a range this process maps; POPULATE_READ only faults its pages
        // in as a read would.
        let r = unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_POPULATE_READ) };
        mapped |= r == 0;
    }
    mapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample_tree(std::process::id());
        assert_eq!(s.processes, 1);
        assert!(s.threads >= 1);
        assert!(s.rss_bytes > 0);
        assert!(s.pss_bytes.unwrap() > 0);
    }

    #[test]
    fn cpu_counts_threads_that_exited() {
        let before = cpu_reading(std::process::id()).unwrap();
        // A thread that burns 100 ms of CPU (its own clock: the machine may be busy) and
        // exits before the second reading.
        std::thread::spawn(|| {
            let own = || {
                let r = Rusage::this_thread();
                r.user_secs + r.sys_secs
            };
            while own() < 0.1 {
                std::hint::black_box(0u64.wrapping_add(1));
            }
        })
        .join()
        .unwrap();
        let after = cpu_reading(std::process::id()).unwrap();
        let secs = after.secs_since(Some(&before));
        assert!(secs >= 0.05, "{secs} s: the exited thread's CPU is lost");
    }

    #[test]
    fn tree_includes_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pids = tree_pids(std::process::id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(pids.contains(&child.id()), "{pids:?}");
    }
}
