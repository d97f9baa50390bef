//! Where a `[[credential]]`'s value lives (`file`, `env` or `vault`) and how its expiry is read
//! from it (`format`, `chain`, `expiry_from`). Each of these keys has one parser, whatever the
//! place; a place only narrows what applies (`expiry_from = "metadata"` exists only in Vault).

use std::path::Path;

use toml::Spanned;

use super::Validator;
use super::common::secret_path;
use crate::config::raw::RawCredential;
use crate::config::{Derive, ValueFrom, ValueSpec};
use crate::decode::format::FormatProfile;

/// Where the value is read from, as far as the keys that apply differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A file or an environment variable.
    Local,
    Vault,
}

/// What `expiry_from` names.
#[derive(Debug, Clone, Copy)]
enum ExpiryFrom {
    Metadata,
    Value,
    Jwt,
    X509,
    Ssh,
}

/// Every `expiry_from` word, with the places it applies to.
const EXPIRY_FROM: [(&str, ExpiryFrom, &[Place]); 5] = [
    ("metadata", ExpiryFrom::Metadata, &[Place::Vault]),
    ("value", ExpiryFrom::Value, &[Place::Local, Place::Vault]),
    ("jwt", ExpiryFrom::Jwt, &[Place::Local, Place::Vault]),
    ("x509", ExpiryFrom::X509, &[Place::Local, Place::Vault]),
    ("ssh", ExpiryFrom::Ssh, &[Place::Local, Place::Vault]),
];

/// `chain`: whether the expiry of a certificate bundle is its earliest one.
const CHAIN: [(&str, bool); 2] = [("leaf", false), ("earliest", true)];

impl ExpiryFrom {
    fn derive(self, earliest: bool) -> Derive {
        match self {
            ExpiryFrom::Metadata => Derive::VaultMetadata,
            ExpiryFrom::Value => Derive::Detect { earliest },
            ExpiryFrom::Jwt => Derive::Jwt,
            ExpiryFrom::X509 => Derive::X509 { earliest },
            ExpiryFrom::Ssh => Derive::Ssh,
        }
    }
}

/// Without `expiry_from`: what the format implies, else the place's own way (`fallback`).
fn implied(format: Option<&FormatProfile>, earliest: bool, fallback: Derive) -> Derive {
    match format.map(|f| f.name.as_str()) {
        Some("jwt") => Derive::Jwt,
        Some("pem-certificate") => Derive::X509 { earliest },
        _ => fallback,
    }
}

impl Validator<'_> {
    /// Where the credential's value lives and what it is read for. `declared` says whether the
    /// config also states the expiry.
    pub(super) fn value_spec(
        &mut self,
        c: &RawCredential,
        context: &str,
        declared: bool,
        base: &Path,
        vault_sources: &[String],
    ) -> Result<Option<ValueSpec>, ()> {
        let places = [
            c.file.as_ref().map(|_| "file"),
            c.env.as_ref().map(|_| "env"),
            c.vault.as_ref().map(|_| "vault"),
        ];
        let places: Vec<&str> = places.into_iter().flatten().collect();
        if places.len() > 1 {
            let span = c
                .vault
                .as_ref()
                .map(Spanned::span)
                .or(c.env.as_ref().map(Spanned::span))
                .unwrap_or(0..0);
            self.error(
                span,
                format!(
                    "{context}: give one place for the value, not `{}`",
                    places.join("` and `")
                ),
            );
            return Err(());
        }
        match &c.vault {
            Some(v) => self.vault_value(c, v, context, declared, vault_sources),
            None => self.local_value(c, context, declared, base),
        }
    }

    /// A value in Vault: the expiry comes from the metadata unless declared or read from the
    /// value; the value itself is read only for a format check, a JWT or certificate, or the
    /// fingerprint of a pool member, and then `vault.field` is required.
    fn vault_value(
        &mut self,
        c: &RawCredential,
        v: &Spanned<crate::config::raw::RawVaultRef>,
        context: &str,
        declared: bool,
        vault_sources: &[String],
    ) -> Result<Option<ValueSpec>, ()> {
        let r = v.get_ref();
        let source = match (&r.source, vault_sources) {
            (Some(s), known) if known.contains(s) => s.clone(),
            (Some(s), _) => {
                self.error(
                    v.span(),
                    format!(
                        "{context}: `vault.source`: no `[[source]] kind = \"vault\"` is named `{s}`"
                    ),
                );
                return Err(());
            }
            (None, [only]) => only.clone(),
            (None, []) => {
                self.error(
                    v.span(),
                    format!("{context}: `vault` needs a `[[source]] kind = \"vault\"` (address, mount, auth)"),
                );
                return Err(());
            }
            (None, _) => {
                self.error(
                    v.span(),
                    format!(
                        "{context}: several vault sources exist; say which with `vault.source`"
                    ),
                );
                return Err(());
            }
        };
        let Some(path) = secret_path(&r.path) else {
            self.error(
                v.span(),
                format!("{context}: `vault.path`: `{}` is not a secret path", r.path),
            );
            return Err(());
        };
        let field = r.field.clone().filter(|f| !f.is_empty());
        let has_field = field.is_some();
        let from = ValueFrom::Vault {
            source,
            path,
            field,
        };

        let format = self.format(&c.format, context)?;
        let earliest = self.chain(&c.chain, context)?;
        if declared && let Some(v) = &c.expiry_from {
            self.error(
                v.span(),
                format!("{context}: `expiry_from` takes the expiry from the value; leave out `minted_at`/`expires_at`"),
            );
            return Err(());
        }
        let derive = if declared {
            None
        } else {
            Some(
                match self.expiry_from(&c.expiry_from, context, Place::Vault)? {
                    None => implied(format.as_ref(), earliest, Derive::VaultMetadata),
                    Some(e) => e.derive(earliest),
                },
            )
        };
        let spec = ValueSpec {
            from,
            format,
            derive,
            fingerprint: c.pool.is_some() && has_field,
        };
        if spec.needs_value() && !has_field {
            self.error(
                v.span(),
                format!("{context}: reading this value (format check, JWT or certificate) needs `vault.field`, the key inside the secret"),
            );
            return Err(());
        }
        Ok(Some(spec))
    }

    /// A value in a file or an environment variable, or no value at all.
    fn local_value(
        &mut self,
        c: &RawCredential,
        context: &str,
        declared: bool,
        base: &Path,
    ) -> Result<Option<ValueSpec>, ()> {
        let from = match (&c.file, &c.env) {
            (Some(file), _) => Some(ValueFrom::File(base.join(file.get_ref()))),
            (None, Some(env)) if env.get_ref().is_empty() || env.get_ref().contains('=') => {
                self.error(
                    env.span(),
                    format!(
                        "{context}: `env`: `{}` is not an environment variable name",
                        env.get_ref()
                    ),
                );
                return Err(());
            }
            (None, Some(env)) => Some(ValueFrom::Env(env.get_ref().clone())),
            (None, None) => None,
        };
        let format = self.format(&c.format, context);
        let earliest = self.chain(&c.chain, context);
        let explicit = self.expiry_from(&c.expiry_from, context, Place::Local)?;
        let mut ok = format.is_ok() && earliest.is_ok();
        let (format, earliest) = (format.unwrap_or(None), earliest.unwrap_or(false));
        let Some(from) = from else {
            for (key, v) in [
                ("format", &c.format),
                ("expiry_from", &c.expiry_from),
                ("chain", &c.chain),
            ] {
                if let Some(v) = v {
                    self.error(
                        v.span(),
                        format!("{context}: `{key}` needs the value: set `file` or `env`"),
                    );
                    ok = false;
                }
            }
            return if ok { Ok(None) } else { Err(()) };
        };
        if declared && let Some(v) = &c.expiry_from {
            self.error(
                v.span(),
                format!("{context}: `expiry_from` takes the expiry from the value; leave out `minted_at`/`expires_at`"),
            );
            return Err(());
        }
        let derive = if declared {
            None
        } else {
            Some(match explicit {
                None => implied(format.as_ref(), earliest, Derive::Detect { earliest }),
                Some(e) => e.derive(earliest),
            })
        };
        if let Some(v) = &c.chain
            && matches!(derive, None | Some(Derive::Jwt | Derive::Ssh))
        {
            self.error(
                v.span(),
                format!("{context}: `chain` applies to expiries read from certificates"),
            );
            ok = false;
        }
        if ok {
            Ok(Some(ValueSpec {
                fingerprint: c.pool.is_some(),
                from,
                format,
                derive,
            }))
        } else {
            Err(())
        }
    }

    /// `format`: a built-in or `[[format]]` profile.
    fn format(
        &mut self,
        raw: &Option<Spanned<String>>,
        context: &str,
    ) -> Result<Option<FormatProfile>, ()> {
        match raw {
            None => Ok(None),
            Some(name) => self.format_profile(name, context).map(Some).ok_or(()),
        }
    }

    /// `chain`: whether a certificate bundle expires with its earliest certificate (`false`
    /// when left out).
    fn chain(&mut self, raw: &Option<Spanned<String>>, context: &str) -> Result<bool, ()> {
        match raw {
            None => Ok(false),
            Some(v) => self.keyword(v, context, "chain", &CHAIN).ok_or(()),
        }
    }

    /// `expiry_from`, among the words that apply to `place`.
    fn expiry_from(
        &mut self,
        raw: &Option<Spanned<String>>,
        context: &str,
        place: Place,
    ) -> Result<Option<ExpiryFrom>, ()> {
        let Some(v) = raw else { return Ok(None) };
        let words: Vec<(&str, ExpiryFrom)> = EXPIRY_FROM
            .iter()
            .filter(|(_, _, places)| places.contains(&place))
            .map(|(word, e, _)| (*word, *e))
            .collect();
        self.keyword(v, context, "expiry_from", &words)
            .map(Some)
            .ok_or(())
    }
}
