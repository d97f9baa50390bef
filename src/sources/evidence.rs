//! Pure: a credential's value (already read) → evidence about it: the expiry a JWT, an X.509
//! certificate or an OpenSSH certificate carries, the format check, the fingerprint. Never copies the value anywhere.

use crate::config::{Derive, ValueSpec};
use crate::credential::{Basis, Evidence, FormatResult};
use crate::decode::{fingerprint, format, jwt, ssh, x509};

/// Builds the evidence for a value. `declared` is what the config states about the lifetime
/// (used when the expiry is not read from the value); `key` keys the fingerprint.
pub fn from_value(
    value: &[u8],
    spec: &ValueSpec,
    declared: Option<&Evidence>,
    key: Option<&[u8]>,
) -> Result<Evidence, String> {
    let text = std::str::from_utf8(value).ok();
    let format = spec.format.as_ref().map(|profile| {
        Box::new(FormatResult {
            profile: profile.name.clone(),
            problem: match text {
                Some(t) => format::check(profile, t).err(),
                None => Some("the value is binary, not text".into()),
            },
        })
    });
    let fingerprint = Some(fingerprint::value_fingerprint(value, key));

    let mut evidence = match (spec.derive, declared) {
        (None, Some(d)) => d.clone(),
        (None, None) => return Err("no expiry is declared and none is read from the value".into()),
        (Some(derive), _) => derived(value, text, derive)?,
    };
    evidence.fingerprint = fingerprint;
    evidence.format = format;
    Ok(evidence)
}

fn derived(value: &[u8], text: Option<&str>, derive: Derive) -> Result<Evidence, String> {
    let (jwt_wanted, earliest) = match derive {
        Derive::Jwt => (true, false),
        Derive::X509 { earliest } => (false, earliest),
        Derive::Ssh => return ssh_certificate(value),
        Derive::Detect { .. } if text.is_some_and(ssh::looks_like_certificate) => {
            return ssh_certificate(value);
        }
        Derive::Detect { earliest } => (text.is_some_and(jwt::looks_like_jwt), earliest),
        Derive::VaultMetadata => {
            return Err("the expiry comes from Vault metadata, not from the value".into());
        }
    };
    if jwt_wanted {
        let token = text.ok_or("expected a JWT, found binary data")?.trim();
        let claims = jwt::parse_jwt(token).map_err(|e| format!("not a readable JWT: {e}"))?;
        return Ok(Evidence {
            minted_at: claims.issued_at,
            expires_at: claims.expires_at,
            basis: Basis::JwtExp,
            fingerprint: None,
            format: None,
            subject: None,
            probe: None,
            valid_after: claims.not_before,
        });
    }
    let certs = x509::parse_certificates(value).map_err(|e| match derive {
        Derive::Detect { .. } => format!("cannot tell the expiry: the value is neither a JWT nor a certificate ({e}); give `minted_at` or `expires_at` (or `expiry_from = \"ssh\"` for an SSH certificate)"),
        _ => format!("not a readable certificate: {e}"),
    })?;
    let cert = x509::chain_expiry(&certs, earliest).ok_or("the value holds no certificate")?;
    let cn = cert
        .subject_cn
        .as_deref()
        .map_or_else(|| "no CN".to_string(), |cn| format!("CN={cn}"));
    let of = if certs.len() > 1 {
        format!(
            " ({} of {} in the bundle)",
            if earliest { "earliest" } else { "leaf" },
            certs.len()
        )
    } else {
        String::new()
    };
    Ok(Evidence {
        minted_at: Some(cert.not_before),
        expires_at: Some(cert.not_after),
        basis: Basis::X509NotAfter,
        fingerprint: None,
        format: None,
        subject: Some(format!("certificate {cn}, serial {}{of}", cert.serial_hex)),
        probe: None,
        valid_after: None,
    })
}

/// An OpenSSH certificate: `valid before` is the expiry (none for `forever`), `valid after` the
/// mint time; key id and principals identify it (they are not secret; the key is never read).
fn ssh_certificate(value: &[u8]) -> Result<Evidence, String> {
    let cert = ssh::parse_certificate(value)
        .map_err(|e| format!("not a readable SSH certificate: {e}"))?;
    let principals = if cert.principals.is_empty() {
        "any principal".to_string()
    } else {
        format!("principals {}", cert.principals.join(","))
    };
    let from = cert.valid_after.map_or_else(String::new, |t| {
        format!(", valid from {}", t.strftime("%Y-%m-%d %H:%M:%S UTC"))
    });
    Ok(Evidence {
        minted_at: cert.valid_after,
        expires_at: cert.valid_before,
        basis: Basis::SshValidBefore,
        fingerprint: None,
        format: None,
        subject: Some(format!(
            "ssh {} certificate, key id `{}`, {principals}, serial {}{from}",
            cert.kind.as_str(),
            cert.key_id,
            cert.serial
        )),
        probe: None,
        valid_after: None,
    })
}
