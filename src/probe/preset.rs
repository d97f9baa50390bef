//! Pure: what each probe preset sends and what the provider's answer means. The request holds the
//! value only as a placeholder ([`HeaderSpec`]); the HTTP layer fills it in at send time. The
//! answer is read from its status, headers and a bounded body; no text of the provider's beyond
//! its error type ever reaches the outcome.
//!
//! The presets follow the providers' documentation (see the README's "Probes" section):
//! - `anthropic-oauth`: `GET /api/oauth/profile` with `Authorization: Bearer` and
//!   `anthropic-beta: oauth-2025-04-20`. A setup-token has only `user:inference`, so a valid one
//!   is answered 403 `permission_error` (scope insufficient): authenticated. 401
//!   `authentication_error` is a rejection, "…expired…" meaning expired, otherwise revoked.
//! - `anthropic-api-key`: `GET /v1/models` with `x-api-key` and `anthropic-version: 2023-06-01`.
//! - `github`: `GET /rate_limit` (outside the primary quota); the expiry is the
//!   `GitHub-Authentication-Token-Expiration` header, absent for tokens that never expire.
//! - `gitlab`: `GET /api/v4/personal_access_tokens/self` with `PRIVATE-TOKEN`: `expires_at` (a
//!   date; GitLab expires tokens at 00:00 UTC that day), `active`, `revoked`.
//! - `vault-token`: `GET /v1/auth/token/lookup-self` with `X-Vault-Token`: `expire_time` (null for
//!   a token without expiry), `renewable`, `explicit_max_ttl`, `issue_time`; 403 is a rejection.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::credential::{IssuerExpiry, ProbeVerdict};

/// A probe preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    AnthropicOauth,
    AnthropicApiKey,
    Github,
    Gitlab,
    VaultToken,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::AnthropicOauth,
        Preset::AnthropicApiKey,
        Preset::Github,
        Preset::Gitlab,
        Preset::VaultToken,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::AnthropicOauth => "anthropic-oauth",
            Preset::AnthropicApiKey => "anthropic-api-key",
            Preset::Github => "github",
            Preset::Gitlab => "gitlab",
            Preset::VaultToken => "vault-token",
        }
    }

    /// The provider's public base URL; `None` where there is none (Vault: give `base`).
    pub fn default_base(self) -> Option<&'static str> {
        match self {
            Preset::AnthropicOauth | Preset::AnthropicApiKey => Some("https://api.anthropic.com"),
            Preset::Github => Some("https://api.github.com"),
            Preset::Gitlab => Some("https://gitlab.com"),
            Preset::VaultToken => None,
        }
    }

    /// Whether an accepted answer can tell the expiry (else one must be recorded).
    pub fn tells_expiry(self) -> bool {
        matches!(self, Preset::Github | Preset::Gitlab | Preset::VaultToken)
    }

    fn path(self) -> &'static str {
        match self {
            Preset::AnthropicOauth => "/api/oauth/profile",
            Preset::AnthropicApiKey => "/v1/models",
            Preset::Github => "/rate_limit",
            Preset::Gitlab => "/api/v4/personal_access_tokens/self",
            Preset::VaultToken => "/v1/auth/token/lookup-self",
        }
    }

    /// The request: URL (`base` without a trailing slash + the preset's path; never the value)
    /// and headers.
    pub fn request(self, base: &str) -> (String, Vec<HeaderSpec>) {
        let url = format!("{}{}", base.trim_end_matches('/'), self.path());
        let headers = match self {
            Preset::AnthropicOauth => vec![
                HeaderSpec::value("authorization", "Bearer "),
                HeaderSpec::fixed("anthropic-beta", "oauth-2025-04-20"),
            ],
            Preset::AnthropicApiKey => vec![
                HeaderSpec::value("x-api-key", ""),
                HeaderSpec::fixed("anthropic-version", "2023-06-01"),
            ],
            Preset::Github => vec![
                HeaderSpec::value("authorization", "Bearer "),
                HeaderSpec::fixed("accept", "application/vnd.github+json"),
            ],
            Preset::Gitlab => vec![HeaderSpec::value("private-token", "")],
            Preset::VaultToken => vec![HeaderSpec::value("x-vault-token", "")],
        };
        (url, headers)
    }

    /// What an answer means. `header` looks a response header up by name (any case); `body` is
    /// already bounded (it may be cut short).
    pub fn interpret(
        self,
        status: u16,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Interpretation {
        if (300..400).contains(&status) {
            return Interpretation::failed(format!("{status} redirect, not followed"));
        }
        if status >= 500 {
            return Interpretation::failed(format!("{status} from the provider"));
        }
        match self {
            Preset::AnthropicOauth => anthropic_oauth(status, body),
            Preset::AnthropicApiKey => match status {
                200 => Interpretation::accepted(IssuerExpiry::NotSaid),
                401 => Interpretation::rejected(false, format!("401 {}", error_type(body))),
                _ => unexpected(status, body),
            },
            Preset::Github => match status {
                200 => github(header),
                401 => Interpretation::rejected(false, "401 bad credentials".into()),
                _ => unexpected(status, body),
            },
            Preset::Gitlab => match status {
                200 => gitlab(body),
                401 => Interpretation::rejected(false, "401 unauthorized".into()),
                _ => unexpected(status, body),
            },
            Preset::VaultToken => match status {
                200 => vault_token(body),
                403 => Interpretation::rejected(false, "403 permission denied".into()),
                _ => unexpected(status, body),
            },
        }
    }
}

/// A request header: fixed text, or the credential's value between `before` and `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    pub name: String,
    pub before: String,
    /// Whether the value goes between `before` and `after` (else the header is `before` alone).
    pub with_value: bool,
    pub after: String,
}

impl HeaderSpec {
    pub fn fixed(name: &str, text: &str) -> HeaderSpec {
        HeaderSpec {
            name: name.into(),
            before: text.into(),
            with_value: false,
            after: String::new(),
        }
    }

    pub fn value(name: &str, before: &str) -> HeaderSpec {
        HeaderSpec {
            name: name.into(),
            before: before.into(),
            with_value: true,
            after: String::new(),
        }
    }
}

/// What an answer means, before it is stamped with a time and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpretation {
    pub verdict: ProbeVerdict,
    pub reason: String,
    pub expiry: IssuerExpiry,
    pub note: Option<String>,
}

impl Interpretation {
    pub(super) fn accepted(expiry: IssuerExpiry) -> Self {
        Interpretation {
            verdict: ProbeVerdict::Accepted,
            reason: "accepted".into(),
            expiry,
            note: None,
        }
    }

    pub(super) fn rejected(expired: bool, reason: String) -> Self {
        Interpretation {
            verdict: ProbeVerdict::Rejected { expired },
            reason: format!("rejected: {reason}"),
            expiry: IssuerExpiry::NotSaid,
            note: None,
        }
    }

    pub fn failed(reason: String) -> Self {
        Interpretation {
            verdict: ProbeVerdict::Failed,
            reason,
            expiry: IssuerExpiry::NotSaid,
            note: None,
        }
    }
}

fn unexpected(status: u16, body: &[u8]) -> Interpretation {
    let kind = error_type(body);
    Interpretation::failed(format!("unexpected answer {status} {kind}"))
}

/// The provider's error type (`{"error": {"type": …}}` or `{"error": "…"}`), only when it is a
/// short identifier: never free text from the provider.
fn error_type(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<serde_json::Value>,
    }
    let kind = serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.error)
        .and_then(|e| match e {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Object(o) => o.get("type")?.as_str().map(str::to_string),
            _ => None,
        });
    match kind {
        Some(k)
            if !k.is_empty()
                && k.len() <= 40
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            k
        }
        _ => "(no error type)".into(),
    }
}

fn anthropic_oauth(status: u16, body: &[u8]) -> Interpretation {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<Error>,
    }
    #[derive(Deserialize)]
    struct Error {
        #[serde(rename = "type")]
        kind: Option<String>,
        message: Option<String>,
    }
    let error = serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.error);
    let kind = error.as_ref().and_then(|e| e.kind.as_deref());
    match (status, kind) {
        (200, _) => Interpretation::accepted(IssuerExpiry::NotSaid),
        // Authenticated, but a setup-token lacks the profile scope: exactly what a valid one gets.
        (403, Some("permission_error")) => Interpretation::accepted(IssuerExpiry::NotSaid),
        (401, Some("authentication_error")) => {
            let message = error
                .as_ref()
                .and_then(|e| e.message.as_deref())
                .unwrap_or_default()
                .to_ascii_lowercase();
            if message.contains("expired") {
                Interpretation::rejected(true, "401 authentication_error (expired)".into())
            } else {
                Interpretation::rejected(false, "401 authentication_error (invalid token)".into())
            }
        }
        _ => unexpected(status, body),
    }
}

/// `2024-06-01 00:00:00 UTC` or `2024-06-01 09:00:00 +0900`.
pub fn parse_github_expiration(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let (datetime, zone) = text.rsplit_once(' ')?;
    let civil: jiff::civil::DateTime = datetime.parse().ok()?;
    let offset_seconds = if zone == "UTC" || zone == "Z" {
        0
    } else {
        let (sign, digits) = match zone.as_bytes().first()? {
            b'+' => (1, &zone[1..]),
            b'-' => (-1, &zone[1..]),
            _ => return None,
        };
        let digits = digits.replace(':', "");
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = digits[2..].parse().ok()?;
        sign * (hours * 3600 + minutes * 60)
    };
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).ok()?;
    offset.to_timestamp(civil).ok()
}

fn github(header: &dyn Fn(&str) -> Option<String>) -> Interpretation {
    match header("github-authentication-token-expiration") {
        None => Interpretation::accepted(IssuerExpiry::Never),
        Some(text) => match parse_github_expiration(&text) {
            Some(t) => Interpretation::accepted(IssuerExpiry::At(t)),
            None => Interpretation::failed(
                "200, but the token expiration header is not a time credwatch reads".into(),
            ),
        },
    }
}

fn gitlab(body: &[u8]) -> Interpretation {
    #[derive(Deserialize)]
    struct Token {
        active: Option<bool>,
        revoked: Option<bool>,
        expires_at: Option<String>,
    }
    let Ok(token) = serde_json::from_slice::<Token>(body) else {
        return Interpretation::failed("200, but the answer is not the documented JSON".into());
    };
    let expiry = match token.expires_at.as_deref() {
        None => IssuerExpiry::Never,
        Some(d) => match d.parse::<Date>().ok().and_then(|d| {
            jiff::tz::Offset::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        }) {
            Some(t) => IssuerExpiry::At(t),
            None => {
                return Interpretation::failed("200, but `expires_at` is not a date".into());
            }
        },
    };
    if token.revoked == Some(true) {
        return Interpretation::rejected(false, "200 with `revoked: true`".into());
    }
    if token.active == Some(false) {
        return Interpretation {
            expiry,
            ..Interpretation::rejected(true, "200 with `active: false`".into())
        };
    }
    Interpretation::accepted(expiry)
}

fn vault_token(body: &[u8]) -> Interpretation {
    // lookup-self answers as lookup-accessor does: one parser for both.
    match crate::vault::token::parse_token_info(body) {
        Ok(info) => Interpretation {
            note: vault_token_note(info.renewable, info.issue_time, info.explicit_max_ttl),
            ..Interpretation::accepted(match info.expire_time {
                Some(t) => IssuerExpiry::At(t),
                None => IssuerExpiry::Never,
            })
        },
        Err(e) => Interpretation::failed(format!("200, but {e}")),
    }
}

/// What to say about a Vault token's renewal: a renewable token still dies at its max TTL.
pub fn vault_token_note(
    renewable: bool,
    issued: Option<Timestamp>,
    explicit_max_ttl: i64,
) -> Option<String> {
    let max = issued.filter(|_| explicit_max_ttl > 0).and_then(|t| {
        t.checked_add(SignedDuration::from_secs(explicit_max_ttl))
            .ok()
    });
    match (renewable, max) {
        (true, Some(max)) => Some(format!(
            "renewable, but dies at its max TTL {}",
            max.strftime("%Y-%m-%d %H:%M:%S UTC")
        )),
        (true, None) => Some("renewable: the expiry moves when it is renewed".into()),
        (false, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> Timestamp {
        t.parse().unwrap()
    }

    fn no_headers(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn answers_mean_what_the_providers_document() {
        use ProbeVerdict::*;
        let gh_exp = |name: &str| {
            (name == "github-authentication-token-expiration")
                .then(|| "2027-06-01 09:00:00 +0900".to_string())
        };
        type Headers<'a> = &'a dyn Fn(&str) -> Option<String>;
        let cases: Vec<(Preset, u16, Headers, &str, ProbeVerdict, &str, IssuerExpiry)> = vec![
            (
                Preset::AnthropicOauth,
                403,
                &no_headers,
                r#"{"type":"error","error":{"type":"permission_error","message":"OAuth token does not meet scope requirement user:profile"}}"#,
                Accepted,
                "accepted",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::AnthropicOauth,
                401,
                &no_headers,
                r#"{"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired. Please obtain a new token."}}"#,
                Rejected { expired: true },
                "rejected: 401 authentication_error (expired)",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::AnthropicOauth,
                401,
                &no_headers,
                r#"{"type":"error","error":{"type":"authentication_error","message":"Invalid bearer token"}}"#,
                Rejected { expired: false },
                "rejected: 401 authentication_error (invalid token)",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::AnthropicOauth,
                403,
                &no_headers,
                r#"{"error":{"type":"forbidden because of secret-abc"}}"#,
                Failed,
                "unexpected answer 403 (no error type)",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::AnthropicOauth,
                529,
                &no_headers,
                r#"{"type":"error","error":{"type":"overloaded_error"}}"#,
                Failed,
                "529 from the provider",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::AnthropicApiKey,
                200,
                &no_headers,
                r#"{"data":[]}"#,
                Accepted,
                "accepted",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::AnthropicApiKey,
                401,
                &no_headers,
                r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
                Rejected { expired: false },
                "rejected: 401 authentication_error",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::AnthropicApiKey,
                429,
                &no_headers,
                r#"{"type":"error","error":{"type":"rate_limit_error"}}"#,
                Failed,
                "unexpected answer 429 rate_limit_error",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::Github,
                200,
                &gh_exp,
                "{}",
                Accepted,
                "accepted",
                IssuerExpiry::At(at("2027-06-01T00:00:00Z")),
            ),
            (
                Preset::Github,
                200,
                &no_headers,
                "{}",
                Accepted,
                "accepted",
                IssuerExpiry::Never,
            ),
            (
                Preset::Github,
                401,
                &no_headers,
                r#"{"message":"Bad credentials"}"#,
                Rejected { expired: false },
                "rejected: 401 bad credentials",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::Github,
                302,
                &no_headers,
                "",
                Failed,
                "302 redirect, not followed",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::Gitlab,
                200,
                &no_headers,
                r#"{"active":true,"revoked":false,"expires_at":"2027-03-01"}"#,
                Accepted,
                "accepted",
                IssuerExpiry::At(at("2027-03-01T00:00:00Z")),
            ),
            (
                Preset::Gitlab,
                200,
                &no_headers,
                r#"{"active":true,"revoked":false,"expires_at":null}"#,
                Accepted,
                "accepted",
                IssuerExpiry::Never,
            ),
            (
                Preset::Gitlab,
                200,
                &no_headers,
                r#"{"active":false,"revoked":true,"expires_at":"2027-03-01"}"#,
                Rejected { expired: false },
                "rejected: 200 with `revoked: true`",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::Gitlab,
                200,
                &no_headers,
                r#"{"active":false,"revoked":false,"expires_at":"2026-01-01"}"#,
                Rejected { expired: true },
                "rejected: 200 with `active: false`",
                IssuerExpiry::At(at("2026-01-01T00:00:00Z")),
            ),
            (
                Preset::Gitlab,
                200,
                &no_headers,
                r#"{"active":true,"#,
                Failed,
                "200, but the answer is not the documented JSON",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::Gitlab,
                401,
                &no_headers,
                r#"{"error":"invalid_token"}"#,
                Rejected { expired: false },
                "rejected: 401 unauthorized",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::VaultToken,
                200,
                &no_headers,
                r#"{"data":{"expire_time":"2026-12-01T12:00:00.5Z","renewable":false}}"#,
                Accepted,
                "accepted",
                IssuerExpiry::At(at("2026-12-01T12:00:00.5Z")),
            ),
            (
                Preset::VaultToken,
                200,
                &no_headers,
                r#"{"data":{"expire_time":null,"renewable":false}}"#,
                Accepted,
                "accepted",
                IssuerExpiry::Never,
            ),
            (
                Preset::VaultToken,
                403,
                &no_headers,
                r#"{"errors":["permission denied"]}"#,
                Rejected { expired: false },
                "rejected: 403 permission denied",
                IssuerExpiry::NotSaid,
            ),
            (
                Preset::VaultToken,
                503,
                &no_headers,
                r#"{"errors":["Vault is sealed"]}"#,
                Failed,
                "503 from the provider",
                IssuerExpiry::NotSaid,
            ),
        ];
        for (preset, status, headers, body, verdict, reason, expiry) in cases {
            let got = preset.interpret(status, headers, body.as_bytes());
            assert_eq!(
                (got.verdict, got.reason.as_str(), got.expiry),
                (verdict, reason, expiry),
                "{preset:?} {status} {body}"
            );
        }
    }

    #[test]
    fn a_renewable_vault_token_reports_its_max_ttl() {
        let body = br#"{"data":{"expire_time":"2026-12-01T12:00:00Z","renewable":true,"explicit_max_ttl":86400,"issue_time":"2026-12-01T00:00:00Z"}}"#;
        let got = Preset::VaultToken.interpret(200, &no_headers, body);
        assert_eq!(
            got.note.as_deref(),
            Some("renewable, but dies at its max TTL 2026-12-02 00:00:00 UTC")
        );
    }

    #[test]
    fn github_expirations_read_utc_and_offsets() {
        for (text, want) in [
            ("2024-06-01 00:00:00 UTC", Some("2024-06-01T00:00:00Z")),
            ("2024-06-01 09:00:00 +0900", Some("2024-06-01T00:00:00Z")),
            ("2024-06-01 00:00:00 -05:30", Some("2024-06-01T05:30:00Z")),
            ("2024-06-01", None),
            ("soon UTC", None),
            ("2024-06-01 00:00:00 +9", None),
        ] {
            assert_eq!(parse_github_expiration(text), want.map(at), "{text}");
        }
    }

    #[test]
    fn requests_carry_the_value_only_in_a_header() {
        for preset in Preset::ALL {
            let (url, headers) = preset.request("https://example.test/");
            assert!(
                url.starts_with("https://example.test/") && !url[8..].contains("//"),
                "{url}"
            );
            assert_eq!(headers.iter().filter(|h| h.with_value).count(), 1);
        }
    }
}
