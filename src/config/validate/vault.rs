//! `kind = "vault"`: Vault/OpenBao KV v2 (address, mount, what to watch, limits), and its `auth`
//! table, validated straight into the client's [`Auth`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use toml::Spanned;

use super::Validator;
use super::common::{choice, secret_path};
use super::names::check_url;
use super::source::Kind;
use crate::config::raw::{RawSource, RawVaultAuth};
use crate::config::{SourceKind, SourceValue, VaultConnection, VaultSource};
use crate::vault::auth::{
    Auth, DEFAULT_APPROLE_MOUNT, DEFAULT_JWT_MOUNT, DEFAULT_KUBERNETES_MOUNT,
    KUBERNETES_TOKEN_FILE, RoleId,
};

pub(super) const KIND: Kind = Kind {
    name: VaultSource::KIND,
    keys: &[
        "field",
        "format",
        "address",
        "namespace",
        "ca_file",
        "mount",
        "paths",
        "prefix",
        "include",
        "exclude",
        "concurrency",
        "timeout",
        "retries",
        "auth",
        "expires_at_key",
        "minted_at_key",
    ],
    foreign_key_hint: "; a `vault` source takes `paths` and/or `prefix`",
    validate: vault,
};

/// The keys every source that talks to Vault shares: where the server is, how to log in, limits.
pub(super) fn connection(
    v: &mut Validator<'_>,
    s: &RawSource,
    context: &str,
    base: &Path,
) -> Option<VaultConnection> {
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
    Some(VaultConnection {
        address,
        namespace: s.namespace.clone().filter(|n| !n.is_empty()),
        ca_file: s.ca_file.as_ref().map(|f| base.join(f)),
        concurrency,
        timeout,
        retries,
        auth,
    })
}

/// `mount` without slashes, else `default`.
pub(super) fn mount(v: &mut Validator<'_>, s: &RawSource, context: &str, default: &str) -> String {
    match &s.mount {
        None => default.to_string(),
        Some(m) => {
            let trimmed = m.get_ref().trim_matches('/').to_string();
            if trimmed.is_empty() {
                v.error(m.span(), format!("{context}: `mount` is empty"));
            }
            trimmed
        }
    }
}

fn vault(v: &mut Validator<'_>, s: &RawSource, context: &str, base: &Path) -> Option<SourceKind> {
    let mount = mount(v, s, context, "secret");
    let mut paths = Vec::new();
    for p in s.paths.iter().flatten() {
        match secret_path(p.get_ref()) {
            Some(path) => paths.push(path),
            None => v.error(
                p.span(),
                format!("{context}: `paths`: `{}` is not a secret path", p.get_ref()),
            ),
        }
    }
    let prefix = s.prefix.as_ref().map(|p| {
        let t = p.get_ref().trim_matches('/');
        if t.is_empty() {
            String::new()
        } else {
            format!("{t}/")
        }
    });
    // Neither `paths` nor `prefix`: a connection for `[[credential]] vault = { … }` entries,
    // which the config's validator checks once every credential is known.
    let VaultConnection {
        address,
        namespace,
        ca_file,
        concurrency,
        timeout,
        retries,
        auth,
    } = connection(v, s, context, base)?;
    // Reading the value of every secret found: for a format check and fingerprints.
    let field = s.field.clone().filter(|f| !f.is_empty());
    let format = match &s.format {
        Some(name) => Some(v.format_profile(name, context)?),
        None => None,
    };
    if format.is_some() && field.is_none() {
        let span = s.format.as_ref().map_or(0..0, Spanned::span);
        v.error(
            span,
            format!(
                "{context}: `format` needs `field`, the key of each secret that holds the value"
            ),
        );
        return None;
    }
    let value = field.map(|field| SourceValue {
        fingerprint: s.pool.is_some(),
        field,
        format,
    });
    Some(SourceKind::Vault(Box::new(VaultSource {
        address,
        namespace,
        ca_file,
        mount,
        paths,
        prefix,
        include: s.include.clone().unwrap_or_default(),
        exclude: s.exclude.clone().unwrap_or_default(),
        concurrency,
        timeout,
        retries,
        auth,
        expires_at_key: s
            .expires_at_key
            .clone()
            .unwrap_or_else(|| "expires_at".into()),
        minted_at_key: s
            .minted_at_key
            .clone()
            .unwrap_or_else(|| "minted_at".into()),
        value,
    })))
}

/// One login method of the `auth` table: its `method` value, the keys it takes besides
/// `method`, and how they become an [`Auth`] (`None`: the token in `BAO_TOKEN`/`VAULT_TOKEN`).
struct Method {
    name: &'static str,
    keys: &'static [&'static str],
    build: fn(&mut Validator<'_>, &RawVaultAuth, Login<'_>) -> Result<Option<Auth>, ()>,
}

/// What building an [`Auth`] needs besides the table: the method's name and where to report,
/// and where relative files start from.
struct Login<'a> {
    method: &'static str,
    span: Range<usize>,
    context: &'a str,
    base: &'a Path,
}

impl Login<'_> {
    fn file(&self, f: &Option<String>) -> Option<PathBuf> {
        f.as_ref().map(|f| self.base.join(f))
    }
}

const METHODS: [Method; 4] = [
    Method {
        name: "token",
        keys: &["token_file"],
        build: token,
    },
    Method {
        name: "approle",
        keys: &["mount", "role_id", "role_id_file", "secret_id_file"],
        build: approle,
    },
    Method {
        name: "jwt",
        keys: &["mount", "role", "token_file"],
        build: jwt,
    },
    Method {
        name: "kubernetes",
        keys: &["mount", "role", "token_file"],
        build: kubernetes,
    },
];

impl Validator<'_> {
    /// The `auth` table of a source that talks to Vault (`vault`, `vault-approle`).
    pub(super) fn auth(
        &mut self,
        a: &Spanned<RawVaultAuth>,
        context: &str,
        base: &Path,
    ) -> Result<Option<Auth>, ()> {
        let raw = a.get_ref();
        let Some(method) = METHODS.iter().find(|m| m.name == raw.method.get_ref()) else {
            let names: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
            self.error(
                raw.method.span(),
                format!(
                    "{context}: `auth.method`: expected {}, found `{}`",
                    choice(&names),
                    raw.method.get_ref()
                ),
            );
            return Err(());
        };
        if let Some((key, _)) = raw
            .keys()
            .into_iter()
            .find(|(key, set)| *set && !method.keys.contains(key))
        {
            self.error(
                a.span(),
                format!(
                    "{context}: `auth.{key}` does not apply to the `{}` method",
                    method.name
                ),
            );
            return Err(());
        }
        let login = Login {
            method: method.name,
            span: a.span(),
            context,
            base,
        };
        (method.build)(self, raw, login)
    }
}

fn token(_: &mut Validator<'_>, a: &RawVaultAuth, login: Login<'_>) -> Result<Option<Auth>, ()> {
    Ok(login.file(&a.token_file).map(Auth::TokenFile))
}

fn approle(v: &mut Validator<'_>, a: &RawVaultAuth, login: Login<'_>) -> Result<Option<Auth>, ()> {
    let context = login.context;
    let Some(secret_id_file) = login.file(&a.secret_id_file) else {
        v.error(
            login.span,
            format!("{context}: the `approle` method needs `auth.secret_id_file`"),
        );
        return Err(());
    };
    let role_id = match (&a.role_id, login.file(&a.role_id_file)) {
        (Some(id), None) => RoleId::Given(id.clone()),
        (None, Some(file)) => RoleId::File(file),
        _ => {
            v.error(
                login.span,
                format!(
                    "{context}: the `approle` method needs `auth.role_id` or `auth.role_id_file`"
                ),
            );
            return Err(());
        }
    };
    Ok(Some(Auth::AppRole {
        mount: a
            .mount
            .clone()
            .unwrap_or_else(|| DEFAULT_APPROLE_MOUNT.into()),
        role_id,
        secret_id_file,
    }))
}

fn jwt(v: &mut Validator<'_>, a: &RawVaultAuth, login: Login<'_>) -> Result<Option<Auth>, ()> {
    let role = login_role(v, a, &login)?;
    let Some(jwt_file) = login.file(&a.token_file) else {
        v.error(
            login.span,
            format!(
                "{}: the `{}` method needs `auth.token_file` (the JWT to log in with)",
                login.context, login.method
            ),
        );
        return Err(());
    };
    Ok(Some(Auth::Jwt {
        mount: a.mount.clone().unwrap_or_else(|| DEFAULT_JWT_MOUNT.into()),
        role,
        jwt_file,
    }))
}

fn kubernetes(
    v: &mut Validator<'_>,
    a: &RawVaultAuth,
    login: Login<'_>,
) -> Result<Option<Auth>, ()> {
    let role = login_role(v, a, &login)?;
    Ok(Some(Auth::Kubernetes {
        mount: a
            .mount
            .clone()
            .unwrap_or_else(|| DEFAULT_KUBERNETES_MOUNT.into()),
        role,
        jwt_file: login
            .file(&a.token_file)
            .unwrap_or_else(|| PathBuf::from(KUBERNETES_TOKEN_FILE)),
    }))
}

/// `auth.role` of the `jwt` and `kubernetes` methods: required, not empty.
fn login_role(v: &mut Validator<'_>, a: &RawVaultAuth, login: &Login<'_>) -> Result<String, ()> {
    match a.role.clone().filter(|r| !r.is_empty()) {
        Some(role) => Ok(role),
        None => {
            v.error(
                login.span.clone(),
                format!(
                    "{}: the `{}` method needs `auth.role`",
                    login.context, login.method
                ),
            );
            Err(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::config::parse_config;
    use crate::vault::auth::{Auth, KUBERNETES_TOKEN_FILE, RoleId};

    /// The `auth` the vault source of a one-source config gets.
    fn auth(table: &str) -> Option<Auth> {
        let text = format!("[[source]]\nkind = \"vault\"\nprefix = \"a\"\n{table}");
        let config = parse_config(&text, Path::new("/etc/credwatch/credwatch.toml")).unwrap();
        config.sources[0].kind.as_vault().unwrap().auth.clone()
    }

    #[test]
    fn each_method_becomes_the_clients_auth_with_its_defaults() {
        assert!(auth("").is_none());
        assert!(auth("auth = { method = \"token\" }").is_none());
        assert!(matches!(
            auth("auth = { method = \"token\", token_file = \"t\" }"),
            Some(Auth::TokenFile(f)) if f == Path::new("/etc/credwatch/t")
        ));
        let Some(Auth::AppRole {
            mount,
            role_id,
            secret_id_file,
        }) = auth("auth = { method = \"approle\", role_id_file = \"r\", secret_id_file = \"s\" }")
        else {
            panic!("approle")
        };
        assert_eq!(mount, "approle");
        assert_eq!(role_id, RoleId::File(PathBuf::from("/etc/credwatch/r")));
        assert_eq!(secret_id_file, Path::new("/etc/credwatch/s"));
        let Some(Auth::Jwt {
            mount,
            role,
            jwt_file,
        }) = auth("auth = { method = \"jwt\", role = \"ci\", token_file = \"j\" }")
        else {
            panic!("jwt")
        };
        assert_eq!((mount.as_str(), role.as_str()), ("jwt", "ci"));
        assert_eq!(jwt_file, Path::new("/etc/credwatch/j"));
        let Some(Auth::Kubernetes {
            mount,
            role,
            jwt_file,
        }) = auth("auth = { method = \"kubernetes\", role = \"cw\", mount = \"k8s/eu\" }")
        else {
            panic!("kubernetes")
        };
        assert_eq!((mount.as_str(), role.as_str()), ("k8s/eu", "cw"));
        assert_eq!(jwt_file, Path::new(KUBERNETES_TOKEN_FILE));
    }
}
