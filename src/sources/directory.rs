//! The ConfigMap layout of the shell CronJob: a directory with one file per credential, the file
//! name being the credential's name and its content unix seconds (expiry, or mint time + TTL).
//!
//! Kubernetes mounts a ConfigMap as symlinks into a `..data` folder; dot-files and folders are
//! skipped and the symlinks followed.

use std::path::Path;

use jiff::SignedDuration;

use crate::config::{DirectoryContent, DirectorySource, SourceCommon};
use crate::credential::{Basis, Evidence, Observation};
use crate::time;

/// Parses the content of one entry. Pure.
pub fn parse_entry(
    content: &str,
    meaning: DirectoryContent,
    ttl: SignedDuration,
) -> Result<Evidence, String> {
    let trimmed = content.trim();
    if trimmed.is_empty() {
        return Err("the file is empty; expected unix seconds".into());
    }
    // The content is never echoed: a directory pointed at a Secret mount by mistake holds tokens.
    let seconds: i64 = trimmed.parse().map_err(|_| {
        let hint = if time::parse_timestamp(trimmed).is_ok() {
            " (it is a date: write it as unix seconds, e.g. `date -d ... +%s`)"
        } else {
            ""
        };
        format!(
            "expected unix seconds (an integer such as `1808064429`), found {} characters that are not one{hint}",
            trimmed.chars().count()
        )
    })?;
    // Not `time::unix_seconds`'s message: it quotes the number, and this file may hold a secret.
    let at = time::unix_seconds(seconds).map_err(|_| {
        format!(
            "expected unix seconds after 1970-01-01 and before 9999, found a {}-digit number outside that range",
            trimmed.trim_start_matches(['-', '+']).len()
        )
    })?;
    Ok(match meaning {
        DirectoryContent::ExpiresAt => Evidence::declared(None, at, Basis::ExpiresAt),
        DirectoryContent::MintedAt => {
            Evidence::declared(Some(at), time::add(at, ttl)?, Basis::MintedAtPlusTtl)
        }
    })
}

/// The file names of a directory that are credentials, sorted. Pure.
pub fn is_entry_name(name: &str) -> bool {
    !name.starts_with('.')
}

/// Reads every entry of the directory. An unreadable directory fails the source; an unreadable
/// or malformed entry fails only that credential.
pub fn read_directory(
    common: &SourceCommon,
    source: &DirectorySource,
) -> Result<Vec<Observation>, String> {
    let dir = &source.path;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read directory `{}`: {e}", dir.display()))?;
    let mut names = Vec::new();
    let mut unreadable = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list directory `{}`: {e}", dir.display()))?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            // Reported, not skipped: a credential that silently disappears is never fine.
            let shown = file_name.to_string_lossy().into_owned();
            unreadable.push(Observation {
                credential: common.credential(shown.clone()),
                evidence: Err(format!(
                    "the file name `{shown}` in `{}` is not UTF-8; rename the file",
                    dir.display()
                )),
            });
            continue;
        };
        if !is_entry_name(name) {
            continue;
        }
        // The listing's own file type (no system call): a folder is skipped here, a symlink
        // (a mounted ConfigMap's keys) is followed when the entry is opened.
        let kind = entry.file_type();
        if kind.as_ref().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        names.push((name.to_string(), kind.is_ok_and(|t| t.is_file())));
    }
    names.sort_unstable();
    // The usual entry is read relative to the folder in three system calls; anything else
    // (or a folder that went away since it was listed) is read by its path, and fails as it would.
    let mut folder = crate::file::Folder::open(dir, crate::file::DIRECTORY_ENTRY);
    let mut observations: Vec<Observation> = names
        .into_iter()
        .filter_map(|(name, regular)| {
            let quick = folder.as_mut().and_then(|f| f.read_small(&name, regular));
            let evidence = match quick {
                Some(text) => parse_entry(text, source.content, common.ttl)
                    .map_err(|e| format!("`{}`: {e}", dir.join(&name).display())),
                None => observe(source, common.ttl, &dir.join(&name))?,
            };
            Some(Observation {
                credential: common.credential(name),
                evidence,
            })
        })
        .collect();
    observations.extend(unreadable);
    Ok(observations)
}

/// The evidence of the entry at `path`, read with one open, one `fstat` and (usually) one
/// `read`; `None` for an entry that turns out to be a folder (a symlink to one).
fn observe(
    source: &DirectorySource,
    ttl: SignedDuration,
    path: &Path,
) -> Option<Result<Evidence, String>> {
    // Only regular files are read (a FIFO or a device would block or never end), and only as
    // much as unix seconds can take.
    let evidence = match crate::file::read(path, crate::file::DIRECTORY_ENTRY) {
        Err(e) if e.is_directory() => return None,
        // A folder that cannot be opened is still a folder (`metadata` follows symlinks); this
        // look costs a call only on the way to an error.
        Err(crate::file::ReadError::Io(_)) if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) => {
            return None;
        }
        Err(crate::file::ReadError::NotRegular(_)) => Err(format!(
            "`{}` is not a regular file; expected a file holding unix seconds",
            path.display()
        )),
        Err(e) => Err(format!("cannot read `{}`: {e}", path.display())),
        Ok(bytes) => Ok(bytes),
    }
    .and_then(|bytes| {
        String::from_utf8(bytes)
            .map_err(|_| format!("`{}` is not text; expected unix seconds", path.display()))
    })
    .and_then(|text| {
        parse_entry(&text, source.content, ttl).map_err(|e| format!("`{}`: {e}", path.display()))
    });
    Some(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR: SignedDuration = SignedDuration::from_secs(365 * 86_400);

    #[test]
    fn an_out_of_range_number_is_not_echoed() {
        for content in ["-4815162342424242", "4815162342424242", "0"] {
            let err = parse_entry(content, DirectoryContent::ExpiresAt, YEAR).unwrap_err();
            assert!(!err.contains("4815162342"), "{err}");
            assert!(err.contains("outside that range"), "{err}");
        }
    }

    #[test]
    fn entries_hold_expiry_or_mint_seconds() {
        let e = parse_entry("1808064429\n", DirectoryContent::ExpiresAt, YEAR).unwrap();
        assert_eq!(e.expires_at.unwrap().as_second(), 1_808_064_429);
        assert_eq!(e.minted_at, None);
        let m = parse_entry(" 1776528429 ", DirectoryContent::MintedAt, YEAR).unwrap();
        assert_eq!(m.minted_at.unwrap().as_second(), 1_776_528_429);
        assert_eq!(
            m.expires_at.unwrap().as_second(),
            1_776_528_429 + 365 * 86_400
        );
    }

    #[test]
    fn bad_entries_say_what_was_expected() {
        for (content, wanted) in [
            ("", "empty"),
            ("soon", "found 4 characters that are not one"),
            ("2026-04-18T12:07:09Z", "it is a date"),
            ("0", "after 1970"),
            ("1.5e9", "unix seconds"),
            ("sk-ant-oat01-abcdefgh", "found 21 characters"),
        ] {
            let err = parse_entry(content, DirectoryContent::ExpiresAt, YEAR).unwrap_err();
            assert!(err.contains(wanted), "{content:?}: {err}");
        }
    }

    #[test]
    fn dot_files_are_not_entries() {
        assert!(is_entry_name("primary"));
        assert!(!is_entry_name("..data"));
        assert!(!is_entry_name("..2026_04_18_12_07_09.123"));
        assert!(!is_entry_name(".hidden"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Random and mutated entries: no panic, within the time bound, a short error that
        /// never echoes the content.
        #[test]
        fn any_entry_is_read_or_refused_quickly_without_echo(
            content in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                crate::test_bounds::mutated_text("1808064429\n"),
                "[-+ 0-9\n]{0,40}",
            ],
            minted in proptest::prelude::any::<bool>(),
        ) {
            let meaning = if minted { DirectoryContent::MintedAt } else { DirectoryContent::ExpiresAt };
            let result = crate::test_bounds::within_time("a directory entry", content.len(), || {
                parse_entry(&content, meaning, YEAR)
            });
            if let Err(err) = &result {
                // The message's own example is public, whatever the entry holds.
                crate::decode::tests::assert_no_leak(err, content.trim(), &["`1808064429`"]);
            }
            crate::test_bounds::bounded_error("a directory entry", result);
        }
    }

    #[test]
    fn folders_are_skipped_symlinks_followed_and_odd_entries_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("folder")).unwrap();
        std::fs::create_dir(root.join("..data")).unwrap();
        std::fs::write(root.join("..data/linked"), "1808064429\n").unwrap();
        std::os::unix::fs::symlink("..data/linked", root.join("linked")).unwrap();
        std::os::unix::fs::symlink("folder", root.join("to-folder")).unwrap();
        std::os::unix::fs::symlink("nowhere", root.join("dangling")).unwrap();
        std::fs::write(root.join("plain"), "1808064430").unwrap();
        let fifo = std::ffi::CString::new(root.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let common = SourceCommon {
            name: "dir".into(),
            ttl: YEAR,
            pool: None,
            labels: Default::default(),
            runbook: None,
            thresholds: crate::credential::Thresholds {
                warn_before: SignedDuration::from_hours(24),
                critical_before: SignedDuration::from_hours(1),
            },
        };
        let source = DirectorySource {
            path: root.to_path_buf(),
            content: DirectoryContent::ExpiresAt,
        };
        let read = read_directory(&common, &source).unwrap();
        let found: Vec<(&str, Result<i64, &str>)> = read
            .iter()
            .map(|o| {
                let evidence = o.evidence.as_ref();
                (
                    o.credential.name.as_str(),
                    evidence
                        .map(|e| e.expires_at.unwrap().as_second())
                        .map_err(String::as_str),
                )
            })
            .collect();
        assert_eq!(found.len(), 4, "{found:?}");
        assert_eq!(found[0].0, "dangling");
        assert!(
            found[0].1.unwrap_err().starts_with("cannot read"),
            "{found:?}"
        );
        assert_eq!(found[1].0, "fifo");
        assert!(
            found[1].1.unwrap_err().contains("is not a regular file"),
            "{found:?}"
        );
        assert_eq!(found[2], ("linked", Ok(1_808_064_429)));
        assert_eq!(found[3], ("plain", Ok(1_808_064_430)));
    }
}
