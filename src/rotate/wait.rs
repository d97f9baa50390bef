//! `rotate --wait`: after a rotation, poll what the consumers of the credential report (through
//! [`Consumers`], Prometheus in production) until every one holds the new value, or a deadline
//! passes. The loop is bounded by the deadline; the clock and the sleep are injected, so the
//! workflow is tested without a server or real time.

use std::time::Duration;

use crate::assess::consumer::{State, state};
use crate::credential::{ConsumerCopy, StoredValue};

/// Where the consumers' copies are seen: one answer per call.
pub trait Consumers {
    fn copies(&self, credential: &str) -> Result<Vec<ConsumerCopy>, String>;
}

/// How waiting ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    /// Every consumer reports the new value.
    AllCurrent(Vec<String>),
    /// The deadline passed; these consumers (with their states) do not hold the new value.
    NotCurrent(Vec<(String, State)>),
    /// No consumer of the credential reported anything by the deadline.
    NoConsumers(Option<String>),
}

/// The time a wait may take and how often it asks.
pub struct Schedule<'a> {
    pub deadline: Duration,
    pub every: Duration,
    /// Time since the wait started.
    pub elapsed: &'a dyn Fn() -> Duration,
    pub sleep: &'a dyn Fn(Duration),
}

/// Polls until every consumer of `credential` holds a value that `stored` (the values the store
/// recorded after the rotation) marks current. `progress` gets one line per poll.
pub fn wait(
    consumers: &dyn Consumers,
    credential: &str,
    stored: &[StoredValue],
    schedule: Schedule<'_>,
    progress: &mut dyn FnMut(String),
) -> Waited {
    let mut last: Result<Vec<(String, State)>, String>;
    // Bounded: every pass sleeps at least a millisecond, and the deadline ends it.
    loop {
        last = consumers.copies(credential).map(|copies| {
            let mut states: Vec<(String, State)> = copies
                .into_iter()
                .map(|c| (c.consumer, state(&c.fingerprint, stored)))
                .collect();
            states.sort_by(|a, b| a.0.cmp(&b.0));
            states
        });
        match &last {
            Ok(states) if !states.is_empty() => {
                let behind: Vec<&(String, State)> = states
                    .iter()
                    .filter(|(_, s)| !matches!(s, State::Current { .. }))
                    .collect();
                if behind.is_empty() {
                    return Waited::AllCurrent(states.iter().map(|(c, _)| c.clone()).collect());
                }
                progress(format!(
                    "{} of {} consumer(s) of `{credential}` hold the new value; waiting for {}",
                    states.len() - behind.len(),
                    states.len(),
                    describe(&behind)
                ));
            }
            Ok(_) => progress(format!("no consumer of `{credential}` reports yet")),
            Err(e) => progress(format!(
                "cannot ask for the consumers of `{credential}`: {e}"
            )),
        }
        let elapsed = (schedule.elapsed)();
        if elapsed >= schedule.deadline {
            break;
        }
        let left = schedule.deadline - elapsed;
        (schedule.sleep)(schedule.every.min(left).max(Duration::from_millis(1)));
    }
    match last {
        Ok(states) if !states.is_empty() => Waited::NotCurrent(
            states
                .into_iter()
                .filter(|(_, s)| !matches!(s, State::Current { .. }))
                .collect(),
        ),
        Ok(_) => Waited::NoConsumers(None),
        Err(e) => Waited::NoConsumers(Some(e)),
    }
}

/// `pod-a (stale), pod-c (unknown)`.
pub fn describe(states: &[&(String, State)]) -> String {
    states
        .iter()
        .map(|(c, s)| format!("{c} ({})", s.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// One answer: (consumer, fingerprint) pairs, or an error.
    type Answer = Result<Vec<(&'static str, &'static str)>, String>;

    /// Answers from a script, one per call (the last one repeats).
    struct Script(RefCell<Vec<Answer>>);

    impl Consumers for Script {
        fn copies(&self, credential: &str) -> Result<Vec<ConsumerCopy>, String> {
            let mut answers = self.0.borrow_mut();
            let answer = if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            };
            answer.map(|copies| {
                copies
                    .into_iter()
                    .map(|(consumer, fp)| ConsumerCopy {
                        credential: credential.into(),
                        consumer: consumer.into(),
                        fingerprint: Ok(fp.into()),
                    })
                    .collect()
            })
        }
    }

    fn stored() -> Vec<StoredValue> {
        let at = |s: &str| s.parse().ok();
        vec![
            StoredValue {
                credential: "primary".into(),
                fingerprint: "new".into(),
                replaced_at: None,
                expires_at: at("2027-12-01T00:00:00Z"),
            },
            StoredValue {
                credential: "primary".into(),
                fingerprint: "old".into(),
                replaced_at: at("2026-12-01T00:00:00Z"),
                expires_at: at("2026-12-11T00:00:00Z"),
            },
        ]
    }

    fn run(script: Script, deadline_s: u64) -> (Waited, Vec<String>, u64) {
        let clock = Cell::new(Duration::ZERO);
        let mut lines = Vec::new();
        let waited = wait(
            &script,
            "primary",
            &stored(),
            Schedule {
                deadline: Duration::from_secs(deadline_s),
                every: Duration::from_secs(10),
                elapsed: &|| clock.get(),
                sleep: &|d| clock.set(clock.get() + d),
            },
            &mut |l| lines.push(l),
        );
        (waited, lines, clock.get().as_secs())
    }

    #[test]
    fn it_returns_once_every_consumer_holds_the_new_value() {
        let script = Script(RefCell::new(vec![
            Ok(vec![("pod-a", "old"), ("pod-b", "old")]),
            Ok(vec![("pod-a", "new"), ("pod-b", "old")]),
            Ok(vec![("pod-a", "new"), ("pod-b", "new")]),
        ]));
        let (waited, lines, took) = run(script, 60);
        assert_eq!(
            waited,
            Waited::AllCurrent(vec!["pod-a".into(), "pod-b".into()])
        );
        assert_eq!(took, 20);
        assert_eq!(
            lines[1],
            "1 of 2 consumer(s) of `primary` hold the new value; waiting for pod-b (stale)"
        );
    }

    #[test]
    fn at_the_deadline_it_names_the_consumers_still_behind() {
        let script = Script(RefCell::new(vec![Ok(vec![
            ("pod-a", "new"),
            ("pod-b", "old"),
            ("pod-c", "unrelated"),
        ])]));
        let (waited, lines, took) = run(script, 25);
        let Waited::NotCurrent(behind) = waited else {
            panic!("{waited:?}")
        };
        let names: Vec<(&str, &str)> = behind
            .iter()
            .map(|(c, s)| (c.as_str(), s.label()))
            .collect();
        assert_eq!(names, [("pod-b", "stale"), ("pod-c", "unknown")]);
        assert_eq!(took, 25, "the last sleep stops at the deadline");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn no_consumers_or_no_answer_is_not_success() {
        let (waited, _, _) = run(Script(RefCell::new(vec![Ok(vec![])])), 5);
        assert_eq!(waited, Waited::NoConsumers(None));
        let (waited, lines, _) = run(Script(RefCell::new(vec![Err("refused".into())])), 5);
        assert_eq!(waited, Waited::NoConsumers(Some("refused".into())));
        assert!(lines[0].ends_with("refused"), "{lines:?}");
    }
}
