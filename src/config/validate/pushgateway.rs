//! `[pushgateway]`: where `push` sends the metrics, and how it authenticates.

use std::collections::BTreeMap;
use std::path::Path;

use super::Validator;
use super::names::{check_label_name, check_url};
use crate::config::Pushgateway;
use crate::config::raw::RawPushgateway;

impl Validator<'_> {
    pub(super) fn pushgateway(&mut self, raw: RawPushgateway, base: &Path) -> Pushgateway {
        let url = match check_url(raw.url.get_ref()) {
            Ok(u) => u,
            Err(e) => {
                self.error(raw.url.span(), format!("pushgateway: `url`: {e}"));
                String::new()
            }
        };
        let job = self
            .non_empty(raw.job.as_ref(), "pushgateway", "job")
            .unwrap_or_else(|| Pushgateway::DEFAULT_JOB.into());
        let mut grouping = BTreeMap::new();
        if let Some(g) = raw.grouping {
            let span = g.span();
            for (k, v) in g.into_inner() {
                if let Err(e) = check_label_name(&k) {
                    self.error(span.clone(), format!("pushgateway: `grouping`: {e}"));
                } else if k == "job" {
                    self.error(
                        span.clone(),
                        "pushgateway: `grouping`: set the job with `job`, not as a grouping label"
                            .into(),
                    );
                } else {
                    grouping.insert(k, v);
                }
            }
        }
        let timeout = self.duration_or(
            &raw.timeout,
            "pushgateway",
            "timeout",
            Pushgateway::DEFAULT_TIMEOUT,
        );
        let retries = self.bounded(
            &raw.retries,
            "pushgateway",
            "retries",
            0..=10,
            Pushgateway::DEFAULT_RETRIES.into(),
        ) as u32;
        Pushgateway {
            url,
            job,
            grouping,
            timeout,
            retries,
            username: raw.username,
            password_file: raw.password_file.map(|p| base.join(p)),
            token_file: raw.token_file.map(|p| base.join(p)),
        }
    }
}
