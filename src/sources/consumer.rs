//! `[[consumer]]` copies (edge I/O): read each copy where the workload sees it (an environment
//! variable of this process, a mounted file), keep only its fingerprint, and name the consumer.
//! A copy that cannot be read is data (`unreadable`), never a failed run.

use crate::config::Consumer;
use crate::credential::{ConsumerCopy, Secret};
use crate::decode::fingerprint::value_fingerprint;
use crate::env::{self, Env};
use crate::sources::inventory::read_value;

/// The consumer's name when the config gives none: `$POD_NAME` (the downward API), else
/// `$HOSTNAME`, else `unknown`.
pub fn default_name(env: &Env) -> String {
    env.non_empty(env::POD_NAME)
        .or_else(|| env.non_empty(env::HOSTNAME))
        .unwrap_or_else(|| "unknown".into())
}

/// Reads every copy and fingerprints it the way the store side does (surrounding whitespace
/// ignored; keyed when `key` is given).
pub fn read_copies(consumers: &[Consumer], key: Option<&Secret>, env: &Env) -> Vec<ConsumerCopy> {
    consumers
        .iter()
        .map(|c| ConsumerCopy {
            credential: c.credential.clone(),
            consumer: c.name.clone().unwrap_or_else(|| default_name(env)),
            fingerprint: read_value(&c.from, env).map(|value| {
                value_fingerprint(value.expose_bytes(), key.map(Secret::expose_bytes))
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ValueFrom;
    use crate::decode::fingerprint::fingerprint;

    #[test]
    fn copies_are_fingerprinted_and_named_after_the_pod() {
        let env = Env::from_pairs([
            ("TOKEN", "s3cr3t-value\n"),
            ("POD_NAME", "agent-7f9c-x2"),
            ("HOSTNAME", "node-1"),
        ]);
        let consumers = [
            Consumer {
                credential: "primary".into(),
                from: ValueFrom::Env("TOKEN".into()),
                name: None,
            },
            Consumer {
                credential: "primary".into(),
                from: ValueFrom::Env("MISSING".into()),
                name: Some("batch".into()),
            },
        ];
        let copies = read_copies(&consumers, None, &env);
        assert_eq!(copies[0].consumer, "agent-7f9c-x2");
        assert_eq!(
            copies[0].fingerprint,
            Ok(fingerprint(b"s3cr3t-value", None))
        );
        assert_eq!(copies[1].consumer, "batch");
        let err = copies[1].fingerprint.clone().unwrap_err();
        assert!(
            err.contains("`MISSING`") && err.contains("not set"),
            "{err}"
        );
        assert!(!format!("{copies:?}").contains("s3cr3t"));
        let env = Env::from_pairs([("HOSTNAME", "node-1")]);
        assert_eq!(default_name(&env), "node-1");
    }
}
