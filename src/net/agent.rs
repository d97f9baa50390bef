//! An HTTP agent for one target that looks its address up once.
//!
//! ureq resolves the host before every request, even one that then reuses a pooled connection,
//! and with a timeout set it does so on a new thread so that it can give up (about one thread
//! per request in a scan). [`ResolveOnce`] keeps the first successful answer per `host:port` for
//! the agent's life, which is one run (or one `serve` refresh): the first lookup still honours
//! the timeout, later ones spawn nothing. A failed lookup is not kept, so a retry looks again.

use std::collections::HashMap;
use std::sync::Mutex;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// An agent with ureq's own connector and a resolver that asks once per `host:port`.
pub fn agent(config: Config) -> ureq::Agent {
    ureq::Agent::with_parts(config, DefaultConnector::default(), ResolveOnce::default())
}

/// ureq's resolver, asked once per `host:port`.
#[derive(Debug, Default)]
pub struct ResolveOnce {
    inner: DefaultResolver,
    known: Mutex<HashMap<String, ResolvedSocketAddrs>>,
}

impl Resolver for ResolveOnce {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => DefaultResolver::host_and_port(scheme, authority),
            _ => None,
        };
        let Some(key) = key else {
            // Not a full URL: let ureq's resolver give its own error.
            return self.inner.resolve(uri, config, timeout);
        };
        if let Some(known) = self.known.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return Ok(known);
        }
        let found = self.inner.resolve(uri, config, timeout)?;
        if let Ok(mut known) = self.known.lock() {
            known.insert(key, found.clone());
        }
        Ok(found)
    }
}

/// The certificates of a PEM CA file, for an agent that trusts only them; `what` names the file's
/// purpose in errors (`Vault`, `probe`).
pub fn read_ca_file(
    path: &std::path::Path,
    what: &str,
) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let pem = crate::file::read(path, crate::file::CA_BUNDLE)
        .map_err(|e| format!("cannot read the {what} CA file `{}`: {e}", path.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "the {what} CA file `{}` is not valid PEM: {e}",
                    path.display()
                ));
            }
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "the {what} CA file `{}` holds no certificate",
            path.display()
        ));
    }
    Ok(certs)
}
