//! `[[credential]]`: a credential the file declares, with its lifetime stated (`minted_at` +
//! `ttl`, or `expires_at`) or read from its value.

use super::{Settings, Validator};
use crate::config::raw::RawCredential;
use crate::config::{Derive, INVENTORY_SOURCE, InventoryEntry, SourceCommon, ValueFrom};
use crate::credential::{Basis, Credential, Evidence};
use crate::time;

impl Validator<'_> {
    pub(super) fn credential(
        &mut self,
        c: RawCredential,
        settings: &Settings<'_>,
        vault_sources: &[String],
    ) -> Option<InventoryEntry> {
        let name = c.name.get_ref().clone();
        let context = format!("credential `{name}`");
        if name.is_empty() {
            self.error(c.name.span(), "credential: `name` is empty".into());
        }
        let declares = c.minted_at.is_some() || c.expires_at.is_some();
        let value = self.value_spec(&c, &context, declares, settings.base, vault_sources);
        let SourceCommon {
            name,
            ttl,
            pool,
            labels,
            runbook,
            thresholds,
        } = self.shared(name, c.shared(), &context, settings);

        let mut ok = value.is_ok();
        let mut value = value.unwrap_or(None);
        let probe = match &c.probe {
            None => None,
            Some(raw) => {
                let spec = self.probe(raw, &context, settings.probes, settings.base);
                ok &= spec.is_some();
                match (&spec, &mut value) {
                    (None, _) => {}
                    (Some(_), None) => {
                        self.error(
                            raw.span(),
                            format!("{context}: `probe` needs the value: set `file` or `env`"),
                        );
                        ok = false;
                    }
                    (Some(_), Some(v)) if matches!(v.from, ValueFrom::Vault { .. }) => {
                        self.error(
                            raw.span(),
                            format!("{context}: `probe` works on values from `file` or `env`; a value in Vault cannot be probed yet"),
                        );
                        ok = false;
                    }
                    (Some(p), Some(v)) => {
                        // Nothing recorded and nothing asked of the value: the issuer says.
                        if !declares
                            && c.expiry_from.is_none()
                            && matches!(v.derive, Some(Derive::Detect { .. }))
                        {
                            if p.kind.tells_expiry() {
                                v.derive = None;
                            } else {
                                self.error(
                                    raw.span(),
                                    format!("{context}: the `{}` probe does not tell the expiry; give `minted_at` or `expires_at`", p.kind.name()),
                                );
                                ok = false;
                            }
                        }
                    }
                }
                spec
            }
        };
        let declared = match (&c.minted_at, &c.expires_at) {
            (Some(_), Some(expires)) => {
                self.error(
                    expires.span(),
                    format!(
                        "{context}: give either `minted_at` (with `ttl`) or `expires_at`, not both"
                    ),
                );
                ok = false;
                None
            }
            (None, None) => {
                if value.as_ref().is_none_or(|v| v.derive.is_none()) && probe.is_none() && ok {
                    // (A vault value always has a way to its expiry: the metadata.)
                    self.error(
                        c.name.span(),
                        format!(
                            "{context}: needs `minted_at` (the expiry is minted_at + ttl, {} by default), `expires_at`, or a value holding a JWT or certificate (`file` or `env`)",
                            time::format_duration(settings.defaults.ttl)
                        ),
                    );
                    ok = false;
                }
                None
            }
            (None, Some(expires)) => {
                if let Some(ttl) = &c.ttl {
                    self.error(
                        ttl.span(),
                        format!("{context}: `ttl` applies to `minted_at` only; with `expires_at` leave it out"),
                    );
                }
                let t = self.timestamp(expires, &context, "expires_at");
                ok &= t.is_some();
                t.map(|expires_at| Evidence::declared(None, expires_at, Basis::ExpiresAt))
            }
            (Some(minted), None) => match self.timestamp(minted, &context, "minted_at") {
                None => {
                    ok = false;
                    None
                }
                Some(minted_at) => match time::add(minted_at, ttl) {
                    Ok(expires_at) => Some(Evidence::declared(
                        Some(minted_at),
                        expires_at,
                        Basis::MintedAtPlusTtl,
                    )),
                    Err(e) => {
                        self.error(minted.span(), format!("{context}: {e}"));
                        ok = false;
                        None
                    }
                },
            },
        };
        if !ok {
            return None;
        }
        Some(InventoryEntry {
            credential: Credential {
                name,
                pool,
                source: INVENTORY_SOURCE.into(),
                labels,
                runbook,
                thresholds,
            },
            declared,
            value: value.map(Box::new),
            probe: probe.map(Box::new),
        })
    }
}
