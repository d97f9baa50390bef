//! `[probes]` (interval, timeout, cache file) and a `[[credential]]`'s `probe`: a preset
//! (`{ preset, base, ca_file, timeout }`) or the generic form (`{ url, method, headers, valid,
//! rejected, expiry_header | expiry_pointer, expiry_format, ca_file, timeout }`); HTTPS only
//! (plain HTTP only to loopback), the value only in a header.

use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use toml::Spanned;

use super::Validator;
use super::common::choice;
use crate::config::raw::{RawProbe, RawProbes};
use crate::probe::generic::{ExpiryAt, TimeFormat};
use crate::probe::preset::HeaderSpec;
use crate::probe::{GenericProbe, Preset, ProbeKind, ProbeSpec, is_loopback_url};

/// `[probes]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProbeDefaults {
    pub interval: SignedDuration,
    pub timeout: SignedDuration,
    pub cache_file: Option<PathBuf>,
}

impl Validator<'_> {
    pub(super) fn probe_defaults(&mut self, raw: &RawProbes, base: &Path) -> ProbeDefaults {
        ProbeDefaults {
            interval: self.duration_or(
                &raw.interval,
                "probes",
                "interval",
                SignedDuration::from_hours(1),
            ),
            timeout: self.duration_or(
                &raw.timeout,
                "probes",
                "timeout",
                SignedDuration::from_secs(10),
            ),
            cache_file: raw.cache_file.as_ref().map(|f| base.join(f)),
        }
    }

    /// A credential's `probe` table: a preset, or the generic form (`url`, …).
    pub(super) fn probe(
        &mut self,
        raw: &Spanned<RawProbe>,
        context: &str,
        defaults: &ProbeDefaults,
        base: &Path,
    ) -> Option<ProbeSpec> {
        let span = raw.span();
        let r = raw.get_ref();
        let generic_keys = [
            ("url", r.url.is_some()),
            ("method", r.method.is_some()),
            ("headers", r.headers.is_some()),
            ("valid", r.valid.is_some()),
            ("rejected", r.rejected.is_some()),
            ("expiry_header", r.expiry_header.is_some()),
            ("expiry_pointer", r.expiry_pointer.is_some()),
            ("expiry_format", r.expiry_format.is_some()),
        ];
        let (kind, url, label) = match &r.preset {
            Some(name) => {
                if let Some((key, _)) = generic_keys.iter().find(|(_, set)| *set) {
                    self.error(
                        span,
                        format!("{context}: `probe.{key}` belongs to the generic form; a preset takes `base`, `ca_file` and `timeout`"),
                    );
                    return None;
                }
                let Some(preset) = Preset::ALL.into_iter().find(|p| p.name() == name.get_ref())
                else {
                    let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                    self.error(
                        name.span(),
                        format!(
                            "{context}: `probe.preset`: expected {}, found `{}`",
                            choice(&names),
                            name.get_ref()
                        ),
                    );
                    return None;
                };
                let Some(url) = r.base.clone().or(preset.default_base().map(String::from)) else {
                    self.error(
                        span,
                        format!(
                            "{context}: `probe.base`: the `{}` preset needs the server's address, e.g. `https://vault.example:8200`",
                            preset.name()
                        ),
                    );
                    return None;
                };
                (
                    ProbeKind::Preset(preset),
                    url.trim_end_matches('/').to_string(),
                    "base",
                )
            }
            None => {
                let Some(url) = r.url.clone() else {
                    self.error(
                        span,
                        format!("{context}: `probe` needs `preset` (one of {}) or `url` (the generic form)", choice(&Preset::ALL.map(|p| p.name()))),
                    );
                    return None;
                };
                if r.base.is_some() {
                    self.error(span, format!("{context}: `probe.base` belongs to presets; the generic form gives the whole `url`"));
                    return None;
                }
                (
                    ProbeKind::Generic(Box::new(self.generic(r, &url, span.clone(), context)?)),
                    url,
                    "url",
                )
            }
        };
        let authority = url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or_default());
        let query_ok = label == "url";
        let problem = if url.contains('#')
            || (!query_ok && url.contains('?'))
            || authority.is_some_and(|a| a.contains('@'))
            || authority.is_none_or(str::is_empty)
        {
            Some("expected `https://host[:port][/path]` without credentials, query or fragment")
        } else if url.starts_with("https://") {
            None
        } else if url.starts_with("http://") {
            (!is_loopback_url(&url))
                .then_some("plain `http://` is allowed only to a loopback address; use `https://`")
        } else {
            Some("expected an `https://` URL")
        };
        if let Some(problem) = problem {
            self.error(
                span,
                format!("{context}: `probe.{label}`: {problem}, found `{url}`"),
            );
            return None;
        }
        let timeout = self.duration_or(&r.timeout, context, "probe.timeout", defaults.timeout);
        Some(ProbeSpec {
            kind,
            base: url,
            ca_file: r.ca_file.as_ref().map(|f| base.join(f)),
            timeout,
            interval: defaults.interval,
            cache_file: defaults.cache_file.clone(),
        })
    }

    /// The generic form's own keys.
    fn generic(
        &mut self,
        r: &RawProbe,
        url: &str,
        span: std::ops::Range<usize>,
        context: &str,
    ) -> Option<GenericProbe> {
        let fail = |v: &mut Self, message: String| {
            v.error(span.clone(), format!("{context}: {message}"));
            None::<GenericProbe>
        };
        if url.contains(VALUE) {
            return fail(
                self,
                format!("`probe.url` may not hold `{VALUE}`: the value goes only into a header"),
            );
        }
        let method = r
            .method
            .clone()
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        if !["GET", "HEAD", "POST"].contains(&method.as_str()) {
            return fail(
                self,
                format!("`probe.method`: expected `GET`, `HEAD` or `POST`, found `{method}`"),
            );
        }
        let mut headers = Vec::new();
        for (name, text) in r.headers.iter().flatten() {
            let header = match text.matches(VALUE).count() {
                0 => HeaderSpec::fixed(name, text),
                1 => {
                    let (before, after) = text.split_once(VALUE).unwrap_or_default();
                    HeaderSpec {
                        after: after.into(),
                        ..HeaderSpec::value(name, before)
                    }
                }
                _ => {
                    return fail(
                        self,
                        format!("`probe.headers.{name}` holds `{VALUE}` more than once"),
                    );
                }
            };
            headers.push(header);
        }
        if !headers.iter().any(|h| h.with_value) {
            return fail(
                self,
                format!(
                    "`probe.headers` must send the value: put `{VALUE}` into one, e.g. `Authorization = \"Bearer {VALUE}\"`"
                ),
            );
        }
        let statuses = |v: &mut Self, key: &str, list: &Option<Vec<i64>>| -> Option<Vec<u16>> {
            let list = list.clone().unwrap_or_default();
            let out: Vec<u16> = list
                .iter()
                .filter_map(|s| u16::try_from(*s).ok())
                .filter(|s| (200..600).contains(s))
                .collect();
            if list.is_empty() || out.len() != list.len() {
                v.error(span.clone(), format!("{context}: `probe.{key}` needs HTTP statuses (200 to 599), e.g. `{key} = [{}]`", if key == "valid" { 200 } else { 401 }));
                return None;
            }
            Some(out)
        };
        let valid = statuses(self, "valid", &r.valid)?;
        let rejected = statuses(self, "rejected", &r.rejected)?;
        if let Some(both) = valid.iter().find(|s| rejected.contains(s)) {
            return fail(
                self,
                format!("status {both} is in both `probe.valid` and `probe.rejected`"),
            );
        }
        let at = match (&r.expiry_header, &r.expiry_pointer) {
            (Some(_), Some(_)) => {
                return fail(
                    self,
                    "give `probe.expiry_header` or `probe.expiry_pointer`, not both".into(),
                );
            }
            (Some(h), None) => Some(ExpiryAt::Header(h.clone())),
            (None, Some(p)) if p.starts_with('/') => Some(ExpiryAt::Pointer(p.clone())),
            (None, Some(p)) => {
                return fail(
                    self,
                    format!(
                        "`probe.expiry_pointer`: expected a JSON pointer such as `/data/expires_at`, found `{p}`"
                    ),
                );
            }
            (None, None) => None,
        };
        let format = match (&at, &r.expiry_format) {
            (None, None) => None,
            (None, Some(_)) => {
                return fail(
                    self,
                    "`probe.expiry_format` needs `expiry_header` or `expiry_pointer`".into(),
                );
            }
            (Some(_), f) => {
                let name = f.as_deref().unwrap_or_default();
                match TimeFormat::ALL.iter().find(|(n, _)| *n == name) {
                    Some((_, f)) => Some(*f),
                    None => {
                        return fail(
                            self,
                            format!(
                                "`probe.expiry_format`: expected `rfc3339`, `unix` or `date`, found `{name}`"
                            ),
                        );
                    }
                }
            }
        };
        Some(GenericProbe {
            method,
            headers,
            valid,
            rejected,
            expiry: at.zip(format),
        })
    }
}

/// Where the value goes in a generic probe's headers.
const VALUE: &str = "{value}";
