//! Writes the exposition text for node_exporter's textfile collector (edge I/O), atomically: a
//! temporary file in the same folder, fsync, rename over the target, fsync of the folder. The
//! collector (or anyone) reading the target sees the old text or the new one, never a mix, even
//! when credwatch is killed halfway.
//!
//! The temporary file is named `.<file name>.<pid>.tmp`: a dot-file that does not end in `.prom`,
//! so the collector never reads it. A run killed before its rename can leave one behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::metrics::delivery::Held;

/// What node_exporter's textfile collector reads from its folder: `*.prom` files only.
pub const EXTENSION: &str = "prom";

/// Checks the target path before anything is collected. Pure.
pub fn check_path(path: &Path) -> Result<(), String> {
    if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
        return Err(format!(
            "--path: `{}` does not end in `.{EXTENSION}`; node_exporter's textfile collector reads only `*.{EXTENSION}` files",
            path.display()
        ));
    }
    if path.file_name().is_none() {
        return Err(format!("--path: `{}` names no file", path.display()));
    }
    Ok(())
}

/// The temporary file for `path`, next to it. Pure.
pub fn temp_path(path: &Path, pid: u32) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{pid}.tmp"))
}

/// Replaces the file at `path` with `text`, atomically. `before_rename` runs once the temporary
/// file is complete and synced, just before it replaces the target (tests pause there). On any
/// error the target is untouched and the temporary file removed.
pub fn write_atomically(
    path: &Path,
    text: &str,
    before_rename: impl FnOnce(&Path),
) -> Result<(), String> {
    write_atomically_with(path, |out| out.write_all(text.as_bytes()), before_rename)
}

/// [`write_atomically`] with the text written by `write` into the temporary file, so that the
/// text need not be held whole.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
    before_rename: impl FnOnce(&Path),
) -> Result<(), String> {
    let temp = temp_path(path, std::process::id());
    // A replaced file keeps its permissions; a new one is world-readable, as collectors expect.
    let mode = fs::metadata(path).map_or(0o644, |m| {
        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777
    });
    let result = write_temp(&temp, write, mode).and_then(|()| {
        before_rename(&temp);
        fs::rename(&temp, path).map_err(|e| {
            format!(
                "cannot rename `{}` to `{}`: {e}",
                temp.display(),
                path.display()
            )
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
        return result;
    }
    // The rename is durable once the folder is synced; failing that is not worth an error.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn write_temp(
    temp: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
    mode: u32,
) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(temp)
        .map_err(|e| format!("cannot create `{}`: {e}", temp.display()))?;
    write(&mut file)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write `{}`: {e}", temp.display()))
}

/// `fmt::Write` into a file through a buffer of [`Through::ROOM`] bytes: the encoder's many
/// short pieces are copied, and the file written a buffer at a time. The first error is kept
/// (and the rest of the text dropped) for the caller to report.
struct Through<'a, W: Write> {
    out: &'a mut W,
    buffer: String,
    error: Option<std::io::Error>,
}

impl<'a, W: Write> Through<'a, W> {
    const ROOM: usize = 1 << 16;

    fn new(out: &'a mut W) -> Self {
        Through {
            out,
            buffer: String::with_capacity(Self::ROOM),
            error: None,
        }
    }

    fn flush(&mut self) -> std::fmt::Result {
        if self.error.is_some() {
            return Err(std::fmt::Error);
        }
        let written = self.out.write_all(self.buffer.as_bytes());
        self.buffer.clear();
        written.map_err(|e| {
            self.error = Some(e);
            std::fmt::Error
        })
    }

    /// Writes what is left in the buffer; the first error, if any.
    fn finish(mut self) -> std::io::Result<()> {
        let _ = self.flush();
        self.error.map_or(Ok(()), Err)
    }
}

impl<W: Write> std::fmt::Write for Through<'_, W> {
    #[inline]
    fn write_char(&mut self, c: char) -> std::fmt::Result {
        if c.is_ascii() && self.buffer.len() < Self::ROOM {
            self.buffer.push(c);
            return Ok(());
        }
        self.write_str(c.encode_utf8(&mut [0; 4]))
    }

    #[inline]
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.buffer.len() + s.len() > Self::ROOM {
            self.flush()?;
        }
        if s.len() > Self::ROOM {
            return self.out.write_all(s.as_bytes()).map_err(|e| {
                self.error = Some(e);
                std::fmt::Error
            });
        }
        self.buffer.push_str(s);
        Ok(())
    }
}

/// A textfile as a [`super::Destination`]: an incomplete run reads the previous file back.
/// `before_rename` runs between writing the temporary file and renaming it (a test hook).
pub struct Textfile<'a> {
    pub path: &'a Path,
    pub before_rename: &'a dyn Fn(&Path),
}

impl super::Destination for Textfile<'_> {
    fn held(&mut self, config: &crate::config::Config, now: jiff::Timestamp) -> Held {
        match crate::file::read_to_string(self.path, crate::file::TEXTFILE) {
            Ok(previous) => Held::from_series(
                &crate::metrics::text::parse_series(&previous),
                &config.metrics,
                config.defaults.thresholds,
                now,
            ),
            Err(crate::file::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Held::default()
            }
            Err(e) => {
                log::warn!("cannot read the previous `{}`: {e}", self.path.display());
                Held::default()
            }
        }
    }

    fn write(&mut self, text: &super::Text<'_>, _complete: bool) -> Result<(), String> {
        // Through a symlink to the file it points at: the link stays a link (as `rotate` keeps a
        // linked config).
        let is_link = fs::symlink_metadata(self.path).is_ok_and(|m| m.file_type().is_symlink());
        let target = match is_link {
            true => fs::canonicalize(self.path).unwrap_or_else(|_| self.path.to_path_buf()),
            false => self.path.to_path_buf(),
        };
        let encode = |out: &mut File| {
            let mut through = Through::new(out);
            text.write_to(&mut through);
            through.finish()
        };
        write_atomically_with(&target, encode, |temp| (self.before_rename)(temp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_written_through_the_buffer_arrives_whole_and_in_order() {
        use std::fmt::Write as _;
        let mut file = Vec::new();
        let mut through = Through::new(&mut file);
        let mut wanted = String::new();
        for i in 0..20_000 {
            let piece = format!("series_{i}{{credential=\"c-{i}\"}} {i}\n");
            through.write_str(&piece).unwrap();
            wanted.push_str(&piece);
        }
        let large = "x".repeat(3 * Through::<Vec<u8>>::ROOM);
        through.write_str(&large).unwrap();
        wanted.push_str(&large);
        through.write_str("end\n").unwrap();
        wanted.push_str("end\n");
        through.finish().unwrap();
        assert_eq!(String::from_utf8(file).unwrap(), wanted);

        // A full disk: the first error is what the run reports.
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("no space left"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut full = Full;
        let mut through = Through::new(&mut full);
        for _ in 0..10_000 {
            let _ = through.write_str("series 1\n");
        }
        assert_eq!(through.finish().unwrap_err().to_string(), "no space left");
    }

    #[test]
    fn only_prom_files_are_accepted() {
        assert_eq!(
            check_path(Path::new("/var/lib/textfile/credwatch.prom")),
            Ok(())
        );
        assert_eq!(check_path(Path::new("credwatch.prom")), Ok(()));
        assert_eq!(
            check_path(Path::new("/var/lib/textfile/credwatch.txt")).unwrap_err(),
            "--path: `/var/lib/textfile/credwatch.txt` does not end in `.prom`; node_exporter's textfile collector reads only `*.prom` files"
        );
        assert!(check_path(Path::new("/var/lib/textfile/")).is_err());
    }

    #[test]
    fn the_temporary_file_is_a_hidden_sibling_the_collector_ignores() {
        let temp = temp_path(Path::new("/var/lib/textfile/credwatch.prom"), 42);
        assert_eq!(temp, Path::new("/var/lib/textfile/.credwatch.prom.42.tmp"));
        assert_ne!(temp.extension().unwrap(), EXTENSION);
        assert_eq!(
            temp_path(Path::new("credwatch.prom"), 7),
            Path::new(".credwatch.prom.7.tmp")
        );
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("credwatch.prom");
        fs::write(&target, "old 1\n").unwrap();
        let mut seen = None;
        write_atomically(&target, "new 2\n", |temp| {
            // The target still holds the old text while the new one waits next to it.
            seen = Some((
                fs::read_to_string(&target).unwrap(),
                fs::read_to_string(temp).unwrap(),
            ));
        })
        .unwrap();
        assert_eq!(seen, Some(("old 1\n".to_string(), "new 2\n".to_string())));
        assert_eq!(fs::read_to_string(&target).unwrap(), "new 2\n");
        let files: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, ["credwatch.prom"]);
    }

    #[test]
    fn a_failed_write_leaves_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a folder: the rename fails.
        let target = dir.path().join("credwatch.prom");
        fs::create_dir(&target).unwrap();
        let err = write_atomically(&target, "new 2\n", |_| {}).unwrap_err();
        assert!(err.starts_with("cannot rename `"), "{err}");
        assert!(target.is_dir());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        let missing = dir.path().join("no/such/folder/credwatch.prom");
        let err = write_atomically(&missing, "x 1\n", |_| {}).unwrap_err();
        assert!(err.starts_with("cannot create `"), "{err}");
    }
}
