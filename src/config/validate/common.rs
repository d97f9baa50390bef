//! Checks every table uses (durations, timestamps, labels, thresholds, bounded numbers, keywords,
//! secret paths), and the one validator of the keys that `[[credential]]` and every `[[source]]`
//! kind share.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use jiff::{SignedDuration, Timestamp};
use toml::Spanned;

use super::names::check_label_name;
use super::{Settings, Validator};
use crate::config::SourceCommon;
use crate::config::raw::RawShared;
use crate::credential::Thresholds;
use crate::time;

/// `` `a` ``, `` `a` or `b` ``, `` `a`, `b` or `c` ``: the choices a message offers.
pub(super) fn choice(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// A secret's path relative to its mount, without surrounding slashes; `None` when it is empty
/// or has an empty, `.` or `..` segment.
pub(super) fn secret_path(raw: &str) -> Option<String> {
    let path = raw.trim_matches('/');
    let valid = !path.is_empty()
        && !path
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    valid.then(|| path.to_string())
}

impl Validator<'_> {
    /// The keys every source kind has, and that a credential has too: `pool`, `labels`,
    /// `runbook`, `ttl`, `warn_before` and `critical_before`, with the defaults filled in.
    pub(super) fn shared(
        &mut self,
        name: String,
        raw: RawShared<'_>,
        context: &str,
        settings: &Settings<'_>,
    ) -> SourceCommon {
        let defaults = settings.defaults;
        SourceCommon {
            name,
            ttl: self.duration_or(raw.ttl, context, "ttl", defaults.ttl),
            pool: self.non_empty(raw.pool.as_ref(), context, "pool"),
            labels: self
                .labels(raw.labels.as_ref(), context, settings.reserved)
                .into(),
            runbook: raw.runbook.clone(),
            thresholds: self.thresholds_from(
                raw.warn_before,
                raw.critical_before,
                defaults.thresholds,
                context,
            ),
        }
    }

    /// A credential's, source's or the defaults' thresholds: its own keys, else `defaults`.
    pub(super) fn thresholds_from(
        &mut self,
        warn: &Option<Spanned<toml::Value>>,
        critical: &Option<Spanned<toml::Value>>,
        defaults: Thresholds,
        context: &str,
    ) -> Thresholds {
        let warn_before = self.duration_or(warn, context, "warn_before", defaults.warn_before);
        let critical_before = self.duration_or(
            critical,
            context,
            "critical_before",
            defaults.critical_before,
        );
        if critical_before > warn_before
            && let Some(span) = critical.as_ref().or(warn.as_ref())
        {
            self.error(
                span.span(),
                format!(
                    "{context}: `critical_before` ({}) is longer than `warn_before` ({}); the warning would never show",
                    time::format_duration(critical_before),
                    time::format_duration(warn_before)
                ),
            );
        }
        Thresholds {
            warn_before,
            critical_before,
        }
    }

    pub(super) fn duration_or(
        &mut self,
        raw: &Option<Spanned<toml::Value>>,
        context: &str,
        key: &str,
        default: SignedDuration,
    ) -> SignedDuration {
        let Some(value) = raw else { return default };
        match value.get_ref() {
            toml::Value::String(s) => match time::parse_duration(s) {
                Ok(d) => d,
                Err(e) => {
                    self.error(value.span(), format!("{context}: `{key}`: {e}"));
                    default
                }
            },
            other => {
                self.error(
                    value.span(),
                    format!(
                        "{context}: `{key}`: expected a duration string such as \"30d\" or \"12h\", found {} `{other}`",
                        other.type_str()
                    ),
                );
                default
            }
        }
    }

    pub(super) fn timestamp(
        &mut self,
        value: &Spanned<toml::Value>,
        context: &str,
        key: &str,
    ) -> Option<Timestamp> {
        let parsed = match value.get_ref() {
            toml::Value::String(s) => time::parse_timestamp(s),
            toml::Value::Integer(i) => time::unix_seconds(*i),
            toml::Value::Datetime(dt) => {
                if dt.offset.is_none() || dt.time.is_none() || dt.date.is_none() {
                    Err(format!(
                        "expected a full date and time with an offset (e.g. 2026-04-18T12:07:09Z), found `{dt}`"
                    ))
                } else {
                    time::parse_timestamp(&dt.to_string())
                }
            }
            other => Err(format!(
                "expected an RFC 3339 time (e.g. \"2026-04-18T12:07:09Z\") or unix seconds, found {} `{other}`",
                other.type_str()
            )),
        };
        match parsed {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(value.span(), format!("{context}: `{key}`: {e}"));
                None
            }
        }
    }

    pub(super) fn labels(
        &mut self,
        raw: Option<&Spanned<BTreeMap<String, String>>>,
        context: &str,
        reserved: &BTreeSet<String>,
    ) -> BTreeMap<String, String> {
        let Some(raw) = raw else {
            return BTreeMap::new();
        };
        for name in raw.get_ref().keys() {
            if let Err(e) = check_label_name(name) {
                self.error(raw.span(), format!("{context}: `labels`: {e}"));
            } else if reserved.contains(name) {
                self.error(
                    raw.span(),
                    format!("{context}: `labels`: `{name}` is a label credwatch sets itself; choose another name"),
                );
            }
        }
        raw.get_ref().clone()
    }

    pub(super) fn non_empty(
        &mut self,
        value: Option<&Spanned<String>>,
        context: &str,
        key: &str,
    ) -> Option<String> {
        let value = value?;
        if value.get_ref().trim().is_empty() {
            self.error(
                value.span(),
                format!("{context}: `{key}` is empty; leave it out instead"),
            );
            return None;
        }
        Some(value.get_ref().clone())
    }

    /// A whole number within `range`, else `default`.
    pub(super) fn bounded(
        &mut self,
        value: &Option<Spanned<i64>>,
        context: &str,
        key: &str,
        range: RangeInclusive<i64>,
        default: i64,
    ) -> i64 {
        match value {
            None => default,
            Some(v) if range.contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                self.error(
                    v.span(),
                    format!(
                        "{context}: `{key}`: expected {} to {}, found {}",
                        range.start(),
                        range.end(),
                        v.get_ref()
                    ),
                );
                default
            }
        }
    }

    /// One of the words of `table`; an error naming them all otherwise.
    pub(super) fn keyword<T: Copy>(
        &mut self,
        value: &Spanned<String>,
        context: &str,
        key: &str,
        table: &[(&str, T)],
    ) -> Option<T> {
        if let Some((_, t)) = table.iter().find(|(word, _)| word == value.get_ref()) {
            return Some(*t);
        }
        let words: Vec<&str> = table.iter().map(|(word, _)| *word).collect();
        self.error(
            value.span(),
            format!(
                "{context}: `{key}`: expected {}, found `{}`",
                choice(&words),
                value.get_ref()
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_read_as_a_sentence() {
        assert_eq!(choice(&["a"]), "`a`");
        assert_eq!(choice(&["a", "b"]), "`a` or `b`");
        assert_eq!(choice(&["a", "b", "c"]), "`a`, `b` or `c`");
    }

    #[test]
    fn secret_paths_lose_their_slashes_and_refuse_empty_or_dot_segments() {
        assert_eq!(secret_path("/a/b/").as_deref(), Some("a/b"));
        for bad in ["", "/", "a//b", "a/./b", "../a"] {
            assert_eq!(secret_path(bad), None, "{bad}");
        }
    }
}
