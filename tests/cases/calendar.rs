//! The expiry calendar, read by a real iCalendar parser (PyPI `icalendar`): one all-day event
//! per dated credential and per pool runway end, on the right day, with alarms when the warning
//! and critical windows open, UIDs that stay the same from one render to the next (and between
//! `render calendar` and serve's `/calendar.ics`), and nothing secret.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::cases::status_page::{Fixture, fixture};
use crate::support::exporter::Exporter;
use crate::support::{Credwatch, python_json};

/// The feed's events as `ics_events.py` (PyPI `icalendar`) reads them.
fn parse(feed: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.ics");
    std::fs::write(&path, feed).unwrap();
    python_json("ics_events.py", &[path.to_str().unwrap()])
}

fn render(fx: &Fixture, now: Timestamp) -> String {
    let r = Credwatch::new()
        .args(["--config", fx.config.to_str().unwrap()])
        .args(["render", "calendar", "--now", &now.to_string()])
        .run();
    // The fixture has an unreadable credential and a source that is down.
    r.assert_code(3);
    assert!(r.stderr.contains("unknown-token"), "{}", r.stderr);
    r.stdout
}

fn utc_date(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// uid → event
fn by_uid(doc: &Value) -> BTreeMap<String, Value> {
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["uid"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

#[test]
fn the_calendar_has_one_all_day_event_per_expiry_with_alarms_and_stable_uids() {
    let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap();
    let fx = fixture(now, false);
    let first_feed = render(&fx, now);
    let second_feed = render(&fx, now + SignedDuration::from_hours(1));
    assert!(first_feed.contains("\r\n"), "lines end in CRLF");
    for feed in [&first_feed, &second_feed] {
        assert!(!feed.contains("test-token-agent"), "a value is in the feed");
        assert!(!feed.contains("sha256:"), "a fingerprint is in the feed");
    }

    let first = parse(&first_feed);
    let second = parse(&second_feed);
    assert_eq!(first["version"], "2.0");
    let events = by_uid(&first);
    let dated: Vec<_> = fx
        .credentials
        .iter()
        .filter(|c| c.expires.is_some())
        .collect();
    assert_eq!(
        events.len(),
        dated.len() + 1,
        "one event per dated credential and one for the pool: {events:#?}"
    );
    // The same UIDs on the next render, though its DTSTAMP moved.
    assert_eq!(
        events.keys().collect::<Vec<_>>(),
        by_uid(&second).keys().collect::<Vec<_>>()
    );
    assert_ne!(first_feed, second_feed);

    for c in &dated {
        let expires = c.expires.unwrap();
        let summary = format!("{} expires", c.name);
        let found: Vec<_> = events
            .values()
            .filter(|e| e["summary"] == summary)
            .collect();
        assert_eq!(found.len(), 1, "events for `{}`", c.name);
        let e = found[0];
        assert_eq!(e["all_day"], true, "{e}");
        assert_eq!(e["start"], utc_date(expires), "{e}");
        assert_eq!(
            e["end"],
            utc_date(expires + SignedDuration::from_hours(24)),
            "{e}"
        );
        let triggers: Vec<&str> = e["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["trigger"].as_str().unwrap())
            .collect();
        let warn = expires - SignedDuration::from_hours(24 * c.warn_before_days);
        let critical = expires - SignedDuration::from_hours(24 * c.critical_before_days);
        assert_eq!(triggers, vec![iso(warn), iso(critical)], "{e}");
        assert!(
            e["alarms"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["action"] == "DISPLAY")
        );
    }
    // The unreadable credential has no date, so no event.
    assert!(
        events
            .values()
            .all(|e| e["summary"] != "unknown-token expires")
    );

    let (pool, runway_end) = fx.pool;
    let pool_events: Vec<_> = events
        .values()
        .filter(|e| e["summary"] == format!("pool {pool} runs out"))
        .collect();
    assert_eq!(pool_events.len(), 1);
    assert_eq!(pool_events[0]["start"], utc_date(runway_end));
    assert_eq!(
        pool_events[0]["alarms"][0]["trigger"],
        iso(runway_end - SignedDuration::from_hours(24 * 60))
    );

    // serve's feed: the same events under the same UIDs.
    let exporter = Exporter::start_ready(&fx.config, &[]);
    let answer = exporter.get("/calendar.ics");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "text/calendar; charset=utf-8");
    let served = by_uid(&parse(&answer.body));
    assert_eq!(
        served.keys().collect::<Vec<_>>(),
        events.keys().collect::<Vec<_>>()
    );
    for (uid, e) in &served {
        assert_eq!(e["start"], events[uid]["start"], "{uid}");
        assert_eq!(e["alarms"], events[uid]["alarms"], "{uid}");
    }
}
