//! Files written whole or not at all, and appends that leave no partial line.
//!
//! Every file iobench writes (summary.json, the reports, charts, baselines, compare.json,
//! exports) goes through [`write_whole`] or [`write_with`]: the bytes go to a temporary
//! file in the same folder, which is synced and then renamed over the target. A reader
//! sees the old file or the new one, never a cut one, and a full disk leaves the old file
//! (or none) and the temporary one removed. Errors name the path and the OS's reason.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The temporary file beside `path` that becomes it. It ends as `path` does, so that a
/// writer that picks its format by extension (a PNG encoder) picks the same one.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".tmp-{}-{name}", std::process::id()))
}

/// Writes `bytes` to `path`, whole or not at all.
pub fn write_whole(path: &Path, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    write_with(path, |tmp| {
        let mut f = File::create(tmp)?;
        f.write_all(bytes.as_ref())?;
        f.sync_all()
    })
}

/// Makes `path` by having `make` write the file at the path it is given (a temporary one
/// beside `path`), then renames it over `path`: for writers that open the file themselves,
/// such as a chart's PNG encoder. `make` should leave the file complete and synced.
pub fn write_with<E: Into<anyhow::Error>>(
    path: &Path,
    make: impl FnOnce(&Path) -> Result<(), E>,
) -> anyhow::Result<()> {
    let tmp = temporary(path);
    let made = make(&tmp)
        .map_err(Into::into)
        .and_then(|()| Ok(std::fs::rename(&tmp, path)?));
    if made.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    made.with_context(|| format!("cannot write {}", path.display()))
}

/// Appends `line` (which ends in a newline) to `file` at `path` and syncs it. If the write
/// fails part-way (a full disk), the file is cut back to the length it had, so that it
/// never holds a partial line; the error names the path and the OS's reason.
pub fn append_line(file: &mut File, path: &Path, line: &[u8]) -> anyhow::Result<()> {
    let before = file
        .metadata()
        .with_context(|| format!("cannot read the length of {}", path.display()))?
        .len();
    let written = file.write_all(line).and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(before);
        let _ = file.sync_data();
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_a_failed_write_leaves_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_whole(&path, "old").unwrap();
        write_whole(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let failed = write_with(&path, |tmp| {
            std::fs::write(tmp, "half")?;
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
        });
        let e = format!("{:#}", failed.unwrap_err());
        assert!(
            e.contains("summary.json") && e.contains("No space left"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["summary.json"]);
    }
}
