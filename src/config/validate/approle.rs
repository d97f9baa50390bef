//! `kind = "vault-approle"` (the AppRole secret-ids of an auth mount, listed by role and looked up
//! by accessor) and `kind = "vault-token"` (tokens looked up by accessor). Their connection keys
//! (`address`, `namespace`, `ca_file`, `auth`, `concurrency`, `timeout`, `retries`) mean what they
//! mean for a `vault` source and are validated once, by `vault::connection`.

use std::path::Path;

use super::names::check_label_name;
use super::source::Kind;
use super::vault::{connection, mount};
use super::{RESERVED_LABELS, Validator};
use crate::config::raw::RawSource;
use crate::config::{ApproleSource, SourceKind, VaultTokenSource};

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

pub(super) const TOKEN_KIND: Kind = Kind {
    name: VaultTokenSource::KIND,
    keys: &[
        "address",
        "namespace",
        "ca_file",
        "accessors",
        "concurrency",
        "timeout",
        "retries",
        "auth",
    ],
    foreign_key_hint: "; a `vault-token` source takes `accessors = { name = \"accessor\" }`",
    validate: vault_token,
};

fn vault_token(
    v: &mut Validator<'_>,
    s: &RawSource,
    context: &str,
    base: &Path,
) -> Option<SourceKind> {
    let accessors = match &s.accessors {
        Some(a) if !a.get_ref().is_empty() => a.get_ref().clone(),
        other => {
            v.error(
                other.as_ref().map_or(s.kind.span(), |a| a.span()),
                format!("{context}: a `vault-token` source needs `accessors = {{ name = \"accessor\" }}` (`vault token lookup -accessor` shows them)"),
            );
            return None;
        }
    };
    if let Some((name, _)) = accessors
        .iter()
        .find(|(n, a)| n.is_empty() || a.trim().is_empty())
    {
        let span = s.accessors.as_ref().map_or(0..0, |a| a.span());
        v.error(
            span,
            format!("{context}: `accessors`: `{name}` has an empty name or accessor"),
        );
        return None;
    }
    let connection = connection(v, s, context, base)?;
    Some(SourceKind::VaultToken(Box::new(VaultTokenSource {
        connection,
        accessors,
    })))
}

fn approle(v: &mut Validator<'_>, s: &RawSource, context: &str, base: &Path) -> Option<SourceKind> {
    let mount = mount(v, s, context, "approle");
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
    let connection = connection(v, s, context, base)?;
    Some(SourceKind::Approle(Box::new(ApproleSource {
        connection,
        mount,
        roles,
        metadata_labels,
    })))
}
