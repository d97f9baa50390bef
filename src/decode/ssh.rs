//! Reads an OpenSSH certificate (`*-cert-v01@openssh.com`, the `-cert.pub` file `ssh-keygen -s`
//! writes): its kind (user or host), key id, principals, serial and validity window, without
//! verifying the signature and without touching the public key it certifies.
//!
//! The layout is OpenSSH's `PROTOCOL.certkeys`: a sequence of SSH wire fields (`string` is a
//! 4-byte big-endian length and that many bytes, `uint64`/`uint32` big-endian). The public key
//! fields differ per key type and are skipped by count. `valid after` 0 means "always" and `valid
//! before` 2^64-1 means "forever" (`ssh-keygen -V forever`): neither is a date, so both become
//! `None`, never a year-1970 or a year-584-billion timestamp.
//!
//! We parse it ourselves (about a hundred lines) rather than take the `ssh-key` crate: its stable
//! 0.6 line depends on `sha2` 0.10 while we use 0.11, and we need none of its key handling.
//! Errors name the field that is damaged and its byte offset, never the input.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;

/// Who a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    User,
    Host,
}

impl CertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::User => "user",
            CertKind::Host => "host",
        }
    }
}

/// What credwatch needs to know about one SSH certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshCertificate {
    /// The certificate type, such as `ssh-ed25519-cert-v01@openssh.com`.
    pub key_type: String,
    pub kind: CertKind,
    pub serial: u64,
    /// `ssh-keygen -I`.
    pub key_id: String,
    /// `ssh-keygen -n`; empty means any principal.
    pub principals: Vec<String>,
    /// `None` when valid from the beginning of time.
    pub valid_after: Option<Timestamp>,
    /// `None` when valid forever.
    pub valid_before: Option<Timestamp>,
}

/// The certificate types and how many public-key fields each carries before the serial.
const KEY_TYPES: [(&str, usize); 6] = [
    ("ssh-rsa-cert-v01@openssh.com", 2),
    ("ssh-dss-cert-v01@openssh.com", 4),
    ("ssh-ed25519-cert-v01@openssh.com", 1),
    ("sk-ssh-ed25519-cert-v01@openssh.com", 2),
    ("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", 3),
    ("ecdsa-sha2-nistp", 2),
];

/// True when `text` looks like the first line of an OpenSSH certificate.
pub fn looks_like_certificate(text: &str) -> bool {
    text.split_whitespace()
        .next()
        .is_some_and(|t| t.ends_with("-cert-v01@openssh.com"))
}

/// Parses the text form `<type> <base64> [comment]` (blank lines and `#` comments around it are
/// skipped).
pub fn parse_certificate(input: &[u8]) -> Result<SshCertificate, String> {
    let text = std::str::from_utf8(input)
        .map_err(|_| "not an SSH certificate: the value is binary, not text".to_string())?;
    if text.contains("PRIVATE KEY-----") {
        return Err(
            "not an SSH certificate: this is a private key; give the `-cert.pub` file".into(),
        );
    }
    let Some((number, line)) = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .find(|(_, l)| !l.is_empty() && !l.starts_with('#'))
    else {
        return Err("no SSH certificate found: the input is empty".into());
    };
    let mut words = line.split_whitespace();
    let outer = words.next().unwrap_or_default();
    if !outer.ends_with("-cert-v01@openssh.com") {
        let what = if outer.starts_with("ssh-") || outer.starts_with("ecdsa-") {
            "a plain public key, not a certificate"
        } else {
            "expected `<type>-cert-v01@openssh.com <base64>`"
        };
        return Err(format!("line {number}: not an SSH certificate: {what}"));
    }
    let blob = words
        .next()
        .and_then(|b| STANDARD.decode(b).ok())
        .ok_or_else(|| format!("line {number}: the certificate is not valid base64"))?;
    let cert = parse_blob(&blob).map_err(|e| format!("line {number}: {e}"))?;
    if cert.key_type != outer {
        return Err(format!(
            "line {number}: the line says `{}` but the certificate inside is `{}`",
            printable(outer),
            printable(&cert.key_type)
        ));
    }
    Ok(cert)
}

/// Parses the binary certificate (the base64-decoded blob).
pub fn parse_blob(blob: &[u8]) -> Result<SshCertificate, String> {
    let mut r = Wire { data: blob, at: 0 };
    let key_type = String::from_utf8_lossy(r.string("certificate type")?).into_owned();
    let fields = KEY_TYPES
        .iter()
        .find(|(name, _)| {
            key_type == *name || (name.ends_with("nistp") && key_type.starts_with(name))
        })
        .map(|(_, n)| *n)
        .filter(|_| key_type.ends_with("-cert-v01@openssh.com"))
        .ok_or_else(|| format!("unsupported certificate type `{}`", printable(&key_type)))?;
    r.string("nonce")?;
    for _ in 0..fields {
        r.string("public key")?;
    }
    let serial = r.u64("serial")?;
    let kind = match r.u32("type")? {
        1 => CertKind::User,
        2 => CertKind::Host,
        other => {
            return Err(format!(
                "unknown certificate type {other} (expected 1 user or 2 host)"
            ));
        }
    };
    let key_id = String::from_utf8_lossy(r.string("key id")?).into_owned();
    let mut principals = Vec::new();
    let mut list = Wire {
        data: r.string("principals")?,
        at: 0,
    };
    while list.at < list.data.len() {
        principals.push(String::from_utf8_lossy(list.string("principal")?).into_owned());
    }
    let valid_after = match r.u64("valid after")? {
        0 => None,
        t => Some(timestamp(t).ok_or("`valid after` is out of range")?),
    };
    let valid_before = match r.u64("valid before")? {
        u64::MAX => None,
        t => Some(timestamp(t).ok_or("`valid before` is out of range")?),
    };
    for field in [
        "critical options",
        "extensions",
        "reserved",
        "signature key",
        "signature",
    ] {
        r.string(field)?;
    }
    if r.at != blob.len() {
        return Err(format!(
            "{} bytes follow the signature at byte {}",
            blob.len() - r.at,
            r.at
        ));
    }
    Ok(SshCertificate {
        key_type,
        kind,
        serial,
        key_id,
        principals,
        valid_after,
        valid_before,
    })
}

fn timestamp(seconds: u64) -> Option<Timestamp> {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
}

/// Only what is printable, so a damaged key id cannot garble a terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(64)
        .collect()
}

/// A reader of SSH wire fields.
struct Wire<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Wire<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.data.len());
        let Some(end) = end else {
            return Err(format!(
                "the certificate is truncated: `{field}` at byte {} needs {n} bytes, {} are left",
                self.at,
                self.data.len() - self.at
            ));
        };
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u32(&mut self, field: &str) -> Result<u32, String> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, field: &str) -> Result<u64, String> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn string(&mut self, field: &str) -> Result<&'a [u8], String> {
        let n = self.u32(field)?;
        self.take(n as usize, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::assert_no_leak;

    fn s(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }

    /// An ed25519 user or host certificate with the given window.
    fn blob(kind: u32, principals: &[&str], after: u64, before: u64) -> Vec<u8> {
        let mut b = Vec::new();
        s(&mut b, b"ssh-ed25519-cert-v01@openssh.com");
        s(&mut b, &[7; 32]);
        s(&mut b, &[1; 32]);
        b.extend_from_slice(&42u64.to_be_bytes());
        b.extend_from_slice(&kind.to_be_bytes());
        s(&mut b, b"deploy@ci");
        let mut p = Vec::new();
        for name in principals {
            s(&mut p, name.as_bytes());
        }
        s(&mut b, &p);
        b.extend_from_slice(&after.to_be_bytes());
        b.extend_from_slice(&before.to_be_bytes());
        s(&mut b, b"");
        s(&mut b, b"");
        s(&mut b, b"");
        s(&mut b, &[2; 51]);
        s(&mut b, &[3; 83]);
        b
    }

    fn line(blob: &[u8]) -> String {
        format!(
            "ssh-ed25519-cert-v01@openssh.com {} user@host\n",
            STANDARD.encode(blob)
        )
    }

    fn at(s: i64) -> Option<Timestamp> {
        Some(Timestamp::from_second(s).unwrap())
    }

    #[test]
    fn reads_kind_id_principals_and_window() {
        let cases = [
            (
                1,
                vec!["alice", "bob"],
                1_776_514_000,
                1_808_050_000,
                CertKind::User,
                at(1_776_514_000),
                at(1_808_050_000),
            ),
            (
                2,
                vec!["host.example"],
                0,
                u64::MAX,
                CertKind::Host,
                None,
                None,
            ),
            (1, vec![], 5, 6, CertKind::User, at(5), at(6)),
        ];
        for (kind, principals, after, before, want_kind, want_after, want_before) in cases {
            let cert = parse_certificate(line(&blob(kind, &principals, after, before)).as_bytes())
                .unwrap();
            assert_eq!(cert.kind, want_kind);
            assert_eq!(cert.key_id, "deploy@ci");
            assert_eq!(cert.serial, 42);
            assert_eq!(cert.principals, principals);
            assert_eq!(
                (cert.valid_after, cert.valid_before),
                (want_after, want_before)
            );
        }
    }

    #[test]
    fn damage_is_named_without_repeating_the_input() {
        let good = blob(1, &["alice"], 1, 2);
        let mut trailing = good.clone();
        trailing.push(0);
        let mut bad_type = good.clone();
        bad_type[4 + 32 + 4 + 32 + 4 + 32 + 8 + 3] = 9;
        let base = STANDARD.encode(&good);
        let cases: Vec<(String, &str)> = vec![
            (
                line(&good[..good.len() - 10]),
                "line 1: the certificate is truncated: `signature`",
            ),
            (
                line(&good[..80]),
                "line 1: the certificate is truncated: `public key` at byte 76",
            ),
            (line(&trailing), "line 1: 1 bytes follow the signature"),
            (line(&bad_type), "line 1: unknown certificate type 9"),
            (
                format!("ssh-ed25519-cert-v01@openssh.com {}!!\n", &base[..40]),
                "line 1: the certificate is not valid base64",
            ),
            (
                format!("ssh-ed25519 {base}\n"),
                "line 1: not an SSH certificate: a plain public key",
            ),
            (
                format!("ssh-rsa-cert-v01@openssh.com {base}\n"),
                "line 1: the line says `ssh-rsa-cert-v01@openssh.com` but",
            ),
            (
                "\n\n".into(),
                "no SSH certificate found: the input is empty",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n".into(),
                "not an SSH certificate: this is a private key",
            ),
            (
                format!("# comment\n\nhello {base}"),
                "line 3: not an SSH certificate: expected",
            ),
        ];
        for (input, want) in cases {
            let err = parse_certificate(input.as_bytes()).unwrap_err();
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
            assert_no_leak(&err, &base, &[]);
        }
    }

    #[test]
    fn detects_certificate_lines() {
        assert!(looks_like_certificate(
            "ssh-rsa-cert-v01@openssh.com AAAA x"
        ));
        assert!(!looks_like_certificate("ssh-rsa AAAA x"));
        assert!(!looks_like_certificate("eyJhbGciOi.x.y"));
    }
}
