//! A config text cut into its `[[credential]]` sections and the rest, so that each section is
//! parsed on its own: toml parses a document into a token list, an event list and a spanned
//! tree of the whole file before serde sees it, about 4 KiB per entry, where one section at a
//! time costs only its [`RawCredential`], validated before the next section is parsed.
//!
//! Only the plain shape is cut: `[[credential]]` headers, each followed by its keys and its
//! `[credential.<key>]` sub-tables. Anything else about `credential` (a quoted header, an inline
//! array, a sub-table before any entry) makes [`split`] answer `None`, and so does any section
//! that does not parse: the caller then parses the whole text, which gives the same values or
//! the same error as ever.

use std::ops::Range;

use serde::Deserialize;
use toml_parser::lexer::TokenKind;

use super::raw::{RawConfig, RawCredential};

/// What a table header at the start of a line opens.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    /// `[[credential]]`: a new entry.
    Entry,
    /// `[credential.<key>]`: a sub-table of the last entry.
    OfEntry,
    /// Any table that is not about credentials.
    Other,
    /// Something about `credential` in a form not cut here.
    Unsure,
}

/// The header on `line` (from its `[` to the end of the line).
fn header(line: &str) -> Header {
    let line = line.trim_end();
    if let Some(inner) = line.strip_prefix("[[") {
        let rest = inner.trim_start();
        if let Some(after) = rest.strip_prefix("credential")
            && let Some(tail) = after.trim_start().strip_prefix("]]")
        {
            let tail = tail.trim_start();
            if tail.is_empty() || tail.starts_with('#') {
                return Header::Entry;
            }
        }
    } else if let Some(inner) = line.strip_prefix('[')
        && let Some(after) = inner.trim_start().strip_prefix("credential")
        && after.trim_start().starts_with('.')
        && !line.contains(['"', '\''])
    {
        return Header::OfEntry;
    }
    if line.contains("credential") {
        Header::Unsure
    } else {
        Header::Other
    }
}

/// The byte ranges of the `[[credential]]` sections of `text`, each from its header to the next
/// header of another table (or the end); `None` when the text is not in the plain shape.
fn sections(text: &str) -> Option<Vec<Range<usize>>> {
    let mut sections = Vec::new();
    let mut open: Option<usize> = None;
    // Arrays and inline tables open around the current token.
    let mut depth = 0usize;
    let mut line_start = true;
    let mut in_header = false;
    for token in toml_parser::Source::new(text).lex() {
        let kind = token.kind();
        if kind == TokenKind::Newline {
            line_start = true;
            in_header = false;
            continue;
        }
        if in_header || matches!(kind, TokenKind::Whitespace | TokenKind::Comment) {
            continue;
        }
        let at = token.span().start();
        match kind {
            // At the start of a line and outside any value, `[` opens a table header.
            TokenKind::LeftSquareBracket if depth == 0 && line_start => {
                let line = text[at..].split('\n').next().unwrap_or_default();
                match header(line) {
                    Header::Entry => {
                        if let Some(start) = open.replace(at) {
                            sections.push(start..at);
                        }
                    }
                    Header::OfEntry => open.as_ref().map(|_| ())?,
                    Header::Other => {
                        if let Some(start) = open.take() {
                            sections.push(start..at);
                        }
                    }
                    Header::Unsure => return None,
                }
                in_header = true;
            }
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => depth += 1,
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                depth = depth.checked_sub(1)?;
            }
            TokenKind::Eof => break,
            _ => {}
        }
        line_start = false;
    }
    if depth != 0 {
        return None;
    }
    if let Some(start) = open {
        sections.push(start..text.len());
    }
    Some(sections)
}

/// One section parsed alone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    credential: Vec<RawCredential>,
}

/// Every table but the credentials, parsed from the rest of the text, and the byte ranges of
/// the `[[credential]]` sections, each to be parsed with [`section`] when its turn comes (so
/// that only one raw entry is alive at a time). `None` when the text is not in the plain shape
/// or the rest does not parse (see the module doc).
pub(super) fn parse(text: &str) -> Option<(RawConfig, Vec<Range<usize>>)> {
    let sections = sections(text)?;
    if sections.is_empty() {
        return None;
    }
    // The rest keeps every byte offset: each section is blanked out, its last newline kept.
    let mut rest = text.as_bytes().to_vec();
    for range in &sections {
        let blank = &mut rest[range.clone()];
        let keep_newline = blank.last() == Some(&b'\n');
        blank.fill(b' ');
        if keep_newline && let Some(last) = blank.last_mut() {
            *last = b'\n';
        }
    }
    // Whole characters were replaced by spaces: still UTF-8.
    let rest = String::from_utf8(rest).ok()?;
    let raw: RawConfig = toml::from_str(&rest).ok()?;
    drop(rest);
    if !raw.credentials.is_empty() {
        return None;
    }
    Some((raw, sections))
}

/// The credential of one section `range` of `text` (as [`parse`] found them), its spans
/// counting from the section's start; `None` when it does not parse as exactly one entry.
pub(super) fn section(text: &str, range: Range<usize>) -> Option<RawCredential> {
    let mut section: Section = toml::from_str(text.get(range)?).ok()?;
    let credential = section.credential.pop()?;
    section.credential.is_empty().then_some(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart() {
        assert_eq!(header("[[credential]]"), Header::Entry);
        assert_eq!(header("[[ credential ]]  # one"), Header::Entry);
        assert_eq!(header("[credential.probe]"), Header::OfEntry);
        assert_eq!(header("[defaults]"), Header::Other);
        assert_eq!(header("[[source]]"), Header::Other);
        for unsure in [
            "[[\"credential\"]]",
            "[credential]",
            "[[credential.probe]]",
            "[credentials]",
            "[\"credential\".probe]",
        ] {
            assert_eq!(header(unsure), Header::Unsure, "{unsure}");
        }
    }

    #[test]
    fn sections_run_from_an_entry_to_the_next_other_table() {
        let text = "a = 1\n[[credential]]\nname = \"x\"\n[credential.probe]\npreset = \"g\"\n\
                    [defaults]\nttl = \"1d\"\n[[credential]]\nname = \"y\"\nv = [\n[1],\n]\n";
        let found = sections(text).unwrap();
        let texts: Vec<&str> = found.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(
            texts,
            [
                "[[credential]]\nname = \"x\"\n[credential.probe]\npreset = \"g\"\n",
                "[[credential]]\nname = \"y\"\nv = [\n[1],\n]\n",
            ]
        );
    }

    #[test]
    fn a_header_inside_a_multi_line_string_is_not_one() {
        let text = "[[credential]]\nname = \"\"\"\n[[credential]]\n\"\"\"\n";
        assert_eq!(sections(text).unwrap(), vec![(0..text.len())]);
    }

    /// The validated config and its errors, by way of the sections and of the whole file.
    fn both_ways(text: &str) -> (String, String) {
        let path = std::path::Path::new("/etc/credwatch.toml");
        let whole = toml::from_str(text)
            .map_err(|e| super::super::diagnostics::syntax_error(text, path, &e))
            .and_then(|raw| {
                super::super::validate::config(raw, &[], text, path).expect("no sections")
            });
        (
            format!("{:?}", super::super::parse_config(text, path)),
            format!("{whole:?}"),
        )
    }

    #[test]
    fn sections_give_what_the_whole_file_gives() {
        for text in [
            include_str!("../../examples/credwatch.toml"),
            include_str!("../../tests/golden/configs/odd-names.toml"),
            include_str!("../../tests/golden/configs/pools.toml"),
            include_str!("../../tests/golden/configs/probes.toml"),
            include_str!("../../tests/golden/configs/vault-pools.toml"),
        ] {
            assert!(sections(text).is_some_and(|s| !s.is_empty()));
            let (split, whole) = both_ways(text);
            assert_eq!(split, whole);
        }
    }

    #[test]
    fn problems_in_a_section_name_their_line_in_the_file() {
        let text = "[defaults]\nttl = \"1d\"\n\n[[credential]]\nname = \"a\"\nexpires_at = \"2027-01-01T00:00:00Z\"\n\n\
                    [[credential]]\nname = \"b\"\nexpires_at = \"soon\"\n\n\
                    [[credential]]\nname = \"a\"\nexpires_at = \"2027-01-01T00:00:00Z\"\n";
        let (split, whole) = both_ways(text);
        assert_eq!(split, whole);
        let message = super::super::parse_config(text, std::path::Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("c.toml:10:"), "{message}");
        assert!(message.contains("c.toml:13:"), "{message}");
        assert!(message.contains("first defined on line 5"), "{message}");
    }

    #[test]
    fn a_section_that_does_not_parse_gives_the_whole_file_error() {
        let good = "[[credential]]\nname = \"a\"\nexpires_at = \"2027-01-01T00:00:00Z\"\n";
        for bad in [
            "[[credential]]\nname = \"b\"\nexpires_at = \n",
            "[[credential]]\nname = \"b\"\nexpire_at = \"2027-01-01T00:00:00Z\"\n",
            "[[credential]]\nname = \"b\"\nlabels = { team = 1 }\n",
        ] {
            let text = format!("{good}{bad}{good}");
            let (split, whole) = both_ways(&text);
            assert_eq!(split, whole);
            assert!(split.starts_with("Err"), "{split}");
        }
    }

    #[test]
    fn shapes_not_cut_here_are_left_to_the_whole_file_parse() {
        for text in [
            "[credential.probe]\npreset = \"g\"\n[[credential]]\nname = \"x\"\n",
            "credential = [{ name = \"x\" }]\n",
            "[[credential]]\nname = \"x\"\n[defaults]\n[credential.probe]\n",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
