//! How credwatch authenticates to Vault/OpenBao: a token (given, or read from a file) or a login
//! with AppRole, JWT or Kubernetes (`POST /v1/auth/<mount>/login`).
//!
//! [`Auth`] is the one type for it: the config validator builds it from a source's `auth` table,
//! and the client logs in with it.
//!
//! Credentials come from files (a mounted secret, the pod's service-account token), never from
//! argv. File contents are read into zeroized buffers, trimmed of surrounding whitespace, and
//! never appear in an error.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::error::VaultError;
use crate::credential::Secret;

/// Default mount of the AppRole auth method.
pub const DEFAULT_APPROLE_MOUNT: &str = "approle";
/// Default mount of the JWT/OIDC auth method.
pub const DEFAULT_JWT_MOUNT: &str = "jwt";
/// Default mount of the Kubernetes auth method.
pub const DEFAULT_KUBERNETES_MOUNT: &str = "kubernetes";
/// Where Kubernetes mounts a pod's service-account token.
pub const KUBERNETES_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How to obtain a client token.
#[derive(Debug)]
pub enum Auth {
    /// A token given directly (from `VAULT_TOKEN`/`BAO_TOKEN`, say).
    Token(Secret),
    /// A token read from a file (a Vault Agent sink, a mounted secret).
    TokenFile(PathBuf),
    /// AppRole login: `role_id` (not secret on its own) and the secret-id read from a file.
    AppRole {
        mount: String,
        role_id: RoleId,
        secret_id_file: PathBuf,
    },
    /// JWT login: a role of the JWT auth method and a JWT read from a file.
    Jwt {
        mount: String,
        role: String,
        jwt_file: PathBuf,
    },
    /// Kubernetes login: a role of the Kubernetes auth method and the pod's service-account
    /// token (a JWT) read from a file.
    Kubernetes {
        mount: String,
        role: String,
        jwt_file: PathBuf,
    },
}

/// A given token is copied into a new zeroized buffer (the validated config, which holds only the
/// file-based methods, is cloned by the renderers).
impl Clone for Auth {
    fn clone(&self) -> Auth {
        match self {
            Auth::Token(token) => Auth::Token(Secret::from_bytes(token.expose_bytes().to_vec())),
            Auth::TokenFile(path) => Auth::TokenFile(path.clone()),
            Auth::AppRole {
                mount,
                role_id,
                secret_id_file,
            } => Auth::AppRole {
                mount: mount.clone(),
                role_id: role_id.clone(),
                secret_id_file: secret_id_file.clone(),
            },
            Auth::Jwt {
                mount,
                role,
                jwt_file,
            } => Auth::Jwt {
                mount: mount.clone(),
                role: role.clone(),
                jwt_file: jwt_file.clone(),
            },
            Auth::Kubernetes {
                mount,
                role,
                jwt_file,
            } => Auth::Kubernetes {
                mount: mount.clone(),
                role: role.clone(),
                jwt_file: jwt_file.clone(),
            },
        }
    }
}

/// An AppRole's role-id: given, or read from a file at each login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleId {
    Given(String),
    File(PathBuf),
}

impl RoleId {
    /// The role-id, trimmed of surrounding whitespace when read from a file.
    fn read(&self) -> Result<Cow<'_, str>, VaultError> {
        match self {
            RoleId::Given(id) => Ok(Cow::Borrowed(id)),
            RoleId::File(path) => {
                let text = crate::file::read_to_string(path, crate::file::SECRET).map_err(|e| {
                    VaultError::Config(format!(
                        "cannot read the AppRole role_id file `{}`: {e}",
                        path.display()
                    ))
                })?;
                Ok(Cow::Owned(text.trim().to_string()))
            }
        }
    }
}

impl Auth {
    /// AppRole at the default mount `approle`.
    pub fn app_role(role_id: impl Into<String>, secret_id_file: impl Into<PathBuf>) -> Auth {
        Auth::AppRole {
            mount: DEFAULT_APPROLE_MOUNT.into(),
            role_id: RoleId::Given(role_id.into()),
            secret_id_file: secret_id_file.into(),
        }
    }

    /// JWT at the default mount `jwt`.
    pub fn jwt(role: impl Into<String>, jwt_file: impl Into<PathBuf>) -> Auth {
        Auth::Jwt {
            mount: DEFAULT_JWT_MOUNT.into(),
            role: role.into(),
            jwt_file: jwt_file.into(),
        }
    }

    /// Kubernetes at the default mount `kubernetes` with the pod's own service-account token.
    pub fn kubernetes(role: impl Into<String>) -> Auth {
        Auth::Kubernetes {
            mount: DEFAULT_KUBERNETES_MOUNT.into(),
            role: role.into(),
            jwt_file: KUBERNETES_TOKEN_FILE.into(),
        }
    }

    /// The method's name, for messages and labels.
    pub fn method(&self) -> &'static str {
        match self {
            Auth::Token(_) => "token",
            Auth::TokenFile(_) => "token_file",
            Auth::AppRole { .. } => "approle",
            Auth::Jwt { .. } => "jwt",
            Auth::Kubernetes { .. } => "kubernetes",
        }
    }

    /// The local files a login reads, in the order it reads them.
    pub fn files(&self) -> Vec<&Path> {
        match self {
            Auth::Token(_) => Vec::new(),
            Auth::TokenFile(path) => vec![path],
            Auth::AppRole {
                role_id,
                secret_id_file,
                ..
            } => match role_id {
                RoleId::Given(_) => vec![secret_id_file],
                RoleId::File(path) => vec![path, secret_id_file],
            },
            Auth::Jwt { jwt_file, .. } | Auth::Kubernetes { jwt_file, .. } => vec![jwt_file],
        }
    }

    /// True for a Kubernetes login with the pod's own service-account token, which Kubernetes
    /// mounts itself.
    pub fn uses_pod_service_account_token(&self) -> bool {
        matches!(self, Auth::Kubernetes { jwt_file, .. } if jwt_file == Path::new(KUBERNETES_TOKEN_FILE))
    }
}

/// A login request, ready to send: where, and the JSON body (zeroized on drop).
pub(crate) struct LoginRequest {
    /// `auth/<mount>/login`, each segment already percent-encoded.
    pub path: String,
    pub body: Zeroizing<Vec<u8>>,
    /// The credential sent, so that it can be scrubbed from any error text.
    pub credential: Secret,
    pub method: &'static str,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("path", &self.path)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Builds the login request for a login method; `None` for the token methods.
pub(crate) fn login_request(auth: &Auth) -> Result<Option<LoginRequest>, VaultError> {
    let (mount, pairs, credential) = match auth {
        Auth::Token(_) | Auth::TokenFile(_) => return Ok(None),
        Auth::AppRole {
            mount,
            role_id,
            secret_id_file,
        } => {
            let role_id = role_id.read()?;
            let secret_id = read_credential_file(secret_id_file, "AppRole secret-id")?;
            (mount, ("role_id", role_id, "secret_id"), secret_id)
        }
        Auth::Jwt {
            mount,
            role,
            jwt_file,
        } => {
            let jwt = read_credential_file(jwt_file, "JWT")?;
            (mount, ("role", Cow::Borrowed(role.as_str()), "jwt"), jwt)
        }
        Auth::Kubernetes {
            mount,
            role,
            jwt_file,
        } => {
            let jwt = read_credential_file(jwt_file, "service-account token")?;
            (mount, ("role", Cow::Borrowed(role.as_str()), "jwt"), jwt)
        }
    };
    let (name_key, name, secret_key) = pairs;
    let mount = mount.trim_matches('/');
    if mount.is_empty() {
        return Err(VaultError::Config(format!(
            "the {} auth mount is empty",
            auth.method()
        )));
    }
    // Sized up front (JSON escapes grow a byte to at most six) so that the buffer holding the
    // credential is never reallocated, leaving an unzeroized copy behind.
    let capacity = 64 + 6 * (name_key.len() + name.len() + credential.expose().len());
    let mut body = Zeroizing::new(Vec::with_capacity(capacity));
    let mut map = std::collections::BTreeMap::new();
    map.insert(name_key, &*name);
    map.insert(secret_key, credential.expose());
    serde_json::to_writer(&mut *body, &map)
        .map_err(|e| VaultError::Config(format!("cannot encode the login request: {e}")))?;
    Ok(Some(LoginRequest {
        path: format!("auth/{}/login", super::path::encode_path(mount)),
        body,
        credential,
        method: auth.method(),
    }))
}

/// Reads a token, secret-id or JWT from a file: surrounding whitespace is dropped, an empty file
/// is an error. The message names the file, never its content.
pub(crate) fn read_credential_file(path: &Path, what: &str) -> Result<Secret, VaultError> {
    let text = Zeroizing::new(
        crate::file::read_to_string(path, crate::file::SECRET).map_err(|e| {
            VaultError::Config(format!(
                "cannot read the Vault {what} file `{}`: {e}",
                path.display()
            ))
        })?,
    );
    let value = text.trim();
    if value.is_empty() {
        return Err(VaultError::Config(format!(
            "the Vault {what} file `{}` is empty",
            path.display()
        )));
    }
    Ok(Secret::new(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_requests_carry_role_and_credential() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret-id");
        std::fs::write(&file, "  s3cr3t-id-value\n").unwrap();
        let req = login_request(&Auth::app_role("role-123", &file))
            .unwrap()
            .unwrap();
        assert_eq!(req.path, "auth/approle/login");
        assert_eq!(
            std::str::from_utf8(&req.body).unwrap(),
            r#"{"role_id":"role-123","secret_id":"s3cr3t-id-value"}"#
        );
        assert_eq!(req.credential.expose(), "s3cr3t-id-value");

        std::fs::write(&file, "eyJ.jwt.sig").unwrap();
        let req = login_request(&Auth::Kubernetes {
            mount: "/k8s/eu/".into(),
            role: "credwatch".into(),
            jwt_file: file.clone(),
        })
        .unwrap()
        .unwrap();
        assert_eq!(req.path, "auth/k8s/eu/login");
        assert_eq!(
            std::str::from_utf8(&req.body).unwrap(),
            r#"{"jwt":"eyJ.jwt.sig","role":"credwatch"}"#
        );
        assert!(
            login_request(&Auth::Token(Secret::new("t".into())))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_role_id_file_is_read_at_login_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let (role_id, secret_id) = (dir.path().join("role-id"), dir.path().join("secret-id"));
        std::fs::write(&secret_id, "s").unwrap();
        let auth = Auth::AppRole {
            mount: "approle".into(),
            role_id: RoleId::File(role_id.clone()),
            secret_id_file: secret_id,
        };
        let err = login_request(&auth).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read the AppRole role_id file `"),
            "{err}"
        );
        std::fs::write(&role_id, " role-123\n").unwrap();
        let req = login_request(&auth).unwrap().unwrap();
        assert_eq!(
            std::str::from_utf8(&req.body).unwrap(),
            r#"{"role_id":"role-123","secret_id":"s"}"#
        );
    }

    #[test]
    fn unreadable_or_empty_credential_files_name_the_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let err = login_request(&Auth::jwt("r", &empty)).unwrap_err();
        assert_eq!(err.reason(), "config");
        assert!(err.to_string().contains("is empty"), "{err}");
        let missing = dir.path().join("missing");
        let err = login_request(&Auth::app_role("r", &missing)).unwrap_err();
        assert!(err.to_string().contains("AppRole secret-id file"), "{err}");
        assert!(err.to_string().contains("missing"), "{err}");
        assert_eq!(Auth::kubernetes("r").method(), "kubernetes");
    }
}
