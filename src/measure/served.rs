//! A count of the requests an embedded target answered, shared with the trials: the target
//! maps an 8-byte file and adds to it per reply ([`Served`]); a trial reads the file
//! ([`read`]) as its window opens and once its workers are done, to check what they claim
//! (`docs/worker-protocol.md`, "What the trial checks"). A read of the file sees the
//! mapping's page, so the reader needs no mapping of its own.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The target's side: the shared count, mapped.
pub struct Served {
    count: *const AtomicU64,
}

// SAFETY: the pointer is to a shared mapping that lives as long as the process (it is
// never unmapped), and is only used through the atomic.
unsafe impl Send for Served {}
// SAFETY: as above; every access is atomic.
unsafe impl Sync for Served {}

impl Served {
    /// Creates (or empties) the file at `path` and maps it.
    pub fn create(path: &Path) -> std::io::Result<Served> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.set_len(8)?;
        // SAFETY: a fresh shared mapping of the file's 8 bytes; checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Served {
            count: p.cast::<AtomicU64>(),
        })
    }

    /// One more request answered.
    #[inline]
    pub fn add(&self) {
        // SAFETY: `count` points into a live mapping, page-aligned, so aligned for u64.
        unsafe { (*self.count).fetch_add(1, Ordering::Relaxed) };
    }
}

/// The count in the file at `path` (`None` when it cannot be read).
pub fn read(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    Some(u64::from_ne_bytes(bytes.get(..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_sees_what_the_mapping_counts() {
        let path = std::env::temp_dir().join(format!("iobench-served-test-{}", std::process::id()));
        let served = Served::create(&path).unwrap();
        assert_eq!(read(&path), Some(0));
        for _ in 0..5 {
            served.add();
        }
        assert_eq!(read(&path), Some(5));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read(&path), None);
    }
}
