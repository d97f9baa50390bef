//! Format profiles: the shape a credential value must have, checked before a broken value
//! (a truncated copy, a stray newline, the wrong kind of token) breaks production.
//!
//! A [`FormatProfile`] is a list of checks run in a fixed order, so the first message is the most
//! telling one: empty → stray whitespace (single-line values only) → prefix → length → characters
//! after the prefix → whole-value regex → structure (a readable JWT, a parsable certificate).
//! Built-in profiles cover the credentials credwatch knows ([`builtin_names`]); [`custom`] builds
//! one from configuration.
//!
//! Messages never contain the value or any part of it. They may name what was expected (the
//! prefix `sk-ant-oat01-`, a configured pattern) but never what was found instead. Positions
//! are 1-based and count characters, not bytes.

use std::fmt;

use regex_lite::Regex;

use super::{jwt, x509};
use crate::credential::Secret;

/// A named set of checks a credential value must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatProfile {
    /// The name configuration refers to (`format = "claude-oauth"`).
    pub name: String,
    /// Text the value must start with.
    pub prefix: Option<String>,
    /// Bounds on the length in characters, prefix included.
    pub min_len: Option<usize>,
    pub max_len: Option<usize>,
    /// Characters allowed after the prefix.
    pub charset: Option<Charset>,
    /// A regex the whole value must match.
    pub pattern: Option<Pattern>,
    /// A structure the value must decode as.
    pub structure: Option<Structure>,
    /// Whether the value spans lines (PEM). Single-line values are first checked for stray
    /// whitespace and control characters, the usual damage of copy and paste.
    pub multiline: bool,
}

/// A set of characters a value may consist of after its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `A-Z a-z 0-9 _ -`: the base64url alphabet, without padding.
    Base64Url,
    /// `A-Z a-z 0-9 _`.
    AlphanumericUnderscore,
}

impl Charset {
    pub fn allows(self, c: char) -> bool {
        match self {
            Charset::Base64Url => c.is_ascii_alphanumeric() || c == '_' || c == '-',
            Charset::AlphanumericUnderscore => c.is_ascii_alphanumeric() || c == '_',
        }
    }

    /// The set as written in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Charset::Base64Url => "A-Z a-z 0-9 _ -",
            Charset::AlphanumericUnderscore => "A-Z a-z 0-9 _",
        }
    }
}

/// What a value must decode as, beyond its characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// Three base64url parts whose header and payload are JSON objects ([`jwt::parse_jwt`]).
    Jwt,
    /// PEM or DER holding at least one certificate ([`x509::parse_certificates`]).
    PemCertificate,
}

/// A regex that must match a whole value. The source is kept for messages and comparison.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles `source`, anchored at both ends: `[a-z]+` means the whole value is lowercase.
    pub fn new(source: &str) -> Result<Self, String> {
        let regex = Regex::new(&format!("^(?:{source})$"))
            .map_err(|e| format!("`{source}` is not a valid regex: {e}"))?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }

    /// The pattern as configured, without the anchors added to it.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

const CLAUDE_OAUTH: &str = "claude-oauth";
const GITHUB_FINE_GRAINED_PAT: &str = "github-fine-grained-pat";
const JWT: &str = "jwt";
const PEM_CERTIFICATE: &str = "pem-certificate";

const BUILTIN_NAMES: [&str; 4] = [CLAUDE_OAUTH, GITHUB_FINE_GRAINED_PAT, JWT, PEM_CERTIFICATE];

/// The layout of a GitHub fine-grained personal access token. GitHub documents the `github_pat_`
/// prefix but not the rest; this layout is what GitHub's own log redactor matches
/// (github/redacting-logger, lib/patterns/default.rb: `github_pat_[a-zA-Z0-9]{22}_[a-zA-Z0-9]{59}`),
/// and what secret scanners and published example tokens agree on: 11 + 22 + 1 + 59 = 93
/// characters. GitHub's 2021 token-format announcement reserves the right to lengthen tokens
/// (up to 255 characters), so a change on their side shows up here as a length error.
const GITHUB_PAT_PATTERN: &str = "github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}";

/// The names of the built-in profiles.
pub fn builtin_names() -> &'static [&'static str] {
    &BUILTIN_NAMES
}

/// A built-in profile by name.
pub fn builtin(name: &str) -> Option<FormatProfile> {
    let plain = |name: &str| FormatProfile {
        name: name.to_string(),
        prefix: None,
        min_len: None,
        max_len: None,
        charset: None,
        pattern: None,
        structure: None,
        multiline: false,
    };
    match name {
        // `claude setup-token`: `sk-ant-oat01-` and 95 base64url characters, 108 in all.
        CLAUDE_OAUTH => Some(FormatProfile {
            prefix: Some("sk-ant-oat01-".into()),
            min_len: Some(108),
            max_len: Some(108),
            charset: Some(Charset::Base64Url),
            ..plain(name)
        }),
        GITHUB_FINE_GRAINED_PAT => Some(FormatProfile {
            prefix: Some("github_pat_".into()),
            min_len: Some(93),
            max_len: Some(93),
            charset: Some(Charset::AlphanumericUnderscore),
            pattern: Pattern::new(GITHUB_PAT_PATTERN).ok(),
            ..plain(name)
        }),
        JWT => Some(FormatProfile {
            structure: Some(Structure::Jwt),
            ..plain(name)
        }),
        PEM_CERTIFICATE => Some(FormatProfile {
            structure: Some(Structure::PemCertificate),
            multiline: true,
            ..plain(name)
        }),
        _ => None,
    }
}

/// Builds a profile from configuration, checking that it can be satisfied at all: the pattern
/// compiles, `min_len ≤ max_len`, the prefix fits. Values of custom profiles are single-line.
pub fn custom(
    name: &str,
    prefix: Option<&str>,
    min_len: Option<usize>,
    max_len: Option<usize>,
    pattern: Option<&str>,
) -> Result<FormatProfile, String> {
    if name.trim().is_empty() {
        return Err("a custom format needs a name".into());
    }
    if BUILTIN_NAMES.contains(&name) {
        return Err(format!(
            "format `{name}` is built in; give the custom format another name"
        ));
    }
    if prefix == Some("") {
        return Err(format!(
            "format `{name}` has an empty prefix; leave `prefix` out instead"
        ));
    }
    if let (Some(min), Some(max)) = (min_len, max_len)
        && min > max
    {
        return Err(format!(
            "format `{name}` has min_length `{min}` greater than max_length `{max}`"
        ));
    }
    if max_len == Some(0) {
        return Err(format!(
            "format `{name}` has max_length `0`, which no value can satisfy"
        ));
    }
    if let (Some(prefix), Some(max)) = (prefix, max_len) {
        let len = prefix.chars().count();
        if len > max {
            return Err(format!(
                "format `{name}` has a prefix of {len} characters, longer than max_length `{max}`"
            ));
        }
    }
    let pattern = pattern
        .map(Pattern::new)
        .transpose()
        .map_err(|e| format!("the pattern of format `{name}`: {e}"))?;
    Ok(FormatProfile {
        name: name.to_string(),
        prefix: prefix.map(str::to_string),
        min_len,
        max_len,
        charset: None,
        pattern,
        structure: None,
        multiline: false,
    })
}

/// Checks `value` against `profile`; the error says what is wrong, never what the value holds.
/// The longest value a format's pattern is matched against.
pub const PATTERN_MAX_BYTES: usize = 16 * 1024;

pub fn check(profile: &FormatProfile, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("the value is empty".into());
    }
    if !profile.multiline {
        check_single_line(value)?;
    }
    if let Some(prefix) = &profile.prefix
        && !value.starts_with(prefix.as_str())
    {
        return Err(format!("the value does not start with `{prefix}`"));
    }
    check_length(profile, value.chars().count())?;
    if let Some(charset) = profile.charset {
        let skip = profile.prefix.as_deref().map_or(0, |p| p.chars().count());
        if let Some(i) = value.chars().skip(skip).position(|c| !charset.allows(c)) {
            return Err(format!(
                "the value contains a character outside `{}` at position {}",
                charset.describe(),
                skip + i + 1
            ));
        }
    }
    if let Some(pattern) = &profile.pattern {
        // A pattern describes a token; a value this long is no token, and matching it could take
        // seconds (the matcher is linear but slow per byte).
        if value.len() > PATTERN_MAX_BYTES {
            return Err(format!(
                "the value is {} bytes long, more than the {} a pattern is checked against",
                value.len(),
                PATTERN_MAX_BYTES
            ));
        }
        if !pattern.matches(value) {
            return Err(format!(
                "the value does not match the pattern `{}`",
                pattern.as_str()
            ));
        }
    }
    match profile.structure {
        None => Ok(()),
        Some(Structure::Jwt) => jwt::parse_jwt(value)
            .map(|_| ())
            .map_err(|e| format!("the value is not a readable JWT: {e}")),
        Some(Structure::PemCertificate) => x509::parse_certificates(value.as_bytes())
            .map(|_| ())
            .map_err(|e| format!("the value holds no readable certificate: {e}")),
    }
}

/// Flags the damage copy and paste does to a one-line value: whitespace at either end, a line
/// break where a terminal wrapped it, a control character, an invisible byte-order mark.
fn check_single_line(value: &str) -> Result<(), String> {
    let Some((first_bad, bad)) = value.chars().enumerate().find(|&(_, c)| stray(c).is_some())
    else {
        return Ok(());
    };
    let what = stray(bad).unwrap_or("a stray character");
    let at_end = value.chars().skip(first_bad).all(|c| stray(c).is_some());
    Err(if first_bad == 0 {
        format!("the value starts with {what}")
    } else if at_end {
        if value.chars().skip(first_bad).any(is_line_break) {
            "the value ends with a line break (a trailing newline from a file or `echo`?)"
                .to_string()
        } else {
            format!("the value ends with {what}")
        }
    } else if is_line_break(bad) {
        format!(
            "the value contains a line break at position {} (wrapped when copied?)",
            first_bad + 1
        )
    } else {
        format!("the value contains {what} at position {}", first_bad + 1)
    })
}

fn is_line_break(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// What a character that does not belong in a one-line value is, or `None` when it belongs.
fn stray(c: char) -> Option<&'static str> {
    if is_line_break(c) {
        Some("a line break")
    } else if c.is_whitespace() {
        Some("whitespace")
    } else if c.is_control() {
        Some("a control character")
    } else if matches!(c, '\u{feff}' | '\u{200b}'..='\u{200d}' | '\u{2060}') {
        Some("an invisible character (a byte-order mark or zero-width space)")
    } else {
        None
    }
}

fn check_length(profile: &FormatProfile, found: usize) -> Result<(), String> {
    let short = " (a truncated copy?)";
    let long = " (something pasted twice?)";
    let (expected, hint) = match (profile.min_len, profile.max_len) {
        (Some(min), Some(max)) if min == max && found != min => (
            format!("exactly {min}"),
            if found < min { short } else { long },
        ),
        (Some(min), Some(max)) if found < min || found > max => (
            format!("between {min} and {max}"),
            if found < min { short } else { long },
        ),
        (Some(min), None) if found < min => (format!("at least {min}"), short),
        (None, Some(max)) if found > max => (format!("at most {max}"), long),
        _ => return Ok(()),
    };
    Err(format!(
        "expected {expected} characters, found {found}{hint}"
    ))
}

/// `lint-value`: whether `value` is a valid `profile` value, and the verdict to print (never
/// the value: its length and fingerprint at most). Unless `exact`, one trailing line break (from
/// a file or `echo`) is dropped first.
pub fn lint(profile: &FormatProfile, value: &Secret, exact: bool) -> (bool, String) {
    let mut bytes = value.expose_bytes();
    if !exact {
        bytes = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(bytes);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return (false, "invalid: the value is not text".into());
    };
    match check(profile, text) {
        Ok(()) => (
            true,
            format!(
                "ok: a valid `{}` value ({} characters, fingerprint {})",
                profile.name,
                text.chars().count(),
                super::fingerprint::value_fingerprint(text.as_bytes(), None)
            ),
        ),
        Err(problem) => (
            false,
            format!("invalid: not a valid `{}` value: {problem}", profile.name),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::assert_no_leak;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    /// `n` characters of `alphabet`, varied enough that every 8-character window is distinctive.
    fn filler(alphabet: &str, n: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..n)
            .map(|i| chars[(i * 7 + i / 5) % chars.len()])
            .collect()
    }

    const URL_SAFE_CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    fn claude_token() -> String {
        format!("sk-ant-oat01-{}", filler(URL_SAFE_CHARS, 95))
    }

    fn github_pat() -> String {
        format!(
            "github_pat_{}_{}",
            filler(ALNUM, 22),
            filler(&ALNUM[7..], 59)
        )
    }

    fn jwt_token(payload: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    fn certificate_pem() -> String {
        rcgen::generate_simple_self_signed(vec!["agent.test".to_string()])
            .unwrap()
            .cert
            .pem()
    }

    /// Replaces the character at 1-based `position`.
    fn with_char_at(value: &str, position: usize, c: char) -> String {
        value
            .chars()
            .enumerate()
            .map(|(i, old)| if i + 1 == position { c } else { old })
            .collect()
    }

    fn insert_at(value: &str, position: usize, text: &str) -> String {
        let at = value
            .char_indices()
            .nth(position - 1)
            .map_or(value.len(), |(i, _)| i);
        format!("{}{text}{}", &value[..at], &value[at..])
    }

    #[test]
    fn the_builtins_are_listed_and_exist() {
        assert_eq!(
            builtin_names(),
            [
                "claude-oauth",
                "github-fine-grained-pat",
                "jwt",
                "pem-certificate"
            ]
        );
        for name in builtin_names() {
            assert_eq!(builtin(name).unwrap().name, *name);
        }
        assert_eq!(builtin("nope"), None);
        assert!(
            builtin("github-fine-grained-pat")
                .unwrap()
                .pattern
                .is_some(),
            "the built-in pattern compiles"
        );
    }

    #[test]
    fn good_values_pass_their_profile() {
        assert_eq!(claude_token().len(), 108);
        assert_eq!(github_pat().len(), 93);
        let cases = [
            ("claude-oauth", claude_token()),
            ("github-fine-grained-pat", github_pat()),
            ("jwt", jwt_token(r#"{"exp":1808050029}"#)),
            ("jwt", jwt_token(r#"{"sub":"no expiry"}"#)),
            ("pem-certificate", certificate_pem()),
            (
                "pem-certificate",
                format!("# agent\n{}\n", certificate_pem()),
            ),
        ];
        for (name, value) in cases {
            assert_eq!(check(&builtin(name).unwrap(), &value), Ok(()), "{name}");
        }
    }

    #[test]
    fn broken_claude_tokens_say_what_broke_them() {
        let good = claude_token();
        let cases: Vec<(&str, String, &str)> = vec![
            ("empty", String::new(), "the value is empty"),
            (
                "truncated by one",
                good[..107].to_string(),
                "expected exactly 108 characters, found 107 (a truncated copy?)",
            ),
            (
                "truncated by a terminal",
                good[..80].to_string(),
                "expected exactly 108 characters, found 80 (a truncated copy?)",
            ),
            (
                "one too many",
                format!("{good}A"),
                "expected exactly 108 characters, found 109 (something pasted twice?)",
            ),
            (
                "wrapped by a terminal",
                insert_at(&good, 81, "\n"),
                "the value contains a line break at position 81 (wrapped when copied?)",
            ),
            (
                "wrapped with CRLF",
                insert_at(&good, 81, "\r\n"),
                "the value contains a line break at position 81 (wrapped when copied?)",
            ),
            (
                "trailing newline",
                format!("{good}\n"),
                "the value ends with a line break (a trailing newline from a file or `echo`?)",
            ),
            (
                "trailing CRLF",
                format!("{good}\r\n"),
                "the value ends with a line break (a trailing newline from a file or `echo`?)",
            ),
            (
                "trailing space",
                format!("{good} "),
                "the value ends with whitespace",
            ),
            (
                "leading space",
                format!(" {good}"),
                "the value starts with whitespace",
            ),
            (
                "leading byte-order mark",
                format!("\u{feff}{good}"),
                "the value starts with an invisible character (a byte-order mark or zero-width space)",
            ),
            (
                "inner zero-width space",
                insert_at(&good, 20, "\u{200b}"),
                "the value contains an invisible character (a byte-order mark or zero-width space) at position 20",
            ),
            (
                "trailing NUL",
                format!("{good}\0"),
                "the value ends with a control character",
            ),
            (
                "leading newline",
                format!("\n{good}"),
                "the value starts with a line break",
            ),
            (
                "inner tab",
                insert_at(&good, 30, "\t"),
                "the value contains whitespace at position 30",
            ),
            (
                "inner control character",
                insert_at(&good, 40, "\u{7}"),
                "the value contains a control character at position 40",
            ),
            (
                "inner non-breaking space",
                insert_at(&good, 50, "\u{a0}"),
                "the value contains whitespace at position 50",
            ),
            (
                "an API key, not an OAuth token",
                good.replacen("oat01", "api03", 1),
                "the value does not start with `sk-ant-oat01-`",
            ),
            (
                "a quote from a config file",
                format!("\"{}", &good[..107]),
                "the value does not start with `sk-ant-oat01-`",
            ),
            (
                "standard base64",
                with_char_at(&good, 60, '+'),
                "the value contains a character outside `A-Z a-z 0-9 _ -` at position 60",
            ),
            (
                "non-ASCII",
                with_char_at(&good, 100, 'é'),
                "the value contains a character outside `A-Z a-z 0-9 _ -` at position 100",
            ),
        ];
        let profile = builtin("claude-oauth").unwrap();
        for (name, value, want) in &cases {
            let err = check(&profile, value).unwrap_err();
            assert_eq!(&err, want, "{name}");
            assert_no_leak(&err, value, &["sk-ant-oat01-"]);
        }
    }

    #[test]
    fn broken_github_tokens_say_what_broke_them() {
        let good = github_pat();
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "classic token",
                format!("ghp_{}", filler(ALNUM, 36)),
                "the value does not start with `github_pat_`",
            ),
            (
                "truncated",
                good[..92].to_string(),
                "expected exactly 93 characters, found 92 (a truncated copy?)",
            ),
            (
                "a dash",
                with_char_at(&good, 40, '-'),
                "the value contains a character outside `A-Z a-z 0-9 _` at position 40",
            ),
            (
                "separator moved",
                with_char_at(&with_char_at(&good, 34, 'x'), 35, '_'),
                "the value does not match the pattern `github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}`",
            ),
            (
                "trailing newline",
                format!("{good}\n"),
                "the value ends with a line break (a trailing newline from a file or `echo`?)",
            ),
        ];
        let profile = builtin("github-fine-grained-pat").unwrap();
        for (name, value, want) in &cases {
            let err = check(&profile, value).unwrap_err();
            assert_eq!(&err, want, "{name}");
            assert_no_leak(&err, value, &["github_pat_", GITHUB_PAT_PATTERN]);
        }
    }

    #[test]
    fn broken_structured_values_say_what_broke_them() {
        let pem = certificate_pem();
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "jwt",
                "only.two-parts-of-a-token".to_string(),
                "the value is not a readable JWT: expected 3 dot-separated parts (header.payload.signature), found 2",
            ),
            (
                "jwt",
                format!("{}\n", jwt_token("{}")),
                "the value ends with a line break (a trailing newline from a file or `echo`?)",
            ),
            (
                "jwt",
                jwt_token(r#"{"exp":"tomorrow-or-so"}"#),
                "the value is not a readable JWT: `exp` is a string, expected a number of seconds",
            ),
            (
                "pem-certificate",
                "just-some-secret-text".to_string(),
                "the value holds no readable certificate: no certificate found: expected PEM (`-----BEGIN CERTIFICATE-----`) or DER",
            ),
            (
                "pem-certificate",
                pem[..pem.len() - 30].to_string(),
                "the value holds no readable certificate: the PEM block starting on line 1 has no END line (a truncated copy?)",
            ),
        ];
        for (name, value, want) in &cases {
            let err = check(&builtin(name).unwrap(), value).unwrap_err();
            assert_eq!(&err, want, "{name}");
            let secret: String = value.lines().filter(|l| !l.starts_with("-----")).collect();
            assert_no_leak(&err, &secret, &[]);
        }
    }

    #[test]
    fn custom_profiles_check_what_they_configure() {
        let vault = custom(
            "vault-token",
            Some("hvs."),
            Some(20),
            Some(200),
            Some(r"hvs\.[A-Za-z0-9_-]+"),
        )
        .unwrap();
        let any_len = custom("opaque", None, None, Some(10), None).unwrap();
        let at_least = custom("long", None, Some(12), None, None).unwrap();
        let lower = custom("lower", None, None, None, Some("[a-z]+")).unwrap();
        let long = "a".repeat(PATTERN_MAX_BYTES + 1);
        let cases: Vec<(&FormatProfile, &str, Result<(), &str>)> = vec![
            (&vault, "hvs.CAESIabcdefghijklmnop", Ok(())),
            (
                &vault,
                "s.CAESIabcdefghijklmnopq",
                Err("the value does not start with `hvs.`"),
            ),
            (
                &vault,
                "hvs.CAESIabc",
                Err("expected between 20 and 200 characters, found 12 (a truncated copy?)"),
            ),
            (
                &vault,
                "hvs.CAESIabcdefghij+klmnop",
                Err(r"the value does not match the pattern `hvs\.[A-Za-z0-9_-]+`"),
            ),
            (&any_len, "abcdefghij", Ok(())),
            (
                &any_len,
                "abcdefghijk",
                Err("expected at most 10 characters, found 11 (something pasted twice?)"),
            ),
            (
                &at_least,
                "abcdefghijk",
                Err("expected at least 12 characters, found 11 (a truncated copy?)"),
            ),
            (&at_least, "abcdefghijkl", Ok(())),
            // Anchored: a match inside the value is not enough.
            (&lower, "abcdefgh", Ok(())),
            (
                &lower,
                "abcdefgh0",
                Err("the value does not match the pattern `[a-z]+`"),
            ),
            (
                &lower,
                "0abcdefgh",
                Err("the value does not match the pattern `[a-z]+`"),
            ),
            (
                &lower,
                "a|b",
                Err("the value does not match the pattern `[a-z]+`"),
            ),
            // Far longer than a token: refused before the pattern is tried.
            (
                &lower,
                long.as_str(),
                Err(
                    "the value is 16385 bytes long, more than the 16384 a pattern is checked against",
                ),
            ),
        ];
        for (profile, value, want) in cases {
            let got = check(profile, value);
            assert_eq!(
                got.as_ref().map_err(String::as_str),
                want.as_ref().map_err(|e| *e),
                "{} {value}",
                profile.name
            );
            if let Err(err) = got {
                let public: Vec<&str> = [
                    profile.prefix.as_deref(),
                    profile.pattern.as_ref().map(Pattern::as_str),
                ]
                .into_iter()
                .flatten()
                .collect();
                assert_no_leak(&err, value, &public);
            }
        }
    }

    #[test]
    fn alternation_is_anchored_as_a_whole() {
        let either = custom("either", None, None, None, Some("abc|xyz")).unwrap();
        assert_eq!(check(&either, "abc"), Ok(()));
        assert_eq!(check(&either, "xyz"), Ok(()));
        assert!(check(&either, "abcxyz").is_err());
        assert!(check(&either, "abc-and-more").is_err());
    }

    /// `custom` arguments (name, prefix, min_len, max_len, pattern) and the expected error.
    type CustomCase<'a> = (
        &'a str,
        Option<&'a str>,
        Option<usize>,
        Option<usize>,
        Option<&'a str>,
        &'a str,
    );

    #[test]
    fn impossible_custom_profiles_are_refused() {
        let cases: [CustomCase; 7] = [
            ("", None, None, None, None, "a custom format needs a name"),
            (
                "jwt",
                None,
                None,
                None,
                None,
                "format `jwt` is built in; give the custom format another name",
            ),
            (
                "x",
                Some(""),
                None,
                None,
                None,
                "format `x` has an empty prefix; leave `prefix` out instead",
            ),
            (
                "x",
                None,
                Some(10),
                Some(5),
                None,
                "format `x` has min_length `10` greater than max_length `5`",
            ),
            (
                "x",
                None,
                None,
                Some(0),
                None,
                "format `x` has max_length `0`, which no value can satisfy",
            ),
            (
                "x",
                Some("abcdef"),
                None,
                Some(5),
                None,
                "format `x` has a prefix of 6 characters, longer than max_length `5`",
            ),
            (
                "x",
                None,
                None,
                None,
                Some("[a-"),
                "the pattern of format `x`: `[a-` is not a valid regex: ",
            ),
        ];
        for (name, prefix, min, max, pattern, want) in cases {
            let err = custom(name, prefix, min, max, pattern).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
        let exact = custom("x", Some("ab"), Some(5), Some(5), None).unwrap();
        assert_eq!(exact.min_len, Some(5));
        assert!(!exact.multiline);
    }

    #[test]
    fn patterns_compare_by_source() {
        assert_eq!(Pattern::new("a+").unwrap(), Pattern::new("a+").unwrap());
        assert_ne!(Pattern::new("a+").unwrap(), Pattern::new("a*").unwrap());
        assert_eq!(
            format!("{:?}", Pattern::new("a+").unwrap()),
            r#"Pattern("a+")"#
        );
    }

    /// Every profile the property tests run against, with the text its messages may name.
    fn profiles() -> Vec<(FormatProfile, Vec<String>)> {
        let mut all: Vec<(FormatProfile, Vec<String>)> = builtin_names()
            .iter()
            .filter_map(|name| builtin(name))
            .map(|p| {
                let public = [
                    p.prefix.clone(),
                    p.pattern.as_ref().map(|x| x.as_str().to_string()),
                ]
                .into_iter()
                .flatten()
                .collect();
                (p, public)
            })
            .collect();
        let vault = custom(
            "vault-token",
            Some("hvs."),
            Some(20),
            Some(200),
            Some(r"hvs\.[A-Za-z0-9_-]+"),
        )
        .unwrap();
        all.push((vault, vec!["hvs.".into(), r"hvs\.[A-Za-z0-9_-]+".into()]));
        all
    }

    fn assert_checks_without_leaking(value: &str) {
        for (profile, public) in profiles() {
            if let Err(err) = check(&profile, value) {
                let public: Vec<&str> = public.iter().map(String::as_str).collect();
                assert_no_leak(&err, value, &public);
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic_or_leak(value in any::<String>()) {
            assert_checks_without_leaking(&value);
        }

        #[test]
        fn near_miss_tokens_never_panic_or_leak(
            tail in "[A-Za-z0-9_+/=. \n-]{0,120}",
            prefix in prop_oneof![Just("sk-ant-oat01-"), Just("github_pat_"), Just("hvs."), Just("")],
        ) {
            assert_checks_without_leaking(&format!("{prefix}{tail}"));
        }

        #[test]
        fn custom_profiles_never_panic(
            prefix in proptest::option::of("[ -~]{0,6}"),
            min in proptest::option::of(0usize..50),
            max in proptest::option::of(0usize..50),
            pattern in proptest::option::of("[ -~]{0,12}"),
            value in any::<String>(),
        ) {
            if let Ok(profile) = custom("prop", prefix.as_deref(), min, max, pattern.as_deref()) {
                let _ = check(&profile, &value);
            }
        }
    }

    #[test]
    fn lint_drops_one_line_break_unless_exact_and_never_prints_the_value() {
        let profile = builtin("claude-oauth").unwrap();
        let token = format!("sk-ant-oat01-{}", "x".repeat(95));
        let (ok, verdict) = lint(&profile, &Secret::new(format!("{token}\n")), false);
        assert!(ok, "{verdict}");
        assert!(
            verdict.starts_with(
                "ok: a valid `claude-oauth` value (108 characters, fingerprint sha256:"
            ),
            "{verdict}"
        );
        let (ok, verdict) = lint(&profile, &Secret::new(format!("{token}\n")), true);
        assert!(!ok);
        assert!(
            verdict.starts_with("invalid: not a valid `claude-oauth` value:"),
            "{verdict}"
        );
        let (ok, verdict) = lint(&profile, &Secret::new(token[..107].to_string()), false);
        assert!(!ok);
        crate::decode::tests::assert_no_leak(&verdict, &token, &["sk-ant-oat01-"]);
        let (ok, verdict) = lint(&profile, &Secret::from_bytes(vec![0xff, 0xfe]), false);
        assert_eq!(
            (ok, verdict.as_str()),
            (false, "invalid: the value is not text")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every built-in profile's lint on mutated values of each kind: within the time bound,
        /// a short error.
        #[test]
        fn lints_of_mutated_values_stay_within_bounds(
            value in prop_oneof![
                crate::test_bounds::mutated_text(&format!("sk-ant-oat01-{}", "x".repeat(95))),
                crate::test_bounds::mutated_text(&format!("github_pat_{}", "A".repeat(82))),
                crate::test_bounds::mutated_text(&certificate_pem()),
                "[A-Za-z0-9_.=-]{0,300}",
            ],
        ) {
            for name in builtin_names() {
                let profile = builtin(name).unwrap();
                let result = crate::test_bounds::within_time("a format lint", value.len(), || check(&profile, &value));
                crate::test_bounds::bounded_error("a format lint", result);
            }
        }
    }
}
