//! Pure: the paths of KV v2 requests. Mounts, folders and secret paths are checked (no empty,
//! `.` or `..` segment) and percent-encoded here, for the KV client and the logins alike.

use super::error::VaultError;

/// A mount without surrounding slashes; it may hold inner ones (`team/kv`).
pub(crate) fn clean_mount(mount: &str) -> Result<&str, VaultError> {
    let mount = mount.trim_matches('/');
    check_segments(mount, "mount")?;
    Ok(mount)
}

/// A folder as `a/b/` (or `""` for the top).
pub(crate) fn clean_folder(folder: &str) -> Result<String, VaultError> {
    let folder = folder.trim_matches('/');
    if folder.is_empty() {
        return Ok(String::new());
    }
    check_segments(folder, "folder")?;
    Ok(format!("{folder}/"))
}

/// A secret's path without a leading slash; it must not name a folder.
pub(crate) fn clean_secret_path(path: &str) -> Result<&str, VaultError> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.ends_with('/') {
        return Err(VaultError::Config(format!(
            "the secret path `{path}` names a folder"
        )));
    }
    check_segments(trimmed, "secret path")?;
    Ok(trimmed)
}

fn check_segments(text: &str, what: &str) -> Result<(), VaultError> {
    if text.is_empty() {
        return Err(VaultError::Config(format!("the {what} is empty")));
    }
    if text
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(VaultError::Config(format!(
            "the {what} `{text}` has an empty, `.` or `..` segment"
        )));
    }
    Ok(())
}

/// The API path (after `/v1/`) of `<mount>/<area>/<path>`, e.g. `secret/metadata/a%20b`;
/// `mount` and `path` already cleaned. Built in one buffer: a scan makes one per secret.
pub(crate) fn api_path(mount: &str, area: &str, path: &str) -> String {
    let mut out = String::with_capacity(mount.len() + area.len() + path.len() + 8);
    encode_into(&mut out, mount, true);
    out.push('/');
    out.push_str(area);
    out.push('/');
    encode_into(&mut out, path, true);
    out
}

/// Percent-encodes a path, keeping `/` and the unreserved characters.
pub(crate) fn encode_path(path: &str) -> String {
    encode(path, true)
}

/// Percent-encodes a query value (a `/` is encoded too).
pub(crate) fn encode_component(value: &str) -> String {
    encode(value, false)
}

fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    encode_into(&mut out, text, keep_slash);
    out
}

/// Appends `text` percent-encoded: runs of kept (ASCII) characters are copied as they are.
fn encode_into(out: &mut String, text: &str, keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let kept = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
    };
    // `start` follows an encoded byte; the run from it is ASCII, so both ends of a copied run
    // are character boundaries.
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if !kept(b) {
            if i > start {
                out.push_str(&text[start..i]);
            }
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push_str(&text[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_and_checked() {
        assert_eq!(encode_path("a b/c%d/é"), "a%20b/c%25d/%C3%A9");
        assert_eq!(encode_component("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_path("é"), "%C3%A9");
        assert_eq!(encode_path("~x.y_z-0/"), "~x.y_z-0/");
        assert_eq!(encode_component("\u{7f}ab\u{1F600}"), "%7Fab%F0%9F%98%80");
        assert_eq!(
            api_path("team kv", "metadata", "é/b"),
            "team%20kv/metadata/%C3%A9/b"
        );
        assert_eq!(api_path("secret", "data", "a b/c"), "secret/data/a%20b/c");
        assert_eq!(clean_mount("/secret/").unwrap(), "secret");
        assert_eq!(clean_folder("").unwrap(), "");
        assert_eq!(clean_folder("/a/b").unwrap(), "a/b/");
        assert_eq!(clean_secret_path("/agent").unwrap(), "agent");
        for bad in ["", "a/", "a//b", "../sys/seal", "a/./b"] {
            let err = clean_secret_path(bad).unwrap_err();
            assert_eq!(err.reason(), "config", "{bad}");
        }
        assert!(clean_folder("a/../b").is_err());
        assert!(clean_mount("/").is_err());
    }
}
