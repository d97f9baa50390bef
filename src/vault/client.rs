//! The KV v2 client: discovery (LIST, and OpenBao's LIST with each secret's metadata), metadata
//! reads (one or many in parallel), field reads, the two writes rotation needs, and the logins.
//! Edge I/O on top of [`super::transport`] (HTTP, timeouts, retries); paths are checked and
//! encoded by [`super::path`], every answer is parsed by [`super::model`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use ureq::http::Response;
use zeroize::Zeroizing;

use super::auth::{Auth, login_request, read_credential_file};
use super::config::ClientConfig;
use super::error::VaultError;
use super::model::{self, FieldLookup, Login, LoginInfo, Metadata, Summary};
use super::path::{api_path, clean_folder, clean_mount, clean_secret_path, encode_component};
use super::transport::{Request, Transport, drain};
use crate::credential::Secret;
use crate::net;

/// Largest answers read, per kind. A LIST page of a server without pagination holds every key of
/// a folder (about 50 bytes a key).
const LIST_LIMIT: u64 = 64 << 20;
const METADATA_LIMIT: u64 = 4 << 20;
const DATA_LIMIT: u64 = 8 << 20;
const SMALL_LIMIT: u64 = 1 << 20;

/// How many folders a recursive listing lists ahead per worker (see `Client::prefetch`).
const AHEAD_PER_WORKER: usize = 4;

/// Secrets per page of the detailed listing (at most; `list_page_size` if smaller), and the
/// largest such page read. A page is buffered whole and up to `concurrency` are in flight, so
/// both bound what a scan holds at once: a usual secret's entry is 400-600 bytes (a page of 250
/// about 120 KiB), and the limit leaves 64 KiB a secret for the largest custom_metadata OpenBao
/// allows (64 keys of 128 + 512 bytes) and its versions. A larger page is left to the plain
/// listing and per-secret reads.
const DETAILED_PAGE: usize = 250;
const DETAILED_LIMIT: u64 = 16 << 20;

/// A KV v2 client bound to one server and one token. Every method takes `&self`; the client is
/// `Send + Sync`, so one instance (one connection pool) can serve many threads.
pub struct Client {
    transport: Transport,
    config: ClientConfig,
    token: Secret,
    login: Option<LoginInfo>,
    /// Set once a LIST with a numeric `limit` was denied while `limit=max` was allowed: the
    /// policy caps pages below our page size (OpenBao's `pagination_limit`).
    list_with_max: AtomicBool,
    /// Set once OpenBao's detailed listing was missing or denied (see [`Client::scan`]).
    no_detailed_list: AtomicBool,
}

/// Lists one folder for [`Client::walk`]: `(folder, cap)` to its keys, each with what comes
/// with it.
type Lister<'a, T> = dyn Fn(&str, usize) -> Result<Vec<(String, T)>, VaultError> + Sync + 'a;

/// Folders listed ahead of their turn in [`Client::walk`], by folder.
type Ready<T> = HashMap<String, Result<Vec<(String, T)>, VaultError>>;

/// Reads one LIST page's answer for [`Client::pages`].
type PageReader<'a, T> = dyn Fn(Response<ureq::Body>) -> Result<Vec<(String, T)>, VaultError> + 'a;

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
};

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
        Ok(Client {
            transport: Transport::new(&config)?,
            config,
            token: Secret::new(String::new()),
            login: None,
            list_with_max: AtomicBool::new(false),
            no_detailed_list: AtomicBool::new(false),
        })
    }

    /// The same client, waiting between retries with `sleep` instead of `std::thread::sleep`
    /// (tests record the waits instead of sleeping).
    pub fn with_retry_sleep(mut self, sleep: impl Fn(Duration) + Send + Sync + 'static) -> Client {
        self.transport.set_sleep(Arc::new(sleep));
        self
    }

    /// Sends a request with this client's token; see [`Transport::execute`].
    pub(super) fn execute(&self, request: &Request) -> Result<Response<ureq::Body>, VaultError> {
        self.transport.execute(request, &self.token)
    }

    /// The transport, for the other API files of this module (`approle`).
    /// The most entries one listing may hold (`max_entries`).
    pub(super) fn max_entries(&self) -> usize {
        self.config.max_entries
    }

    pub(super) fn transport(&self) -> &Transport {
        &self.transport
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
        let call = Request::post(&op, &request.path, Some(&request.body))
            .unauthenticated()
            .scrub(request.credential.expose());
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
        self.transport
            .parse(&op, response, SMALL_LIMIT, |r| model::read_login(r, method))
    }

    /// Every secret below `prefix` (`""` for the whole mount), descending into folders, as
    /// paths relative to the mount (`a/b/c`), sorted. An empty or missing folder lists nothing.
    /// More than `max_depth` folder levels or `max_entries` secrets is an error, never a
    /// shortened list.
    pub fn list_recursive(&self, mount: &str, prefix: &str) -> Result<Vec<String>, VaultError> {
        let mount = clean_mount(mount)?;
        let found = self.walk(mount, prefix, &|folder, cap| {
            let keys = self.list_capped(mount, folder, cap)?;
            Ok(keys.into_iter().map(|k| (k, ())).collect())
        })?;
        Ok(found.into_iter().map(|(path, ())| path).collect())
    }

    /// The secrets [`Client::list_recursive`] finds, each with its metadata as
    /// [`Client::read_summaries`] would make it (keeping the custom_metadata keys `keep`
    /// accepts) where the listing itself carries it: OpenBao lists a folder's keys with their
    /// metadata (`LIST <mount>/detailed-metadata/<folder>`), a page of up to `list_page_size`
    /// secrets in one request instead of one read per secret. `None` marks a secret the caller
    /// reads itself: every secret when the server has no such listing (HashiCorp Vault) or the
    /// token may not use it (a policy that grants only `metadata/`), which is then found out
    /// once and the plain listing used for the rest of the walk; and a secret whose entry was
    /// missing or odd, so that only a read of its own can call it broken.
    pub fn scan(
        &self,
        mount: &str,
        prefix: &str,
        keep: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<(String, Option<Summary>)>, VaultError> {
        let mount = clean_mount(mount)?;
        let found = self.walk(mount, prefix, &|folder, cap| {
            self.list_detailed(mount, folder, cap, keep)
        })?;
        // A key that would lead out of its folder, or that a read would name otherwise (`/abs`
        // reads `abs`), is read (and judged) on its own.
        Ok(found
            .into_iter()
            .map(|(path, summary)| {
                let summary = summary.filter(|_| clean_secret_path(&path).ok() == Some(&*path));
                (path, summary)
            })
            .collect())
    }

    /// The walk under `prefix` both listings share, with `list(folder, cap)` listing one
    /// folder (keys and what comes with each).
    fn walk<T: Send>(
        &self,
        mount: &str,
        prefix: &str,
        list: &Lister<'_, T>,
    ) -> Result<Vec<(String, T)>, VaultError> {
        let prefix = clean_folder(prefix)?;
        let mut found = Vec::new();
        let mut folders = vec![(prefix, 0usize)];
        // Folders listed ahead of their turn; see `prefetch`.
        let mut ready: Ready<T> = HashMap::new();
        while let Some((folder, depth)) = folders.pop() {
            let keys = match ready.remove(&folder) {
                Some(keys) => keys,
                None => self.prefetch(&folder, &folders, &mut ready, list),
            };
            for (key, with) in keys? {
                let path = format!("{folder}{key}");
                // A key that would lead out of the folder (`../`, `/abs/`, an empty name) is not
                // followed: it is kept as a path of its own, whose metadata read then fails alone
                // (before any request), so the good keys next to it are still read.
                let malformed = key.is_empty()
                    || key.starts_with('/')
                    || key
                        .trim_end_matches('/')
                        .split('/')
                        .any(|p| p == ".." || p == ".");
                if malformed {
                    found.push((path, with));
                } else if key.ends_with('/') {
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
                    found.push((path, with));
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
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    /// Lists `folder`, and with it, in parallel, the folders next in line on `waiting` (the
    /// stack of [`Client::walk`], next at the end), whose results go into `ready`. The walk
    /// itself stays sequential and sees the same listings in the same order, so its result and
    /// its first error are those of a walk that lists one folder at a time; a listing ahead of
    /// its turn saves the round trip when that turn comes. The folders listed ahead share a
    /// budget of `max_entries` keys: one over its share is dropped and listed again in its
    /// turn. Listings ahead wait in `ready` while the walk goes deeper, one batch per level at
    /// most, so what they hold is bounded by about the depth times `max_entries`.
    fn prefetch<T: Send>(
        &self,
        folder: &str,
        waiting: &[(String, usize)],
        ready: &mut Ready<T>,
        list: &Lister<'_, T>,
    ) -> Result<Vec<(String, T)>, VaultError> {
        let concurrency = self.config.concurrency.max(1);
        // One request at a time: listing ahead would save no round trip.
        if concurrency == 1 {
            return list(folder, self.config.max_entries);
        }
        let ahead: Vec<&str> = waiting
            .iter()
            .rev()
            .map(|(f, _)| f.as_str())
            .filter(|f| *f != folder && !ready.contains_key(*f))
            .take(AHEAD_PER_WORKER * concurrency - 1)
            .collect();
        if ahead.is_empty() {
            return list(folder, self.config.max_entries);
        }
        let share = (self.config.max_entries / ahead.len()).max(1);
        let batch: Vec<(&str, usize)> = std::iter::once((folder, self.config.max_entries))
            .chain(ahead.iter().map(|f| (*f, share)))
            .collect();
        let mut results =
            net::map_ordered(&batch, concurrency, |(f, cap)| list(f, *cap)).into_iter();
        let first = results.next().expect("the batch starts with `folder`");
        for (f, result) in ahead.into_iter().zip(results) {
            // Over its share: listed again in its turn, under the whole limit.
            if !matches!(result, Err(VaultError::LimitExceeded { .. })) {
                ready.insert(f.to_string(), result);
            }
        }
        first
    }

    /// The keys of one folder (folders end in `/`), all pages of them. Pages are asked for with
    /// `limit`/`after` (OpenBao ≥ 2.0); a server that ignores them (Vault) answers with the whole
    /// folder at once, which is detected and used as such.
    pub fn list(&self, mount: &str, folder: &str) -> Result<Vec<String>, VaultError> {
        self.list_capped(mount, folder, self.config.max_entries)
    }

    /// [`Client::list`] refusing more than `cap` keys (`max_entries`, or a listing ahead's
    /// share of it).
    fn list_capped(
        &self,
        mount: &str,
        folder: &str,
        cap: usize,
    ) -> Result<Vec<String>, VaultError> {
        let mount = clean_mount(mount)?;
        let folder = clean_folder(folder)?;
        let op = format!("list `{mount}/{folder}`");
        let path = api_path(mount, "metadata", &folder);
        let page_size = self.config.list_page_size;
        let keys = self.pages(&op, &path, page_size, cap, &|response| {
            let keys = self
                .transport
                .parse(&op, response, LIST_LIMIT, |r| model::read_list(r, cap))?;
            Ok(keys.into_iter().map(|k| (k, ())).collect())
        })?;
        Ok(keys.into_iter().map(|(k, ())| k).collect())
    }

    /// One folder of [`Client::scan`]: its keys with their metadata from OpenBao's detailed
    /// listing, or, once that listing turned out to be missing or denied, the plain keys. A
    /// folder whose detailed pages fail on their own (a server error, no answer in time, a page
    /// over [`DETAILED_LIMIT`] or of another shape) is listed plainly, so that one broken or slow
    /// secret costs its own read, as without the detailed listing, and not the folder.
    fn list_detailed(
        &self,
        mount: &str,
        folder: &str,
        cap: usize,
        keep: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<(String, Option<Summary>)>, VaultError> {
        let plain = || -> Result<Vec<(String, Option<Summary>)>, VaultError> {
            let keys = self.list_capped(mount, folder, cap)?;
            Ok(keys.into_iter().map(|k| (k, None)).collect())
        };
        if self.no_detailed_list.load(Ordering::Relaxed) {
            return plain();
        }
        let folder_path = clean_folder(folder)?;
        let op = format!("list `{mount}/{folder_path}` with metadata");
        let path = api_path(mount, "detailed-metadata", &folder_path);
        let page_size = self.config.list_page_size.min(DETAILED_PAGE);
        let listed = self.pages(&op, &path, page_size, cap, &|response| {
            self.transport
                .parse_buffered(&op, response, DETAILED_LIMIT, |body| {
                    model::parse_detailed_list(body, cap, keep)
                })
        });
        match listed {
            // This folder only: the server answers, but not this listing of it (an error, no
            // answer in time, a page over the limit or of another shape).
            Err(
                e @ (VaultError::Http {
                    status: 500 | 502..,
                    ..
                }
                | VaultError::Timeout { .. }
                | VaultError::Malformed { .. }),
            ) => {
                log::debug!("{e}; listing the folder's keys and reading each secret's metadata");
                plain()
            }
            // HashiCorp Vault has no such path (404 "unsupported path", or 405), and a policy
            // written for `metadata/` alone denies it: the plain listing says what there is, for
            // the rest of the walk.
            Err(
                e @ (VaultError::Denied { .. }
                | VaultError::NotFound { .. }
                | VaultError::Http {
                    status: 400 | 405 | 501,
                    ..
                }),
            ) => {
                if !self.no_detailed_list.swap(true, Ordering::Relaxed) {
                    if matches!(e, VaultError::Denied { .. }) {
                        // Worth saying: a policy rendered now allows it.
                        log::info!(
                            "{e}; listing keys and reading each secret's metadata instead (grant \
                             `list` on `{mount}/detailed-metadata/...`, as `credwatch render \
                             vault-policy` does, to list the metadata a page at a time)"
                        );
                    } else {
                        log::debug!("{e}; listing keys and reading each secret's metadata instead");
                    }
                }
                plain()
            }
            other => other,
        }
    }

    /// All pages of one LIST (`path`, under `op`'s name) of `page_size` keys each, each answer
    /// read by `read_page`.
    fn pages<T>(
        &self,
        op: &str,
        path: &str,
        page_size: usize,
        cap: usize,
        read_page: &PageReader<'_, T>,
    ) -> Result<Vec<(String, T)>, VaultError> {
        let mut keys: Vec<(String, T)> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let use_max = self.list_with_max.load(Ordering::Relaxed);
            let page = self.list_page(
                op,
                path,
                (use_max, page_size),
                after.as_deref(),
                cap,
                read_page,
            );
            let page = match page {
                Err(denied @ VaultError::Denied { .. }) if !use_max && after.is_none() => {
                    // A policy may cap page sizes below ours (OpenBao's `pagination_limit`),
                    // and a larger `limit` is then denied: `limit=max` asks for the cap itself.
                    let Ok(page) =
                        self.list_page(op, path, (true, page_size), None, cap, read_page)
                    else {
                        return Err(denied);
                    };
                    log::debug!("{op}: pages are capped by policy; using limit=max");
                    self.list_with_max.store(true, Ordering::Relaxed);
                    page
                }
                other => other?,
            };
            let served = page.len();
            let fresh = page
                .into_iter()
                .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a));
            let before = keys.len();
            keys.extend(fresh);
            let Some((last, _)) = keys[before..].last() else {
                break;
            };
            let last = last.clone();
            if keys.len() > cap {
                return Err(VaultError::LimitExceeded {
                    op: op.to_string(),
                    detail: format!("more than {cap} keys (max_entries)"),
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

    /// One page: `limit=max` or `limit=<page_size>`, after `after`.
    fn list_page<T>(
        &self,
        op: &str,
        path: &str,
        (use_max, page_size): (bool, usize),
        after: Option<&str>,
        max: usize,
        read_page: &PageReader<'_, T>,
    ) -> Result<Vec<(String, T)>, VaultError> {
        let mut query = String::from("list=true&limit=");
        if use_max {
            query.push_str("max");
        } else {
            query.push_str(&page_size.to_string());
        }
        if let Some(after) = after {
            query.push_str("&after=");
            query.push_str(&encode_component(after));
        }
        let call = Request::get(op, path).query(&query);
        match self.execute(&call) {
            Ok(response) => match read_page(response) {
                // A page over the limit is the listing's limit, not a broken answer.
                Err(VaultError::Malformed { op, detail }) if detail.contains(model::TOO_MANY) => {
                    Err(VaultError::LimitExceeded {
                        op,
                        detail: format!("more than {max} secrets (max_entries)"),
                    })
                }
                other => other,
            },
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
        self.read_metadata_as(&op, mount, path, model::parse_metadata)
    }

    fn read_metadata_as<T>(
        &self,
        op: &str,
        mount: &str,
        path: &str,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Result<T, VaultError> {
        let url_path = api_path(mount, "metadata", path);
        let call = Request::get(op, &url_path);
        let response = self.execute(&call)?;
        self.transport
            .parse_buffered(op, response, METADATA_LIMIT, parse)
    }

    /// The metadata of many secrets, `concurrency` requests at a time on scoped threads sharing
    /// this client's connection pool, in the order of `paths`: of each secret only a [`Summary`]
    /// with the custom_metadata keys `keep` accepts, made as its answer is parsed, so that what a
    /// scan holds until its end is a few hundred bytes a secret. Once the server is found sealed,
    /// unreachable or hanging, the remaining paths are not tried and carry that error.
    pub fn read_summaries(
        &self,
        mount: &str,
        paths: &[String],
        concurrency: usize,
        keep: &(dyn Fn(&str) -> bool + Sync),
    ) -> Vec<Result<Summary, VaultError>> {
        self.read_many(mount, paths, concurrency, |body| {
            model::parse_summary(body, keep)
        })
    }

    fn read_many<T: Send>(
        &self,
        mount: &str,
        paths: &[String],
        concurrency: usize,
        parse: impl Fn(&[u8]) -> Result<T, String> + Sync,
    ) -> Vec<Result<T, VaultError>> {
        let stop: OnceLock<VaultError> = OnceLock::new();
        net::map_ordered(paths, concurrency, |path| {
            let result = match (clean_mount(mount), clean_secret_path(path)) {
                (Err(e), _) | (_, Err(e)) => Err(e),
                (Ok(m), Ok(p)) => {
                    let op = format!("read metadata of `{m}/{p}`");
                    match stop.get() {
                        Some(first) => Err(first.not_tried(op)),
                        None => self.read_metadata_as(&op, m, p, &parse),
                    }
                }
            };
            if let Err(e) = &result
                && e.is_server_wide()
            {
                let _ = stop.set(e.clone());
            }
            result
        })
    }

    /// One field of the current version of a secret (`data.data.<field>` of
    /// `GET /v1/<mount>/data/<path>`). The other fields are skipped while parsing, never kept.
    /// No error carries the answer's body.
    pub fn read_field(&self, mount: &str, path: &str, field: &str) -> Result<Secret, VaultError> {
        self.read_field_of(mount, path, field, None)
    }

    /// One field of version `version` of a secret (`data.data.<field>` of
    /// `GET /v1/<mount>/data/<path>?version=<version>`), whatever version is current; as
    /// [`Client::read_field`] otherwise.
    pub fn read_field_at(
        &self,
        mount: &str,
        path: &str,
        field: &str,
        version: u64,
    ) -> Result<Secret, VaultError> {
        self.read_field_of(mount, path, field, Some(version))
    }

    fn read_field_of(
        &self,
        mount: &str,
        path: &str,
        field: &str,
        version: Option<u64>,
    ) -> Result<Secret, VaultError> {
        let mount = clean_mount(mount)?;
        let path = clean_secret_path(path)?;
        let (op, unreadable, no_field) = match version {
            None => (
                format!("read field `{field}` of `{mount}/{path}`"),
                "no readable current version (missing, deleted or destroyed)".to_string(),
                format!("the secret has no field `{field}`"),
            ),
            Some(v) => (
                format!("read field `{field}` of version {v} of `{mount}/{path}`"),
                format!("version {v} is not readable (missing, deleted or destroyed)"),
                format!("version {v} has no field `{field}`"),
            ),
        };
        let url_path = api_path(mount, "data", path);
        let no_version = || VaultError::NotFound {
            op: op.clone(),
            detail: unreadable.clone(),
        };
        let query = version.map(|v| format!("version={v}"));
        let mut call = Request::get(&op, &url_path).unquoted();
        if let Some(query) = &query {
            call = call.query(query);
        }
        let response = match self.execute(&call) {
            Ok(r) => r,
            Err(VaultError::NotFound { .. }) => return Err(no_version()),
            Err(e) => return Err(e),
        };
        match self
            .transport
            .parse(&op, response, DATA_LIMIT, |r| model::read_field(r, field))?
        {
            FieldLookup::Found(secret) => Ok(secret),
            FieldLookup::Missing => Err(VaultError::NotFound {
                op: op.clone(),
                detail: no_field,
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
        let url_path = api_path(mount, "data", path);
        let capacity = 64
            + fields
                .iter()
                .map(|(k, v)| 6 * (k.len() + v.expose().len()) + 8)
                .sum::<usize>();
        let mut body = Zeroizing::new(Vec::with_capacity(capacity));
        serde_json::to_writer(&mut *body, &WriteBody { cas, fields })
            .map_err(|e| VaultError::Config(format!("{op}: cannot encode the request: {e}")))?;
        let call = if cas == 0 {
            Request::post(&op, &url_path, Some(&body))
        } else {
            Request::patch(&op, &url_path, &body)
        }
        .once();
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
        self.transport.parse(&op, response, SMALL_LIMIT, |r| {
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
        let url_path = api_path(mount, "metadata", path);
        let body = serde_json::to_vec(&serde_json::json!({ "custom_metadata": entries }))
            .map_err(|e| VaultError::Config(format!("{op}: cannot encode the request: {e}")))?;
        let call = Request::patch(&op, &url_path, &body);
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
        let call = Request::post("revoke the login token", "auth/token/revoke-self", None);
        let response = self.execute(&call)?;
        drain(response);
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
