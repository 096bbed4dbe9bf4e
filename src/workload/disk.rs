//! `disk-read` and `disk-write`: file I/O through each model's own means. Blocking models
//! call `std::fs`; async models use their runtime's file API (`AsyncRt::read_file`,
//! `write_file`: `fs::read`, `fs::write`, `fs::metadata`, and `File` for a synced write),
//! which in every runtime here hands each blocking call to a thread pool: the threads that
//! costs show up in the trial's `peak_threads`. Every model makes the same system calls.
//!
//! A cold read drops the file's pages (`posix_fadvise`) inside the op, the way the model
//! makes its other file calls: a blocking model on its worker thread; an async runtime in
//! the same blocking-pool job as the read (`AsyncRt::read_file`), so that its event loop
//! never blocks on it; io-uring on its ring thread, blocking, since the ring offers no
//! page drop that tokio-uring exposes.
//!
//! # The scratch folder
//! A run creates one scratch folder per disk workload (`Scratch`, in `run::prepare`, under
//! `dir` or the system's temporary folder), fills it before any trial (disk-read: `files`
//! files of `size` pseudo-random bytes, each fsynced, and a `MANIFEST` of their CRC-32s)
//! and removes it when the run ends, whatever became of its trials.
//!
//! # Verification
//! - disk-read: the bytes read must be the file's size and match its CRC-32 from the
//!   manifest; a file changed behind the reader is a `mismatch`.
//! - disk-write: the file's size after the write (and the `fsync`, when asked) must be
//!   `size`. After the window, outside it, the trial reads every file its workers wrote
//!   back ([`verify_written`]) and compares its CRC-32 with that of the bytes written,
//!   which the file's name identifies (`w-<trial tag>-<seed>`); one that differs fails
//!   the trial. The files are removed then.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::db::Rng;
use super::params::{Invalid, between, choice_value, params};
use super::{Bound, Resolved, Workload};
use crate::op::{ErrorKind, OpError};
use crate::rt::{AsyncRt, drop_cached_pages};
use crate::units::HumanSize;

/// Whether a read may come from the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cache {
    /// From the page cache, as a re-read usually is.
    Warm,
    /// From the device: the file's cached pages are dropped before each read.
    Cold,
}

choice_value!(Cache);

params! {
    #[serde(deny_unknown_fields)]
    pub struct DiskRead {
        /// bytes per file and per read (4KiB to 1MiB)
        size: HumanSize = HumanSize(64 * 1024) => [check = a_disk_size],
        /// files in the prepared set
        // Each op reads one at random.
        files: u32 = 64 => [unit = "files", check = (between::<1, 100_000>)],
        /// warm (page cache) or cold (posix_fadvise DONTNEED before each read)
        cache: Cache = Cache::Warm,
        /// where the run's scratch folder is made; removed when the run ends
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<String> = None => [shown = "(the temporary folder)"],
    }
}

params! {
    #[serde(deny_unknown_fields)]
    pub struct DiskWrite {
        /// bytes written per op (4KiB to 1MiB)
        size: HumanSize = HumanSize(64 * 1024) => [check = a_disk_size],
        /// fdatasync the file after each write
        fsync: bool = false,
        /// where the run's scratch folder is made; removed when the run ends
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<String> = None => [shown = "(the temporary folder)"],
    }
}

/// A disk workload's `size`: 4 KiB to 1 MiB.
fn a_disk_size(_key: &str, v: &HumanSize) -> Result<(), Invalid> {
    match (MIN_SIZE..=MAX_SIZE).contains(&v.0) {
        true => Ok(()),
        false => Err(Invalid::new(format!("size {v} is outside 4KiB to 1MiB"))),
    }
}

/// Sizes a disk workload accepts.
pub const MIN_SIZE: u64 = 4 * 1024;
pub const MAX_SIZE: u64 = 1024 * 1024;

/// The name of file `i` of the read set.
fn file_name(i: u32) -> String {
    format!("f{i:05}")
}

const MANIFEST: &str = "MANIFEST";

/// `n` pseudo-random bytes, different for every `seed`.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::seeded(seed);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&rng.below(u64::MAX).to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Whether `path` is on tmpfs, where pages live in memory only.
fn on_tmpfs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the struct we own; `c` is a valid C string.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    ok && st.f_type as i64 == TMPFS_MAGIC
}

/// A run's scratch folder: created and filled before the trials, removed on drop.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates a fresh folder under `parent` (default: the temporary folder).
    pub fn create(parent: Option<&str>) -> anyhow::Result<Scratch> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let parent = parent.map_or_else(std::env::temp_dir, PathBuf::from);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("iobench-scratch-{}-{n}", std::process::id()));
        // A new folder only: what is removed at the end must be what the run made.
        std::fs::create_dir_all(&parent)
            .and_then(|()| std::fs::create_dir(&path))
            .map_err(|e| {
                anyhow::anyhow!("cannot create the scratch folder {}: {e}", path.display())
            })?;
        if on_tmpfs(&path) {
            eprintln!(
                "note: the scratch folder {} is on tmpfs (memory): cold reads and fsync will not reach a device; set `dir` to a folder on a disk",
                path.display()
            );
        }
        Ok(Scratch { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the read set: `files` files of `size` bytes, each synced to the device (so
    /// that a cold read finds clean pages to drop), and their CRC-32s in the manifest.
    pub fn fill(&self, files: u32, size: u64) -> anyhow::Result<()> {
        let mut manifest = String::new();
        for i in 0..files {
            let data = bytes(size as usize, u64::from(i) + 1);
            let path = self.path.join(file_name(i));
            let mut f = std::fs::File::create(&path)?;
            f.write_all(&data)?;
            f.sync_all()?;
            manifest.push_str(&format!("{:08x}\n", crc32fast::hash(&data)));
        }
        std::fs::write(self.path.join(MANIFEST), manifest)?;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A reader's state: the files' paths and checksums, its buffer and its random source.
pub struct ReadSession {
    pub(crate) files: Vec<(PathBuf, u32)>,
    pub(crate) buf: Vec<u8>,
    rng: Rng,
}

/// The scratch folder the run made for the workload.
fn scratch(run: &Resolved) -> Result<PathBuf, OpError> {
    run.scratch
        .as_ref()
        .map(PathBuf::from)
        .ok_or_else(|| OpError::new(ErrorKind::Other, "no scratch folder (the run prepares it)"))
}

impl Bound<DiskRead> {
    pub(crate) fn session(&self) -> Result<ReadSession, OpError> {
        let dir = scratch(&self.run)?;
        let manifest = std::fs::read_to_string(dir.join(MANIFEST))?;
        let files: Vec<(PathBuf, u32)> = manifest
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let sum = u32::from_str_radix(l, 16).map_err(|e| {
                    OpError::new(ErrorKind::Other, format!("bad manifest line {l:?}: {e}"))
                })?;
                Ok((dir.join(file_name(i as u32)), sum))
            })
            .collect::<Result<_, OpError>>()?;
        if files.len() != self.files as usize {
            return Err(OpError::new(
                ErrorKind::Other,
                format!(
                    "the manifest lists {} files, not {}",
                    files.len(),
                    self.files
                ),
            ));
        }
        Ok(ReadSession {
            files,
            buf: Vec::with_capacity(self.size.0 as usize),
            rng: Rng::new(),
        })
    }
}

impl DiskRead {
    pub(crate) fn pick(&self, s: &mut ReadSession) -> usize {
        s.rng.below(s.files.len() as u64) as usize
    }

    pub(crate) fn check(&self, s: &ReadSession, i: usize) -> Result<(), OpError> {
        let (path, sum) = &s.files[i];
        if s.buf.len() as u64 != self.size.0 {
            return Err(OpError::new(
                ErrorKind::Mismatch,
                format!(
                    "read {} bytes of {}, not {}",
                    s.buf.len(),
                    path.display(),
                    self.size
                ),
            ));
        }
        let got = crc32fast::hash(&s.buf);
        if got != *sum {
            return Err(OpError::new(
                ErrorKind::Mismatch,
                format!("{} has CRC-32 {got:08x}, not {sum:08x}", path.display()),
            ));
        }
        Ok(())
    }
}

impl Workload for Bound<DiskRead> {
    type Session = ReadSession;
    type AsyncSession<R: AsyncRt> = ReadSession;

    fn open(&self) -> Result<ReadSession, OpError> {
        self.session()
    }

    fn op(&self, s: &mut ReadSession) -> Result<(), OpError> {
        let i = self.pick(s);
        if self.cache == Cache::Cold {
            drop_cached_pages(&s.files[i].0)?;
        }
        s.buf = std::fs::read(&s.files[i].0)?;
        self.check(s, i)
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<ReadSession, OpError> {
        self.session()
    }

    async fn op_async<R: AsyncRt>(&self, s: &mut ReadSession) -> Result<(), OpError> {
        let i = self.pick(s);
        s.buf = R::read_file(&s.files[i].0, self.cache == Cache::Cold).await?;
        self.check(s, i)
    }
}

/// A writer's state: its own file and the bytes it writes. The file stays when the
/// session ends: the trial reads it back ([`verify_written`]) and removes it.
pub struct WriteSession {
    pub(crate) path: PathBuf,
    pub(crate) data: Vec<u8>,
}

/// The file a writer of trial `tag` writes the bytes of `seed` to.
fn written_name(tag: &str, seed: u64) -> String {
    format!("w-{tag}-{seed:016x}")
}

/// Reads back every file the workers of the trial tagged `tag` wrote in `dir`, checks each
/// against the bytes its name says were written (`size` of them), and removes it. Returns
/// the files checked, or why one is not what was written.
pub fn verify_files(dir: &Path, tag: &str, size: u64) -> Result<u32, String> {
    let prefix = format!("w-{tag}-");
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list the scratch folder {}: {e}", dir.display()))?;
    let mut checked = 0;
    let mut first_bad = None;
    for e in entries {
        let e = e.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(seed) = name.strip_prefix(&prefix) else {
            continue;
        };
        let path = e.path();
        let verdict = match u64::from_str_radix(seed, 16) {
            Err(_) => Err(format!("{} is not named after its bytes", path.display())),
            Ok(seed) => check_written(&path, &bytes(size as usize, seed)),
        };
        let _ = std::fs::remove_file(&path);
        checked += 1;
        if let Err(why) = verdict {
            first_bad.get_or_insert(why);
        }
    }
    match first_bad {
        Some(why) => Err(why),
        None => Ok(checked),
    }
}

/// Whether the file at `path` holds `want`: the same length and CRC-32.
fn check_written(path: &Path, want: &[u8]) -> Result<(), String> {
    let got =
        std::fs::read(path).map_err(|e| format!("cannot read back {}: {e}", path.display()))?;
    let (got_sum, want_sum) = (crc32fast::hash(&got), crc32fast::hash(want));
    if got.len() != want.len() || got_sum != want_sum {
        return Err(format!(
            "{} read back as {} bytes with CRC-32 {got_sum:08x}, but {} bytes with CRC-32 {want_sum:08x} were written",
            path.display(),
            got.len(),
            want.len()
        ));
    }
    Ok(())
}

/// After a trial's window: for disk-write, [`verify_files`] on this trial's files. A trial
/// that verified ops but left no file to read back is failed too.
pub fn verify_written(
    spec: &super::WorkloadSpec,
    run: &Resolved,
    ok_ops: u64,
) -> Result<(), String> {
    let super::WorkloadSpec::DiskWrite(w) = spec else {
        return Ok(());
    };
    let Some(dir) = &run.scratch else {
        return Ok(());
    };
    let checked = verify_files(Path::new(dir), &super::trial_tag(), w.size.0)
        .map_err(|why| format!("disk-write read-back failed: {why}"))?;
    if checked == 0 && ok_ops > 0 {
        return Err(format!(
            "disk-write read-back failed: {ok_ops} writes succeeded, but no written file was found in {dir}"
        ));
    }
    Ok(())
}

impl Bound<DiskWrite> {
    pub(crate) fn session(&self) -> Result<WriteSession, OpError> {
        let dir = scratch(&self.run)?;
        let seed = Rng::new().below(u64::MAX);
        Ok(WriteSession {
            path: dir.join(written_name(&super::trial_tag(), seed)),
            data: bytes(self.size.0 as usize, seed),
        })
    }
}

impl DiskWrite {
    pub(crate) fn check(&self, s: &WriteSession, len: u64) -> Result<(), OpError> {
        match len == self.size.0 {
            true => Ok(()),
            false => Err(OpError::new(
                ErrorKind::Mismatch,
                format!(
                    "{} is {len} bytes after writing {}",
                    s.path.display(),
                    self.size
                ),
            )),
        }
    }
}

impl Workload for Bound<DiskWrite> {
    type Session = WriteSession;
    type AsyncSession<R: AsyncRt> = WriteSession;

    fn open(&self) -> Result<WriteSession, OpError> {
        self.session()
    }

    fn op(&self, s: &mut WriteSession) -> Result<(), OpError> {
        if self.fsync {
            let mut f = std::fs::File::create(&s.path)?;
            f.write_all(&s.data)?;
            f.sync_data()?;
        } else {
            std::fs::write(&s.path, &s.data)?;
        }
        let len = std::fs::metadata(&s.path)?.len();
        self.check(s, len)
    }

    async fn open_async<R: AsyncRt>(&self) -> Result<WriteSession, OpError> {
        self.session()
    }

    async fn op_async<R: AsyncRt>(&self, s: &mut WriteSession) -> Result<(), OpError> {
        let len = R::write_file(&s.path, &s.data, self.fsync).await?;
        self.check(s, len)
    }
}
