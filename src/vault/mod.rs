//! A client for Vault/OpenBao KV v2 over HTTP: discovery, metadata, one field, and the writes
//! rotation needs. Edge I/O only; turning metadata into evidence is the sources' job.
//!
//! The files, in the order a request passes through them:
//!
//! - [`config`]: where the server is ([`ClientConfig`]) and [`resolve_env`], which completes the
//!   config from `BAO_*`/`VAULT_*` the way the CLIs do;
//! - [`auth`]: a token (given or from a file) or an AppRole, JWT or Kubernetes login;
//! - [`client`]: [`Client`], the KV v2 API: `list_recursive`, `scan` (the listing with each
//!   secret's metadata where OpenBao gives it), `read_metadata`, `read_summaries`, `read_field`,
//!   `read_field_at`, `write_cas` and `patch_custom_metadata`, and the logins;
//! - [`token`]: tokens looked up by accessor;
//! - [`approle`]: AppRole roles, secret-id accessors and their lookups (by accessor only);
//! - `path`: checking and percent-encoding mounts, folders and secret paths (pure);
//! - `transport`: HTTP to one server: one agent and connection pool, a timeout per request,
//!   retries ([`crate::net::retry`]), answers and failures mapped onto [`VaultError`];
//! - [`model`]: the answers' shapes and their pure parsers ([`Metadata`], [`VersionState`]);
//! - [`error`]: [`VaultError`], whose [`VaultError::reason`] labels metrics.
//!
//! Capabilities each call needs on mount `secret` (for `render vault-policy`):
//!
//! | call | path | capabilities |
//! |---|---|---|
//! | `list_recursive`, `list` | `secret/metadata/<prefix>*` | `list` |
//! | `scan` | `secret/detailed-metadata/<prefix>*` (else as `list_recursive`) | `list` |
//! | `read_metadata`, `read_summaries` | `secret/metadata/<path>` | `read` |
//! | `read_field`, `read_field_at` | `secret/data/<path>` | `read` |
//! | `write_cas` (cas > 0) | `secret/data/<path>` | `patch` |
//! | `write_cas` (cas = 0, create) | `secret/data/<path>` | `create` |
//! | `patch_custom_metadata` | `secret/metadata/<path>` | `patch` |
//!
//! The AppRole and token calls and theirs are listed in [`approle`] and [`token`].
//!
//! Secrets: tokens, login credentials and field values are [`Secret`](crate::credential::Secret)s
//! and sit in zeroized buffers while credwatch builds or parses them. Copies that the HTTP and
//! TLS layers make (header values, socket buffers, serde's scratch space) are outside credwatch's
//! control and are not wiped. Bodies of data reads are never logged or quoted in errors.

pub mod approle;
pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod model;
mod path;
pub mod token;
mod transport;

pub use auth::Auth;
pub use client::Client;
pub use config::{ClientConfig, Explicit, resolve_env};
pub use error::VaultError;
pub use model::{Login, LoginInfo, Metadata, Summary, VersionMeta, VersionState};
