//! `[defaults]`: the lifetime, thresholds and pool policy of whatever does not set its own.

use jiff::SignedDuration;

use super::Validator;
use crate::config::Defaults;
use crate::config::raw::RawDefaults;
use crate::credential::{PoolPolicy, Thresholds};

impl Validator<'_> {
    pub(super) fn defaults(&mut self, raw: &RawDefaults) -> Defaults {
        let ttl = self.duration_or(
            &raw.ttl,
            "defaults",
            "ttl",
            SignedDuration::from_hours(365 * 24),
        );
        let thresholds = self.thresholds_from(
            &raw.warn_before,
            &raw.critical_before,
            Thresholds {
                warn_before: SignedDuration::from_hours(30 * 24),
                critical_before: SignedDuration::from_hours(7 * 24),
            },
            "defaults",
        );
        let d = PoolPolicy::default();
        let pools = PoolPolicy {
            warn_before: self.duration_or(
                &raw.pool_warn_before,
                "defaults",
                "pool_warn_before",
                d.warn_before,
            ),
            spread: self.duration_or(&raw.pool_spread, "defaults", "pool_spread", d.spread),
        };
        Defaults {
            ttl,
            thresholds,
            pools,
        }
    }
}
