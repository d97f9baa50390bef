//! Config problems and their place: [`ConfigError`] holds every problem of a file at once, each
//! turned from a byte span into a line, a column and the text of its line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Every problem found in a config file, each with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The text of the offending line, shown under the message.
    pub excerpt: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                p.line,
                p.column,
                p.message
            )?;
            if !p.excerpt.trim().is_empty() {
                write!(f, "\n{:>6} | {}", p.line, p.excerpt)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The problem at byte `span` of `text`.
fn problem(text: &str, span: Range<usize>, message: String) -> Problem {
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count() + 1;
    let excerpt = mask_excerpt(text[line_start..].lines().next().unwrap_or(""));
    Problem {
        line,
        column,
        message,
        excerpt,
    }
}

/// A file that is not TOML, or whose TOML does not fit the raw types: one problem.
/// A config line as shown under a problem, with what could be a credential masked: the
/// password of a URL with userinfo (`http://user:***@host`, or all of a lone `token@`) and the value of any key whose name
/// says token, password, secret or key.
pub fn mask_excerpt(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let secret_key = line.split_once('=').is_some_and(|(key, _)| {
        let key = key.to_ascii_lowercase();
        ["token", "password", "secret", "passwd", "apikey", "api_key"]
            .iter()
            .any(|w| key.contains(w))
            && !key.contains("_file")
    });
    if secret_key && let Some((key, _)) = line.split_once('=') {
        return format!("{key}= \"***\"");
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut rest_lower = lower.as_str();
    // Every `scheme://userinfo@` on the line: keep the user, mask the password.
    while let Some(at) = rest_lower.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after
            .find(|c: char| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(at_sign) => {
                // `user:password@` keeps the user; a lone `token@` is masked whole.
                match authority[..at_sign].split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":***@");
                    }
                    None => out.push_str("***@"),
                }
                out.push_str(&authority[at_sign + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
        rest_lower = &rest_lower[at + 3 + authority_end..];
    }
    out.push_str(rest);
    out
}

pub(super) fn syntax_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let span = e.span().unwrap_or(0..0);
    let mut message = e.message().trim_end().to_string();
    if message.contains("expected a sequence") {
        message.push_str(
            "; `[[credential]]`, `[[source]]` and `[[format]]` take double brackets, one table per entry",
        );
    }
    ConfigError {
        path: path.to_path_buf(),
        problems: vec![problem(text, span, message)],
    }
}

/// The problems the validator has found so far, by byte span of the file's text.
pub(super) struct Diagnostics<'a> {
    text: &'a str,
    found: Vec<(Range<usize>, String)>,
    /// Where the spans of what is being validated start in the text: a `[[credential]]`
    /// parsed on its own counts from its section (see `split`).
    base: usize,
}

impl<'a> Diagnostics<'a> {
    pub fn new(text: &'a str) -> Self {
        Diagnostics {
            text,
            found: Vec::new(),
            base: 0,
        }
    }

    /// Spans given from now on count from byte `base` of the text.
    pub fn set_base(&mut self, base: usize) {
        self.base = base;
    }

    /// `span` as a range of the whole text.
    pub fn absolute(&self, span: Range<usize>) -> Range<usize> {
        span.start + self.base..span.end + self.base
    }

    pub fn error(&mut self, span: Range<usize>, message: String) {
        let span = self.absolute(span);
        self.found.push((span, message));
    }

    /// The line an [`absolute`](Self::absolute) span starts on, for messages that point back at
    /// an earlier definition.
    pub fn line_of(&self, span: Range<usize>) -> usize {
        problem(self.text, span, String::new()).line
    }

    /// `value` if nothing was found; else every problem, in the order of the file.
    pub fn finish<T>(mut self, path: &Path, value: T) -> Result<T, ConfigError> {
        if self.found.is_empty() {
            return Ok(value);
        }
        // Stable: problems at one place keep the order they were found in.
        self.found.sort_by_key(|(span, _)| span.start);
        let text = self.text;
        Err(ConfigError {
            path: path.to_path_buf(),
            problems: self
                .found
                .into_iter()
                .map(|(span, message)| problem(text, span, message))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::mask_excerpt;

    #[test]
    fn excerpts_mask_url_passwords_and_secret_keys_only() {
        assert_eq!(
            mask_excerpt(r#"url = "http://user:hunter2@pg:9091/x""#),
            r#"url = "http://user:***@pg:9091/x""#
        );
        assert_eq!(
            mask_excerpt(r#"url = "https://tok3n@pg""#),
            r#"url = "https://***@pg""#
        );
        assert_eq!(
            mask_excerpt(r#"password = "hunter2""#),
            r#"password = "***""#
        );
        assert_eq!(mask_excerpt(r#"api_token="abc""#), r#"api_token= "***""#);
        for kept in [
            r#"url = "http://pg:9091""#,
            r#"password_file = "/run/secrets/pg""#,
            r#"auth = { method = "token", token_file = "/t" }"#,
            "name = \"ünïcode\"",
        ] {
            assert_eq!(mask_excerpt(kept), kept);
        }
    }
}
