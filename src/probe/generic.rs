//! Pure: the generic probe, for an issuer without a preset: method, URL, headers in which
//! `{value}` stands for the credential (never in the URL), the statuses that mean valid and
//! rejected, and optionally where the answer tells the expiry (a header or a JSON pointer, with
//! its time format).

use jiff::Timestamp;

use super::preset::{HeaderSpec, Interpretation};
use crate::credential::IssuerExpiry;

/// Where an accepted answer tells the expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryAt {
    Header(String),
    /// An RFC 6901 JSON pointer into the body (`/data/expires_at`).
    Pointer(String),
}

/// How that expiry is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    Rfc3339,
    UnixSeconds,
    /// `YYYY-MM-DD`, taken as 00:00 UTC.
    Date,
}

impl TimeFormat {
    pub const ALL: [(&str, TimeFormat); 3] = [
        ("rfc3339", TimeFormat::Rfc3339),
        ("unix", TimeFormat::UnixSeconds),
        ("date", TimeFormat::Date),
    ];

    pub fn parse(self, text: &str) -> Option<Timestamp> {
        let text = text.trim();
        match self {
            TimeFormat::Rfc3339 => text.parse().ok(),
            TimeFormat::UnixSeconds => text
                .parse::<i64>()
                .ok()
                .and_then(|s| Timestamp::from_second(s).ok()),
            TimeFormat::Date => text.parse::<jiff::civil::Date>().ok().and_then(|d| {
                jiff::tz::Offset::UTC
                    .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                    .ok()
            }),
        }
    }
}

/// A generic probe, as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericProbe {
    /// `GET`, `HEAD` or `POST` (without a body).
    pub method: String,
    pub headers: Vec<HeaderSpec>,
    pub valid: Vec<u16>,
    pub rejected: Vec<u16>,
    pub expiry: Option<(ExpiryAt, TimeFormat)>,
}

impl GenericProbe {
    pub fn interpret(
        &self,
        status: u16,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Interpretation {
        if self.rejected.contains(&status) {
            return Interpretation::rejected(false, format!("{status}"));
        }
        if !self.valid.contains(&status) {
            let what = match status {
                300..=399 => "redirect, not followed",
                500.. => "from the provider",
                _ => "is neither a valid nor a rejected status",
            };
            return Interpretation::failed(format!("{status} {what}"));
        }
        let Some((at, format)) = &self.expiry else {
            return Interpretation::accepted(IssuerExpiry::NotSaid);
        };
        let text = match at {
            ExpiryAt::Header(name) => header(&name.to_ascii_lowercase()),
            ExpiryAt::Pointer(pointer) => serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| match v.pointer(pointer)? {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }),
        };
        let Some(text) = text else {
            return Interpretation::failed(format!(
                "{status}, but the answer has no expiry where the probe says"
            ));
        };
        match format.parse(&text) {
            Some(t) => Interpretation::accepted(IssuerExpiry::At(t)),
            None => Interpretation::failed(format!(
                "{status}, but the expiry is not in the configured time format"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::ProbeVerdict;

    #[test]
    fn statuses_and_the_expiry_mean_what_the_config_says() {
        let probe = |expiry| GenericProbe {
            method: "GET".into(),
            headers: vec![],
            valid: vec![200, 204],
            rejected: vec![401],
            expiry,
        };
        let none = |_: &str| None;
        let header = |n: &str| (n == "x-expires").then(|| "1800000000".to_string());
        let pointer = Some((ExpiryAt::Pointer("/token/expires".into()), TimeFormat::Date));
        for (p, status, headers, body, verdict, reason, expiry) in [
            (
                probe(None),
                204,
                &none as &dyn Fn(&str) -> Option<String>,
                "",
                ProbeVerdict::Accepted,
                "accepted",
                IssuerExpiry::NotSaid,
            ),
            (
                probe(None),
                401,
                &none,
                "",
                ProbeVerdict::Rejected { expired: false },
                "rejected: 401",
                IssuerExpiry::NotSaid,
            ),
            (
                probe(None),
                403,
                &none,
                "",
                ProbeVerdict::Failed,
                "403 is neither a valid nor a rejected status",
                IssuerExpiry::NotSaid,
            ),
            (
                probe(None),
                307,
                &none,
                "",
                ProbeVerdict::Failed,
                "307 redirect, not followed",
                IssuerExpiry::NotSaid,
            ),
            (
                probe(Some((
                    ExpiryAt::Header("X-Expires".into()),
                    TimeFormat::UnixSeconds,
                ))),
                200,
                &header,
                "",
                ProbeVerdict::Accepted,
                "accepted",
                IssuerExpiry::At(Timestamp::from_second(1_800_000_000).unwrap()),
            ),
            (
                probe(pointer.clone()),
                200,
                &none,
                r#"{"token":{"expires":"2027-05-01"}}"#,
                ProbeVerdict::Accepted,
                "accepted",
                IssuerExpiry::At("2027-05-01T00:00:00Z".parse().unwrap()),
            ),
            (
                probe(pointer.clone()),
                200,
                &none,
                r#"{"token":{}}"#,
                ProbeVerdict::Failed,
                "200, but the answer has no expiry where the probe says",
                IssuerExpiry::NotSaid,
            ),
            (
                probe(pointer),
                200,
                &none,
                r#"{"token":{"expires":"soon"}}"#,
                ProbeVerdict::Failed,
                "200, but the expiry is not in the configured time format",
                IssuerExpiry::NotSaid,
            ),
        ] {
            let got = p.interpret(status, headers, body.as_bytes());
            assert_eq!(
                (got.verdict, got.reason.as_str(), got.expiry),
                (verdict, reason, expiry),
                "{status} {body}"
            );
        }
    }
}
