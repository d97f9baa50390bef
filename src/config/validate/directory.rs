//! `kind = "directory"`: a folder with one file per credential (a mounted ConfigMap).

use std::path::Path;

use super::Validator;
use super::source::Kind;
use crate::config::raw::RawSource;
use crate::config::{DirectoryContent, DirectorySource, SourceKind};

pub(super) const KIND: Kind = Kind {
    name: DirectorySource::KIND,
    keys: &["path", "content"],
    foreign_key_hint: ", not to `directory` ones",
    validate: directory,
};

const CONTENT: [(&str, DirectoryContent); 2] = [
    ("expires_at", DirectoryContent::ExpiresAt),
    ("minted_at", DirectoryContent::MintedAt),
];

fn directory(
    v: &mut Validator<'_>,
    s: &RawSource,
    context: &str,
    base: &Path,
) -> Option<SourceKind> {
    let Some(path) = &s.path else {
        v.error(
            s.kind.span(),
            format!(
                "{context}: a `directory` source needs `path` (the mounted ConfigMap directory)"
            ),
        );
        return None;
    };
    let content = match &s.content {
        None => DirectoryContent::ExpiresAt,
        Some(c) => v
            .keyword(c, context, "content", &CONTENT)
            .unwrap_or(DirectoryContent::ExpiresAt),
    };
    if content == DirectoryContent::ExpiresAt
        && let Some(ttl) = &s.ttl
    {
        v.error(
            ttl.span(),
            format!("{context}: `ttl` applies only with `content = \"minted_at\"`"),
        );
    }
    Some(SourceKind::Directory(DirectorySource {
        path: base.join(path.get_ref()),
        content,
    }))
}
