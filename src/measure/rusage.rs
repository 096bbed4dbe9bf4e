//! CPU time and context switches from `getrusage`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Resource usage of a process (all its threads, live and finished).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rusage {
    /// User CPU time, in seconds.
    pub user_secs: f64,
    /// System CPU time, in seconds.
    pub sys_secs: f64,
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
}

fn tv(t: libc::timeval) -> f64 {
    Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000).as_secs_f64()
}

impl Rusage {
    /// This process, every thread included.
    pub fn this_process() -> Rusage {
        Self::get(libc::RUSAGE_SELF)
    }

    fn get(who: libc::c_int) -> Rusage {
        // SAFETY: getrusage fills the zeroed struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut ru) };
        Rusage {
            user_secs: tv(ru.ru_utime),
            sys_secs: tv(ru.ru_stime),
            ctx_voluntary: ru.ru_nvcsw as u64,
            ctx_involuntary: ru.ru_nivcsw as u64,
        }
    }

    /// The calling thread alone.
    pub fn this_thread() -> Rusage {
        Self::get(libc::RUSAGE_THREAD)
    }

    /// Usage between `earlier` and `self`.
    pub fn since(&self, earlier: &Rusage) -> Rusage {
        Rusage {
            user_secs: (self.user_secs - earlier.user_secs).max(0.0),
            sys_secs: (self.sys_secs - earlier.sys_secs).max(0.0),
            ctx_voluntary: self.ctx_voluntary.saturating_sub(earlier.ctx_voluntary),
            ctx_involuntary: self.ctx_involuntary.saturating_sub(earlier.ctx_involuntary),
        }
    }

    pub fn add(&mut self, other: &Rusage) {
        self.user_secs += other.user_secs;
        self.sys_secs += other.sys_secs;
        self.ctx_voluntary += other.ctx_voluntary;
        self.ctx_involuntary += other.ctx_involuntary;
    }
}

/// Raises the soft limit on open files to the hard limit; returns (soft, hard) after.
pub fn raise_nofile_limit() -> (u64, u64) {
    // SAFETY: get/setrlimit on a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        (lim.rlim_cur as u64, lim.rlim_max as u64)
    }
}

/// The soft limit of a resource, `None` when unlimited.
pub fn soft_limit(resource: libc::__rlimit_resource_t) -> Option<u64> {
    // SAFETY: getrlimit on a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(resource, &mut lim);
        (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur as u64)
    }
}
