//! Retrying an operation with exponential backoff: the one retry loop of every client that talks
//! to a server (Vault/OpenBao, the Pushgateway). Each caller states its policy in a [`Policy`]
//! (attempts, waits, an optional deadline) and, per failed attempt, whether another attempt may
//! help ([`Failure`]). How to wait is passed in, so tests record the waits instead of sleeping.

use std::time::{Duration, Instant};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Further attempts after the first one.
    pub retries: u32,
    /// The wait after the first failure; each further wait doubles, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Add up to a quarter to each wait, so that parallel workers do not retry in lockstep.
    pub jitter: bool,
    /// No retry once this has passed, and no wait beyond it.
    pub deadline: Option<Instant>,
}

/// What a failed attempt says about the next one.
#[derive(Debug)]
pub enum Failure<E> {
    /// Another attempt may help: a broken connection, a 5xx, a 429.
    Transient(E),
    /// It cannot: a 4xx, a timeout of a request that must not be repeated, a local error.
    Permanent(E),
}

/// The last failure, and how many attempts were made.
#[derive(Debug, PartialEq, Eq)]
pub struct GaveUp<E> {
    pub error: E,
    pub attempts: u32,
}

/// Runs `attempt` (given the attempt number, from 1) until it succeeds, fails permanently, the
/// policy's retries are used up, or the next wait would reach its deadline (no attempt is made
/// with no time left). Before each wait, `on_retry` is told the failure, the attempt number and
/// the nominal backoff (before jitter), for the caller's log line; `sleep` then waits.
pub fn retry<T, E>(
    policy: &Policy,
    sleep: &dyn Fn(Duration),
    mut attempt: impl FnMut(u32) -> Result<T, Failure<E>>,
    mut on_retry: impl FnMut(&E, u32, Duration),
) -> Result<T, GaveUp<E>> {
    let mut backoff = policy.first_backoff;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match attempt(attempts) {
            Ok(value) => return Ok(value),
            Err(Failure::Permanent(error)) => return Err(GaveUp { error, attempts }),
            Err(Failure::Transient(error)) => error,
        };
        let remaining = policy
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        if attempts > policy.retries || remaining.is_some_and(|r| r.is_zero()) {
            return Err(GaveUp { error, attempts });
        }
        let delay = if policy.jitter {
            jitter(backoff)
        } else {
            backoff
        };
        // A wait that would use up what is left leaves no time for another attempt: give up
        // now, with what actually went wrong last (not a timeout of an attempt made too late).
        if remaining.is_some_and(|r| delay >= r) {
            return Err(GaveUp { error, attempts });
        }
        on_retry(&error, attempts, backoff);
        sleep(delay);
        backoff = backoff.saturating_mul(2).min(policy.max_backoff);
    }
}

/// Up to a quarter more than `base`.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let quarter = base.as_nanos() as u64 / 4;
    base + Duration::from_nanos(if quarter == 0 {
        0
    } else {
        u64::from(nanos) % quarter
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const MS: Duration = Duration::from_millis(1);

    fn policy(retries: u32) -> Policy {
        Policy {
            retries,
            first_backoff: 100 * MS,
            max_backoff: 250 * MS,
            jitter: false,
            deadline: None,
        }
    }

    /// Runs `retry` over scripted attempt results; returns the outcome, the attempts made and
    /// the waits asked for.
    fn run(
        policy: &Policy,
        script: &[Result<&'static str, Failure<&'static str>>],
    ) -> (
        Result<&'static str, GaveUp<&'static str>>,
        u32,
        Vec<Duration>,
    ) {
        let waits = RefCell::new(Vec::new());
        let mut made = 0;
        let outcome = retry(
            policy,
            &|d| waits.borrow_mut().push(d),
            |n| {
                made = n;
                match &script[n as usize - 1] {
                    Ok(v) => Ok(*v),
                    Err(Failure::Transient(e)) => Err(Failure::Transient(*e)),
                    Err(Failure::Permanent(e)) => Err(Failure::Permanent(*e)),
                }
            },
            |_, _, _| {},
        );
        (outcome, made, waits.into_inner())
    }

    use Failure::{Permanent, Transient};

    #[test]
    fn transient_failures_are_retried_with_doubling_capped_waits() {
        let (outcome, made, waits) = run(
            &policy(5),
            &[
                Err(Transient("a")),
                Err(Transient("b")),
                Err(Transient("c")),
                Ok("done"),
            ],
        );
        assert_eq!((outcome, made), (Ok("done"), 4));
        assert_eq!(waits, [100 * MS, 200 * MS, 250 * MS]);
    }

    #[test]
    fn retries_are_bounded_and_the_last_failure_is_reported() {
        let (outcome, made, waits) = run(
            &policy(2),
            &[
                Err(Transient("a")),
                Err(Transient("b")),
                Err(Transient("c")),
            ],
        );
        assert_eq!(
            outcome,
            Err(GaveUp {
                error: "c",
                attempts: 3
            })
        );
        assert_eq!((made, waits), (3, vec![100 * MS, 200 * MS]));
        let (outcome, _, waits) = run(&policy(0), &[Err(Transient("only"))]);
        assert_eq!(outcome.unwrap_err().attempts, 1);
        assert!(waits.is_empty());
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let (outcome, made, waits) = run(&policy(5), &[Err(Transient("a")), Err(Permanent("4xx"))]);
        assert_eq!(
            outcome,
            Err(GaveUp {
                error: "4xx",
                attempts: 2
            })
        );
        assert_eq!((made, waits), (2, vec![100 * MS]));
    }

    #[test]
    fn a_deadline_caps_the_waits_and_stops_the_retries() {
        let passed = Policy {
            deadline: Some(Instant::now()),
            ..policy(5)
        };
        let (outcome, made, waits) = run(&passed, &[Err(Transient("a")), Ok("never")]);
        assert_eq!((outcome.unwrap_err().attempts, made), (1, 1));
        assert!(waits.is_empty());

        // Less time left than the next wait: no attempt made too late to succeed; the last
        // failure is what is reported.
        let near = Policy {
            deadline: Some(Instant::now() + 50 * MS),
            ..policy(5)
        };
        let (outcome, made, waits) = run(&near, &[Err(Transient("refused")), Ok("never")]);
        assert_eq!(outcome.unwrap_err().error, "refused");
        assert_eq!((made, waits.len()), (1, 0));

        let ample = Policy {
            deadline: Some(Instant::now() + 600 * 1000 * MS),
            ..policy(5)
        };
        let (outcome, _, waits) = run(&ample, &[Err(Transient("a")), Ok("done")]);
        assert_eq!(outcome, Ok("done"));
        assert_eq!(waits, [100 * MS]);
    }

    #[test]
    fn jittered_waits_stay_within_a_quarter_and_the_log_sees_the_nominal_backoff() {
        let jittered = Policy {
            jitter: true,
            ..policy(3)
        };
        let waits = RefCell::new(Vec::new());
        let mut logged = Vec::new();
        let outcome: Result<(), _> = retry(
            &jittered,
            &|d| waits.borrow_mut().push(d),
            |_| Err(Transient(())),
            |_, attempt, backoff| logged.push((attempt, backoff)),
        );
        assert_eq!(outcome.unwrap_err().attempts, 4);
        assert_eq!(logged, [(1, 100 * MS), (2, 200 * MS), (3, 250 * MS)]);
        for (wait, (_, nominal)) in waits.into_inner().iter().zip(&logged) {
            assert!(
                *wait >= *nominal && *wait < *nominal + *nominal / 4,
                "{wait:?}"
            );
        }
        for _ in 0..100 {
            let d = jitter(100 * MS);
            assert!(d >= 100 * MS && d < 125 * MS);
        }
    }
}
