//! `[probes]` (interval, timeout, cache file) and a `[[credential]]`'s `probe = { preset, base,
//! ca_file, timeout }`: which issuer to ask, over HTTPS only (plain HTTP only to loopback).

use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use toml::Spanned;

use super::Validator;
use super::common::choice;
use crate::config::raw::{RawProbe, RawProbes};
use crate::probe::{Preset, ProbeSpec, is_loopback_url};

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

    /// A credential's `probe` table.
    pub(super) fn probe(
        &mut self,
        raw: &Spanned<RawProbe>,
        context: &str,
        defaults: &ProbeDefaults,
        base: &Path,
    ) -> Option<ProbeSpec> {
        let span = raw.span();
        let r = raw.get_ref();
        let Some(preset) = Preset::ALL
            .into_iter()
            .find(|p| p.name() == r.preset.get_ref())
        else {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            self.error(
                r.preset.span(),
                format!(
                    "{context}: `probe.preset`: expected {}, found `{}`",
                    choice(&names),
                    r.preset.get_ref()
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
        let url = url.trim_end_matches('/').to_string();
        let authority = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default());
        let problem = if url.contains(['?', '#'])
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
                format!("{context}: `probe.base`: {problem}, found `{url}`"),
            );
            return None;
        }
        let timeout = self.duration_or(&r.timeout, context, "probe.timeout", defaults.timeout);
        Some(ProbeSpec {
            preset,
            base: url,
            ca_file: r.ca_file.as_ref().map(|f| base.join(f)),
            timeout,
            interval: defaults.interval,
            cache_file: defaults.cache_file.clone(),
        })
    }
}
