//! `[[consumer]]`: a copy of a stored credential as a workload sees it (an environment variable
//! or a mounted file), fingerprinted and compared with what the store recorded.

use std::path::Path;

use super::Validator;
use crate::config::raw::RawConsumer;
use crate::config::{Consumer, ValueFrom};

impl Validator<'_> {
    pub(super) fn consumer(&mut self, raw: RawConsumer, base: &Path) -> Option<Consumer> {
        let credential = raw.credential.get_ref().trim().to_string();
        let span = raw.credential.span();
        if credential.is_empty() {
            self.error(
                span,
                "consumer: `credential` is empty; name the stored credential this is a copy of"
                    .into(),
            );
            return None;
        }
        let from = match (raw.env, raw.file) {
            (Some(var), None) if !var.trim().is_empty() => ValueFrom::Env(var),
            (None, Some(file)) if !file.trim().is_empty() => ValueFrom::File(base.join(file)),
            (Some(_), Some(_)) => {
                self.error(
                    span,
                    format!(
                        "consumer of `{credential}`: give `env` or `file`, not both (one copy per `[[consumer]]`)"
                    ),
                );
                return None;
            }
            _ => {
                self.error(
                    span,
                    format!(
                        "consumer of `{credential}`: expected `env = \"VARIABLE\"` or `file = \"path\"`: where the workload sees its copy"
                    ),
                );
                return None;
            }
        };
        let name = raw.name.filter(|n| !n.trim().is_empty());
        Some(Consumer {
            credential,
            from,
            name,
        })
    }
}
