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

/// A folder whose small regular files are read by name, each with one `openat` relative to it,
/// one `read` into a buffer kept for every file, and one `close`: what a directory source of
/// thousands of entries spends per entry. It reads only what is plainly a small regular text
/// file; anything else (an error, an empty file, one over the limit, not UTF-8, not a regular
/// file) is `None`, for the caller to read again with [`read`], which says why.
pub struct Folder {
    folder: std::fs::File,
    /// The entry's name, NUL-terminated.
    name: Vec<u8>,
    /// Room for the most an entry may hold and one byte more.
    content: Vec<u8>,
}

impl Folder {
    /// Opens `dir` (without blocking) for reading files of at most `limit` bytes; `None` if it
    /// cannot be opened.
    pub fn open(dir: &Path, limit: u64) -> Option<Folder> {
        let folder = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NONBLOCK)
            .open(dir)
            .ok()?;
        Some(Folder {
            folder,
            name: Vec::new(),
            content: vec![0; usize::try_from(limit).ok()?.saturating_add(1)],
        })
    }

    /// The text of the file `name` in the folder. `regular` is the listing's word that it is a
    /// regular file (`d_type`), which spares an `fstat`; without it (a symlink, as in a mounted
    /// ConfigMap) the opened file's type is checked.
    pub fn read_small(&mut self, name: &str, regular: bool) -> Option<&str> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        self.name.clear();
        self.name.extend_from_slice(name.as_bytes());
        self.name.push(0);
        let name = std::ffi::CStr::from_bytes_with_nul(&self.name).ok()?;
        // Without blocking, as `read` opens: a FIFO opens at once, and an empty read of it
        // sends it back to `read`, which refuses it.
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
        // SAFETY: the folder is open for as long as `self`, and `name` is NUL-terminated.
        let fd = unsafe { libc::openat(self.folder.as_raw_fd(), name.as_ptr(), flags) };
        if fd < 0 {
            return None;
        }
        // SAFETY: `fd` was just opened and is owned here alone.
        let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        if !regular && !file.metadata().is_ok_and(|m| m.is_file()) {
            return None;
        }
        // A short read of a regular file is its end, as on local file systems (a ConfigMap's
        // tmpfs). Confirming it with a second read costs one more system call per file: in one
        // run of a 100k-file directory source, `check` was then 2.15× the C floor (which reads
        // once too), over the 2× goal; 1.51–1.63× without. Empty, or over the limit: read again.
        let n = match file.read(&mut self.content) {
            Ok(n) if n > 0 && n < self.content.len() => n,
            _ => return None,
        };
        std::str::from_utf8(&self.content[..n]).ok()
    }
}

/// Why a file could not be read. Its message never holds the file's content, and names
/// neither the file nor what it was for: the caller says that.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// A FIFO, device, socket or folder where a regular file was expected.
    NotRegular(FileKind),
    /// Over the limit for this kind of file.
    TooLarge(u64),
    /// Not UTF-8: where the first invalid byte is (1-based line, 1-based column in characters,
    /// 0-based byte offset in the file).
    NotText {
        line: usize,
        column: usize,
        byte: usize,
    },
}

impl ReadError {
    /// The path is a folder (or a symlink to one), not a file.
    pub fn is_directory(&self) -> bool {
        matches!(self, ReadError::NotRegular(FileKind::Directory))
    }
}

/// What was found where a regular file was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Fifo,
    Directory,
    Socket,
    /// A block or character device.
    Device,
    /// Any other kind of file.
    Other,
}

impl FileKind {
    fn of(kind: std::fs::FileType) -> FileKind {
        if kind.is_fifo() {
            FileKind::Fifo
        } else if kind.is_dir() {
            FileKind::Directory
        } else if kind.is_socket() {
            FileKind::Socket
        } else if kind.is_block_device() || kind.is_char_device() {
            FileKind::Device
        } else {
            FileKind::Other
        }
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Fifo => "a FIFO",
            FileKind::Directory => "a directory",
            FileKind::Socket => "a socket",
            FileKind::Device => "a device",
            FileKind::Other => "something else",
        })
    }
}

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
            ReadError::NotText { line, column, byte } => write!(
                f,
                "it is not UTF-8 text: the first invalid byte is on line {line}, column {column} \
                 (byte offset {byte}); save the file as UTF-8"
            ),
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
        return Err(ReadError::NotRegular(FileKind::of(kind)));
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
    String::from_utf8(read(path, limit)?).map_err(|e| {
        let bytes = e.as_bytes();
        let byte = e.utf8_error().valid_up_to();
        // Everything before the invalid byte is UTF-8, so columns count characters.
        let valid = std::str::from_utf8(&bytes[..byte]).unwrap_or_default();
        let line_start = valid.rfind('\n').map_or(0, |at| at + 1);
        ReadError::NotText {
            line: valid.matches('\n').count() + 1,
            column: valid[line_start..].chars().count() + 1,
            byte,
        }
    })
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
    fn a_folder_reads_only_small_regular_text_files_and_leaves_the_rest_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        std::fs::write(at("plain"), "1808064429\n").unwrap();
        std::os::unix::fs::symlink("plain", at("link")).unwrap();
        std::fs::write(at("empty"), "").unwrap();
        std::fs::write(at("large"), "1".repeat(17)).unwrap();
        std::fs::write(at("binary"), b"\xff\xfe").unwrap();
        std::fs::create_dir(at("folder")).unwrap();
        let fifo = std::ffi::CString::new(at("fifo").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

        let mut folder = Folder::open(dir.path(), 16).unwrap();
        assert_eq!(folder.read_small("plain", true), Some("1808064429\n"));
        // A symlink is followed, its target checked to be a regular file.
        assert_eq!(folder.read_small("link", false), Some("1808064429\n"));
        for name in ["empty", "large", "binary", "folder", "fifo", "missing"] {
            assert_eq!(folder.read_small(name, false), None, "{name}");
        }
        // Even when the listing called it a regular file, a FIFO with no writer reads nothing
        // and does not block.
        assert_eq!(folder.read_small("fifo", true), None);
        assert!(Folder::open(&at("missing"), 16).is_none());
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_with_the_place_of_the_first_bad_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credwatch.toml");
        let mut text =
            b"# one\n[[credential]]\nname = \"a\"\n# d\xc3\xa9j\xc3\xa0\nlabels = { x = \""
                .to_vec();
        text.extend_from_slice(b"\xff\"}\n");
        std::fs::write(&path, &text).unwrap();
        let err = read_to_string(&path, 1024).unwrap_err();
        assert!(
            matches!(err, ReadError::NotText { line: 5, column: 17, byte } if byte == text.len() - 4),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "it is not UTF-8 text: the first invalid byte is on line 5, column 17 (byte offset {}); save the file as UTF-8",
                text.len() - 4
            )
        );
        // A truncated multi-byte character at the very start.
        std::fs::write(&path, b"\xc3").unwrap();
        assert!(matches!(
            read_to_string(&path, 1024).unwrap_err(),
            ReadError::NotText {
                line: 1,
                column: 1,
                byte: 0
            }
        ));
    }

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
    fn what_is_not_a_regular_file_is_told_by_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&folder, &link).unwrap();
        let socket = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let kind = |p: &Path| match read(p, VALUE) {
            Err(ReadError::NotRegular(kind)) => Some(kind),
            _ => None,
        };
        // A symlink to a folder is a folder.
        for path in [&folder, &link] {
            assert_eq!(kind(path), Some(FileKind::Directory), "{path:?}");
            assert!(read(path, VALUE).unwrap_err().is_directory());
        }
        // A socket cannot even be opened (ENXIO on Linux).
        assert!(!read(&socket, VALUE).unwrap_err().is_directory());
        assert_eq!(kind(Path::new("/dev/null")), Some(FileKind::Device));
        assert!(
            !read(Path::new("/dev/null"), VALUE)
                .unwrap_err()
                .is_directory()
        );
        // Not a kind of file at all.
        assert!(
            !read(&dir.path().join("missing"), VALUE)
                .unwrap_err()
                .is_directory()
        );
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
