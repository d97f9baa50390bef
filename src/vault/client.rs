//! The KV v2 HTTP client: discovery (LIST), metadata reads (one or many in parallel), a field
//! read, and the two writes rotation needs. Edge I/O; every parse is delegated to [`super::model`].
//!
//! One [`ureq::Agent`] serves every request and every thread, so connections are reused. Each
//! request has its own timeout. Reads and logins are retried with exponential backoff after a
//! connection failure, a 5xx (other than "sealed") or a 429; writes only when the request never
//! reached the server (connection refused, host not found). 4xx answers are never retried.
//! Response bodies are parsed as they stream in and then drained, so the connection goes back to
//! the pool; error bodies are read up to a small bound.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use ureq::http::Response;
use zeroize::Zeroizing;

use super::auth::{Auth, login_request, read_credential_file};
use super::config::ClientConfig;
use super::error::VaultError;
use super::model::{self, FieldLookup, Login, LoginInfo, Metadata};
use crate::credential::Secret;

/// Largest answers read, per kind. A LIST page of a server without pagination holds every key of
/// a folder (about 50 bytes a key).
const LIST_LIMIT: u64 = 64 << 20;
const METADATA_LIMIT: u64 = 4 << 20;
const DATA_LIMIT: u64 = 8 << 20;
const SMALL_LIMIT: u64 = 1 << 20;
const ERROR_BODY_LIMIT: u64 = 64 << 10;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A KV v2 client bound to one server and one token. Every method takes `&self`; the client is
/// `Send + Sync`, so one instance can serve many threads.
pub struct Client {
    agent: ureq::Agent,
    config: ClientConfig,
    token: Secret,
    login: Option<LoginInfo>,
    /// Set once a LIST with a numeric `limit` was denied while `limit=max` was allowed: the
    /// policy caps pages below our page size (OpenBao's `pagination_limit`).
    list_with_max: AtomicBool,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Patch,
}

/// One request and how to treat its failures.
struct Call<'a> {
    /// What is being done, for messages: "read metadata of `secret/a`".
    op: &'a str,
    method: Method,
    /// After `/v1/`, already percent-encoded.
    path: &'a str,
    /// Without the `?`; may be empty.
    query: &'a str,
    body: Option<&'a [u8]>,
    merge_patch: bool,
    authenticated: bool,
    /// Safe to send twice: retry 5xx, 429 and broken connections.
    idempotent: bool,
    /// The server's error text may appear in errors (never for data reads).
    quote_errors: bool,
    /// A further secret to scrub from error texts (a login credential).
    scrub: Option<&'a str>,
}

impl Client {
    /// A client that uses `token` as is.
    pub fn new(config: ClientConfig, token: Secret) -> Result<Client, VaultError> {
        if token.expose().is_empty() {
            return Err(VaultError::Config("the Vault token is empty".into()));
        }
        let mut client = Client::unauthenticated(config)?;
        client.token = token;
        Ok(client)
    }

    /// A client authenticated as `auth` says: the token as given or read from its file, or the
    /// client token of a login (AppRole, JWT, Kubernetes).
    pub fn connect(config: ClientConfig, auth: &Auth) -> Result<Client, VaultError> {
        let mut client = Client::unauthenticated(config)?;
        match auth {
            Auth::Token(token) => {
                if token.expose().is_empty() {
                    return Err(VaultError::Config("the Vault token is empty".into()));
                }
                client.token = Secret::new(token.expose().to_string());
            }
            Auth::TokenFile(path) => client.token = read_credential_file(path, "token")?,
            _ => {
                let login = client.log_in(auth)?;
                client.token = login.token;
                client.login = Some(login.info);
            }
        }
        Ok(client)
    }

    fn unauthenticated(mut config: ClientConfig) -> Result<Client, VaultError> {
        config.address = config.address.trim().trim_end_matches('/').to_string();
        if !(config.address.starts_with("http://") || config.address.starts_with("https://")) {
            return Err(VaultError::Config(format!(
                "the Vault address `{}` must start with `http://` or `https://`",
                config.address
            )));
        }
        config.concurrency = config.concurrency.max(1);
        config.list_page_size = config.list_page_size.max(1);
        let pool = config.concurrency + 4;
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("credwatch/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .max_idle_connections(pool)
            .max_idle_connections_per_host(pool);
        if let Some(path) = &config.ca_file {
            let roots = read_ca_file(path)?;
            builder = builder.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                    .build(),
            );
        }
        Ok(Client {
            agent: builder.build().into(),
            config,
            token: Secret::new(String::new()),
            login: None,
            list_with_max: AtomicBool::new(false),
        })
    }

    /// The configuration in use (address normalized).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// What the server said about the token at login; `None` for a given token.
    pub fn login_info(&self) -> Option<&LoginInfo> {
        self.login.as_ref()
    }

    /// Logs in with a login method (AppRole, JWT, Kubernetes); the token methods are not logins.
    pub fn log_in(&self, auth: &Auth) -> Result<Login, VaultError> {
        let Some(request) = login_request(auth)? else {
            return Err(VaultError::Config(format!(
                "`{}` is not a login method",
                auth.method()
            )));
        };
        let op = format!("log in with {} at `{}`", request.method, request.path);
        let call = Call {
            op: &op,
            method: Method::Post,
            path: &request.path,
            query: "",
            body: Some(&request.body),
            merge_patch: false,
            authenticated: false,
            idempotent: true,
            quote_errors: true,
            scrub: Some(request.credential.expose()),
        };
        let response = self.execute(&call).map_err(|e| match e {
            // Rejected credentials come back as 400 (AppRole) or 401/403: all are denials.
            VaultError::Http {
                op,
                status: 400 | 401,
                message,
            } => VaultError::Denied {
                op,
                detail: message,
            },
            other => other,
        })?;
        let method = request.method;
        self.parse(&op, response, SMALL_LIMIT, |r| model::read_login(r, method))
    }

    /// Every secret below `prefix` (`""` for the whole mount), descending into folders, as
    /// paths relative to the mount (`a/b/c`), sorted. An empty or missing folder lists nothing.
    /// More than `max_depth` folder levels or `max_entries` secrets is an error, never a
    /// shortened list.
    pub fn list_recursive(&self, mount: &str, prefix: &str) -> Result<Vec<String>, VaultError> {
        let mount = clean_mount(mount)?;
        let prefix = clean_folder(prefix)?;
        let mut found = Vec::new();
        let mut folders = vec![(prefix, 0usize)];
        while let Some((folder, depth)) = folders.pop() {
            for key in self.list(mount, &folder)? {
                let path = format!("{folder}{key}");
                if key.ends_with('/') {
                    if depth + 1 > self.config.max_depth {
                        return Err(VaultError::LimitExceeded {
                            op: format!("list `{mount}/{folder}` recursively"),
                            detail: format!(
                                "folder `{path}` is more than {} levels deep (max_depth)",
                                self.config.max_depth
                            ),
                        });
                    }
                    folders.push((path, depth + 1));
                } else {
                    found.push(path);
                    if found.len() > self.config.max_entries {
                        return Err(VaultError::LimitExceeded {
                            op: format!("list `{mount}/{folder}` recursively"),
                            detail: format!(
                                "more than {} secrets (max_entries)",
                                self.config.max_entries
                            ),
                        });
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// The keys of one folder (folders end in `/`), all pages of them. Pages are asked for with
    /// `limit`/`after` (OpenBao ≥ 2.0); a server that ignores them (Vault) answers with the whole
    /// folder at once, which is detected and used as such.
    pub fn list(&self, mount: &str, folder: &str) -> Result<Vec<String>, VaultError> {
        let mount = clean_mount(mount)?;
        let folder = clean_folder(folder)?;
        let op = format!("list `{mount}/{folder}`");
        let path = format!("{}/metadata/{}", encode_path(mount), encode_path(&folder));
        let page_size = self.config.list_page_size;
        let mut keys: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let use_max = self.list_with_max.load(Ordering::Relaxed);
            let page = match self.list_page(&op, &path, use_max, after.as_deref()) {
                Err(denied @ VaultError::Denied { .. }) if !use_max && after.is_none() => {
                    // A policy may cap page sizes below ours (OpenBao's `pagination_limit`),
                    // and a larger `limit` is then denied: `limit=max` asks for the cap itself.
                    let Ok(page) = self.list_page(&op, &path, true, None) else {
                        return Err(denied);
                    };
                    log::debug!("{op}: pages are capped by policy; using limit=max");
                    self.list_with_max.store(true, Ordering::Relaxed);
                    page
                }
                other => other?,
            };
            let served = page.len();
            let fresh: Vec<String> = page
                .into_iter()
                .filter(|k| after.as_ref().is_none_or(|a| k > a))
                .collect();
            let Some(last) = fresh.last().cloned() else {
                break;
            };
            keys.extend(fresh);
            if keys.len() > self.config.max_entries {
                return Err(VaultError::LimitExceeded {
                    op,
                    detail: format!("more than {} keys (max_entries)", self.config.max_entries),
                });
            }
            // With a numeric limit, a short page is the last one, and a long one means the
            // server ignored the limit and sent everything. With `max` the page size is unknown:
            // go on until an empty page.
            if !self.list_with_max.load(Ordering::Relaxed) && served != page_size {
                break;
            }
            after = Some(last);
        }
        Ok(keys)
    }

    fn list_page(
        &self,
        op: &str,
        path: &str,
        use_max: bool,
        after: Option<&str>,
    ) -> Result<Vec<String>, VaultError> {
        let mut query = String::from("list=true&limit=");
        if use_max {
            query.push_str("max");
        } else {
            query.push_str(&self.config.list_page_size.to_string());
        }
        if let Some(after) = after {
            query.push_str("&after=");
            query.push_str(&encode_component(after));
        }
        let call = Call {
            op,
            method: Method::Get,
            path,
            query: &query,
            body: None,
            merge_patch: false,
            authenticated: true,
            idempotent: true,
            quote_errors: true,
            scrub: None,
        };
        match self.execute(&call) {
            Ok(response) => self.parse(op, response, LIST_LIMIT, |r| model::read_list(r)),
            // An empty or missing folder is 404 with an empty error list; a missing mount is
            // 404 too, but with a message ("no handler for route").
            Err(VaultError::NotFound { detail, .. }) if detail.is_empty() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The metadata of one secret (`GET /v1/<mount>/metadata/<path>`).
    pub fn read_metadata(&self, mount: &str, path: &str) -> Result<Metadata, VaultError> {
        let mount = clean_mount(mount)?;
        let path = clean_secret_path(path)?;
        let op = format!("read metadata of `{mount}/{path}`");
        self.read_metadata_as(&op, mount, path)
    }

    fn read_metadata_as(&self, op: &str, mount: &str, path: &str) -> Result<Metadata, VaultError> {
        let url_path = format!("{}/metadata/{}", encode_path(mount), encode_path(path));
        let call = Call {
            op,
            method: Method::Get,
            path: &url_path,
            query: "",
            body: None,
            merge_patch: false,
            authenticated: true,
            idempotent: true,
            quote_errors: true,
            scrub: None,
        };
        let response = self.execute(&call)?;
        self.parse(op, response, METADATA_LIMIT, |r| model::read_metadata(r))
    }

    /// The metadata of many secrets, `concurrency` requests at a time on scoped threads sharing
    /// this client's connection pool. Results come in the order of `paths`. Once the server is
    /// found sealed, unreachable or hanging, the remaining paths are not tried and carry that
    /// error. Memory holds the results and one answer per thread being parsed, nothing more.
    pub fn read_metadata_many(
        &self,
        mount: &str,
        paths: &[String],
        concurrency: usize,
    ) -> Vec<(String, Result<Metadata, VaultError>)> {
        let workers = concurrency.max(1).min(paths.len());
        let next = AtomicUsize::new(0);
        let stop: OnceLock<VaultError> = OnceLock::new();
        // One slot per path, filled in place by whichever worker takes it: no second buffer.
        let slots: Vec<OnceLock<Result<Metadata, VaultError>>> =
            std::iter::repeat_with(OnceLock::new)
                .take(paths.len())
                .collect();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break };
                        let result = match (clean_mount(mount), clean_secret_path(path)) {
                            (Err(e), _) | (_, Err(e)) => Err(e),
                            (Ok(m), Ok(p)) => {
                                let op = format!("read metadata of `{m}/{p}`");
                                match stop.get() {
                                    Some(first) => Err(first.not_tried(op)),
                                    None => self.read_metadata_as(&op, m, p),
                                }
                            }
                        };
                        if let Err(e) = &result
                            && e.is_server_wide()
                        {
                            let _ = stop.set(e.clone());
                        }
                        let _ = slots[i].set(result);
                    }
                });
            }
        });
        paths
            .iter()
            .zip(slots)
            .map(|(path, slot)| {
                let result = slot.into_inner().unwrap_or_else(|| {
                    Err(VaultError::Malformed {
                        op: format!("read metadata of `{path}`"),
                        detail: "no result was recorded".into(),
                    })
                });
                (path.clone(), result)
            })
            .collect()
    }

    /// One field of the current version of a secret (`data.data.<field>` of
    /// `GET /v1/<mount>/data/<path>`). The other fields are skipped while parsing, never kept.
    /// No error carries the answer's body.
    pub fn read_field(&self, mount: &str, path: &str, field: &str) -> Result<Secret, VaultError> {
        let mount = clean_mount(mount)?;
        let path = clean_secret_path(path)?;
        let op = format!("read field `{field}` of `{mount}/{path}`");
        let url_path = format!("{}/data/{}", encode_path(mount), encode_path(path));
        let no_version = || VaultError::NotFound {
            op: op.clone(),
            detail: "no readable current version (missing, deleted or destroyed)".into(),
        };
        let call = Call {
            op: &op,
            method: Method::Get,
            path: &url_path,
            query: "",
            body: None,
            merge_patch: false,
            authenticated: true,
            idempotent: true,
            quote_errors: false,
            scrub: None,
        };
        let response = match self.execute(&call) {
            Ok(r) => r,
            Err(VaultError::NotFound { .. }) => return Err(no_version()),
            Err(e) => return Err(e),
        };
        match self.parse(&op, response, DATA_LIMIT, |r| model::read_field(r, field))? {
            FieldLookup::Found(secret) => Ok(secret),
            FieldLookup::Missing => Err(VaultError::NotFound {
                op: op.clone(),
                detail: format!("the secret has no field `{field}`"),
            }),
            FieldLookup::NoData => Err(no_version()),
            FieldLookup::NotString(kind) => Err(VaultError::Malformed {
                op: op.clone(),
                detail: format!("field `{field}` holds {kind}, not a string"),
            }),
        }
    }

    /// Sets `fields` in a secret whose current version is `cas`, keeping its other fields, and
    /// returns the new version.
    ///
    /// It sends one KV v2 `PATCH /v1/<mount>/data/<path>` (JSON merge patch) with
    /// `options.cas = cas`: the server merges onto the current version and checks the version
    /// atomically, and credwatch never reads or holds the other fields. The token needs the
    /// `patch` capability on `<mount>/data/<path>`. A version other than `cas` gives
    /// [`VaultError::Cas`]; a missing secret, or one whose current version is deleted or
    /// destroyed, gives [`VaultError::NotFound`] (nothing is resurrected). `cas = 0` creates a
    /// secret that must not exist yet (`POST` with `cas = 0`; `create` capability).
    pub fn write_cas(
        &self,
        mount: &str,
        path: &str,
        fields: &BTreeMap<String, Secret>,
        cas: u64,
    ) -> Result<u64, VaultError> {
        let mount = clean_mount(mount)?;
        let path = clean_secret_path(path)?;
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        let op = format!(
            "write `{}` of `{mount}/{path}` (check-and-set version {cas})",
            names.join("`, `")
        );
        if fields.is_empty() {
            return Err(VaultError::Config(format!("{op}: no field to write")));
        }
        let url_path = format!("{}/data/{}", encode_path(mount), encode_path(path));
        let capacity = 64
            + fields
                .iter()
                .map(|(k, v)| 6 * (k.len() + v.expose().len()) + 8)
                .sum::<usize>();
        let mut body = Zeroizing::new(Vec::with_capacity(capacity));
        serde_json::to_writer(&mut *body, &WriteBody { cas, fields })
            .map_err(|e| VaultError::Config(format!("{op}: cannot encode the request: {e}")))?;
        let call = Call {
            op: &op,
            method: if cas == 0 {
                Method::Post
            } else {
                Method::Patch
            },
            path: &url_path,
            query: "",
            body: Some(&body),
            merge_patch: cas != 0,
            authenticated: true,
            idempotent: false,
            quote_errors: true,
            scrub: None,
        };
        let response = self.execute(&call).map_err(|e| match e {
            VaultError::Http {
                op,
                status: 400,
                message,
            } if message.contains("check-and-set") => VaultError::Cas { op, cas },
            VaultError::NotFound { op, .. } => VaultError::NotFound {
                op,
                detail: "no live current version to write onto (missing, deleted or destroyed)"
                    .into(),
            },
            other => other,
        })?;
        self.parse(&op, response, SMALL_LIMIT, |r| {
            model::read_written_version(r)
        })
    }

    /// Adds or overwrites keys of a secret's custom metadata, keeping the other keys.
    ///
    /// It sends `PATCH /v1/<mount>/metadata/<path>` as a JSON merge patch: the server merges
    /// in one step, so a concurrent change to another key is not lost (a read-modify-write
    /// `POST` would replace the whole map and could drop it). The token needs the `patch`
    /// capability on `<mount>/metadata/<path>`.
    pub fn patch_custom_metadata(
        &self,
        mount: &str,
        path: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), VaultError> {
        let mount = clean_mount(mount)?;
        let path = clean_secret_path(path)?;
        let op = format!("update custom metadata of `{mount}/{path}`");
        let url_path = format!("{}/metadata/{}", encode_path(mount), encode_path(path));
        let body = serde_json::to_vec(&serde_json::json!({ "custom_metadata": entries }))
            .map_err(|e| VaultError::Config(format!("{op}: cannot encode the request: {e}")))?;
        let call = Call {
            op: &op,
            method: Method::Patch,
            path: &url_path,
            query: "",
            body: Some(&body),
            merge_patch: true,
            authenticated: true,
            idempotent: true,
            quote_errors: true,
            scrub: None,
        };
        let response = self.execute(&call)?;
        drain(response);
        Ok(())
    }

    /// Revokes the client token when it came from a login, so that a run leaves no live token
    /// behind (a CronJob logs in on every run). A given token is never revoked.
    pub fn revoke_login(&self) -> Result<(), VaultError> {
        if self.login.is_none() {
            return Ok(());
        }
        let call = Call {
            op: "revoke the login token",
            method: Method::Post,
            path: "auth/token/revoke-self",
            query: "",
            body: None,
            merge_patch: false,
            authenticated: true,
            idempotent: true,
            quote_errors: true,
            scrub: None,
        };
        let response = self.execute(&call)?;
        drain(response);
        Ok(())
    }

    /// Sends a request, retrying as its kind allows; an answer other than 2xx is an error.
    fn execute(&self, call: &Call) -> Result<Response<ureq::Body>, VaultError> {
        let mut attempt = 0;
        let mut backoff = FIRST_BACKOFF;
        loop {
            attempt += 1;
            let (error, retryable) = match self.send(call) {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            if !retryable || attempt > self.config.retries {
                log::debug!("{error} (attempt {attempt})");
                return Err(error);
            }
            log::debug!(
                "{error} (attempt {attempt}); retrying in {}ms",
                backoff.as_millis()
            );
            std::thread::sleep(jitter(backoff));
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One attempt: the answer if 2xx, else the error and whether another attempt may help.
    fn send(&self, call: &Call) -> Result<Response<ureq::Body>, (VaultError, bool)> {
        let mut url = format!("{}/v1/{}", self.config.address, call.path);
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(call.query);
        }
        let result = match call.method {
            Method::Get => self.headers(self.agent.get(&url), call).call(),
            Method::Post => self
                .headers(self.agent.post(&url), call)
                .header("Content-Type", "application/json")
                .send(call.body.unwrap_or_default()),
            Method::Patch => self
                .headers(self.agent.patch(&url), call)
                .header(
                    "Content-Type",
                    if call.merge_patch {
                        "application/merge-patch+json"
                    } else {
                        "application/json"
                    },
                )
                .send(call.body.unwrap_or_default()),
        };
        let op = || call.op.to_string();
        let response = match result {
            Ok(response) => response,
            Err(e) => return Err(self.transport_error(call, e)),
        };
        let status = response.status().as_u16();
        log::trace!("{}: HTTP {status}", call.op);
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let message = self.error_message(response, call.scrub);
        let sealed = message.to_lowercase().contains("sealed");
        let quoted = if call.quote_errors {
            message
        } else {
            String::new()
        };
        Err(match status {
            503 => (
                VaultError::Sealed {
                    op: op(),
                    detail: quoted,
                },
                call.idempotent && !sealed,
            ),
            403 => (
                VaultError::Denied {
                    op: op(),
                    detail: quoted,
                },
                false,
            ),
            404 => (
                VaultError::NotFound {
                    op: op(),
                    detail: quoted,
                },
                false,
            ),
            300..=399 => (
                VaultError::Http {
                    op: op(),
                    status,
                    message: format!(
                        "redirect to `{}` not followed (point the address at the active node)",
                        location.unwrap_or_default()
                    ),
                },
                false,
            ),
            429 | 500 | 502..=599 => (
                VaultError::Http {
                    op: op(),
                    status,
                    message: quoted,
                },
                call.idempotent,
            ),
            _ => (
                VaultError::Http {
                    op: op(),
                    status,
                    message: quoted,
                },
                false,
            ),
        })
    }

    fn headers<B>(
        &self,
        mut request: ureq::RequestBuilder<B>,
        call: &Call,
    ) -> ureq::RequestBuilder<B> {
        if call.authenticated && !self.token.expose().is_empty() {
            request = request.header("X-Vault-Token", self.token.expose());
        }
        if let Some(namespace) = &self.config.namespace {
            request = request.header("X-Vault-Namespace", namespace.as_str());
        }
        request
    }

    fn transport_error(&self, call: &Call, e: ureq::Error) -> (VaultError, bool) {
        let op = call.op.to_string();
        let address = &self.config.address;
        match describe_transport(e) {
            Transport::Timeout => (
                VaultError::Timeout {
                    op,
                    after: self.config.timeout,
                },
                false,
            ),
            // Nothing reached the server: safe to retry any request.
            Transport::NotConnected(why) => (
                VaultError::Unreachable {
                    op,
                    detail: format!("{why} (`{address}`)"),
                },
                true,
            ),
            Transport::Broken(why) => (
                VaultError::Unreachable {
                    op,
                    detail: format!("{why} (`{address}`)"),
                },
                call.idempotent,
            ),
            Transport::Fatal(why) => (
                VaultError::Unreachable {
                    op,
                    detail: format!("{why} (`{address}`)"),
                },
                false,
            ),
            Transport::Garbled(why) => (VaultError::Malformed { op, detail: why }, false),
        }
    }

    /// The server's message from an error answer, bounded, with known secrets scrubbed.
    fn error_message(&self, response: Response<ureq::Body>, scrub: Option<&str>) -> String {
        let mut body = response.into_body();
        let bytes = body
            .with_config()
            .limit(ERROR_BODY_LIMIT)
            .read_to_vec()
            .unwrap_or_default();
        let mut text = model::parse_error_message(&bytes);
        drop(Zeroizing::new(bytes));
        for secret in [Some(self.token.expose()), scrub].into_iter().flatten() {
            if secret.len() >= 4 && text.contains(secret) {
                text = text.replace(secret, "<redacted>");
            }
        }
        text
    }

    /// Streams a 2xx answer through `parse`, then drains what is left so the connection can be
    /// reused.
    fn parse<T>(
        &self,
        op: &str,
        response: Response<ureq::Body>,
        limit: u64,
        parse: impl FnOnce(&mut Watched<'_>) -> Result<T, String>,
    ) -> Result<T, VaultError> {
        let mut body = response.into_body();
        let mut reader = Watched {
            inner: BufReader::new(body.with_config().limit(limit).reader()),
            failed: None,
        };
        let parsed = parse(&mut reader);
        if parsed.is_ok() {
            let _ = io::copy(&mut reader.inner, &mut io::sink());
        }
        match (parsed, reader.failed) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(Transport::Timeout)) => Err(VaultError::Timeout {
                op: op.to_string(),
                after: self.config.timeout,
            }),
            (Err(_), Some(Transport::Garbled(why))) => Err(VaultError::Malformed {
                op: op.to_string(),
                detail: why,
            }),
            (
                Err(_),
                Some(Transport::NotConnected(why) | Transport::Broken(why) | Transport::Fatal(why)),
            ) => Err(VaultError::Unreachable {
                op: op.to_string(),
                detail: format!("the answer broke off: {why}"),
            }),
            (Err(detail), None) => Err(VaultError::Malformed {
                op: op.to_string(),
                detail,
            }),
        }
    }
}

/// A body reader that remembers why reading failed, so that a timeout or a dropped connection
/// in the middle of an answer is not reported as bad JSON.
pub(crate) struct Watched<'a> {
    inner: BufReader<ureq::BodyReader<'a>>,
    failed: Option<Transport>,
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let kind = e.kind();
            let copy = io::Error::new(kind, e.to_string());
            // ureq wraps its own errors (timeouts, the body limit) in `io::Error::other`.
            let transport = match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            {
                Some(ureq::Error::Timeout(_)) => Transport::Timeout,
                Some(ureq::Error::BodyExceedsLimit(n)) => {
                    Transport::Garbled(format!("the answer is larger than {n} bytes"))
                }
                _ => describe_transport(ureq::Error::Io(copy)),
            };
            self.failed = Some(transport);
        })
    }
}

/// What went wrong below HTTP.
enum Transport {
    Timeout,
    /// The request never reached the server.
    NotConnected(String),
    /// The connection broke; the server may have seen the request.
    Broken(String),
    /// Retrying cannot help (TLS, a bad address).
    Fatal(String),
    /// The server did not speak HTTP, or sent too much.
    Garbled(String),
}

fn describe_transport(e: ureq::Error) -> Transport {
    use io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(_) => Transport::Timeout,
        ureq::Error::ConnectionFailed => Transport::NotConnected("connection failed".into()),
        ureq::Error::HostNotFound => Transport::NotConnected("host not found".into()),
        ureq::Error::Io(io) => match io.kind() {
            K::TimedOut | K::WouldBlock => Transport::Timeout,
            K::ConnectionRefused => Transport::NotConnected("connection refused".into()),
            K::AddrNotAvailable | K::NetworkUnreachable | K::HostUnreachable => {
                Transport::NotConnected(io.to_string())
            }
            _ => Transport::Broken(io.to_string()),
        },
        ureq::Error::Protocol(p) => Transport::Garbled(format!("not an HTTP answer: {p}")),
        ureq::Error::BodyExceedsLimit(n) => {
            Transport::Garbled(format!("the answer is larger than {n} bytes"))
        }
        ureq::Error::Tls(why) => Transport::Fatal(format!("TLS: {why}")),
        other => Transport::Fatal(other.to_string()),
    }
}

/// Reads what is left of an answer so the connection goes back to the pool.
fn drain(response: Response<ureq::Body>) {
    let mut body = response.into_body();
    let _ = io::copy(
        &mut body.with_config().limit(SMALL_LIMIT).reader(),
        &mut io::sink(),
    );
}

/// Up to a quarter more than `base`, so that parallel workers do not retry in lockstep.
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

fn read_ca_file(
    path: &std::path::Path,
) -> Result<Vec<ureq::tls::Certificate<'static>>, VaultError> {
    let pem = std::fs::read(path).map_err(|e| {
        VaultError::Config(format!(
            "cannot read the Vault CA file `{}`: {e}",
            path.display()
        ))
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(VaultError::Config(format!(
                    "the Vault CA file `{}` is not valid PEM: {e}",
                    path.display()
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(VaultError::Config(format!(
            "the Vault CA file `{}` holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// `{"options": {"cas": N}, "data": {field: value, …}}`, serialized straight from the secrets.
struct WriteBody<'a> {
    cas: u64,
    fields: &'a BTreeMap<String, Secret>,
}

impl Serialize for WriteBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Options {
            cas: u64,
        }
        struct Fields<'a>(&'a BTreeMap<String, Secret>);
        impl Serialize for Fields<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (name, value) in self.0 {
                    map.serialize_entry(name, value.expose())?;
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("options", &Options { cas: self.cas })?;
        map.serialize_entry("data", &Fields(self.fields))?;
        map.end()
    }
}

/// A mount without surrounding slashes; it may hold inner ones (`team/kv`).
fn clean_mount(mount: &str) -> Result<&str, VaultError> {
    let mount = mount.trim_matches('/');
    check_segments(mount, "mount")?;
    Ok(mount)
}

/// A folder as `a/b/` (or `""` for the top).
fn clean_folder(folder: &str) -> Result<String, VaultError> {
    let folder = folder.trim_matches('/');
    if folder.is_empty() {
        return Ok(String::new());
    }
    check_segments(folder, "folder")?;
    Ok(format!("{folder}/"))
}

/// A secret's path without a leading slash; it must not name a folder.
fn clean_secret_path(path: &str) -> Result<&str, VaultError> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.ends_with('/') {
        return Err(VaultError::Config(format!(
            "the secret path `{path}` names a folder"
        )));
    }
    check_segments(trimmed, "secret path")?;
    Ok(trimmed)
}

fn check_segments(text: &str, what: &str) -> Result<(), VaultError> {
    if text.is_empty() {
        return Err(VaultError::Config(format!("the {what} is empty")));
    }
    if text
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(VaultError::Config(format!(
            "the {what} `{text}` has an empty, `.` or `..` segment"
        )));
    }
    Ok(())
}

/// Percent-encodes a path, keeping `/` and the unreserved characters.
pub(crate) fn encode_path(path: &str) -> String {
    encode(path, true)
}

/// Percent-encodes a query value (a `/` is encoded too).
fn encode_component(value: &str) -> String {
    encode(value, false)
}

fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_and_checked() {
        assert_eq!(encode_path("a b/c%d/é"), "a%20b/c%25d/%C3%A9");
        assert_eq!(encode_component("a/b c"), "a%2Fb%20c");
        assert_eq!(clean_mount("/secret/").unwrap(), "secret");
        assert_eq!(clean_folder("").unwrap(), "");
        assert_eq!(clean_folder("/a/b").unwrap(), "a/b/");
        assert_eq!(clean_secret_path("/agent").unwrap(), "agent");
        for bad in ["", "a/", "a//b", "../sys/seal", "a/./b"] {
            let err = clean_secret_path(bad).unwrap_err();
            assert_eq!(err.reason(), "config", "{bad}");
        }
        assert!(clean_folder("a/../b").is_err());
        assert!(clean_mount("/").is_err());
    }

    #[test]
    fn write_bodies_hold_cas_and_fields() {
        let mut fields = BTreeMap::new();
        fields.insert("token".to_string(), Secret::new("v\"1".into()));
        fields.insert("minted".to_string(), Secret::new("2026".into()));
        let body = serde_json::to_string(&WriteBody {
            cas: 4,
            fields: &fields,
        })
        .unwrap();
        assert_eq!(
            body,
            r#"{"options":{"cas":4},"data":{"minted":"2026","token":"v\"1"}}"#
        );
    }

    #[test]
    fn bad_addresses_and_ca_files_are_config_errors() {
        let err = Client::new(ClientConfig::new("vault:8200"), Secret::new("t".into()))
            .err()
            .unwrap();
        assert_eq!(err.reason(), "config");
        let err = Client::new(ClientConfig::new("http://v"), Secret::new(String::new()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("empty"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let mut config = ClientConfig::new("https://v");
        config.ca_file = Some(ca);
        let err = Client::new(config, Secret::new("t".into())).err().unwrap();
        assert!(err.to_string().contains("holds no certificate"), "{err}");
    }

    #[test]
    fn backoff_jitter_stays_within_a_quarter() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(100));
            assert!(d >= Duration::from_millis(100) && d < Duration::from_millis(125));
        }
    }
}
