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
    let excerpt = text[line_start..].lines().next().unwrap_or("").to_string();
    Problem {
        line,
        column,
        message,
        excerpt,
    }
}

/// A file that is not TOML, or whose TOML does not fit the raw types: one problem.
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
}

impl<'a> Diagnostics<'a> {
    pub fn new(text: &'a str) -> Self {
        Diagnostics {
            text,
            found: Vec::new(),
        }
    }

    pub fn error(&mut self, span: Range<usize>, message: String) {
        self.found.push((span, message));
    }

    /// The line a span starts on, for messages that point back at an earlier definition.
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
