//! Reading the local files credwatch is given (values, keys, tokens, CA bundles, directory
//! entries, the previous textfile, the config): only regular files, opened without blocking, and
//! never more than a stated number of bytes. A FIFO, a device or a socket where a file is expected
//! is refused at once instead of hanging the run; a file larger than its kind can hold is refused
//! while reading, without reading the rest.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The most a credential value may hold: enough for a long certificate bundle.
pub const VALUE: u64 = 1 << 20;
/// The most one entry of a directory source may hold (it holds unix seconds).
pub const DIRECTORY_ENTRY: u64 = 4 << 10;
/// The most a token, password, key or role-id file may hold.
pub const SECRET: u64 = 64 << 10;
/// The most a CA bundle may hold.
pub const CA_BUNDLE: u64 = 4 << 20;
/// The most the config file may hold.
pub const CONFIG: u64 = 16 << 20;
/// The most a previous textfile may hold when it is read back: far beyond what credwatch writes
/// (about 450 bytes per credential, so 100k credentials stay under 64 MiB).
pub const TEXTFILE: u64 = 64 << 20;

/// Why a file could not be read. Its message never holds the file's content, and names
/// neither the file nor what it was for: the caller says that.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// A FIFO, device, socket or folder where a regular file was expected.
    NotRegular(&'static str),
    /// Over the limit for this kind of file.
    TooLarge(u64),
    NotText,
}

impl ReadError {
    /// The path is a folder (or a symlink to one), not a file.
    pub fn is_directory(&self) -> bool {
        matches!(self, ReadError::NotRegular(what) if *what == DIRECTORY)
    }
}

/// What [`ReadError::NotRegular`] says of a folder.
const DIRECTORY: &str = "a directory";

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge(limit) => write!(
                f,
                "it is larger than {}, the most this kind of file may hold",
                size(*limit)
            ),
            ReadError::NotText => f.write_str("it is not UTF-8 text"),
        }
    }
}

/// Reads the regular file at `path`, refusing other kinds of file and anything over `limit`
/// bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        // A FIFO opened for reading waits for a writer; without blocking it opens at once, and
        // the file-type check below refuses it.
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotRegular(if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_dir() {
            DIRECTORY
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_block_device() || kind.is_char_device() {
            "a device"
        } else {
            "something else"
        }));
    }
    let announced = meta.len();
    if announced > limit {
        return Err(ReadError::TooLarge(limit));
    }
    read_bounded(file, announced, limit)
}

/// Reads `file` to its end, `announced` being its size when it was opened: room for that and one
/// byte more, so that a usual file takes one `read` (a short read of a regular file that has
/// delivered its announced size is its end) and a file that grew past `limit` since is caught
/// after reading at most one byte beyond it.
fn read_bounded(mut file: std::fs::File, announced: u64, limit: u64) -> Result<Vec<u8>, ReadError> {
    // `limit` is at most 64 MiB for every kind of file: it fits in memory and in `usize`.
    let most = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    let mut bytes = vec![0u8; usize::try_from(announced).unwrap_or(most).min(most - 1) + 1];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            if filled >= most {
                return Err(ReadError::TooLarge(limit));
            }
            // The file grew since it was opened: read on, up to one byte past the limit.
            let grown = bytes.len().saturating_mul(2).min(most);
            bytes.resize(grown, 0);
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if filled < bytes.len() && filled as u64 >= announced {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

/// [`read`] as text.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?).map_err(|_| ReadError::NotText)
}

/// `limit` in KiB or MiB, for messages.
pub fn size(limit: u64) -> String {
    if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else if limit >= 1 << 10 && limit.is_multiple_of(1 << 10) {
        format!("{} KiB", limit >> 10)
    } else {
        format!("{limit} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_within_its_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        std::fs::write(&path, "1808064429\n").unwrap();
        assert_eq!(read(&path, 11).unwrap(), b"1808064429\n");
        assert_eq!(read_to_string(&path, 64).unwrap(), "1808064429\n");
    }

    #[test]
    fn a_file_over_its_limit_is_refused_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        std::fs::write(&path, "sk-secret-1234567890").unwrap();
        let err = read(&path, 10).unwrap_err().to_string();
        assert_eq!(
            err,
            "it is larger than 10 bytes, the most this kind of file may hold"
        );
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(size(4 << 10), "4 KiB");
        assert_eq!(size(1 << 20), "1 MiB");
    }

    #[test]
    fn a_fifo_is_refused_at_once_and_so_is_a_device_or_folder() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("tok");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = |p: &Path| read(p, VALUE).unwrap_err().to_string();
        assert_eq!(err(&fifo), "it is a FIFO, not a regular file");
        assert_eq!(
            err(Path::new("/dev/zero")),
            "it is a device, not a regular file"
        );
        assert_eq!(err(dir.path()), "it is a directory, not a regular file");
        assert!(read(dir.path(), VALUE).unwrap_err().is_directory());
        assert!(!read(&fifo, VALUE).unwrap_err().is_directory());
        assert!(err(&dir.path().join("missing")).starts_with("No such file"));
    }

    #[test]
    fn a_file_that_grew_or_shrank_since_it_was_opened_is_read_whole_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        std::fs::write(&path, "x".repeat(100)).unwrap();
        let open = || std::fs::File::open(&path).unwrap();
        // Announced smaller than it is: read on past the announced size, up to the limit.
        assert_eq!(read_bounded(open(), 10, 1000).unwrap().len(), 100);
        assert_eq!(read_bounded(open(), 10, 100).unwrap().len(), 100);
        assert!(matches!(
            read_bounded(open(), 10, 99),
            Err(ReadError::TooLarge(99))
        ));
        assert!(matches!(
            read_bounded(open(), 0, 0),
            Err(ReadError::TooLarge(0))
        ));
        // Announced larger than it is: its end is where reading stops.
        assert_eq!(read_bounded(open(), 4000, 4096).unwrap().len(), 100);
        std::fs::write(&path, "").unwrap();
        assert!(read(&path, 10).unwrap().is_empty());
    }
}
