//! Locks that ignore poisoning. A panic while a lock is held fails its trial on its own
//! (the panic is reported where it happened: a worker thread's join, a task's handle); what
//! the lock guards (a recorder's shard, parked sessions, a pool) stays usable for the
//! harness to finish and report, so no second panic is raised for the same fault.

use std::sync::{Condvar, Mutex, MutexGuard};

/// Locks `m`, also after a holder panicked.
#[inline]
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits on `c` with `guard`, as [`Condvar::wait`] does, also after a holder panicked.
pub fn wait<'a, T>(c: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    c.wait(guard).unwrap_or_else(|p| p.into_inner())
}

/// What `m` holds, also after a holder panicked.
pub fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_opens() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let held = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = held.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        let m = std::sync::Arc::try_unwrap(m).unwrap();
        assert_eq!(into_inner(m), 2);
    }
}
