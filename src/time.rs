//! Pure parsing and formatting of the times and durations found in config files and flags.
//!
//! Times are RFC 3339 with an offset (`2026-04-18T12:07:09Z`) or unix seconds; durations are one or
//! more `<integer><unit>` groups with units `w`, `d`, `h`, `m`, `s` (`365d`, `1d12h`, `90m`).

use jiff::{SignedDuration, Timestamp};

const SECONDS_PER_UNIT: [(char, i64); 5] = [
    ('w', 7 * 86_400),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

/// Parses a duration such as `365d`, `12h`, `90m` or `1d12h`. Zero and negative durations are
/// rejected: every duration credwatch takes is a span of time that must pass.
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "expected a duration such as `365d`, `12h` or `90m`, found an empty string".into(),
        );
    }
    if text.starts_with('-') {
        return Err(format!("expected a positive duration, found `{text}`"));
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    // Units must come largest first, each once: `1d12h`, not `12h1d` or `1d1d`.
    let mut last_unit = i64::MAX;
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let Some(&(_, unit)) = SECONDS_PER_UNIT.iter().find(|(u, _)| *u == ch) else {
            return Err(format!(
                "expected a duration such as `365d`, `12h` or `90m` (units w, d, h, m, s), found `{text}`"
            ));
        };
        if digits.is_empty() {
            return Err(format!(
                "expected a number before `{ch}` in duration `{text}`"
            ));
        }
        if unit >= last_unit {
            return Err(format!(
                "duration `{text}`: give each unit once, largest first (e.g. `1d12h`)"
            ));
        }
        last_unit = unit;
        let value: i64 = digits
            .parse()
            .map_err(|_| format!("duration `{text}` is too large"))?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration `{text}` is too large"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "duration `{text}` needs a unit after `{digits}` (w, d, h, m or s), e.g. `{digits}d`"
        ));
    }
    if total == 0 {
        return Err(format!("expected a positive duration, found `{text}`"));
    }
    // Ten thousand years is far beyond any credential and keeps every later sum in range.
    if total > 10_000 * 366 * 86_400 {
        return Err(format!("duration `{text}` is too large"));
    }
    Ok(SignedDuration::from_secs(total))
}

/// Formats a duration compactly in the units `parse_duration` reads (`30d`, `1d12h`, `90s`).
pub fn format_duration(duration: SignedDuration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
        secs = -secs;
    }
    // Weeks are left out on purpose: `30d` reads better than `4w2d`.
    for (unit, size) in SECONDS_PER_UNIT.iter().skip(1) {
        if secs >= *size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// The last second of year 9999 (`9999-12-31T23:59:59Z`) in unix seconds: the latest time an
/// X.509 certificate can state (RFC 5280's "no well-defined expiration") and the latest an
/// RFC 3339 time can be written as.
pub const LAST_SECOND_OF_9999: i64 = 253_402_300_799;

/// The series value of an expiry at or before 1970-01-01T00:00:00Z: one second after it.
/// The expiry series is never 0 (the metrics contract), so such an expiry is carried as the
/// earliest non-zero instant: still long past, so the credential is EXPIRED and its alert fires.
pub const EARLIEST_EXPIRY: Timestamp = Timestamp::constant(1, 0);

/// The times credwatch reads from a credential or from its config, as text for messages.
pub const SUPPORTED_RANGE: &str = "from 1970-01-01T00:00:01Z through 9999-12-31T23:59:59Z";

/// The one rule for the far end of time: unix seconds up to [`LAST_SECOND_OF_9999`] are a
/// timestamp, the hours past [`Timestamp::MAX`] (9999-12-30T22:00:00Z, the latest instant the
/// time library holds) clamped to it; later is `None`. Used by X.509, JWT and the config alike,
/// so `99991231235959Z` in a certificate, `"exp": 253402300799` and
/// `expires_at = "9999-12-31T23:59:59Z"` all mean the same instant.
pub fn clamped_seconds(seconds: i64) -> Option<Timestamp> {
    if seconds > LAST_SECOND_OF_9999 {
        return None;
    }
    if seconds > Timestamp::MAX.as_second() {
        return Some(Timestamp::MAX);
    }
    Timestamp::from_second(seconds).ok()
}

/// An expiry as credwatch carries it: at or before 1970-01-01T00:00:00Z becomes
/// [`EARLIEST_EXPIRY`]; anything later is kept. Applied once, to every observation, whatever
/// its source (see `sources::collect`).
pub fn floor_expiry(at: Timestamp) -> Timestamp {
    if at.as_second() <= 0 {
        EARLIEST_EXPIRY
    } else {
        at
    }
}

/// Parses a point in time given as text: RFC 3339 with an offset, or unix seconds. Both forms
/// take the same range, [`SUPPORTED_RANGE`]: a time at or before 1970 given to credwatch is a
/// mistake, not a credential.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return parse_unix_seconds(text);
    }
    let seconds = rfc3339_seconds(text).ok_or_else(|| {
        format!("expected an RFC 3339 time with an offset (e.g. `2026-04-18T12:07:09Z`) or unix seconds, found `{text}`")
    })?;
    in_range(seconds).map_err(|()| {
        format!("`{text}` is outside the times credwatch supports ({SUPPORTED_RANGE})")
    })
}

/// The unix seconds of an RFC 3339 time with an offset, also past [`Timestamp::MAX`] (to the
/// end of year 9999, which the time library cannot hold as an instant but can parse).
fn rfc3339_seconds(text: &str) -> Option<i64> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t.as_second());
    }
    let pieces = jiff::fmt::temporal::Pieces::parse(text).ok()?;
    let offset = match pieces.offset()? {
        jiff::fmt::temporal::PiecesOffset::Zulu => 0,
        jiff::fmt::temporal::PiecesOffset::Numeric(n) => i64::from(n.offset().seconds()),
        _ => return None,
    };
    if pieces.time_zone_annotation().is_some() {
        return None;
    }
    let (date, time) = (pieces.date(), pieces.time()?);
    let days = date
        .since((jiff::Unit::Day, jiff::civil::date(1970, 1, 1)))
        .ok()?
        .get_days();
    let of_day =
        i64::from(time.hour()) * 3_600 + i64::from(time.minute()) * 60 + i64::from(time.second());
    Some(i64::from(days) * 86_400 + of_day - offset)
}

/// Parses unix seconds (the content of a ConfigMap entry written by the shell CronJob).
pub fn parse_unix_seconds(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    let seconds: i64 = text.parse().map_err(|_| {
        format!("expected unix seconds (an integer such as `1808064429`), found `{text}`")
    })?;
    unix_seconds(seconds)
}

/// Converts unix seconds into a timestamp, rejecting values outside [`SUPPORTED_RANGE`].
pub fn unix_seconds(seconds: i64) -> Result<Timestamp, String> {
    if seconds <= 0 {
        return Err(format!(
            "expected unix seconds after 1970-01-01, found `{seconds}` (0 or a negative value is not a real time)"
        ));
    }
    in_range(seconds)
        .map_err(|()| format!("unix seconds `{seconds}` are out of range ({SUPPORTED_RANGE})"))
}

/// [`SUPPORTED_RANGE`] as a rule on unix seconds, with [`clamped_seconds`] at its far end.
fn in_range(seconds: i64) -> Result<Timestamp, ()> {
    if seconds <= 0 {
        return Err(());
    }
    clamped_seconds(seconds).ok_or(())
}

/// Adds a duration to a timestamp, reporting overflow instead of panicking.
pub fn add(at: Timestamp, duration: SignedDuration) -> Result<Timestamp, String> {
    at.checked_add(duration).map_err(|_| {
        format!(
            "`{at}` plus `{}` is out of range",
            format_duration(duration)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        let cases = [
            ("365d", 365 * 86_400),
            ("30d", 30 * 86_400),
            ("12h", 12 * 3_600),
            ("90m", 90 * 60),
            ("45s", 45),
            ("2w", 14 * 86_400),
            ("1d12h", 36 * 3_600),
            (" 7d ", 7 * 86_400),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_duration(text).unwrap().as_secs(), secs, "{text}");
        }
    }

    #[test]
    fn bad_durations_say_what_was_expected() {
        let cases = [
            ("", "empty string"),
            ("0d", "positive"),
            ("-5d", "positive"),
            ("365", "needs a unit"),
            ("d", "number before"),
            ("1y", "units w, d, h, m, s"),
            ("1.5d", "units w, d, h, m, s"),
            ("99999999999999999999d", "too large"),
            ("1d1d", "each unit once, largest first"),
            ("12h1d", "each unit once, largest first"),
            ("9999999999999d", "too large"),
        ];
        for (text, wanted) in cases {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(wanted), "{text}: {err}");
        }
    }

    #[test]
    fn durations_format_back_to_what_they_parse_from() {
        for text in ["30d", "7d", "1d12h", "90s", "48h", "2d3h4m5s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(format_duration(SignedDuration::from_secs(48 * 3600)), "2d");
        assert_eq!(format_duration(SignedDuration::from_secs(-90)), "-1m30s");
    }

    #[test]
    fn timestamps_parse_from_rfc3339_and_unix_seconds() {
        let a = parse_timestamp("2026-04-18T12:07:09Z").unwrap();
        let b = parse_timestamp("2026-04-18T14:07:09+02:00").unwrap();
        let c = parse_timestamp("1776514029").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.as_second(), 1_776_514_029);
    }

    #[test]
    fn bad_timestamps_are_rejected() {
        for text in [
            "yesterday",
            "2026-04-18",
            "2026-04-18T12:07:09",
            "0",
            "",
            "-5",
        ] {
            assert!(parse_timestamp(text).is_err(), "{text}");
        }
        assert!(
            parse_unix_seconds("17765x")
                .unwrap_err()
                .contains("unix seconds")
        );
        assert!(parse_unix_seconds("99999999999999999").is_err());
    }

    #[test]
    fn the_end_of_9999_is_clamped_and_later_is_refused_with_the_range() {
        let max = Timestamp::MAX;
        for text in [
            "9999-12-31T23:59:59Z",
            "9999-12-31T00:00:00Z",
            "9999-12-31T23:59:59+01:00",
            "253402300799",
        ] {
            assert_eq!(parse_timestamp(text), Ok(max), "{text}");
        }
        assert_eq!(
            parse_timestamp("9999-12-30T21:59:59Z").unwrap().as_second(),
            max.as_second() - 1
        );
        for text in ["9999-12-31T23:59:59-01:00", "253402300800"] {
            let err = parse_timestamp(text).unwrap_err();
            assert!(err.contains(SUPPORTED_RANGE), "{text}: {err}");
        }
        assert_eq!(clamped_seconds(LAST_SECOND_OF_9999), Some(max));
        assert_eq!(clamped_seconds(LAST_SECOND_OF_9999 + 1), None);
        assert_eq!(
            clamped_seconds(-631_152_000).map(|t| t.as_second()),
            Some(-631_152_000)
        );
    }

    #[test]
    fn times_at_or_before_1970_are_refused_in_both_forms() {
        for text in [
            "1950-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "1970-01-01T01:00:00+01:00",
            "0",
        ] {
            let err = parse_timestamp(text).unwrap_err();
            assert!(
                err.contains(SUPPORTED_RANGE) || err.contains("after 1970-01-01"),
                "{text}: {err}"
            );
        }
        assert!(unix_seconds(-1).is_err());
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Ok(EARLIEST_EXPIRY));
    }

    #[test]
    fn an_expiry_at_or_before_1970_is_floored_to_one_second_after_it() {
        let at = |s: i64| Timestamp::from_second(s).unwrap();
        assert_eq!(floor_expiry(at(0)), EARLIEST_EXPIRY);
        assert_eq!(floor_expiry(at(-631_152_000)), EARLIEST_EXPIRY);
        assert_eq!(floor_expiry(Timestamp::MIN), EARLIEST_EXPIRY);
        assert_eq!(floor_expiry(at(1)), at(1));
        assert_eq!(floor_expiry(at(1_808_050_029)), at(1_808_050_029));
        assert_ne!(EARLIEST_EXPIRY.as_second(), 0);
    }
}
