//! `kind = "vault-approle"` against a real OpenBao dev server: several roles and secret-ids with
//! and without TTLs, a destroyed one, metadata as labels, and the rendered least-privilege policy
//! proven with a token holding only it (no `default` policy).

use serde_json::json;

use crate::cases::vault_source::{credential, cw, json_of};
use crate::support::Scratch;
use crate::support::openbao::OpenBao;

/// A secret-id of `role` (with optional `ttl` and metadata); returns its accessor.
fn secret_id(bao: &OpenBao, role: &str, body: serde_json::Value) -> String {
    let answer = bao.api(
        "POST",
        &format!("auth/approle/role/{role}/secret-id"),
        Some(body),
    );
    answer["data"]["secret_id_accessor"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The unix second of an RFC 3339 time as Vault prints it (fractions dropped).
fn unix(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_second()
}

#[test]
fn approle_secret_ids_are_watched_under_exactly_the_rendered_policy() {
    let bao = OpenBao::start();
    bao.enable_auth("approle", "approle");
    bao.api(
        "POST",
        "auth/approle/role/eso",
        Some(json!({ "secret_id_ttl": "240h" })),
    );
    bao.api("POST", "auth/approle/role/ci", Some(json!({})));
    bao.api("POST", "auth/approle/role/idle", Some(json!({})));
    let eso_a = secret_id(&bao, "eso", json!({ "metadata": "{\"app\":\"eso-prod\"}" }));
    let eso_b = secret_id(&bao, "eso", json!({ "ttl": "72h", "num_uses": 5 }));
    let ci = secret_id(&bao, "ci", json!({}));
    let gone = secret_id(&bao, "ci", json!({}));
    bao.api(
        "POST",
        "auth/approle/role/ci/secret-id-accessor/destroy",
        Some(json!({ "secret_id_accessor": gone })),
    );
    let truth = |role: &str, accessor: &str| {
        bao.api(
            "POST",
            &format!("auth/approle/role/{role}/secret-id-accessor/lookup"),
            Some(json!({ "secret_id_accessor": accessor })),
        )["data"]
            .clone()
    };

    let s = Scratch::new();
    let all = s.write(
        "all.toml",
        r#"
[pushgateway]
url = "http://127.0.0.1:9"

[[source]]
kind = "vault-approle"
metadata_labels = ["app"]
labels = { team = "platform" }
"#,
    );
    let named = s.write(
        "named.toml",
        r#"
[[source]]
kind = "vault-approle"
name = "eso-store"
roles = ["eso"]
"#,
    );

    // The rendered policy: listing roles only when none are named; no secret-id is read.
    let policy = cw(&all, &bao, &bao.root_token, &["render", "vault-policy"]);
    policy.assert_code(0);
    assert!(
        policy.stdout.ends_with(
            "\n# source `vault-approle` (AppRole secret-ids at `auth/approle`)\n\
             path \"auth/approle/role\" {\n  capabilities = [\"list\"]\n}\n\
             path \"auth/approle/role/+/secret-id\" {\n  capabilities = [\"list\"]\n}\n\
             path \"auth/approle/role/+/secret-id-accessor/lookup\" {\n  capabilities = [\"update\"]\n}\n"
        ),
        "{}",
        policy.stdout
    );
    bao.write_policy("credwatch-approle", &policy.stdout);
    let token = bao.create_token(&["credwatch-approle"]);
    let self_lookup = bao.request(Some(&token), "GET", "auth/token/lookup-self", None);
    assert_eq!(self_lookup.0, 403, "the token holds no default policy");

    let run = cw(&all, &bao, &token, &["check", "-o", "json"]);
    run.assert_code(2);
    let doc = json_of(&run);
    let creds = doc["credentials"].as_array().unwrap();
    let mut names: Vec<&str> = creds.iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort();
    let mut want = vec![
        format!("ci/{ci}"),
        format!("eso/{eso_a}"),
        format!("eso/{eso_b}"),
    ];
    want.sort();
    assert_eq!(
        names, want,
        "the destroyed secret-id is gone, `idle` has none"
    );
    let find = |name: String| creds.iter().find(|c| c["name"] == name).unwrap().clone();

    let a = find(format!("eso/{eso_a}"));
    let a_truth = truth("eso", &eso_a);
    assert_eq!(a["kind"], "approle_expiration_time");
    assert_eq!(a["status"], "WARNING", "{a}");
    assert_eq!(
        a["expires_at_unix"],
        unix(a_truth["expiration_time"].as_str().unwrap())
    );
    assert_eq!(
        a["minted_at_unix"],
        unix(a_truth["creation_time"].as_str().unwrap())
    );
    assert_eq!(a["labels"]["app"], "eso-prod", "{a}");
    assert_eq!(a["labels"]["team"], "platform", "{a}");
    let b = find(format!("eso/{eso_b}"));
    assert_eq!(b["status"], "CRITICAL", "72h left: {b}");
    assert_eq!(
        b["expires_at_unix"],
        unix(truth("eso", &eso_b)["expiration_time"].as_str().unwrap())
    );
    assert_eq!(
        b["subject"],
        "approle secret-id of role `eso`, 5 logins left"
    );
    let c = find(format!("ci/{ci}"));
    assert_eq!(truth("ci", &ci)["expiration_time"], "0001-01-01T00:00:00Z");
    assert_eq!(c["status"], "NO EXPIRY", "{c}");
    assert_eq!(c["expires_at"], serde_json::Value::Null);

    // credwatch's login token never shows (secret-ids it never reads: it goes by accessor).
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(&token), "the login token leaked:\n{text}");
    }
    // The series: issuer-known expiries with their kind and metadata labels; none for `ci`.
    let push = cw(&all, &bao, &token, &["push", "--dry-run"]);
    push.assert_code(0);
    let expiry_lines: Vec<&str> = push
        .stdout
        .lines()
        .filter(|l| l.starts_with("credwatch_credential_expiry_timestamp_seconds{"))
        .collect();
    assert_eq!(expiry_lines.len(), 2, "{}", push.stdout);
    assert!(
        expiry_lines
            .iter()
            .any(|l| l.contains(&format!("credential=\"eso/{eso_a}\""))
                && l.contains("kind=\"approle_expiration_time\"")
                && l.contains("app=\"eso-prod\"")),
        "{}",
        push.stdout
    );

    // Named roles: no listing of roles in the policy, and a token holding only that policy
    // cannot watch every role (the listing is denied: the source is down, exit 3).
    let narrow = cw(&named, &bao, &bao.root_token, &["render", "vault-policy"]);
    narrow.assert_code(0);
    assert!(
        !narrow.stdout.contains("\"auth/approle/role\""),
        "{}",
        narrow.stdout
    );
    assert!(
        narrow
            .stdout
            .contains("path \"auth/approle/role/eso/secret-id\""),
        "{}",
        narrow.stdout
    );
    bao.write_policy("credwatch-eso", &narrow.stdout);
    let eso_token = bao.create_token(&["credwatch-eso"]);
    let run = cw(&named, &bao, &eso_token, &["check", "-o", "json"]);
    run.assert_code(2);
    let doc = json_of(&run);
    assert_eq!(doc["credentials"].as_array().unwrap().len(), 2, "{doc}");
    let denied = cw(&all, &bao, &eso_token, &["check", "-o", "json"]);
    denied.assert_code(3);
    assert!(
        denied.stdout.contains("denied") || denied.stderr.contains("denied"),
        "{}\n{}",
        denied.stdout,
        denied.stderr
    );
    // A role that does not exist is the source's error, with Vault's reason.
    let missing = s.write(
        "missing.toml",
        "[[source]]\nkind = \"vault-approle\"\nroles = [\"nope\"]\n",
    );
    let run = cw(&missing, &bao, &bao.root_token, &["check"]);
    run.assert_code(3);
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("role \"nope\" does not exist"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn tokens_known_by_accessor_are_watched_without_their_value_under_the_rendered_policy() {
    let bao = OpenBao::start();
    let create = |body| bao.create_token_with(body);
    let (_, eso) = create(json!({ "ttl": "1000h", "renewable": false }));
    let (_, renewable) = create(json!({ "ttl": "72h", "explicit_max_ttl": "240h" }));
    let (revoked_token, revoked) = create(json!({ "ttl": "1000h" }));
    bao.api(
        "POST",
        "auth/token/revoke",
        Some(json!({ "token": revoked_token })),
    );
    let root = bao
        .request(Some(&bao.root_token), "GET", "auth/token/lookup-self", None)
        .1;
    let root_accessor = root["data"]["accessor"].as_str().unwrap().to_string();

    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        &format!(
            "[pushgateway]\nurl = \"http://127.0.0.1:9\"\n\n[[source]]\nkind = \"vault-token\"\naccessors = {{ eso = \"{eso}\", renewable = \"{renewable}\", revoked = \"{revoked}\", root = \"{root_accessor}\" }}\n"
        ),
    );
    let policy = cw(&config, &bao, &bao.root_token, &["render", "vault-policy"]);
    policy.assert_code(0);
    assert!(
        policy.stdout.ends_with(
            "# source `vault-token` (tokens looked up by accessor)\npath \"auth/token/lookup-accessor\" {\n  capabilities = [\"update\"]\n}\n"
        ),
        "{}",
        policy.stdout
    );
    bao.write_policy("credwatch-tokens", &policy.stdout);
    let token = bao.create_token(&["credwatch-tokens"]);
    let run = cw(&config, &bao, &token, &["check", "-o", "json"]);
    run.assert_code(2);
    let doc = json_of(&run);
    let row = |n: &str| credential(&doc, n).clone();
    let truth = |a: &str| {
        bao.api(
            "POST",
            "auth/token/lookup-accessor",
            Some(json!({ "accessor": a })),
        )["data"]
            .clone()
    };
    let e = row("eso");
    assert_eq!(e["status"], "OK", "{e}");
    assert_eq!(e["kind"], "vault_token_expire_time");
    assert_eq!(
        e["expires_at_unix"],
        unix(truth(&eso)["expire_time"].as_str().unwrap())
    );
    let r = row("renewable");
    assert_eq!(r["status"], "CRITICAL", "{r}");
    assert!(
        r["subject"]
            .as_str()
            .unwrap()
            .starts_with("renewable, but dies at its max TTL "),
        "{r}"
    );
    assert_eq!(row("revoked")["status"], "REVOKED");
    assert_eq!(row("root")["status"], "NO EXPIRY");
    // The series say the same: the revoked token is a rejection, for the CredentialRejected alert.
    let push = cw(&config, &bao, &token, &["push", "--dry-run"]);
    assert!(
        push.stdout.contains(
            "credwatch_credential_probe_rejected{credential=\"revoked\",probe=\"vault-token-accessor\"} 1"
        ),
        "{}",
        push.stdout
    );
    for text in [&run.stdout, &run.stderr, &push.stdout, &push.stderr] {
        assert!(
            !text.contains(&token) && !text.contains(&revoked_token),
            "a token leaked:\n{text}"
        );
    }
    let rules = cw(&config, &bao, &token, &["render", "rules"]);
    assert!(rules.stdout.contains("alert: CredwatchCredentialRejected"));
}
