//! The domain model: what a credential is, what is known about its expiry, and the secret type.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use zeroize::Zeroizing;

/// When a credential starts to warn and when it becomes critical, as time left before expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub warn_before: SignedDuration,
    pub critical_before: SignedDuration,
}

/// Everything credwatch knows about a credential apart from its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Unique name; the value of the `credential` label.
    pub name: String,
    /// Primary and spares of one secret share a pool.
    pub pool: Option<String>,
    /// The source it came from (`inventory`, or the name of a `[[source]]`).
    pub source: String,
    /// Extra labels put on the credential's series.
    pub labels: Labels,
    pub runbook: Option<String>,
    pub thresholds: Thresholds,
}

/// The extra labels of a credential, by name in ascending order (as a `BTreeMap` iterates).
///
/// Shared, not copied: every credential of a source carries the source's labels, and a copy of a
/// map per credential (a `BTreeMap` node is over 500 bytes even for one label) was most of the
/// memory a directory of 100k files took. Most credentials have none, and hold no allocation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Labels(Option<Arc<[(String, String)]>>);

impl Labels {
    fn pairs(&self) -> &[(String, String)] {
        self.0.as_deref().unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    pub fn get(&self, name: &str) -> Option<&String> {
        let pairs = self.pairs();
        pairs
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|at| &pairs[at].1)
    }

    /// In ascending order of name, as `BTreeMap::iter`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &String)> + Clone {
        self.pairs().iter().map(|(k, v)| (k, v))
    }

    /// Sets `name` to `value`, replacing a value it had (as `BTreeMap::insert`). Copies the
    /// labels when they are shared with other credentials.
    pub fn insert(&mut self, name: String, value: String) {
        let mut pairs = self.pairs().to_vec();
        match pairs.binary_search_by(|(k, _)| k.cmp(&name)) {
            Ok(at) => pairs[at].1 = value,
            Err(at) => pairs.insert(at, (name, value)),
        }
        self.0 = Some(pairs.into());
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(map: BTreeMap<String, String>) -> Self {
        // Already in order and without repeated names.
        Labels((!map.is_empty()).then(|| map.into_iter().collect()))
    }
}

impl FromIterator<(String, String)> for Labels {
    /// A name given twice keeps its last value, as when collecting into a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        pairs.into_iter().collect::<BTreeMap<_, _>>().into()
    }
}

impl<const N: usize> From<[(String, String); N]> for Labels {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.pairs().iter().map(|(k, v)| (k, v))
    }
}

impl std::ops::Index<&str> for Labels {
    type Output = String;

    fn index(&self, name: &str) -> &String {
        self.get(name).expect("no label of that name")
    }
}

impl serde::Serialize for Labels {
    /// As the map it stands for.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// How an expiry became known; exposed as the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The expiry was given directly.
    ExpiresAt,
    /// The mint time was given and the expiry is mint time + TTL.
    MintedAtPlusTtl,
    /// The `exp` claim of a JWT (`iat` as mint time).
    JwtExp,
    /// The `notAfter` of an X.509 certificate (`notBefore` as mint time).
    X509NotAfter,
    /// A Vault secret's current version `created_time` + TTL.
    VersionCreatedPlusTtl,
    /// The `valid before` of an OpenSSH certificate (`valid after` as mint time).
    SshValidBefore,
    /// The `expiration_time` Vault reports for an AppRole secret-id (`creation_time` as mint time).
    ApproleExpiration,
    /// The expiry the issuer reported when probed (a GitHub header, GitLab's `expires_at`, a Vault
    /// token's `expire_time`); it wins over a recorded one.
    ProbeIssuer,
    /// A Vault token's `expire_time`, looked up by accessor (`issue_time` as mint time).
    VaultTokenExpireTime,
    /// The value was changed outside credwatch (a version newer than the one credwatch
    /// recorded): its mint time is assumed to be that version's `created_time`.
    AssumedFromChange,
}

impl Basis {
    const ALL: [Basis; 10] = [
        Basis::ExpiresAt,
        Basis::MintedAtPlusTtl,
        Basis::JwtExp,
        Basis::X509NotAfter,
        Basis::VersionCreatedPlusTtl,
        Basis::SshValidBefore,
        Basis::ApproleExpiration,
        Basis::ProbeIssuer,
        Basis::VaultTokenExpireTime,
        Basis::AssumedFromChange,
    ];

    /// The inverse of [`Basis::label`].
    pub fn from_label(label: &str) -> Option<Basis> {
        Basis::ALL.into_iter().find(|b| b.label() == label)
    }

    pub fn label(self) -> &'static str {
        match self {
            Basis::ExpiresAt => "expires_at",
            Basis::MintedAtPlusTtl => "minted_at_plus_ttl",
            Basis::JwtExp => "jwt_exp",
            Basis::X509NotAfter => "x509_not_after",
            Basis::VersionCreatedPlusTtl => "version_created_plus_ttl",
            Basis::SshValidBefore => "ssh_valid_before",
            Basis::ApproleExpiration => "approle_expiration_time",
            Basis::ProbeIssuer => "probe_issuer",
            Basis::VaultTokenExpireTime => "vault_token_expire_time",
            Basis::AssumedFromChange => "assumed_changed_out_of_band",
        }
    }
}

/// What a source could establish about one credential's lifetime and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub minted_at: Option<Timestamp>,
    /// `None` only for a credential that does not expire (a JWT without `exp`); never a 0.
    pub expires_at: Option<Timestamp>,
    pub basis: Basis,
    /// A short, non-reversible fingerprint of the value, when the value was read.
    pub fingerprint: Option<String>,
    /// The result of the credential's format check, when it has a format. Boxed: most
    /// credentials have none, and every evidence would carry its room.
    pub format: Option<Box<FormatResult>>,
    /// What identifies the value to a human (a certificate's subject and serial).
    pub subject: Option<String>,
    /// What the issuer said when the value was last probed (opt-in per credential).
    /// Boxed: most credentials are never probed, and every evidence would carry its room.
    pub probe: Option<Box<ProbeOutcome>>,
    /// A start of validity the value states apart from its mint time: a JWT's `nbf`.
    pub valid_after: Option<Timestamp>,
}

/// What a probe of the issuer found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeVerdict {
    /// The issuer accepted the credential.
    Accepted,
    /// The issuer rejected it: it expired (when the answer says so) or was revoked.
    Rejected { expired: bool },
    /// No verdict: the issuer could not be reached, timed out, answered 5xx, redirected, or
    /// answered something the preset does not know.
    Failed,
}

/// What the issuer said about a credential's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerExpiry {
    /// The answer says nothing about it (the preset cannot tell, or the probe failed).
    NotSaid,
    /// The issuer says it never expires.
    Never,
    At(Timestamp),
}

/// The outcome of one probe, as cached and reported. Holds no part of the value and no text of
/// the provider's beyond its error type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeOutcome {
    /// The preset's name (`github`, …); the `probe` label.
    pub preset: String,
    /// When the probe ran.
    pub at: Timestamp,
    pub verdict: ProbeVerdict,
    /// The HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// Why, in credwatch's own words (`401 authentication_error: expired`, `timed out after 10s`).
    pub reason: String,
    pub expiry: IssuerExpiry,
    /// More that the issuer said (a renewable Vault token's max TTL).
    pub note: Option<String>,
}

impl ProbeOutcome {
    /// `2xx`, `4xx`, … or `none` when no answer came; the `status_class` label.
    pub fn status_class(&self) -> &'static str {
        match self.http_status.map(|s| s / 100) {
            Some(1) => "1xx",
            Some(2) => "2xx",
            Some(3) => "3xx",
            Some(4) => "4xx",
            Some(5) => "5xx",
            _ => "none",
        }
    }
}

impl Evidence {
    /// Evidence declared in the config: no value was read.
    pub fn declared(minted_at: Option<Timestamp>, expires_at: Timestamp, basis: Basis) -> Self {
        Evidence {
            minted_at,
            expires_at: Some(expires_at),
            basis,
            fingerprint: None,
            format: None,
            subject: None,
            probe: None,
            valid_after: None,
        }
    }

    /// When the value itself says its validity starts: a certificate's `notBefore` (X.509) or
    /// `valid after` (OpenSSH), which these bases record as the mint time, or a JWT's `nbf`.
    /// `None` for the rest, whose mint time is not a start of validity.
    pub fn not_before(&self) -> Option<Timestamp> {
        match self.basis {
            Basis::X509NotAfter | Basis::SshValidBefore => self.minted_at,
            _ => self.valid_after,
        }
    }
}

/// Whether a value has the shape its format profile requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatResult {
    pub profile: String,
    /// Why the value does not fit; never contains the value.
    pub problem: Option<String>,
}

/// One credential as a source reported it: its evidence, or why none could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub credential: Credential,
    pub evidence: Result<Evidence, String>,
}

/// Pool settings from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolPolicy {
    /// Warn when the pool's runway is shorter than this.
    pub warn_before: SignedDuration,
    /// Members expiring within this of each other add no runway.
    pub spread: SignedDuration,
}

impl Default for PoolPolicy {
    fn default() -> Self {
        PoolPolicy {
            warn_before: SignedDuration::from_hours(60 * 24),
            spread: SignedDuration::from_hours(7 * 24),
        }
    }
}

/// A secret value (a token, a password). It never shows itself in `Debug` or `Display` and its
/// memory is wiped when dropped.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value.into_bytes()))
    }

    /// A value that may not be text (a DER certificate).
    pub fn from_bytes(value: Vec<u8>) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The value as text; empty when it is not UTF-8. Call only where it is sent to the service
    /// it authenticates against or decoded.
    pub fn expose(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The value's bytes, for decoding.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What one source delivered this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    pub name: String,
    pub kind: &'static str,
    /// `None` when the source was read; the reason otherwise.
    pub error: Option<String>,
    /// A short label for the failure (`sealed`, `denied`, `unreachable`, `unreadable`, …).
    pub reason: Option<&'static str>,
}

/// Everything the sources delivered, ready for assessment.
#[derive(Debug, Clone, Default)]
pub struct Collection {
    pub observations: Vec<Observation>,
    pub sources: Vec<SourceStatus>,
    /// Problems that belong to no single credential (such as a name defined twice).
    pub problems: Vec<String>,
    /// Consumers' copies and the values the store recorded, for the consumer series.
    pub copies: Copies,
}

/// What tells whether the workloads hold the value the store holds: the copies this run saw
/// where they are used, and the values a store recorded (current and earlier, by fingerprint).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copies {
    pub consumers: Vec<ConsumerCopy>,
    pub stored: Vec<StoredValue>,
}

/// One consumer's copy of a stored credential (`[[consumer]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerCopy {
    pub credential: String,
    /// Who holds the copy (a pod name, a host name).
    pub consumer: String,
    /// The copy's fingerprint, or why it could not be read.
    pub fingerprint: Result<String, String>,
}

/// A value a store holds or held, as credwatch recorded it in the store's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredValue {
    pub credential: String,
    pub fingerprint: String,
    /// `None` for the value stored now; when the store moved on otherwise.
    pub replaced_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

/// `text` with every run of at least [`REDACT_RUN`] bytes that also occurs in `secret` replaced
/// by `<redacted>`: a server that echoes a token, or most of it, in an error message does not get
/// it printed. Pure.
pub fn redact(text: &str, secret: &str) -> String {
    let (t, s) = (text.as_bytes(), secret.as_bytes());
    if s.len() < REDACT_RUN {
        // Too short for runs: only the whole secret is hidden.
        return match s.len() {
            0 => text.to_string(),
            _ => text.replace(secret, "<redacted>"),
        };
    }
    if t.len() < REDACT_RUN {
        return text.to_string();
    }
    let mut hidden = vec![false; t.len()];
    let windows: std::collections::HashSet<&[u8]> = s.windows(REDACT_RUN).collect();
    for (i, window) in t.windows(REDACT_RUN).enumerate() {
        if windows.contains(window) {
            hidden[i..i + REDACT_RUN].iter_mut().for_each(|h| *h = true);
        }
    }
    // Whole characters only: a run that starts or ends inside one takes all of it.
    for i in 0..t.len() {
        if hidden[i] {
            let mut start = i;
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < t.len() && !text.is_char_boundary(end) {
                end += 1;
            }
            hidden[start..end].iter_mut().for_each(|h| *h = true);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < t.len() {
        if hidden[i] {
            while i < t.len() && hidden[i] {
                i += 1;
            }
            out.push_str("<redacted>");
        } else {
            let start = i;
            while i < t.len() && !hidden[i] {
                i += 1;
            }
            out.push_str(&text[start..i]);
        }
    }
    out
}

/// The shortest run of a secret that [`redact`] hides.
pub const REDACT_RUN: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certificates_state_a_start_of_validity() {
        let from = Timestamp::from_second(1_900_000_000).unwrap();
        let until = Timestamp::from_second(1_930_000_000).unwrap();
        for (basis, want) in [
            (Basis::X509NotAfter, Some(from)),
            (Basis::SshValidBefore, Some(from)),
            (Basis::MintedAtPlusTtl, None),
            (Basis::JwtExp, None),
            (Basis::VersionCreatedPlusTtl, None),
        ] {
            let e = Evidence::declared(Some(from), until, basis);
            assert_eq!(e.not_before(), want, "{basis:?}");
        }
        assert_eq!(
            Evidence::declared(None, until, Basis::X509NotAfter).not_before(),
            None
        );
    }

    #[test]
    fn secrets_redact_themselves() {
        let s = Secret::new("hunter2-very-secret".into());
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_hides_any_long_run_of_the_secret_and_nothing_else() {
        let token = "hvs.CAESIJ8xq2-abcdefghijklmnop";
        assert_eq!(
            redact(&format!("bad token {token}"), token),
            "bad token <redacted>"
        );
        // Most of it, cut at either end, is hidden too.
        let partial = &token[2..token.len() - 2];
        assert_eq!(
            redact(&format!("token \"{partial}\" is invalid"), token),
            "token \"<redacted>\" is invalid"
        );
        assert_eq!(redact("permission denied", token), "permission denied");
        // Runs shorter than 8 bytes stay: `hvs.` alone is not the secret.
        assert_eq!(redact("hvs.CAES", token), "<redacted>");
        assert_eq!(redact("hvs.CAE!", token), "hvs.CAE!");
        assert_eq!(
            redact("ünïcödé ünïcödé", "xünïcödéx"),
            "<redacted> <redacted>"
        );
        assert_eq!(
            redact("key abc1 rejected", "abc1"),
            "key <redacted> rejected"
        );
    }
}
