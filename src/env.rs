//! The environment: the one home of every variable name credwatch reads, and [`Env`], the
//! snapshot a command takes once at its entry and passes down (nothing else reads the process
//! environment, so every reader can be tested with a literal one).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;

use zeroize::Zeroizing;

/// The config file, when `--config` is not given.
pub const CONFIG: &str = "CREDWATCH_CONFIG";
/// A log filter (`RUST_LOG` syntax); [`RUST_LOG`] is read when it is unset.
pub const LOG: &str = "CREDWATCH_LOG";
pub const RUST_LOG: &str = "RUST_LOG";
/// The HMAC key for fingerprints, or a file holding it.
pub const FINGERPRINT_KEY: &str = "CREDWATCH_FINGERPRINT_KEY";
pub const FINGERPRINT_KEY_FILE: &str = "CREDWATCH_FINGERPRINT_KEY_FILE";
/// Pushgateway credentials: basic auth, or a bearer token, each given or in a file.
pub const PUSHGATEWAY_USERNAME: &str = "CREDWATCH_PUSHGATEWAY_USERNAME";
pub const PUSHGATEWAY_PASSWORD: &str = "CREDWATCH_PUSHGATEWAY_PASSWORD";
pub const PUSHGATEWAY_PASSWORD_FILE: &str = "CREDWATCH_PUSHGATEWAY_PASSWORD_FILE";
pub const PUSHGATEWAY_TOKEN: &str = "CREDWATCH_PUSHGATEWAY_TOKEN";
pub const PUSHGATEWAY_TOKEN_FILE: &str = "CREDWATCH_PUSHGATEWAY_TOKEN_FILE";
/// Vault/OpenBao settings the config leaves out, OpenBao's name first.
pub const VAULT_ADDR: [&str; 2] = ["BAO_ADDR", "VAULT_ADDR"];
pub const VAULT_TOKEN: [&str; 2] = ["BAO_TOKEN", "VAULT_TOKEN"];
pub const VAULT_NAMESPACE: [&str; 2] = ["BAO_NAMESPACE", "VAULT_NAMESPACE"];
pub const VAULT_CACERT: [&str; 2] = ["BAO_CACERT", "VAULT_CACERT"];
/// Who rotated a credential (recorded as `rotated_by`).
pub const USER: &str = "USER";
/// A consumer's default name: the pod's (from the downward API), else the host's.
pub const POD_NAME: &str = "POD_NAME";
pub const HOSTNAME: &str = "HOSTNAME";
/// Prometheus's base URL for `rotate --wait` when `[prometheus] url` is not set.
pub const PROMETHEUS_URL: &str = "CREDWATCH_PROMETHEUS_URL";
/// A test hook (debug builds only, not in `--help`): milliseconds `textfile` waits between
/// writing its temporary file and renaming it, so a test can kill it in that window.
pub const TEST_PAUSE_BEFORE_RENAME_MS: &str = "CREDWATCH_TEST_PAUSE_BEFORE_RENAME_MS";

/// A snapshot of environment variables. Values may be secrets (tokens, passwords): they are
/// zeroized on drop and `Debug` shows only the names.
#[derive(Clone, Default)]
pub struct Env(BTreeMap<OsString, Zeroizing<Vec<u8>>>);

impl Env {
    /// The process environment, read now.
    pub fn from_process() -> Env {
        Env(std::env::vars_os()
            .map(|(k, v)| (k, Zeroizing::new(v.into_encoded_bytes())))
            .collect())
    }

    /// An environment holding only `vars` (for tests and embedding).
    pub fn from_pairs<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env(vars
            .into_iter()
            .map(|(k, v)| (k.into(), Zeroizing::new(v.as_bytes().to_vec())))
            .collect())
    }

    /// The raw bytes of `name`, set or not.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.0.get(std::ffi::OsStr::new(name)).map(|v| v.as_slice())
    }

    /// `name` as text; `None` when unset or not UTF-8.
    pub fn var(&self, name: &str) -> Option<String> {
        self.bytes(name)
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_string)
    }

    /// `name` when set and not empty.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.is_empty())
    }

    /// A lookup function over the snapshot, for readers that take one.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| self.var(name)
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_answers_by_name_and_never_shows_values() {
        let env = Env::from_pairs([(PUSHGATEWAY_TOKEN, "s3cr3t-value"), (USER, "")]);
        assert_eq!(env.var(PUSHGATEWAY_TOKEN).as_deref(), Some("s3cr3t-value"));
        assert_eq!(env.var(USER).as_deref(), Some(""));
        assert_eq!(env.non_empty(USER), None);
        assert_eq!(env.var(CONFIG), None);
        assert_eq!(
            (env.lookup())(PUSHGATEWAY_TOKEN).as_deref(),
            Some("s3cr3t-value")
        );
        let shown = format!("{env:?}");
        assert!(shown.contains(PUSHGATEWAY_TOKEN), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
