//! Values read from files and the environment: expiry from JWTs and certificates, format
//! checks, fingerprints and pools, all through the binary. Certificates and JWTs are generated
//! here with fixed dates, so nothing rots.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SerialNumber, date_time_ymd,
};

use crate::support::{Credwatch, Run, Scratch, promtool};

const NOW: &str = "2026-11-30T00:00:00Z";

fn run(config: &std::path::Path, args: &[&str]) -> Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(args)
        .run()
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn credential<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// A token of the `claude setup-token` shape, deterministic per seed.
pub fn claude_token(seed: u8, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x: u32 = 0x9E37_79B9 ^ u32::from(seed).wrapping_mul(0x85EB_CA6B);
    let body: String = (0..len - 13)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            CHARS[(x % 64) as usize] as char
        })
        .collect();
    format!("sk-ant-oat01-{body}")
}

pub fn jwt(payload: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode("not-a-real-signature")
    )
}

pub fn cert_params(
    cn: &str,
    serial: u8,
    from: (i32, u8, u8),
    until: (i32, u8, u8),
) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.serial_number = Some(SerialNumber::from(vec![serial]));
    params.not_before = date_time_ymd(from.0, from.1, from.2);
    params.not_after = date_time_ymd(until.0, until.1, until.2);
    params
}

/// A leaf (2026-04-18 → 2027-04-18) and its CA (→ 2027-01-01): PEM bundle, leaf DER, leaf key.
fn certificates() -> (String, Vec<u8>, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = cert_params("Example CA", 0x0C, (2024, 1, 1), (2027, 1, 1));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let leaf = cert_params("api.example.com", 0x2A, (2026, 4, 18), (2027, 4, 18))
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (
        format!("{}{}", leaf.pem(), ca.pem()),
        leaf.der().to_vec(),
        leaf_key.serialize_pem(),
    )
}

#[test]
fn expiry_comes_from_jwts_and_certificates() {
    let s = Scratch::new();
    let (bundle, der, key) = certificates();
    s.write(
        "tls/bundle.pem",
        &format!("subject=CN=api.example.com\n{bundle}"),
    );
    std::fs::write(s.path("tls/leaf.der"), der).unwrap();
    s.write("tls/tls.key", &key);
    s.write(
        "jwt/with-exp",
        &jwt(r#"{"sub":"ci","iat":1790000000,"exp":1800000000}"#),
    );
    s.write("jwt/no-exp", &jwt(r#"{"sub":"ci","iat":1790000000}"#));
    s.write("jwt/bad-exp", &jwt(r#"{"sub":"ci","exp":"tomorrow"}"#));
    let config = s.write(
        "credwatch.toml",
        r#"
[[credential]]
name = "leaf"
file = "tls/bundle.pem"

[[credential]]
name = "bundle-earliest"
file = "tls/bundle.pem"
chain = "earliest"

[[credential]]
name = "der"
file = "tls/leaf.der"
expiry_from = "x509"

[[credential]]
name = "private-key"
file = "tls/tls.key"
format = "pem-certificate"

[[credential]]
name = "service-jwt"
file = "jwt/with-exp"

[[credential]]
name = "forever-jwt"
file = "jwt/no-exp"
format = "jwt"

[[credential]]
name = "bad-jwt"
file = "jwt/bad-exp"
expiry_from = "jwt"

[[credential]]
name = "from-env"
env = "CREDWATCH_TEST_JWT"
"#,
    );
    let check = |extra: &[&str]| {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .env("CREDWATCH_TEST_JWT", jwt(r#"{"exp":1797000000}"#))
            .args(["check", "--now", NOW])
            .args(extra)
            .run()
    };
    let run = check(&["-o", "json"]);
    run.assert_code(3);
    let doc = json(&run);

    let leaf = credential(&doc, "leaf");
    assert_eq!(leaf["expires_at"], "2027-04-18T00:00:00Z");
    assert_eq!(leaf["minted_at"], "2026-04-18T00:00:00Z");
    assert_eq!(leaf["kind"], "x509_not_after");
    assert_eq!(
        leaf["subject"],
        "certificate CN=api.example.com, serial 2A (leaf of 2 in the bundle)"
    );
    let earliest = credential(&doc, "bundle-earliest");
    assert_eq!(earliest["expires_at"], "2027-01-01T00:00:00Z");
    assert_eq!(
        earliest["subject"],
        "certificate CN=Example CA, serial 0C (earliest of 2 in the bundle)"
    );
    assert_eq!(
        credential(&doc, "der")["expires_at"],
        "2027-04-18T00:00:00Z"
    );

    let key = credential(&doc, "private-key");
    assert_eq!(key["status"], "UNKNOWN");
    let reason = key["error"].as_str().unwrap();
    assert!(
        reason.contains("found a private key where a certificate was expected"),
        "{reason}"
    );

    let service = credential(&doc, "service-jwt");
    assert_eq!(service["expires_at_unix"], 1_800_000_000);
    assert_eq!(service["minted_at_unix"], 1_790_000_000);
    assert_eq!(service["kind"], "jwt_exp");
    let forever = credential(&doc, "forever-jwt");
    assert_eq!(forever["status"], "NO EXPIRY");
    assert_eq!(forever["expires_at"], serde_json::Value::Null);
    let bad = credential(&doc, "bad-jwt");
    assert_eq!(bad["status"], "UNKNOWN");
    assert!(
        bad["error"].as_str().unwrap().contains("`exp` is a string"),
        "{}",
        bad["error"]
    );
    assert_eq!(
        credential(&doc, "from-env")["expires_at_unix"],
        1_797_000_000
    );

    // The key never shows, in any output.
    let table = check(&[]);
    let pushed = run_push_dry(&config);
    for out in [
        &run.stdout,
        &run.stderr,
        &table.stdout,
        &table.stderr,
        &pushed.stdout,
        &pushed.stderr,
    ] {
        assert_no_substring(
            out,
            &key_body(&std::fs::read_to_string(s.path("tls/tls.key")).unwrap()),
        );
    }
    assert!(
        table.stdout.contains("forever-jwt") && table.stdout.contains("never"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("forever-jwt: the value carries no expiry"),
        "{}",
        table.stdout
    );

    // A JWT without `exp` has no expiry series at all: never a 0.
    assert!(
        !pushed
            .stdout
            .contains("credential=\"forever-jwt\",source=\"inventory\",kind=\"jwt_exp\"} 0")
    );
    let expiry_lines: Vec<&str> = pushed
        .stdout
        .lines()
        .filter(|l| l.starts_with("credwatch_credential_expiry_timestamp_seconds{"))
        .collect();
    assert!(
        expiry_lines.iter().all(|l| !l.contains("forever-jwt")),
        "{expiry_lines:?}"
    );
    assert!(pushed.stdout.contains("credwatch_credential_info{credential=\"forever-jwt\",source=\"inventory\",kind=\"jwt_exp\",fingerprint=\"sha256:"));
}

fn run_push_dry(config: &std::path::Path) -> Run {
    let pg_less = std::fs::read_to_string(config).unwrap();
    let with_pg = config.with_file_name("with-pg.toml");
    std::fs::write(
        &with_pg,
        format!("[pushgateway]\nurl = \"http://127.0.0.1:9\"\n{pg_less}"),
    )
    .unwrap();
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), with_pg.as_os_str()])
        .env("CREDWATCH_TEST_JWT", jwt(r#"{"exp":1797000000}"#))
        .args(["-vv", "push", "--dry-run", "--now", NOW])
        .run()
}

/// The base64 body of a PEM block, without the armour lines.
fn key_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// Asserts that no 8-character window of `secret` appears in `text`.
pub fn assert_no_substring(text: &str, secret: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for w in chars.windows(8) {
        let w: String = w.iter().collect();
        assert!(!text.contains(&w), "leaked `{w}` in:\n{text}");
    }
}

#[test]
fn a_truncated_token_is_invalid_and_lint_value_says_why() {
    let s = Scratch::new();
    let good = claude_token(1, 108);
    s.write("primary", &good);
    s.write("truncated", &good[..107]);
    let config = s.write(
        "credwatch.toml",
        r#"
[[credential]]
name = "primary"
minted_at = "2026-04-18T16:07:09Z"
file = "primary"
format = "claude-oauth"

[[credential]]
name = "truncated"
minted_at = "2026-04-18T16:07:09Z"
file = "truncated"
format = "claude-oauth"
"#,
    );
    let check = run(&config, &["check", "--now", NOW]);
    check.assert_code(2);
    assert!(check.stdout.contains("truncated: not a valid `claude-oauth` value: expected exactly 108 characters, found 107"), "{}", check.stdout);
    let row = check
        .stdout
        .lines()
        .find(|l| l.starts_with("truncated "))
        .unwrap();
    assert!(row.contains("INVALID"), "{row}");
    let dry = run_push_dry(&config);
    assert!(
        dry.stdout.contains(
            "credwatch_credential_format_ok{credential=\"truncated\",format=\"claude-oauth\"} 0\n"
        ),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(
        "credwatch_credential_format_ok{credential=\"primary\",format=\"claude-oauth\"} 1\n"
    ));

    let lint = |value: &str, extra: &[&str]| {
        let run = Credwatch::new()
            .args(["lint-value", "--format", "claude-oauth"])
            .args(extra)
            .run_with_stdin(value);
        (run.code, run.stdout + &run.stderr)
    };
    let (code, out) = lint(&format!("{good}\n"), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("ok: a valid `claude-oauth` value (108 characters"),
        "{out}"
    );
    let (code, out) = lint(&good[..107], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "invalid: not a valid `claude-oauth` value: expected exactly 108 characters, found 107 (a truncated copy?)\n"
    );
    let (code, out) = lint(&format!("{good}\n"), &["--exact"]);
    assert_eq!(code, 2, "{out}");
    for out in [&check.stdout, &check.stderr, &dry.stdout, &out] {
        assert_no_substring(
            &out.replace("sk-ant-oat01-", ""),
            &good["sk-ant-oat01-".len()..],
        );
    }
}

/// The replaced system's scenario: primary and two spares, where spare-2 was filled with
/// primary's token by mistake.
#[test]
fn a_spare_holding_the_primarys_token_is_found_and_the_pool_alerts_pass_promtool() {
    let s = Scratch::new();
    let primary = claude_token(1, 108);
    let spare1 = claude_token(2, 108);
    s.write("secrets/primary", &primary);
    s.write("secrets/spare-1", &spare1);
    s.write("secrets/spare-2", &primary);
    let config = s.write(
        "credwatch.toml",
        r#"
[pushgateway]
url = "http://127.0.0.1:9"

[defaults]
pool_warn_before = "60d"

[[credential]]
name = "primary"
pool = "agent-oauth"
minted_at = "2026-04-18T16:07:09Z"
file = "secrets/primary"
format = "claude-oauth"

[[credential]]
name = "spare-1"
pool = "agent-oauth"
minted_at = "2026-04-18T16:09:41Z"
file = "secrets/spare-1"
format = "claude-oauth"

[[credential]]
name = "spare-2"
pool = "agent-oauth"
minted_at = "2026-10-01T00:00:00Z"
file = "secrets/spare-2"
format = "claude-oauth"
"#,
    );
    let check = run(&config, &["check", "--now", NOW]);
    check.assert_code(0);
    assert!(
        check.stdout.contains(
            "    spare-2 is the same token as primary: the pool has 2 distinct credentials, not 3\n"
        ),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains(
            "    spare-1 expires within 7d of primary: it adds less than that to the runway\n"
        ),
        "{}",
        check.stdout
    );
    // spare-2 claims a later mint time, but it is primary's token: the runway ends with spare-1.
    assert!(
        check.stdout.contains(
            "  agent-oauth: 3 members, 2 distinct, runway 139.6 days (until 2027-04-18 16:09)\n"
        ),
        "{}",
        check.stdout
    );
    let fp = |name: &str| {
        check
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(fp("primary"), fp("spare-2"));
    assert_ne!(fp("primary"), fp("spare-1"));
    assert!(fp("primary").starts_with("sha256:"));

    let doc = json(&run(&config, &["check", "--now", NOW, "-o", "json"]));
    assert_eq!(doc["pools"][0]["distinct"], 2);
    assert_eq!(
        doc["pools"][0]["duplicates"][0],
        serde_json::json!({"member": "spare-2", "same_as": "primary"})
    );

    let dry = run(&config, &["push", "--dry-run", "--now", NOW]);
    dry.assert_code(0);
    for line in [
        "credwatch_pool_members{pool=\"agent-oauth\"} 3\n",
        "credwatch_pool_distinct_credentials{pool=\"agent-oauth\"} 2\n",
        "credwatch_pool_runway_expiry_timestamp_seconds{pool=\"agent-oauth\"} 1808064581\n",
        "credwatch_pool_runway_warn_before_seconds{pool=\"agent-oauth\"} 5184000\n",
    ] {
        assert!(dry.stdout.contains(line), "missing {line}{}", dry.stdout);
    }

    // The rendered rules (pool duplicate and runway alerts included) pass their promtool tests.
    let rules = run(&config, &["render", "rules"]);
    let tests = run(
        &config,
        &["render", "rule-tests", "--rule-file", "rules.yml"],
    );
    std::fs::write(s.path("rules.yml"), &rules.stdout).unwrap();
    std::fs::write(s.path("rules.test.yml"), &tests.stdout).unwrap();
    assert!(
        rules.stdout.contains("alert: CredwatchPoolDuplicate\n")
            && rules.stdout.contains("alert: CredwatchPoolRunwayLow\n")
    );
    let (ok, out) = promtool(s.dir.path(), &["test", "rules", "rules.test.yml"]);
    assert!(ok, "{out}");

    // With a fingerprint key, fingerprints are keyed HMACs and still find the copy.
    let keyed = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .env("CREDWATCH_FINGERPRINT_KEY", "a-fingerprint-key-for-tests")
        .args(["check", "--now", NOW])
        .run();
    assert!(keyed.stdout.contains("hmac-sha256:"), "{}", keyed.stdout);
    assert!(
        keyed
            .stdout
            .contains("spare-2 is the same token as primary")
    );

    for out in [&check.stdout, &check.stderr, &dry.stdout, &keyed.stdout] {
        for token in [&primary, &spare1] {
            assert_no_substring(
                &out.replace("sk-ant-oat01-", ""),
                &token["sk-ant-oat01-".len()..],
            );
        }
    }
}

#[test]
fn unreadable_values_are_unknown_with_a_reason_and_hide_nothing() {
    let s = Scratch::new();
    s.write("empty", "\n");
    let config = s.write(
        "credwatch.toml",
        r#"
[[credential]]
name = "missing-file"
minted_at = 1776528429
file = "does/not/exist"
format = "claude-oauth"

[[credential]]
name = "missing-env"
env = "CREDWATCH_TEST_UNSET_VARIABLE"

[[credential]]
name = "empty"
file = "empty"

[[credential]]
name = "declared"
expires_at = "2027-06-01T00:00:00Z"
"#,
    );
    let doc = json(&run(&config, &["check", "--now", NOW, "-o", "json"]));
    assert!(
        credential(&doc, "missing-file")["error"]
            .as_str()
            .unwrap()
            .contains("cannot read file")
    );
    assert!(
        credential(&doc, "missing-env")["error"]
            .as_str()
            .unwrap()
            .contains("environment variable `CREDWATCH_TEST_UNSET_VARIABLE` is not set")
    );
    assert!(
        credential(&doc, "empty")["error"]
            .as_str()
            .unwrap()
            .ends_with("is empty")
    );
    assert_eq!(credential(&doc, "declared")["status"], "OK");
    assert_eq!(doc["status"], "UNKNOWN");
}

/// The value of `credwatch_credential_expiry_timestamp_seconds` for `name` in a dry-run push.
fn expiry_series(pushed: &Run, name: &str) -> Option<String> {
    let needle = format!("{{credential=\"{name}\",");
    pushed
        .stdout
        .lines()
        .filter(|l| l.starts_with("credwatch_credential_expiry_timestamp_seconds{"))
        .find(|l| l.contains(&needle))
        .and_then(|l| l.rsplit(' ').next())
        .map(str::to_string)
}

#[test]
fn times_at_the_edges_are_reported_as_their_parsers_read_them() {
    let s = Scratch::new();
    let self_signed = |cn: &str, from, until| {
        let key = KeyPair::generate().unwrap();
        cert_params(cn, 0x01, from, until)
            .self_signed(&key)
            .unwrap()
    };
    // PKITS `Validpre2000UTCnotBeforeDateTest3EE`: notBefore 1950 (UTCTime), notAfter 2030.
    s.write(
        "pre1970-before.pem",
        &self_signed("pre", (1950, 1, 1), (2030, 1, 1)).pem(),
    );
    s.write(
        "pre1970-after.pem",
        &self_signed("gone", (1950, 1, 1), (1960, 1, 1)).pem(),
    );
    s.write(
        "epoch-after.pem",
        &self_signed("epoch", (1969, 1, 1), (1970, 1, 1)).pem(),
    );
    s.write(
        "forever.pem",
        &self_signed("forever", (2026, 1, 1), (9999, 12, 31)).pem(),
    );
    s.write("exp-zero.jwt", &jwt(r#"{"exp":0}"#));
    s.write("exp-negative.jwt", &jwt(r#"{"exp":-631152000}"#));
    // The last second of 9999, the same instant as the certificate's `99991231235959Z`.
    s.write("exp-9999.jwt", &jwt(r#"{"exp":253402300799}"#));
    s.write(
        "empty-header.jwt",
        &format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode(r#"{"exp":1800000000}"#)
        ),
    );
    let jwe_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
    s.write(
        "encrypted.jwe",
        &format!("{jwe_header}.a2V5.aXY.Y2lwaGVydGV4dA.dGFn"),
    );
    let mut config = String::new();
    for (name, file) in [
        ("pre-before", "pre1970-before.pem"),
        ("pre-after", "pre1970-after.pem"),
        ("epoch-after", "epoch-after.pem"),
        ("forever-cert", "forever.pem"),
        ("exp-zero", "exp-zero.jwt"),
        ("exp-negative", "exp-negative.jwt"),
        ("exp-9999", "exp-9999.jwt"),
        ("empty-header", "empty-header.jwt"),
        ("encrypted", "encrypted.jwe"),
    ] {
        config.push_str(&format!(
            "[[credential]]\nname = \"{name}\"\nfile = \"{file}\"\n\n"
        ));
    }
    let config = s.write("credwatch.toml", &config);
    let run = run(&config, &["check", "--now", NOW, "-o", "json"]);
    let doc = json(&run);
    run.assert_code(2);
    let status = |name: &str| credential(&doc, name)["status"].clone();

    let pre = credential(&doc, "pre-before");
    assert_eq!(pre["status"], "OK", "{pre}");
    assert_eq!(pre["minted_at"], "1950-01-01T00:00:00Z");
    assert_eq!(pre["expires_at"], "2030-01-01T00:00:00Z");
    for name in ["pre-after", "epoch-after", "exp-zero", "exp-negative"] {
        assert_eq!(
            status(name),
            "EXPIRED",
            "{name}: {}",
            credential(&doc, name)
        );
        // At or before 1970: carried as one second after it, never as 0.
        assert_eq!(credential(&doc, name)["expires_at_unix"], 1, "{name}");
    }
    assert_eq!(
        credential(&doc, "exp-9999")["expires_at_unix"],
        credential(&doc, "forever-cert")["expires_at_unix"],
        "a JWT and a certificate ending in the last second of 9999 agree"
    );
    assert_eq!(status("exp-9999"), "OK");
    let empty = credential(&doc, "empty-header");
    assert_eq!(empty["kind"], "jwt_exp", "{empty}");
    assert_eq!(empty["expires_at_unix"], 1_800_000_000);
    let jwe = credential(&doc, "encrypted");
    assert_eq!(jwe["status"], "UNKNOWN");
    let reason = jwe["error"].as_str().unwrap();
    assert!(
        reason.contains("this is an encrypted JWT (JWE); its claims cannot be read"),
        "{reason}"
    );
    assert!(!reason.contains("certificate"), "{reason}");

    let pushed = run_push_dry(&config);
    for name in ["pre-after", "epoch-after", "exp-zero", "exp-negative"] {
        assert_eq!(expiry_series(&pushed, name).as_deref(), Some("1"), "{name}");
    }
    assert_eq!(
        expiry_series(&pushed, "pre-before").as_deref(),
        Some("1893456000")
    );
    let every_expiry = pushed
        .stdout
        .lines()
        .filter(|l| l.starts_with("credwatch_credential_expiry_timestamp_seconds{"));
    for line in every_expiry {
        assert!(!line.ends_with(" 0"), "{line}");
    }
}

/// A JWT's `nbf` is its start of validity, as a certificate's `notBefore` is: the not-before
/// series carries it (and `NotYetValid` fires from it), whatever the token's mint time.
#[test]
fn a_jwts_nbf_is_exported_as_its_start_of_validity() {
    let s = Scratch::new();
    s.write(
        "later.jwt",
        &jwt(r#"{"iat":1767225600,"nbf":1893456000,"exp":1924992000}"#),
    );
    s.write("plain.jwt", &jwt(r#"{"iat":1767225600,"exp":1924992000}"#));
    let config = s.write(
        "credwatch.toml",
        "[pushgateway]\nurl = \"http://127.0.0.1:9\"\n\n\
         [[credential]]\nname = \"later\"\nfile = \"later.jwt\"\n\n\
         [[credential]]\nname = \"plain\"\nfile = \"plain.jwt\"\n",
    );
    let run = run(&config, &["push", "--dry-run", "--now", NOW]);
    run.assert_code(0);
    let series: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("credwatch_credential_not_before_timestamp_seconds{"))
        .collect();
    assert_eq!(series.len(), 1, "{}", run.stdout);
    assert!(series[0].contains("credential=\"later\""), "{series:?}");
    assert!(series[0].ends_with(" 1893456000"), "{series:?}");
}
