//! `kind = "vault-approle"`: the AppRole secret-ids of a Vault/OpenBao auth mount, listed by role
//! and looked up by accessor. The connection keys (`address`, `namespace`, `ca_file`, `auth`,
//! `concurrency`, `timeout`, `retries`) mean what they mean for a `vault` source.

use std::path::Path;

use jiff::SignedDuration;

use super::names::{check_label_name, check_url};
use super::source::Kind;
use super::{RESERVED_LABELS, Validator};
use crate::config::raw::RawSource;
use crate::config::{ApproleSource, SourceKind};

pub(super) const KIND: Kind = Kind {
    name: ApproleSource::KIND,
    keys: &[
        "address",
        "namespace",
        "ca_file",
        "mount",
        "roles",
        "metadata_labels",
        "concurrency",
        "timeout",
        "retries",
        "auth",
    ],
    foreign_key_hint: "; a `vault-approle` source takes `mount` (the AppRole auth mount) and `roles`",
    validate: approle,
};

fn approle(v: &mut Validator<'_>, s: &RawSource, context: &str, base: &Path) -> Option<SourceKind> {
    let address = match &s.address {
        None => None,
        Some(a) => match check_url(a.get_ref()) {
            Ok(u) => Some(u),
            Err(e) => {
                v.error(a.span(), format!("{context}: `address`: {e}"));
                None
            }
        },
    };
    let mount = match &s.mount {
        None => "approle".to_string(),
        Some(m) => {
            let trimmed = m.get_ref().trim_matches('/').to_string();
            if trimmed.is_empty() {
                v.error(m.span(), format!("{context}: `mount` is empty"));
            }
            trimmed
        }
    };
    let mut roles = Vec::new();
    for r in s.roles.iter().flatten() {
        let role = r.get_ref();
        if role.is_empty() || role.contains('/') {
            v.error(
                r.span(),
                format!("{context}: `roles`: `{role}` is not a role name"),
            );
        } else if !roles.contains(role) {
            roles.push(role.clone());
        }
    }
    let mut metadata_labels = Vec::new();
    for l in s.metadata_labels.iter().flatten() {
        let name = l.get_ref();
        let own = s
            .labels
            .as_ref()
            .is_some_and(|labels| labels.get_ref().contains_key(name));
        if let Err(e) = check_label_name(name) {
            v.error(l.span(), format!("{context}: `metadata_labels`: {e}"));
        } else if RESERVED_LABELS.contains(&name.as_str()) || name == "credential" {
            v.error(
                l.span(),
                format!("{context}: `metadata_labels`: `{name}` is a label credwatch sets itself; rename the metadata key"),
            );
        } else if own {
            v.error(
                l.span(),
                format!("{context}: `metadata_labels`: `{name}` is also in `labels`; keep one"),
            );
        } else {
            metadata_labels.push(name.clone());
        }
    }
    let concurrency = v.bounded(&s.concurrency, context, "concurrency", 1..=256, 8) as usize;
    let retries = v.bounded(&s.retries, context, "retries", 0..=10, 2) as u32;
    let timeout = v.duration_or(
        &s.timeout,
        context,
        "timeout",
        SignedDuration::from_secs(10),
    );
    let auth = match &s.auth {
        None => None,
        Some(a) => v.auth(a, context, base).ok()?,
    };
    Some(SourceKind::Approle(Box::new(ApproleSource {
        address,
        namespace: s.namespace.clone().filter(|n| !n.is_empty()),
        ca_file: s.ca_file.as_ref().map(|f| base.join(f)),
        mount,
        roles,
        metadata_labels,
        concurrency,
        timeout,
        retries,
        auth,
    })))
}
