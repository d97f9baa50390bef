//! Reads the validity of X.509 certificates from PEM bundles or DER, without verifying anything.
//!
//! Input is either PEM text holding one or more `CERTIFICATE` blocks (text around and between
//! the blocks is ignored, as in a bundle with comments or `openssl x509 -text` output) or raw
//! DER, one certificate or several concatenated. Certificates are returned in input order, so a
//! chain reads leaf first. A private key where a certificate was expected is refused (a key
//! bundled after or before certificates, as HAProxy wants them, is skipped unread),
//! and no error ever repeats any of the input: messages give line numbers, byte offsets and the
//! kind of damage.
//!
//! Both encodings of a validity time are read: UTCTime (1950 through 2049) and GeneralizedTime
//! (the rest). A time beyond what [`jiff::Timestamp`] can hold (RFC 5280's "no well-defined
//! expiration", `99991231235959Z`) is clamped by [`crate::time::clamped_seconds`], the rule JWTs
//! share. Times before 1970, which the DER library refuses, are read from the validity bytes
//! here and reported as they are (a `notAfter` before 1970 is simply long past).

use base64::Engine;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use jiff::Timestamp;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Reader, SliceReader};
use x509_cert::name::Name;
use x509_cert::time::Time;

/// What credwatch needs to know about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The first common name (CN) of the subject, when it has one.
    pub subject_cn: Option<String>,
    /// The serial number in uppercase hex without separators and without the sign byte DER adds
    /// when the high bit is set: the same text as `openssl x509 -noout -serial`.
    pub serial_hex: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

/// Parses every certificate in `input` (PEM or DER), in input order.
pub fn parse_certificates(input: &[u8]) -> Result<Vec<CertificateInfo>, String> {
    if find(input, PEM_BEGIN, 0).is_some() {
        parse_pem(input)
    } else if input.first() == Some(&SEQUENCE) {
        parse_der(input)
    } else if input.iter().all(u8::is_ascii_whitespace) {
        Err("no certificate found: the input is empty".into())
    } else {
        Err(format!(
            "no certificate found: expected PEM (`{}CERTIFICATE-----`) or DER",
            String::from_utf8_lossy(PEM_BEGIN)
        ))
    }
}

/// The certificate whose expiry counts for a bundle: the leaf (the first) by default, or the one
/// with the earliest `notAfter` when `earliest` is set (the first of equals). `None` when empty.
pub fn chain_expiry(certs: &[CertificateInfo], earliest: bool) -> Option<&CertificateInfo> {
    if earliest {
        certs.iter().min_by_key(|c| c.not_after)
    } else {
        certs.first()
    }
}

const PEM_BEGIN: &[u8] = b"-----BEGIN ";
const PEM_END: &[u8] = b"-----END ";
const PEM_DASHES: &[u8] = b"-----";
/// The DER tag of a SEQUENCE, which every certificate and key starts with.
const SEQUENCE: u8 = 0x30;
/// Labels longer than this are not PEM boundaries but text that happens to contain dashes.
const MAX_LABEL_LEN: usize = 64;

/// Labels whose body is a DER certificate. `TRUSTED CERTIFICATE` (OpenSSL) appends trust
/// settings after the certificate; they are ignored.
const CERTIFICATE_LABELS: [&str; 3] = ["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"];

/// Other labels that may be named in an error: they are standard and say nothing secret.
const KNOWN_LABELS: [&str; 9] = [
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "CERTIFICATE REQUEST",
    "NEW CERTIFICATE REQUEST",
    "X509 CRL",
    "PKCS7",
    "CMS",
    "DH PARAMETERS",
    "EC PARAMETERS",
];

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The 1-based line of the byte at `offset`.
fn line_of(input: &[u8], offset: usize) -> usize {
    let end = offset.min(input.len());
    input[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Line numbers of increasing offsets, counting each byte once: a bundle of N certificates
/// costs N blocks of counting, not N scans from the start.
struct Lines<'a> {
    input: &'a [u8],
    counted_to: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(input: &'a [u8]) -> Self {
        Lines {
            input,
            counted_to: 0,
            line: 1,
        }
    }

    /// The 1-based line of the byte at `offset`; offsets must not decrease between calls
    /// (an earlier one is counted from the start).
    fn at(&mut self, offset: usize) -> usize {
        let end = offset.min(self.input.len());
        if end < self.counted_to {
            return line_of(self.input, end);
        }
        self.line += self.input[self.counted_to..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.counted_to = end;
        self.line
    }
}

fn parse_pem(input: &[u8]) -> Result<Vec<CertificateInfo>, String> {
    let mut certs = Vec::new();
    let mut key_line: Option<usize> = None;
    let mut other_labels: Vec<&str> = Vec::new();
    let mut unknown_blocks = 0usize;
    let mut pos = 0;
    let mut lines = Lines::new(input);
    while let Some(begin) = find(input, PEM_BEGIN, pos) {
        let label_start = begin + PEM_BEGIN.len();
        // The closing dashes must follow on the same line, within a label's length: otherwise
        // this is ordinary text with dashes in it (and the search stays linear).
        let window_end = input
            .len()
            .min(label_start + MAX_LABEL_LEN + PEM_DASHES.len());
        let label_end = find(&input[..window_end], PEM_DASHES, label_start);
        let Some(label_end) = label_end.filter(|&end| !input[label_start..end].contains(&b'\n'))
        else {
            pos = label_start;
            continue;
        };
        let label = &input[label_start..label_end];
        let line = lines.at(begin);
        if is_private_key_label(label) {
            // A certificate bundled with its key (HAProxy, nginx) is a certificate file: the
            // key is skipped unread. A key alone is refused below.
            key_line.get_or_insert(line);
            pos = label_end + PEM_DASHES.len();
            continue;
        }
        let body_start = label_end + PEM_DASHES.len();
        let end = find(input, PEM_END, body_start);
        let next_begin = find(input, PEM_BEGIN, body_start);
        let end = match (end, next_begin) {
            (Some(end), Some(next)) if next < end => None,
            (end, _) => end,
        };
        let Some(end) = end else {
            return Err(format!(
                "the PEM block starting on line {line} has no END line (a truncated copy?)"
            ));
        };
        let end_label_start = end + PEM_END.len();
        let end_label_matches = input.get(end_label_start..).is_some_and(|rest| {
            rest.starts_with(label) && rest[label.len()..].starts_with(PEM_DASHES)
        });
        if !end_label_matches {
            return Err(format!(
                "the PEM block starting on line {line} ends with an END line of another kind"
            ));
        }
        pos = end_label_start + label.len() + PEM_DASHES.len();

        let label = std::str::from_utf8(label).unwrap_or("");
        if !CERTIFICATE_LABELS.contains(&label) {
            match KNOWN_LABELS.iter().find(|known| **known == label) {
                Some(known) => other_labels.push(known),
                None => unknown_blocks += 1,
            }
            continue;
        }
        let der = decode_pem_body(input, body_start, end, line)?;
        let trailing_allowed = label == "TRUSTED CERTIFICATE";
        let decoded = decode_one(&der, trailing_allowed).map_err(|problem| {
            format!("the certificate starting on line {line} is not a valid certificate: {problem}")
        })?;
        certs.push(
            info(&decoded)
                .map_err(|problem| format!("the certificate starting on line {line} {problem}"))?,
        );
    }
    if certs.is_empty()
        && let Some(line) = key_line
    {
        return Err(format!(
            "found a private key where a certificate was expected (the PEM block starting on line {line})"
        ));
    }
    if certs.is_empty() {
        let mut found: Vec<String> = other_labels.iter().map(|l| format!("`{l}`")).collect();
        if unknown_blocks > 0 {
            found.push(format!("{unknown_blocks} of an unrecognised kind"));
        }
        return Err(if found.is_empty() {
            "no certificate found: the input has no complete PEM block".into()
        } else {
            format!(
                "no certificate found: the input has PEM blocks, but none is a certificate (found {})",
                found.join(", ")
            )
        });
    }
    Ok(certs)
}

fn is_private_key_label(label: &[u8]) -> bool {
    let label = String::from_utf8_lossy(label).to_ascii_uppercase();
    label.contains("PRIVATE KEY")
}

/// Decodes the base64 between a BEGIN and an END line, ignoring line breaks and other whitespace.
/// Errors give the line of the input where the bad character sits.
fn decode_pem_body(input: &[u8], start: usize, end: usize, line: usize) -> Result<Vec<u8>, String> {
    let mut text = Vec::with_capacity(end.saturating_sub(start));
    let mut origin = Vec::with_capacity(end.saturating_sub(start));
    for (i, &b) in input.iter().enumerate().take(end).skip(start) {
        if !b.is_ascii_whitespace() {
            text.push(b);
            origin.push(i);
        }
    }
    if text.is_empty() {
        return Err(format!("the certificate starting on line {line} is empty"));
    }
    STANDARD_PAD_INDIFFERENT.decode(&text).map_err(|e| {
        let at_line = |offset: usize| line_of(input, origin.get(offset).copied().unwrap_or(end));
        let problem = match e {
            base64::DecodeError::InvalidByte(offset, _)
            | base64::DecodeError::InvalidLastSymbol { offset, .. } => {
                format!("an invalid character on line {}", at_line(offset))
            }
            base64::DecodeError::InvalidLength(_) => {
                "an impossible length (a truncated copy?)".to_string()
            }
            base64::DecodeError::InvalidPadding => "misplaced `=` padding".to_string(),
        };
        format!("the certificate starting on line {line} is not valid base64: {problem}")
    })
}

fn parse_der(input: &[u8]) -> Result<Vec<CertificateInfo>, String> {
    let mut certs = Vec::new();
    let mut pos = 0;
    while let Some(rest) = input.get(pos..).filter(|rest| !rest.is_empty()) {
        let number = certs.len() + 1;
        let decoded = decode_at(rest).map_err(|e| {
            if looks_like_private_key(rest) {
                "found a private key where a certificate was expected (DER input)".to_string()
            } else {
                format!(
                    "certificate {number} of the DER input is not a valid certificate: {}",
                    describe_der_error(&e, pos)
                )
            }
        })?;
        pos += decoded.len.max(1);
        certs.push(
            info(&decoded)
                .map_err(|problem| format!("certificate {number} of the DER input {problem}"))?,
        );
    }
    Ok(certs)
}

/// A certificate decoded from the start of some bytes.
struct Decoded {
    cert: Certificate,
    /// How many bytes it took.
    len: usize,
    /// `notBefore` and `notAfter` in unix seconds when they were read here rather than by the
    /// DER library (a time before 1970).
    early_validity: Option<(i64, i64)>,
}

/// Decodes the certificate at the start of `der`, ignoring what follows it. A certificate whose
/// validity holds a time before 1970 is decoded with those times replaced by a placeholder of
/// the same length, and its real times are kept aside.
fn decode_at(der: &[u8]) -> Result<Decoded, x509_cert::der::Error> {
    let decode = |bytes: &[u8]| {
        let mut reader = SliceReader::new(bytes)?;
        let cert = Certificate::decode(&mut reader)?;
        Ok::<_, x509_cert::der::Error>((cert, usize::try_from(reader.position()).unwrap_or(0)))
    };
    match decode(der) {
        Ok((cert, len)) => Ok(Decoded {
            cert,
            len,
            early_validity: None,
        }),
        Err(e) => {
            let Some((patched, early_validity)) = with_placeholder_validity(der) else {
                return Err(e);
            };
            let (cert, len) = decode(&patched).map_err(|_| e)?;
            Ok(Decoded {
                cert,
                len,
                early_validity: Some(early_validity),
            })
        }
    }
}

/// Decodes one certificate from a PEM body; `trailing_allowed` ignores bytes after it.
fn decode_one(der: &[u8], trailing_allowed: bool) -> Result<Decoded, String> {
    let decoded = decode_at(der).map_err(|e| {
        if looks_like_private_key(der) {
            "it holds a private key".to_string()
        } else {
            describe_der_error(&e, 0)
        }
    })?;
    let remaining = der.len().saturating_sub(decoded.len);
    if !trailing_allowed && remaining > 0 {
        return Err(format!(
            "{remaining} unexpected bytes follow the certificate (at byte {})",
            decoded.len
        ));
    }
    Ok(decoded)
}

/// One DER tag-length-value: its tag, where its content starts and where it ends. Only what a
/// certificate's outer structure uses: one-byte tags, definite lengths of up to 4 bytes.
fn tlv(der: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *der.get(at)?;
    let first = *der.get(at + 1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = der.get(at + 2..at + 2 + count)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, 2 + count)
    };
    let start = at + header;
    let end = start.checked_add(len).filter(|&end| end <= der.len())?;
    Some((tag, start, end))
}

/// UTCTime and GeneralizedTime.
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Finds the two validity times of the certificate at the start of `der` by walking its TBS
/// (`[0] version`, serial, signature algorithm, issuer, validity). When they parse and one of
/// them lies before 1970, returns a copy of the certificate with both replaced by
/// `1970-01-01T00:00:00Z` in the same encoding (so every length stays), and their real times.
fn with_placeholder_validity(der: &[u8]) -> Option<(Vec<u8>, (i64, i64))> {
    let (SEQUENCE, cert_start, cert_end) = tlv(der, 0)? else {
        return None;
    };
    let (SEQUENCE, tbs_start, _) = tlv(der, cert_start)? else {
        return None;
    };
    let mut at = tbs_start;
    if der.get(at) == Some(&0xA0) {
        at = tlv(der, at)?.2;
    }
    for _ in 0..3 {
        at = tlv(der, at)?.2; // serial, signature algorithm, issuer
    }
    let (SEQUENCE, validity_start, _) = tlv(der, at)? else {
        return None;
    };
    let before = tlv(der, validity_start)?;
    let after = tlv(der, before.2)?;
    let not_before = raw_time(before.0, der.get(before.1..before.2)?)?;
    let not_after = raw_time(after.0, der.get(after.1..after.2)?)?;
    if not_before >= 0 && not_after >= 0 {
        return None;
    }
    let mut patched = der.get(..cert_end)?.to_vec();
    for (tag, start, end) in [before, after] {
        let placeholder: &[u8] = if tag == UTC_TIME {
            b"700101000000Z"
        } else {
            b"19700101000000Z"
        };
        patched.get_mut(start..end)?.copy_from_slice(placeholder);
    }
    Some((patched, (not_before, not_after)))
}

/// The unix seconds of a DER validity time: `YYMMDDHHMMSSZ` (UTCTime; `YY` ≥ 50 is 19YY) or
/// `YYYYMMDDHHMMSSZ` (GeneralizedTime), the only forms DER allows.
fn raw_time(tag: u8, text: &[u8]) -> Option<i64> {
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 13) => {
            let yy = digits(&text[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (GENERALIZED_TIME, 15) => (digits(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if rest.last() != Some(&b'Z') {
        return None;
    }
    let field = |i: usize| digits(rest.get(i * 2..i * 2 + 2)?);
    let at = jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(field(0)?).ok()?,
        i8::try_from(field(1)?).ok()?,
        i8::try_from(field(2)?).ok()?,
        i8::try_from(field(3)?).ok()?,
        i8::try_from(field(4)?).ok()?,
        0,
    )
    .ok()?;
    jiff::tz::Offset::UTC
        .to_timestamp(at)
        .ok()
        .map(|t| t.as_second())
}

fn digits(text: &[u8]) -> Option<i32> {
    text.iter().try_fold(0i32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i32::from(b - b'0'))
    })
}

/// PKCS#8, PKCS#1 (RSA) and SEC1 (EC) private keys are a SEQUENCE that opens with a one-byte
/// version INTEGER (0 or 1); a certificate opens with a SEQUENCE.
fn looks_like_private_key(der: &[u8]) -> bool {
    let Some((&SEQUENCE, rest)) = der.split_first() else {
        return false;
    };
    let Some((&len, rest)) = rest.split_first() else {
        return false;
    };
    let skip = if len < 0x80 {
        0
    } else {
        usize::from(len & 0x7f)
    };
    matches!(rest.get(skip..skip + 3), Some([0x02, 0x01, 0x00 | 0x01]))
}

/// Describes a DER error by its kind and byte offset. The kind's own `Display` is not used: some
/// kinds print values taken from the input (an unknown OID).
/// `offset` is where the certificate starts in the input, added to the error's own position.
fn describe_der_error(e: &x509_cert::der::Error, offset: usize) -> String {
    use x509_cert::der::ErrorKind;
    let what = match e.kind() {
        ErrorKind::Incomplete {
            expected_len,
            actual_len,
        } => format!(
            "it ends early (needs {expected_len} bytes, has {actual_len}; a truncated copy?)"
        ),
        ErrorKind::TrailingData { remaining, .. } => {
            format!("{remaining} unexpected bytes follow the certificate")
        }
        ErrorKind::DateTime => "a validity time is malformed".to_string(),
        ErrorKind::TagUnexpected {
            expected: Some(expected),
            actual,
        } => format!("expected {expected}, found {actual}"),
        ErrorKind::Length { tag } => format!("a {tag} has an impossible length"),
        ErrorKind::Noncanonical { tag } => format!("a {tag} is not in canonical DER form"),
        ErrorKind::Value { tag } => format!("a {tag} has an invalid value"),
        ErrorKind::IndefiniteLength => {
            "it uses an indefinite length, which DER forbids".to_string()
        }
        ErrorKind::Overflow | ErrorKind::Overlength => "a length is too large".to_string(),
        ErrorKind::Utf8(_) => "a text field is not valid UTF-8".to_string(),
        ErrorKind::OidMalformed | ErrorKind::OidUnknown { .. } => {
            "an object identifier is malformed".to_string()
        }
        _ => "the DER structure is malformed".to_string(),
    };
    match e.position().and_then(|at| usize::try_from(at).ok()) {
        Some(at) => format!("{what} (at byte {})", at + offset),
        None => what,
    }
}

fn info(decoded: &Decoded) -> Result<CertificateInfo, String> {
    let tbs = decoded.cert.tbs_certificate();
    let validity = tbs.validity();
    let (not_before, not_after) = match decoded.early_validity {
        Some((not_before, not_after)) => (
            crate::time::clamped_seconds(not_before),
            crate::time::clamped_seconds(not_after),
        ),
        None => (
            timestamp(validity.not_before),
            timestamp(validity.not_after),
        ),
    };
    Ok(CertificateInfo {
        subject_cn: common_name(tbs.subject()),
        serial_hex: serial_hex(tbs.serial_number().as_bytes()),
        not_before: not_before.ok_or("has a notBefore that is out of range")?,
        not_after: not_after.ok_or("has a notAfter that is out of range")?,
    })
}

fn timestamp(time: Time) -> Option<Timestamp> {
    let seconds = i64::try_from(time.to_unix_duration().as_secs()).ok()?;
    crate::time::clamped_seconds(seconds)
}

/// The first CN of a name, whichever string type it is encoded in.
fn common_name(name: &Name) -> Option<String> {
    if let Ok(Some(cn)) = name.common_name() {
        return Some(cn.value().into_owned());
    }
    // Some issuers encode the CN as IA5String, which `DirectoryString` does not cover.
    let cn_oid = x509_cert::der::oid::db::rfc4519::COMMON_NAME;
    let atav = name.iter().find(|atav| atav.oid == cn_oid)?;
    std::str::from_utf8(atav.value.value())
        .ok()
        .map(str::to_string)
}

fn serial_hex(bytes: &[u8]) -> String {
    let bytes = match bytes {
        [0, next, ..] if *next >= 0x80 => &bytes[1..],
        _ => bytes,
    };
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::assert_no_leak;
    use proptest::prelude::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SerialNumber,
        date_time_ymd,
    };
    use std::sync::OnceLock;

    /// Seconds at midnight UTC of a date, for expectations.
    fn midnight(date: &str) -> Timestamp {
        format!("{date}T00:00:00Z").parse().unwrap()
    }

    fn params(
        cn: &str,
        serial: &[u8],
        from: (i32, u8, u8),
        until: (i32, u8, u8),
    ) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.serial_number = Some(SerialNumber::from(serial.to_vec()));
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(until.0, until.1, until.2);
        params
    }

    /// A leaf valid 2026-04-18 → 2027-04-18 signed by a CA valid 2024-01-01 → 2027-01-01: the
    /// leaf outlives its CA, so "leaf" and "earliest" give different answers.
    struct Chain {
        leaf: rcgen::Certificate,
        ca: rcgen::Certificate,
        leaf_key: KeyPair,
    }

    fn chain() -> &'static Chain {
        static CHAIN: OnceLock<Chain> = OnceLock::new();
        CHAIN.get_or_init(|| {
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = params("Example CA", &[0x0C, 0xA0], (2024, 1, 1), (2027, 1, 1));
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = ca_params.self_signed(&ca_key).unwrap();
            let leaf_key = KeyPair::generate().unwrap();
            let leaf_params = params("agent", &[0x80, 0x01, 0x02], (2026, 4, 18), (2027, 4, 18));
            let issuer = Issuer::from_params(&ca_params, &ca_key);
            let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
            Chain { leaf, ca, leaf_key }
        })
    }

    fn self_signed(cn: &str, from: (i32, u8, u8), until: (i32, u8, u8)) -> rcgen::Certificate {
        let key = KeyPair::generate().unwrap();
        params(cn, &[0x01], from, until).self_signed(&key).unwrap()
    }

    fn leaf_info() -> CertificateInfo {
        CertificateInfo {
            subject_cn: Some("agent".into()),
            serial_hex: "800102".into(),
            not_before: midnight("2026-04-18"),
            not_after: midnight("2027-04-18"),
        }
    }

    fn ca_info() -> CertificateInfo {
        CertificateInfo {
            subject_cn: Some("Example CA".into()),
            serial_hex: "0CA0".into(),
            not_before: midnight("2024-01-01"),
            not_after: midnight("2027-01-01"),
        }
    }

    fn bundle() -> String {
        format!("{}{}", chain().leaf.pem(), chain().ca.pem())
    }

    #[test]
    fn certificates_are_read_in_input_order_from_every_encoding() {
        let c = chain();
        let der_pair = [c.leaf.der().as_ref(), c.ca.der().as_ref()].concat();
        let cases: Vec<(&str, Vec<u8>, Vec<CertificateInfo>)> = vec![
            ("one PEM", c.leaf.pem().into_bytes(), vec![leaf_info()]),
            ("PEM chain", bundle().into_bytes(), vec![leaf_info(), ca_info()]),
            (
                "PEM with text around and between blocks",
                format!(
                    "subject=CN = agent\nissuer=CN = Example CA\n{}\n# the CA:\n{}\ntrailing text -----\n",
                    c.leaf.pem(),
                    c.ca.pem()
                )
                .into_bytes(),
                vec![leaf_info(), ca_info()],
            ),
            (
                "PEM with CRLF line ends",
                bundle().replace('\n', "\r\n").replace("\r\r", "\r").into_bytes(),
                vec![leaf_info(), ca_info()],
            ),
            (
                "PEM next to a public key block",
                format!("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n{}", c.leaf.pem())
                    .into_bytes(),
                vec![leaf_info()],
            ),
            (
                "PEM after a line that only looks like a boundary",
                format!("-----BEGIN of my notes\n{}", c.leaf.pem()).into_bytes(),
                vec![leaf_info()],
            ),
            (
                "OpenSSL trusted certificate",
                c.leaf.pem().replace("CERTIFICATE", "TRUSTED CERTIFICATE").into_bytes(),
                vec![leaf_info()],
            ),
            ("DER", c.leaf.der().to_vec(), vec![leaf_info()]),
            ("concatenated DER", der_pair, vec![leaf_info(), ca_info()]),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_certificates(&input), Ok(want), "{name}");
        }
    }

    #[test]
    fn the_leaf_counts_unless_the_earliest_is_asked_for() {
        let certs = parse_certificates(bundle().as_bytes()).unwrap();
        assert_eq!(chain_expiry(&certs, false), Some(&leaf_info()));
        assert_eq!(chain_expiry(&certs, true), Some(&ca_info()));
        assert_eq!(chain_expiry(&[], false), None);
        assert_eq!(chain_expiry(&[], true), None);
        // Equal expiries: the first wins.
        let twins = [leaf_info(), leaf_info()];
        assert!(std::ptr::eq(chain_expiry(&twins, true).unwrap(), &twins[0]));
    }

    #[test]
    fn utc_time_and_generalized_time_are_both_read() {
        let cases = [
            // (not before, not after, want not before, want not after, encodings)
            (
                (2049, 12, 31),
                (2050, 1, 1),
                "2049-12-31",
                "2050-01-01",
                (true, false),
            ),
            (
                (1999, 6, 1),
                (2049, 12, 31),
                "1999-06-01",
                "2049-12-31",
                (true, true),
            ),
            (
                (2050, 1, 1),
                (2125, 3, 4),
                "2050-01-01",
                "2125-03-04",
                (false, false),
            ),
        ];
        for (from, until, want_from, want_until, (utc_before, utc_after)) in cases {
            let cert = self_signed("time", from, until);
            // The test checks its own premise: the encodings are the ones it claims to cover.
            let parsed = Certificate::from_der(cert.der()).unwrap();
            let validity = parsed.tbs_certificate().validity();
            assert_eq!(matches!(validity.not_before, Time::UtcTime(_)), utc_before);
            assert_eq!(matches!(validity.not_after, Time::UtcTime(_)), utc_after);

            let info = &parse_certificates(cert.der()).unwrap()[0];
            assert_eq!(info.not_before, midnight(want_from), "{want_from}");
            assert_eq!(info.not_after, midnight(want_until), "{want_until}");
        }
    }

    #[test]
    fn no_well_defined_expiration_is_clamped_to_the_latest_timestamp() {
        let cert = self_signed("forever", (2026, 1, 1), (9999, 12, 31));
        let info = &parse_certificates(cert.der()).unwrap()[0];
        assert_eq!(info.not_after, Timestamp::MAX);
    }

    #[test]
    fn times_before_1970_are_read_as_they_are() {
        let second = |s: i64| Timestamp::from_second(s).unwrap();
        let cases = [
            // PKITS `Validpre2000UTCnotBeforeDateTest3EE`: notBefore 1950 as UTCTime.
            ((1950, 1, 1), (2030, 1, 1), -631_152_000, 1_893_456_000),
            // Both before 1970: long expired, not unreadable.
            ((1955, 6, 1), (1960, 1, 1), -460_339_200, -315_619_200),
            // Before 1950: GeneralizedTime.
            ((1949, 12, 31), (2030, 1, 1), -631_238_400, 1_893_456_000),
            // notBefore before 1970, notAfter exactly at it (the floor is applied later, once
            // for every source, by `sources::collect`).
            ((1969, 1, 1), (1970, 1, 1), -31_536_000, 0),
        ];
        for (from, until, want_before, want_after) in cases {
            let cert = self_signed("early", from, until);
            for input in [cert.der().to_vec(), cert.pem().into_bytes()] {
                let info = &parse_certificates(&input).unwrap()[0];
                assert_eq!(info.not_before, second(want_before), "{from:?}");
                assert_eq!(info.not_after, second(want_after), "{until:?}");
                assert_eq!(info.subject_cn.as_deref(), Some("early"));
            }
        }
        // In a bundle and in concatenated DER, the certificates after an early one are read.
        let early = self_signed("early", (1950, 1, 1), (2030, 1, 1));
        let der = [&early.der()[..], leaf_der()].concat();
        let certs = parse_certificates(&der).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[1], leaf_info());
        let pem = format!("{}{}", early.pem(), chain().leaf.pem());
        assert_eq!(parse_certificates(pem.as_bytes()).unwrap()[1], leaf_info());
    }

    #[test]
    fn line_numbers_are_counted_once_and_agree_with_a_count_from_the_start() {
        let input = b"a\nb\n\nccc\nd";
        let mut lines = Lines::new(input);
        for offset in [0, 1, 2, 3, 4, 5, 9, 10, 11, 50] {
            assert_eq!(lines.at(offset), line_of(input, offset), "{offset}");
        }
        assert_eq!(lines.at(2), line_of(input, 2), "an earlier offset");
    }

    #[test]
    fn malformed_early_times_are_still_refused() {
        let cert = self_signed("early", (1950, 1, 1), (2030, 1, 1));
        let mut der = cert.der().to_vec();
        let at = find(&der, b"500101000000Z", 0).unwrap();
        der[at + 4] = b'x'; // not a digit in the day
        let err = parse_certificates(&der).unwrap_err();
        assert!(
            err.starts_with("certificate 1 of the DER input is not a valid certificate: "),
            "{err}"
        );
        let mut der = cert.der().to_vec();
        der[at + 2..at + 4].copy_from_slice(b"13"); // month 13
        assert!(parse_certificates(&der).is_err());
    }

    #[test]
    fn private_keys_are_refused_without_being_echoed() {
        let key = &chain().leaf_key;
        let pkcs8_pem = key.serialize_pem();
        let pkcs8_der = key.serialize_der();
        let body = |pem: &str| -> String {
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let relabel = |label: &str| pkcs8_pem.replace("PRIVATE KEY", label);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "PKCS#8 PEM",
                pkcs8_pem.clone().into_bytes(),
                "found a private key where a certificate was expected (the PEM block starting on line 1)",
            ),
            (
                "RSA PEM label",
                relabel("RSA PRIVATE KEY").into_bytes(),
                "found a private key where a certificate was expected (the PEM block starting on line 1)",
            ),
            (
                "EC PEM label",
                relabel("EC PRIVATE KEY").into_bytes(),
                "found a private key where a certificate was expected (the PEM block starting on line 1)",
            ),
            (
                "encrypted PEM label",
                relabel("ENCRYPTED PRIVATE KEY").into_bytes(),
                "found a private key where a certificate was expected (the PEM block starting on line 1)",
            ),
            (
                "DER key",
                pkcs8_der.clone(),
                "found a private key where a certificate was expected (DER input)",
            ),
            (
                "key inside a CERTIFICATE label",
                pkcs8_pem.replace("PRIVATE KEY", "CERTIFICATE").into_bytes(),
                "the certificate starting on line 1 is not a valid certificate: it holds a private key",
            ),
        ];
        // A certificate bundled with its key (HAProxy style) is read as the certificate.
        let bundle = format!("{}{}", chain().leaf.pem(), pkcs8_pem);
        assert_eq!(
            parse_certificates(bundle.as_bytes()).unwrap(),
            vec![leaf_info()]
        );
        let key_first = format!("{}{}", pkcs8_pem, chain().leaf.pem());
        assert_eq!(
            parse_certificates(key_first.as_bytes()).unwrap(),
            vec![leaf_info()]
        );
        for (name, input, want) in cases {
            let err = parse_certificates(&input).unwrap_err();
            assert_eq!(err, want, "{name}");
            let text = String::from_utf8_lossy(&input).into_owned();
            assert_no_leak(&err, &body(&text), &[]);
            assert_no_leak(&err, &body(&pkcs8_pem), &[]);
        }
    }

    #[test]
    fn damaged_input_is_reported_without_being_echoed() {
        let c = chain();
        let der = c.leaf.der().to_vec();
        let pem = c.leaf.pem();
        let body_line = pem.lines().nth(3).unwrap().to_string();
        let mut bad_char = pem.clone();
        // Line 4 of the PEM gets a character outside the base64 alphabet.
        let at = bad_char.find(&body_line).unwrap() + 5;
        bad_char.replace_range(at..at + 1, "*");
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "empty",
                Vec::new(),
                "no certificate found: the input is empty",
            ),
            (
                "blank",
                b" \n\t\n".to_vec(),
                "no certificate found: the input is empty",
            ),
            (
                "plain text",
                b"hunter2-hunter2-password-value".to_vec(),
                "no certificate found: expected PEM (`-----BEGIN CERTIFICATE-----`) or DER",
            ),
            (
                "a public key only",
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec(),
                "no certificate found: the input has PEM blocks, but none is a certificate (found `PUBLIC KEY`)",
            ),
            (
                "an unknown block",
                b"-----BEGIN SECRET THING-----\nAAAA\n-----END SECRET THING-----\n".to_vec(),
                "no certificate found: the input has PEM blocks, but none is a certificate (found 1 of an unrecognised kind)",
            ),
            (
                "a BEGIN line only",
                b"-----BEGIN CERTIFICATE-----\n".to_vec(),
                "the PEM block starting on line 1 has no END line (a truncated copy?)",
            ),
            (
                "dashes in text",
                b"-----BEGIN nothing here\n".to_vec(),
                "no certificate found: the input has no complete PEM block",
            ),
            (
                "truncated PEM",
                pem.as_bytes()[..pem.len() / 2].to_vec(),
                "the PEM block starting on line 1 has no END line (a truncated copy?)",
            ),
            (
                "two BEGINs, one END",
                format!("-----BEGIN CERTIFICATE-----\nAAAA\n{pem}").into_bytes(),
                "the PEM block starting on line 1 has no END line (a truncated copy?)",
            ),
            (
                "mismatched END",
                pem.replace("END CERTIFICATE", "END X509 CRL").into_bytes(),
                "the PEM block starting on line 1 ends with an END line of another kind",
            ),
            (
                "bad base64 character",
                bad_char.into_bytes(),
                "the certificate starting on line 1 is not valid base64: an invalid character on line 4",
            ),
            (
                "empty body",
                b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_vec(),
                "the certificate starting on line 1 is empty",
            ),
            (
                "base64 of the wrong length",
                b"junk\n-----BEGIN CERTIFICATE-----\nMIIB\nM\n-----END CERTIFICATE-----\n".to_vec(),
                "the certificate starting on line 2 is not valid base64: an impossible length (a truncated copy?)",
            ),
            (
                "base64 of something else",
                b"-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n".to_vec(),
                "the certificate starting on line 1 is not a valid certificate: expected SEQUENCE, found INTEGER",
            ),
            (
                "DER with trailing garbage",
                [der.as_slice(), &[0x05]].concat(),
                "certificate 2 of the DER input is not a valid certificate: it ends early (needs ",
            ),
        ];
        for (name, input, want) in cases {
            let err = parse_certificates(&input).unwrap_err();
            assert!(err.starts_with(want), "{name}: {err}");
            let text = String::from_utf8_lossy(&input).into_owned();
            let secret: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
            assert_no_leak(&err, &secret, &[]);
        }
    }

    #[test]
    fn corrupted_der_is_reported_by_kind_and_offset() {
        let der = chain().leaf.der().to_vec();
        let truncated = &der[..der.len() - 10];
        let err = parse_certificates(truncated).unwrap_err();
        assert!(
            err.starts_with(
                "certificate 1 of the DER input is not a valid certificate: it ends early"
            ),
            "{err}"
        );
        let mut bad_length = der.clone();
        bad_length[1] = 0x85; // a length of length 5: more than the input holds
        let err = parse_certificates(&bad_length).unwrap_err();
        assert!(
            err.starts_with("certificate 1 of the DER input is not a valid certificate: "),
            "{err}"
        );
        let mut bad_serial = der.clone();
        // The serial INTEGER is the first field of the TBS after the [0] version: flip its tag.
        let serial_at = find(&bad_serial, &[0x02, 0x04, 0x00, 0x80, 0x01, 0x02], 0).unwrap();
        bad_serial[serial_at] = 0x04;
        let err = parse_certificates(&bad_serial).unwrap_err();
        assert!(err.starts_with("certificate 1 of the DER input is not a valid certificate: expected INTEGER, found OCTET STRING"), "{err}");
        let der_text = String::from_utf8_lossy(&der).into_owned();
        for input in [truncated, &bad_length, &bad_serial] {
            let err = parse_certificates(input).unwrap_err();
            assert_no_leak(&err, &der_text, &[]);
        }
    }

    #[test]
    fn serials_print_like_openssl() {
        let cases: [(&[u8], &str); 5] = [
            (&[0x01], "01"),
            (&[0x00, 0x80], "80"),
            (&[0x00, 0x7f], "007F"),
            (&[0x0c, 0xa0], "0CA0"),
            (&[0xff], "FF"),
        ];
        for (bytes, want) in cases {
            assert_eq!(serial_hex(bytes), want);
        }
    }

    fn leaf_der() -> &'static [u8] {
        chain().leaf.der()
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_certificates(&input);
        }

        #[test]
        fn arbitrary_text_never_panics(input in any::<String>()) {
            let _ = parse_certificates(input.as_bytes());
        }

        #[test]
        fn random_bodies_in_a_pem_envelope_never_panic_or_leak(
            body in proptest::collection::vec(any::<u8>(), 1..400),
            label in prop_oneof![Just("CERTIFICATE"), Just("TRUSTED CERTIFICATE"), Just("PRIVATE KEY")],
        ) {
            use base64::engine::general_purpose::STANDARD;
            let encoded = STANDARD.encode(&body);
            let input = format!("-----BEGIN {label}-----\n{encoded}\n-----END {label}-----\n");
            if let Err(err) = parse_certificates(input.as_bytes()) {
                assert_no_leak(&err, &encoded, &[]);
            }
        }

        #[test]
        fn mutated_certificates_never_panic_or_leak(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            use base64::engine::general_purpose::STANDARD;
            let mut der = leaf_der().to_vec();
            for (index, byte) in flips {
                let i = index.index(der.len());
                der[i] = byte;
            }
            let cut = cut.index(der.len() + 1);
            let der = &der[..cut];
            let _ = parse_certificates(der);
            let encoded = STANDARD.encode(der);
            let pem = format!("-----BEGIN CERTIFICATE-----\n{encoded}\n-----END CERTIFICATE-----\n");
            if let Err(err) = parse_certificates(pem.as_bytes()) {
                assert_no_leak(&err, &encoded, &[]);
            }
        }
    }

    fn bundle_of_three() -> Vec<u8> {
        format!(
            "# chain\n{}{}\n{}",
            chain().leaf.pem(),
            chain().ca.pem(),
            chain().leaf.pem()
        )
        .into_bytes()
    }

    /// The bounds of one parse: in time, a short error, at most one certificate per 32 bytes
    /// (a validity alone takes 32), and no field longer than the input.
    fn parse_within_bounds(input: &[u8]) {
        let result = crate::test_bounds::within_time("certificates", input.len(), || {
            parse_certificates(input)
        });
        if let Some(certs) = crate::test_bounds::bounded_error("certificates", result) {
            assert!(
                certs.len() * 32 <= input.len(),
                "{} certificates from {} bytes",
                certs.len(),
                input.len()
            );
            for c in &certs {
                assert!(c.subject_cn.as_ref().map_or(0, String::len) <= input.len());
                assert!(c.serial_hex.len() <= 2 * input.len());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn mutated_der_and_pem_bundles_stay_within_bounds(
            der in crate::test_bounds::mutated(leaf_der().to_vec()),
            pem in crate::test_bounds::mutated(bundle_of_three()),
            noise in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            parse_within_bounds(&der);
            parse_within_bounds(&pem);
            parse_within_bounds(&noise);
        }
    }
}
