//! Reads the lifetime claims of a JWT (`exp`, `iat`, `nbf`) without verifying its signature.
//!
//! credwatch only needs to know when a token stops working, not whether to trust it, so no key is
//! needed: the token is split into its three base64url parts (RFC 7515 compact serialisation),
//! the header and payload must be JSON objects, and the NumericDate claims (RFC 7519 §2) are read
//! as seconds since 1970 (fractions are floored). A token without `exp` is valid and reports no
//! expiry; callers say "no expiry" rather than inventing a time.
//!
//! Errors name the part and the position that is wrong, never the token or any piece of it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use jiff::Timestamp;
use serde_json::{Map, Value};

/// The lifetime claims of a JWT. `None` means the claim is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JwtClaims {
    /// `iat`: when the token was issued.
    pub issued_at: Option<Timestamp>,
    /// `exp`: when the token stops being accepted.
    pub expires_at: Option<Timestamp>,
    /// `nbf`: when the token starts being accepted.
    pub not_before: Option<Timestamp>,
}

/// The three parts of a compact JWS, in order, as named in error messages.
const PARTS: [&str; 3] = ["header", "payload", "signature"];

/// Parses a JWT and returns its lifetime claims. The signature is checked to be base64url but not
/// verified. Surrounding ASCII whitespace (a trailing newline in a file) is ignored; use
/// [`crate::decode::format`] to flag it. Positions in errors are 1-based characters of the token
/// without that whitespace.
pub fn parse_jwt(token: &str) -> Result<JwtClaims, String> {
    let token = token.trim_matches(|c: char| c.is_ascii_whitespace());
    if token.is_empty() {
        return Err("the token is empty, expected a JWT (header.payload.signature)".into());
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(wrong_part_count(parts.len()));
    };
    let header_start = 0;
    let payload_start = header.len() + 1;
    let signature_start = payload_start + payload.len() + 1;

    let header = decode_part(token, header, header_start, 0)?;
    let payload = decode_part(token, payload, payload_start, 1)?;
    decode_part(token, signature, signature_start, 2)?;

    json_object(&header, 0)?;
    let claims = json_object(&payload, 1)?;
    // `exp` decides the expiry: a malformed `iat` or `nbf` must not hide a valid `exp`, so those
    // two are dropped when they do not parse, while a malformed `exp` is an error.
    Ok(JwtClaims {
        issued_at: numeric_date(&claims, "iat").unwrap_or(None),
        expires_at: numeric_date(&claims, "exp")?,
        not_before: numeric_date(&claims, "nbf").unwrap_or(None),
    })
}

/// Whether a value is shaped like a JWT, for telling it from a certificate: 3 dot-separated
/// parts (a JWS) or 5 (a JWE) whose first part is base64url of a JSON object (`{}` included;
/// no header field is required).
pub fn looks_like_jwt(text: &str) -> bool {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let mut parts = text.split('.');
    let header = parts.next().unwrap_or_default();
    if !matches!(parts.count(), 2 | 4) {
        return false;
    }
    URL_SAFE_NO_PAD_INDIFFERENT
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|v| v.is_object())
}

fn wrong_part_count(found: usize) -> String {
    let hint = match found {
        1 => " (no `.` at all: not a JWT?)",
        _ => "",
    };
    if found == 5 {
        return "this is an encrypted JWT (JWE); its claims cannot be read (a signed JWT has 3 dot-separated parts, this has 5)".into();
    }
    format!("expected 3 dot-separated parts (header.payload.signature), found {found}{hint}")
}

/// `the payload (part 2 of 3)`.
fn part_name(index: usize) -> String {
    let name = PARTS.get(index).copied().unwrap_or("part");
    format!("the {name} (part {} of 3)", index + 1)
}

/// The 1-based character position in `token` of the byte at `offset`.
fn char_position(token: &str, offset: usize) -> usize {
    match token.get(..offset) {
        Some(before) => before.chars().count() + 1,
        None => offset + 1,
    }
}

/// Decodes one base64url part; `start` is its byte offset in `token`. Only the signature may be
/// empty (an unsecured JWT has none).
fn decode_part(token: &str, part: &str, start: usize, index: usize) -> Result<Vec<u8>, String> {
    if part.is_empty() {
        if index == 2 {
            return Ok(Vec::new());
        }
        return Err(format!("{} is empty", part_name(index)));
    }
    URL_SAFE_NO_PAD_INDIFFERENT.decode(part).map_err(|e| {
        let problem = match e {
            base64::DecodeError::InvalidByte(offset, _)
            | base64::DecodeError::InvalidLastSymbol { offset, .. } => format!(
                "an invalid character at position {}",
                char_position(token, start + offset)
            ),
            base64::DecodeError::InvalidLength(_) => format!(
                "an impossible length of {} characters (a truncated copy?)",
                part.chars().count()
            ),
            base64::DecodeError::InvalidPadding => "misplaced `=` padding".to_string(),
        };
        format!("{} is not valid base64url: {problem}", part_name(index))
    })
}

/// Parses a decoded part as a JSON object. Messages give the line and column of a syntax error,
/// never the text around it.
fn json_object(bytes: &[u8], index: usize) -> Result<Map<String, Value>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let problem = match e.classify() {
            serde_json::error::Category::Eof => "it ends early",
            _ => "a syntax error",
        };
        format!(
            "{} is not JSON ({problem} at line {}, column {})",
            part_name(index),
            e.line(),
            e.column()
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!(
            "{} is JSON but not an object (found {})",
            part_name(index),
            json_kind(&other)
        )),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a NumericDate claim: seconds since 1970 as a JSON number, floored when fractional.
/// Zero and negative values are real (long past) times; the far end follows
/// [`crate::time::clamped_seconds`], the rule X.509 shares, so only times after the end of year
/// 9999 are out of range (where milliseconds land: they are refused, not read as "never").
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<Timestamp>, String> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let Value::Number(number) = value else {
        return Err(format!(
            "`{name}` is {}, expected a number of seconds",
            json_kind(value)
        ));
    };
    let last = crate::time::LAST_SECOND_OF_9999;
    // Milliseconds of any date since 2001 are at least 10^12, a date after 33658 in seconds.
    let looks_like_millis = |seconds: f64| seconds >= 1e12 && seconds / 1000.0 <= last as f64;
    let out_of_range = |seconds: f64| {
        let (side, hint) = if seconds < 0.0 {
            ("before year -9999", "")
        } else if looks_like_millis(seconds) {
            (
                "after 9999-12-31",
                " (it looks like milliseconds; NumericDate is seconds)",
            )
        } else {
            ("after 9999-12-31", "")
        };
        format!("`{name}` is out of range ({side}), expected seconds since 1970{hint}")
    };
    let seconds = if let Some(seconds) = number.as_i64() {
        seconds
    } else if let Some(seconds) = number.as_u64() {
        // Only values above i64::MAX land here.
        return Err(out_of_range(seconds as f64));
    } else {
        let seconds = number.as_f64().unwrap_or(f64::NAN).floor();
        if !seconds.is_finite() || seconds > last as f64 {
            return Err(out_of_range(seconds));
        }
        // Whole and at most 9999-12-31: the cast loses nothing but what lies below i64's range
        // (it saturates), which the rule below refuses as before year -9999, as for integers.
        seconds as i64
    };
    crate::time::clamped_seconds(seconds)
        .map(Some)
        .ok_or_else(|| out_of_range(seconds as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::assert_no_leak;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    use proptest::prelude::*;

    const HEADER: &str = r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#;
    /// A signature-shaped part: long enough that a leak of it would be caught.
    const SIGNATURE: &str = "c2lnbmF0dXJlLWJ5dGVzLXRoYXQtbm9ib2R5LXZlcmlmaWVz";

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    fn jwt(payload: &str) -> String {
        format!("{}.{}.{SIGNATURE}", b64(HEADER), b64(payload))
    }

    fn at(seconds: i64) -> Option<Timestamp> {
        Some(Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn claims_are_read_from_the_payload() {
        let cases: [(&str, JwtClaims); 8] = [
            (
                r#"{"sub":"agent","iat":1776514029,"exp":1808050029,"nbf":1776514000}"#,
                JwtClaims {
                    issued_at: at(1_776_514_029),
                    expires_at: at(1_808_050_029),
                    not_before: at(1_776_514_000),
                },
            ),
            (
                r#"{"sub":"no-expiry"}"#,
                JwtClaims {
                    issued_at: None,
                    expires_at: None,
                    not_before: None,
                },
            ),
            (
                r#"{"exp":1808050029.999}"#,
                JwtClaims {
                    expires_at: at(1_808_050_029),
                    ..JwtClaims::default()
                },
            ),
            (
                r#"{"exp":1.808050029e9}"#,
                JwtClaims {
                    expires_at: at(1_808_050_029),
                    ..JwtClaims::default()
                },
            ),
            (
                r#"{"exp":1808050029.0,"iat":1}"#,
                JwtClaims {
                    expires_at: at(1_808_050_029),
                    issued_at: at(1),
                    ..JwtClaims::default()
                },
            ),
            (
                r#"{"exp":253402207200}"#,
                JwtClaims {
                    expires_at: at(253_402_207_200),
                    ..JwtClaims::default()
                },
            ),
            (r#"{}"#, JwtClaims::default()),
            // A malformed `iat` or `nbf` is dropped; the `exp` next to it stays.
            (
                r#"{"exp":1808050029,"iat":null,"nbf":true}"#,
                JwtClaims {
                    expires_at: at(1_808_050_029),
                    ..JwtClaims::default()
                },
            ),
        ];
        for (payload, want) in cases {
            assert_eq!(parse_jwt(&jwt(payload)), Ok(want), "{payload}");
        }
    }

    #[test]
    fn tokens_are_accepted_in_every_legal_spelling() {
        let payload = r#"{"exp":1808050029}"#;
        let want = Ok(JwtClaims {
            expires_at: at(1_808_050_029),
            ..JwtClaims::default()
        });
        let padded = format!(
            "{}.{}.{SIGNATURE}",
            URL_SAFE.encode(HEADER),
            URL_SAFE.encode(payload)
        );
        assert!(padded.contains('='), "the test needs a padded part");
        let cases = [
            ("unpadded", jwt(payload)),
            ("padded", padded),
            (
                "unsecured",
                format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(payload)),
            ),
            ("trailing newline", format!("{}\n", jwt(payload))),
            ("surrounding spaces", format!("  {} ", jwt(payload))),
        ];
        for (name, token) in cases {
            assert_eq!(parse_jwt(&token), want, "{name}");
        }
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong_without_echoing_the_token() {
        let good_header = b64(HEADER);
        let good_payload = b64(r#"{"sub":"agent-secret-subject","exp":1808050029}"#);
        let cases: Vec<(String, &str)> = vec![
            (
                String::new(),
                "the token is empty, expected a JWT (header.payload.signature)",
            ),
            (
                "   \n".into(),
                "the token is empty, expected a JWT (header.payload.signature)",
            ),
            (
                good_header.clone(),
                "expected 3 dot-separated parts (header.payload.signature), found 1 (no `.` at all: not a JWT?)",
            ),
            (
                format!("{good_header}.{good_payload}"),
                "expected 3 dot-separated parts (header.payload.signature), found 2",
            ),
            (
                format!("{good_header}.{good_payload}.{SIGNATURE}.{SIGNATURE}"),
                "expected 3 dot-separated parts (header.payload.signature), found 4",
            ),
            (
                format!("{good_header}.{good_payload}.{SIGNATURE}.{SIGNATURE}.{SIGNATURE}"),
                "this is an encrypted JWT (JWE); its claims cannot be read (a signed JWT has 3 dot-separated parts, this has 5)",
            ),
            (
                format!(".{good_payload}.{SIGNATURE}"),
                "the header (part 1 of 3) is empty",
            ),
            (
                format!("{good_header}..{SIGNATURE}"),
                "the payload (part 2 of 3) is empty",
            ),
            (
                // `+` is standard base64, not base64url; the header is 51 characters long.
                format!(
                    "{good_header}.{}+{}.{SIGNATURE}",
                    &good_payload[..4],
                    &good_payload[4..]
                ),
                "the payload (part 2 of 3) is not valid base64url: an invalid character at position 57",
            ),
            (
                format!("{good_header}.{good_payload}.{SIGNATURE}*"),
                "the signature (part 3 of 3) is not valid base64url: an invalid character at position 165",
            ),
            (
                format!("{good_header}xx.{good_payload}.{SIGNATURE}"),
                "the header (part 1 of 3) is not valid base64url: an impossible length of 53 characters (a truncated copy?)",
            ),
            (
                format!("{good_header}.{good_payload}==.{SIGNATURE}"),
                "the payload (part 2 of 3) is not valid base64url: an invalid character at position 116",
            ),
            (
                format!(
                    "{}.{good_payload}.{SIGNATURE}",
                    b64("not json at all, just a secret")
                ),
                "the header (part 1 of 3) is not JSON (a syntax error at line 1, column 2)",
            ),
            (
                format!("{good_header}.{}.{SIGNATURE}", b64(r#"{"exp":18080"#)),
                "the payload (part 2 of 3) is not JSON (it ends early at line 1, column 12)",
            ),
            (
                format!(
                    "{}.{good_payload}.{SIGNATURE}",
                    b64(r#"["RS256","secret-header"]"#)
                ),
                "the header (part 1 of 3) is JSON but not an object (found an array)",
            ),
            (
                format!(
                    "{good_header}.{}.{SIGNATURE}",
                    b64(r#""a-string-payload-secret""#)
                ),
                "the payload (part 2 of 3) is JSON but not an object (found a string)",
            ),
            (
                format!("{good_header}.{}.{SIGNATURE}", b64("null")),
                "the payload (part 2 of 3) is JSON but not an object (found null)",
            ),
        ];
        for (token, want) in &cases {
            let err = parse_jwt(token).unwrap_err();
            assert_eq!(&err, want, "{token}");
            assert_no_leak(&err, token, &[]);
        }
    }

    #[test]
    fn a_fractional_time_is_read_as_its_whole_seconds_on_either_side_of_1970() {
        // Far in the past but after year -9999: an integer and a fraction of it agree.
        for (fraction, whole) in [
            (r#"{"exp":-300000000000.5}"#, r#"{"exp":-300000000001}"#),
            (r#"{"exp":1808050029.5}"#, r#"{"exp":1808050029}"#),
        ] {
            let read = |p: &str| parse_jwt(&jwt(p)).map(|c| c.expires_at);
            assert_eq!(read(fraction), read(whole), "{fraction}");
            assert!(read(whole).is_ok(), "{whole}");
        }
    }

    #[test]
    fn bad_claims_are_rejected_with_a_precise_message() {
        let cases = [
            (
                r#"{"exp":"1808050029"}"#,
                "`exp` is a string, expected a number of seconds",
            ),
            (
                r#"{"exp":[1808050029]}"#,
                "`exp` is an array, expected a number of seconds",
            ),
            (
                r#"{"exp":{"at":1808050029}}"#,
                "`exp` is an object, expected a number of seconds",
            ),
            (
                r#"{"exp":1808050029000}"#,
                "`exp` is out of range (after 9999-12-31), expected seconds since 1970 (it looks like milliseconds; NumericDate is seconds)",
            ),
            (
                r#"{"exp":1808050029000.5}"#,
                "`exp` is out of range (after 9999-12-31), expected seconds since 1970 (it looks like milliseconds; NumericDate is seconds)",
            ),
            (
                r#"{"exp":253402300800}"#,
                "`exp` is out of range (after 9999-12-31), expected seconds since 1970",
            ),
            (
                r#"{"exp":-1e300}"#,
                "`exp` is out of range (before year -9999), expected seconds since 1970",
            ),
            (
                r#"{"exp":18446744073709551615}"#,
                "`exp` is out of range (after 9999-12-31), expected seconds since 1970",
            ),
            (
                r#"{"exp":1e300}"#,
                "`exp` is out of range (after 9999-12-31), expected seconds since 1970",
            ),
        ];
        for (payload, want) in cases {
            let token = jwt(payload);
            let err = parse_jwt(&token).unwrap_err();
            assert_eq!(err, want, "{payload}");
            assert_no_leak(&err, &token, &[]);
        }
    }

    #[test]
    fn times_at_both_ends_follow_the_rule_x509_follows() {
        let max = Some(Timestamp::MAX);
        let cases: [(&str, Option<Timestamp>); 8] = [
            // At or before 1970: a real, long past time (EXPIRED), not an unreadable one.
            (r#"{"exp":0}"#, at(0)),
            (r#"{"exp":-5}"#, at(-5)),
            (r#"{"exp":0.5}"#, at(0)),
            (r#"{"exp":-0.5}"#, at(-1)),
            (r#"{"exp":-631152000}"#, at(-631_152_000)),
            // Between the latest instant the time library holds and the end of 9999: clamped,
            // as a certificate's `99991231235959Z` is.
            (r#"{"exp":253402207201}"#, max),
            (r#"{"exp":253402300799}"#, max),
            (r#"{"exp":253402300799.9}"#, max),
        ];
        for (payload, want) in cases {
            assert_eq!(
                parse_jwt(&jwt(payload)).map(|c| c.expires_at),
                Ok(want),
                "{payload}"
            );
        }
        assert_eq!(
            crate::time::clamped_seconds(253_402_300_799),
            max,
            "the same instant as X.509 clamps"
        );
    }

    #[test]
    fn jwts_are_recognised_by_their_shape_whatever_the_header_holds() {
        let payload = b64(r#"{"exp":1808050029}"#);
        let yes = [
            format!("{}.{payload}.{SIGNATURE}", b64("{}")),
            format!("{}.{payload}.", b64(r#"{"alg":"none"}"#)),
            format!("{}.{payload}.{SIGNATURE}\n", b64(HEADER)),
            format!("{}.a.b.c.d", b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#)),
        ];
        for token in &yes {
            assert!(looks_like_jwt(token), "{token}");
        }
        assert_eq!(
            parse_jwt(&yes[0]).unwrap().expires_at,
            at(1_808_050_029),
            "a `{{}}` header is a JWT"
        );
        let no = [
            String::new(),
            "MIIBkTCB+wIJAK".into(),
            format!("{}.{payload}", b64("{}")),
            format!("{}.{payload}.{SIGNATURE}", b64("[]")),
            format!("not-base64!.{payload}.{SIGNATURE}"),
            "a.b.c".into(),
        ];
        for token in &no {
            assert!(!looks_like_jwt(token), "{token}");
        }
    }

    #[test]
    fn non_ascii_positions_count_characters() {
        // A multi-byte character in the header is reported by its character position.
        let token = format!("é{}.{}.{SIGNATURE}", b64(HEADER), b64("{}"));
        assert_eq!(
            parse_jwt(&token).unwrap_err(),
            "the header (part 1 of 3) is not valid base64url: an invalid character at position 1"
        );
    }

    /// JSON-ish text: fragments that steer generated payloads towards the interesting paths.
    fn json_ish() -> impl Strategy<Value = String> {
        let fragment = prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(",".to_string()),
            Just(":".to_string()),
            Just("\"exp\"".to_string()),
            Just("\"iat\"".to_string()),
            Just("\"nbf\"".to_string()),
            Just("null".to_string()),
            Just("true".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| n.to_string()),
            "\"[a-z\\\\\"]{0,6}\"",
            "-?[0-9]{1,25}(\\.[0-9]{0,5})?(e[+-]?[0-9]{1,4})?",
        ];
        proptest::collection::vec(fragment, 0..16).prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(token in any::<String>()) {
            if let Err(err) = parse_jwt(&token) {
                assert_no_leak(&err, &token, &[]);
            }
        }

        #[test]
        fn dotted_base64url_noise_never_panics(token in "[A-Za-z0-9_=.+/-]{0,120}") {
            if let Err(err) = parse_jwt(&token) {
                assert_no_leak(&err, &token, &[]);
            }
        }

        #[test]
        fn json_ish_payloads_never_panic(payload in json_ish()) {
            let token = format!("{}.{}.{SIGNATURE}", b64(HEADER), b64(&payload));
            if let Err(err) = parse_jwt(&token) {
                assert_no_leak(&err, &token, &[]);
            }
        }

        #[test]
        fn numeric_claims_are_read_exactly(exp in -300_000_000_000i64..=253_402_207_200) {
            let token = jwt(&format!(r#"{{"exp":{exp}}}"#));
            prop_assert_eq!(parse_jwt(&token).unwrap().expires_at, at(exp));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Mutated tokens (signed and encrypted shapes): within the time bound, a short error.
        #[test]
        fn mutated_tokens_stay_within_bounds(
            token in prop_oneof![
                crate::test_bounds::mutated_text(&jwt(r#"{"sub":"agent","iat":1776514029,"exp":1808050029,"nbf":1776514000}"#)),
                crate::test_bounds::mutated_text(&format!("{}.a2V5.aXY.Y2lwaGVy.dGFn", b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#))),
                any::<String>(),
            ],
        ) {
            let result = crate::test_bounds::within_time("a JWT", token.len(), || parse_jwt(&token));
            crate::test_bounds::bounded_error("a JWT", result);
            crate::test_bounds::within_time("JWT detection", token.len(), || looks_like_jwt(&token));
        }
    }
}
