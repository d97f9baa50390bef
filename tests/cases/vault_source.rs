//! credwatch with a real OpenBao dev server: discovery and metadata, least privilege, logins,
//! outages (with the inventory still reporting and the push carrying the last known expiry),
//! and rotation with check-and-set.

use serde_json::json;

use crate::cases::values::{assert_no_substring, claude_token};
use crate::support::openbao::OpenBao;
use crate::support::{Credwatch, Pushgateway, Run, Scratch, free_port};

const NOW: &str = "2026-11-30T00:00:00Z";

pub fn cw(config: &std::path::Path, bao: &OpenBao, token: &str, args: &[&str]) -> Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .env("VAULT_ADDR", &bao.url)
        .env("VAULT_TOKEN", token)
        .args(args)
        .run()
}

pub fn json_of(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

pub fn credential<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no credential {name} in {doc:#}"))
}

/// primary and spares under `agents/`, a CI key outside it, and secrets whose current version
/// is deleted or destroyed.
fn seed(bao: &OpenBao, primary: &str, spare: &str) {
    bao.write_secret(
        "agents/primary",
        json!({ "oauth_token": primary, "note": "keep me" }),
    );
    bao.write_custom_metadata(
        "agents/primary",
        json!({ "minted_at": "2026-04-18T16:07:09Z", "owner": "platform" }),
    );
    bao.write_secret("agents/team/spare-1", json!({ "oauth_token": spare }));
    bao.write_custom_metadata(
        "agents/team/spare-1",
        json!({ "expires_at": "2026-12-20T00:00:00Z" }),
    );
    bao.write_secret("agents/spare-2", json!({ "oauth_token": primary }));
    bao.write_secret("agents/old-1", json!({ "oauth_token": "x" }));
    bao.write_secret("ci/deploy-key", json!({ "key": "y" }));
    bao.write_custom_metadata("ci/deploy-key", json!({ "expires_at": "1808064429" }));
    bao.write_secret("gone/deleted", json!({ "k": "v" }));
    bao.api("DELETE", "secret/data/gone/deleted", None);
    bao.write_secret("gone/destroyed", json!({ "k": "v" }));
    bao.api(
        "POST",
        "secret/destroy/gone/destroyed",
        Some(json!({ "versions": [1] })),
    );
}

const CONFIG: &str = r#"
[[source]]
kind = "vault"
prefix = "agents"
exclude = ["agents/old-*"]
paths = ["ci/deploy-key", "gone/deleted", "gone/destroyed"]
pool = "agent-oauth"

[[credential]]
name = "spare-1-token"
pool = "agent-oauth"
vault = { path = "agents/team/spare-1", field = "oauth_token" }
format = "claude-oauth"

[[credential]]
name = "pat"
expires_at = "2027-06-01T00:00:00Z"
"#;

#[test]
fn expiries_come_from_metadata_and_a_policy_token_reads_nothing_more() {
    let bao = OpenBao::start();
    let (primary, spare) = (claude_token(21, 108), claude_token(22, 108));
    seed(&bao, &primary, &spare);
    let s = Scratch::new();
    let config = s.write("credwatch.toml", CONFIG);

    let root = cw(
        &config,
        &bao,
        &bao.root_token,
        &["check", "--now", NOW, "-o", "json"],
    );
    let doc = json_of(&root);
    // Discovered under the prefix, old-* excluded, the explicit paths added.
    let names: Vec<&str> = doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "agents/primary",
        "agents/team/spare-1",
        "agents/spare-2",
        "ci/deploy-key",
        "gone/deleted",
        "gone/destroyed",
        "spare-1-token",
        "pat",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(!names.contains(&"agents/old-1"));
    let p = credential(&doc, "agents/primary");
    assert_eq!(p["expires_at"], "2027-04-18T16:07:09Z");
    assert_eq!(p["kind"], "minted_at_plus_ttl");
    assert_eq!(p["source"], "vault");
    assert_eq!(p["pool"], "agent-oauth");
    let s1 = credential(&doc, "agents/team/spare-1");
    assert_eq!(
        (s1["expires_at"].as_str(), s1["status"].as_str()),
        (Some("2026-12-20T00:00:00Z"), Some("WARNING"))
    );
    let s2 = credential(&doc, "agents/spare-2");
    assert_eq!(s2["kind"], "version_created_plus_ttl");
    assert_eq!(
        credential(&doc, "ci/deploy-key")["expires_at_unix"],
        1_808_064_429
    );
    // Deleted just now (real time): only a run at the real time sees the deletion.
    let real = json_of(&cw(
        &config,
        &bao,
        &bao.root_token,
        &["check", "-o", "json"],
    ));
    let deleted = credential(&real, "gone/deleted");
    assert_eq!(deleted["status"], "UNKNOWN");
    assert!(
        deleted["error"]
            .as_str()
            .unwrap()
            .contains("current version 1 was deleted"),
        "{deleted}"
    );
    let destroyed = credential(&doc, "gone/destroyed");
    assert!(
        destroyed["error"]
            .as_str()
            .unwrap()
            .contains("current version 1 is destroyed"),
        "{destroyed}"
    );
    // The inventory credential whose value is in Vault: read, format-checked, fingerprinted.
    let t = credential(&doc, "spare-1-token");
    assert_eq!(t["expires_at"], "2026-12-20T00:00:00Z");
    assert_eq!(t["format"]["ok"], true);
    assert!(t["fingerprint"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(credential(&doc, "pat")["status"], "OK");

    // A token holding only the rendered policy reads all of that...
    let policy = cw(&config, &bao, &bao.root_token, &["render", "vault-policy"]);
    policy.assert_code(0);
    assert!(
        policy.stdout.contains(
            "path \"secret/metadata/agents/*\" {\n  capabilities = [\"read\", \"list\"]\n}"
        ),
        "{}",
        policy.stdout
    );
    assert!(
        policy
            .stdout
            .contains("path \"secret/data/agents/team/spare-1\" {\n  capabilities = [\"read\"]\n}"),
        "{}",
        policy.stdout
    );
    assert!(
        policy.stdout.contains(
            "path \"secret/detailed-metadata/agents/*\" {\n  capabilities = [\"list\"]\n}"
        ),
        "{}",
        policy.stdout
    );
    bao.write_policy("credwatch", &policy.stdout);
    let token = bao.create_token(&["credwatch"]);
    let limited = cw(
        &config,
        &bao,
        &token,
        &["check", "--now", NOW, "-o", "json"],
    );
    let limited_doc = json_of(&limited);
    assert_eq!(
        limited_doc["credentials"], doc["credentials"],
        "the policy token sees what root sees"
    );
    assert_eq!(limited_doc["sources"], doc["sources"]);
    // ...and nothing more: no data it does not need, no other folder.
    for (path, wanted) in [
        ("secret/data/agents/team/spare-1", 200),
        ("secret/data/agents/primary", 403),
        ("secret/data/ci/deploy-key", 403),
        ("secret/metadata/other", 403),
    ] {
        let (status, _) = bao.request(Some(&token), "GET", path, None);
        assert_eq!(status, wanted, "{path}");
    }
    for out in [
        &root.stdout,
        &root.stderr,
        &limited.stdout,
        &limited.stderr,
        &policy.stdout,
    ] {
        assert_no_substring(
            &out.replace("sk-ant-oat01-", ""),
            &spare["sk-ant-oat01-".len()..],
        );
        assert_no_substring(
            &out.replace("sk-ant-oat01-", ""),
            &primary["sk-ant-oat01-".len()..],
        );
        assert_no_substring(out, &bao.root_token);
    }
}

/// How many of `requests` (from the audit device) read one secret's metadata under `fleet/`, and
/// how many list `fleet/` with the metadata.
fn metadata_requests(requests: &[(String, String)]) -> (usize, usize) {
    let reads = requests
        .iter()
        .filter(|(op, path)| op == "read" && path.starts_with("secret/metadata/fleet/"))
        .count();
    let detailed = requests
        .iter()
        .filter(|(op, path)| op == "list" && path.starts_with("secret/detailed-metadata/fleet/"))
        .count();
    (reads, detailed)
}

#[test]
fn openbao_lists_the_metadata_a_page_at_a_time_and_an_older_policy_still_works() {
    let bao = OpenBao::start_audited();
    for i in 0..30 {
        let path = format!("fleet/f{}/s{i:02}", i % 3);
        bao.write_secret(&path, json!({ "token": "value" }));
        bao.write_custom_metadata(
            &path,
            json!({ "expires_at": format!("2030-01-{:02}T00:00:00Z", i + 1) }),
        );
    }
    bao.write_secret("fleet/f0/s00", json!({ "token": "value-2" }));
    bao.api("DELETE", "secret/data/fleet/f0/s00", None);
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\nprefix = \"fleet\"\nretries = 0\n",
    );
    // A fixed time after the deletion (which happens now) and before the expiries, so that the
    // reports of the three runs are the same to the second.
    let check = ["-v", "check", "--now", "2029-01-01T00:00:00Z", "-o", "json"];
    let policy = cw(&config, &bao, &bao.root_token, &["render", "vault-policy"]);
    policy.assert_code(0);
    bao.write_policy("rendered", &policy.stdout);
    // What credwatch's policy granted before it listed the metadata with the keys.
    bao.write_policy(
        "older",
        "path \"secret/metadata/fleet*\" { capabilities = [\"read\", \"list\"] }",
    );
    let mut docs = Vec::new();
    for (token, reads, listings) in [
        // One detailed listing per folder (the prefix and its three), no read per secret.
        (bao.root_token.clone(), 0, 4),
        (bao.create_token(&["rendered"]), 0, 4),
        // Denied (asked twice: a denial may be a policy's page cap, which `limit=max` gets
        // past), then listed plainly and read one by one.
        (bao.create_token(&["older"]), 30, 2),
    ] {
        let before = bao.audited_requests().len();
        let run = cw(&config, &bao, &token, &check);
        let after = bao.audited_requests();
        assert_eq!(
            metadata_requests(&after[before..]),
            (reads, listings),
            "{:?}\n{}",
            &after[before..],
            run.stderr
        );
        let doc = json_of(&run);
        assert_eq!(doc["credentials"].as_array().unwrap().len(), 30, "{doc:#}");
        // A denial says how to get the detailed listing back.
        let hint = "grant `list` on `secret/detailed-metadata/...`";
        assert_eq!(run.stderr.contains(hint), reads > 0, "{}", run.stderr);
        docs.push(doc);
    }
    let first = &docs[0];
    assert_eq!(
        credential(first, "fleet/f1/s01")["expires_at"],
        "2030-01-02T00:00:00Z"
    );
    let deleted = credential(first, "fleet/f0/s00");
    assert_eq!(deleted["status"], "UNKNOWN", "{deleted}");
    assert!(
        deleted["error"]
            .as_str()
            .unwrap()
            .contains("current version 2 was deleted"),
        "{deleted}"
    );
    for doc in &docs[1..] {
        assert_eq!(doc["credentials"], first["credentials"]);
        assert_eq!(doc["sources"], first["sources"]);
    }
}

#[test]
fn approle_login_works_and_outages_are_per_source() {
    let bao = OpenBao::start();
    bao.write_secret("agents/primary", json!({ "oauth_token": "a" }));
    bao.write_custom_metadata(
        "agents/primary",
        json!({ "minted_at": "2026-04-18T16:07:09Z" }),
    );
    bao.write_policy(
        "reader",
        "path \"secret/metadata/*\" { capabilities = [\"read\", \"list\"] }",
    );
    bao.enable_auth("approle", "approle");
    bao.api(
        "POST",
        "auth/approle/role/credwatch",
        Some(json!({ "token_policies": ["reader"] })),
    );
    let role_id = bao.api("GET", "auth/approle/role/credwatch/role-id", None)["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret_id =
        bao.api("POST", "auth/approle/role/credwatch/secret-id", None)["data"]["secret_id"]
            .as_str()
            .unwrap()
            .to_string();
    let s = Scratch::new();
    s.write("secret-id", &secret_id);
    let config = s.write(
        "credwatch.toml",
        &format!(
            "[[source]]\nkind = \"vault\"\nprefix = \"agents\"\nretries = 0\ntimeout = \"2s\"\n\
             auth = {{ method = \"approle\", role_id = \"{role_id}\", secret_id_file = \"secret-id\" }}\n\
             [[credential]]\nname = \"pat\"\nexpires_at = \"2027-06-01T00:00:00Z\"\n"
        ),
    );
    let tokens = || {
        bao.api("LIST", "auth/token/accessors", None)["data"]["keys"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let before = tokens();
    let ok = cw(&config, &bao, "", &["check", "--now", NOW, "-o", "json"]);
    // The run logged in, and revoked its token on the way out.
    assert_eq!(tokens(), before, "the run left a live login token behind");
    ok.assert_code(0);
    assert_eq!(
        credential(&json_of(&ok), "agents/primary")["expires_at"],
        "2027-04-18T16:07:09Z"
    );
    assert_no_substring(&(ok.stdout.clone() + &ok.stderr), &secret_id);

    // A wrong secret-id: denied, the vault source is down, the inventory still reports.
    s.write("secret-id", "00000000-0000-0000-0000-000000000000");
    let denied = cw(&config, &bao, "", &["check", "--now", NOW, "-o", "json"]);
    denied.assert_code(3);
    let doc = json_of(&denied);
    let vault = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "vault")
        .unwrap()
        .clone();
    assert_eq!(vault["up"], false);
    assert!(
        vault["error"]
            .as_str()
            .unwrap()
            .contains("cannot log in to Vault"),
        "{vault}"
    );
    assert_eq!(credential(&doc, "pat")["status"], "OK");

    // Sealed: 503 from every request.
    s.write("secret-id", &secret_id);
    bao.seal();
    let sealed = cw(&config, &bao, "", &["check", "--now", NOW, "-o", "json"]);
    sealed.assert_code(3);
    let doc = json_of(&sealed);
    let vault = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "vault")
        .unwrap()
        .clone();
    assert!(
        vault["error"].as_str().unwrap().contains("sealed"),
        "{vault}"
    );
    assert_eq!(credential(&doc, "pat")["status"], "OK");
}

#[test]
fn a_bad_token_or_an_unreachable_server_fails_only_the_vault_source() {
    let bao = OpenBao::start();
    bao.write_secret("agents/primary", json!({ "k": "v" }));
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\npaths = [\"agents/primary\"]\nretries = 0\ntimeout = \"2s\"\n\
         [[credential]]\nname = \"pat\"\nexpires_at = \"2027-06-01T00:00:00Z\"\n",
    );
    let bad = cw(
        &config,
        &bao,
        "not-a-valid-token",
        &["check", "--now", NOW, "-o", "json"],
    );
    bad.assert_code(3);
    let doc = json_of(&bad);
    let p = credential(&doc, "agents/primary");
    assert_eq!(p["status"], "UNKNOWN");
    assert!(
        p["error"].as_str().unwrap().contains("permission denied"),
        "{p}"
    );
    assert_eq!(credential(&doc, "pat")["status"], "OK");

    let unreachable = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .env("VAULT_ADDR", format!("http://127.0.0.1:{}", free_port()))
        .env("VAULT_TOKEN", "whatever")
        .args(["check", "--now", NOW, "-o", "json"])
        .run();
    unreachable.assert_code(3);
    let doc = json_of(&unreachable);
    assert!(
        credential(&doc, "agents/primary")["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{doc:#}"
    );
    assert_eq!(credential(&doc, "pat")["status"], "OK");
    assert!(unreachable.elapsed < std::time::Duration::from_secs(10));
}

#[test]
fn during_an_outage_push_keeps_the_last_known_expiry() {
    let bao = OpenBao::start();
    let pg = Pushgateway::start();
    bao.write_secret("agents/primary", json!({ "k": "v" }));
    bao.write_custom_metadata(
        "agents/primary",
        json!({ "expires_at": "2026-12-10T00:00:00Z" }),
    );
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        &format!(
            "[pushgateway]\nurl = \"{}\"\n[[source]]\nkind = \"vault\"\nprefix = \"agents\"\nretries = 0\ntimeout = \"2s\"\n\
             [[credential]]\nname = \"pat\"\nexpires_at = \"2027-06-01T00:00:00Z\"\n",
            pg.url
        ),
    );
    cw(&config, &bao, &bao.root_token, &["push", "--now", NOW]).assert_code(0);
    let job = "credwatch";
    let expiry = || {
        pg.value(
            job,
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            "agents/primary",
        )
    };
    assert_eq!(expiry().as_deref(), Some("1796860800"));

    bao.seal();
    let run = cw(
        &config,
        &bao,
        &bao.root_token,
        &["push", "--now", "2026-11-30T06:00:00Z"],
    );
    run.assert_code(3);
    assert_eq!(
        expiry().as_deref(),
        Some("1796860800"),
        "carried forward through the outage"
    );
    assert_eq!(
        pg.value(
            job,
            "credwatch_credential_read_ok",
            "credential",
            "agents/primary"
        )
        .as_deref(),
        Some("0")
    );
    assert_eq!(
        pg.value(job, "credwatch_source_up", "source", "vault")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        pg.value(job, "credwatch_source_error", "reason", "sealed")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        pg.series(job)["credwatch_last_success_timestamp_seconds"][0].1,
        "1795996800"
    );
    assert_eq!(
        pg.value(
            job,
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            "pat"
        )
        .as_deref(),
        Some("1811808000")
    );
}

#[test]
fn rotate_writes_with_check_and_set_keeps_other_fields_and_refuses_a_truncated_token() {
    let bao = OpenBao::start();
    let pg = Pushgateway::start();
    let (old, new, spare) = (
        claude_token(31, 108),
        claude_token(32, 108),
        claude_token(33, 108),
    );
    bao.write_secret("agent", json!({ "oauth_token": old, "note": "keep me" }));
    bao.write_custom_metadata(
        "agent",
        json!({ "minted_at": "2025-12-10T00:00:00Z", "owner": "platform" }),
    );
    bao.write_secret("agent-spare-1", json!({ "oauth_token": spare }));
    bao.write_custom_metadata(
        "agent-spare-1",
        json!({ "minted_at": "2026-10-01T00:00:00Z" }),
    );
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        &format!(
            "[pushgateway]\nurl = \"{}\"\n[[source]]\nkind = \"vault\"\npaths = []\nprefix = \"\"\n\
             [[credential]]\nname = \"primary\"\npool = \"agent\"\nvault = {{ path = \"agent\", field = \"oauth_token\" }}\nformat = \"claude-oauth\"\n\
             [[credential]]\nname = \"spare-1\"\npool = \"agent\"\nvault = {{ path = \"agent-spare-1\", field = \"oauth_token\" }}\nformat = \"claude-oauth\"\n",
            pg.url
        ),
    );
    // The rotation runs under the rendered rotate policy, nothing more.
    let policy = cw(
        &config,
        &bao,
        &bao.root_token,
        &["render", "vault-policy", "--for", "rotate"],
    );
    bao.write_policy("credwatch-rotate", &policy.stdout);
    let token = bao.create_token(&["credwatch-rotate"]);
    let rotate = |args: &[&str], stdin: &str| -> Run {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .args(args)
            .env("VAULT_ADDR", &bao.url)
            .env("VAULT_TOKEN", &token)
            .run_with_stdin(stdin)
    };
    let data = || bao.api("GET", "secret/data/agent", None)["data"].clone();

    // A truncated token is refused before anything is written.
    let refused = rotate(&["rotate", "primary"], &new[..107]);
    refused.assert_code(3);
    assert!(
        refused
            .stderr
            .contains("expected exactly 108 characters, found 107"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("nothing was written"));
    assert_eq!(data()["metadata"]["version"], 1);

    // Someone else writes between the operator's look (version 1) and the rotation:
    // check-and-set refuses, and their write stays.
    let theirs = claude_token(34, 108);
    bao.write_secret("agent", json!({ "oauth_token": theirs, "note": "keep me" }));
    let conflict = rotate(
        &["rotate", "primary", "--expect-version", "1", "--no-push"],
        &format!("{new}\n"),
    );
    conflict.assert_code(3);
    assert!(
        conflict.stderr.contains("check-and-set"),
        "{}",
        conflict.stderr
    );
    assert!(
        conflict.stderr.contains("nothing was written"),
        "{}",
        conflict.stderr
    );
    assert_eq!(data()["metadata"]["version"], 2);
    assert_eq!(data()["data"]["oauth_token"], theirs);

    // The real rotation: new value, other field kept, mint time recorded, pushed at once.
    let done = rotate(
        &["rotate", "primary", "--minted-at", "2026-11-30T12:00:00Z"],
        &format!("{new}\n"),
    );
    done.assert_code(0);
    assert!(
        done.stdout.contains("wrote version 3 of `secret/agent`"),
        "{}",
        done.stdout
    );
    assert_eq!(
        data()["data"],
        json!({ "oauth_token": new, "note": "keep me" })
    );
    let custom = bao.api("GET", "secret/metadata/agent", None)["data"]["custom_metadata"].clone();
    assert_eq!(custom["minted_at"], "2026-11-30T12:00:00Z");
    assert_eq!(custom["owner"], "platform");
    assert!(custom["rotated_by"].as_str().unwrap().contains("credwatch"));
    assert_eq!(
        pg.value(
            "credwatch",
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            "primary"
        )
        .as_deref(),
        Some("1827576000")
    );

    // Promote the spare: its value and its mint time.
    let promoted = rotate(&["rotate", "primary", "--from", "spare-1"], "");
    promoted.assert_code(0);
    assert_eq!(data()["data"]["oauth_token"], spare);
    let custom = bao.api("GET", "secret/metadata/agent", None)["data"]["custom_metadata"].clone();
    assert_eq!(custom["promoted_from"], "spare-1");
    assert_eq!(custom["minted_at"], "2026-10-01T00:00:00Z");
    // Now primary and spare-1 hold the same token, and check says so.
    let check = cw(&config, &bao, &bao.root_token, &["check", "--now", NOW]);
    assert!(
        check
            .stdout
            .contains("spare-1 is the same token as primary"),
        "{}",
        check.stdout
    );

    for run in [&refused, &conflict, &done, &promoted, &check] {
        for token in [&old, &new, &spare, &theirs] {
            let text = (run.stdout.clone() + &run.stderr).replace("sk-ant-oat01-", "");
            assert_no_substring(&text, &token["sk-ant-oat01-".len()..]);
        }
    }
}

#[test]
fn a_kubernetes_login_from_the_config_reads_the_source() {
    // The Kubernetes method needs a cluster to review tokens; it takes the JWT method's request
    // (`role` + `jwt`), so a JWT method mounted at `kubernetes` stands in for it.
    let bao = OpenBao::start();
    bao.write_secret("agents/primary", json!({ "k": "v" }));
    bao.write_custom_metadata(
        "agents/primary",
        json!({ "expires_at": "2027-01-15T00:00:00Z" }),
    );
    let key = crate::support::openbao::JwtKey::generate();
    crate::support::openbao::configure_jwt(&bao, "kubernetes", &key);
    let s = Scratch::new();
    let sa_token = key.sign(crate::support::openbao::claims());
    s.write("sa-token", &sa_token);
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\nprefix = \"agents\"\n\
         auth = { method = \"kubernetes\", role = \"credwatch\", token_file = \"sa-token\" }\n",
    );
    let run = cw(&config, &bao, "", &["check", "--now", NOW, "-o", "json"]);
    run.assert_code(0);
    assert_eq!(
        credential(&json_of(&run), "agents/primary")["expires_at"],
        "2027-01-15T00:00:00Z"
    );
    assert_no_substring(
        &(run.stdout.clone() + &run.stderr),
        sa_token.split('.').nth(2).unwrap(),
    );
}

#[test]
fn a_pool_kept_in_vault_finds_the_spare_that_is_a_copy_and_the_truncated_token() {
    let bao = OpenBao::start();
    let (primary, spare) = (claude_token(41, 108), claude_token(42, 108));
    bao.write_secret("agents/primary", json!({ "oauth_token": primary }));
    bao.write_secret("agents/spare-1", json!({ "oauth_token": spare }));
    bao.write_secret("agents/spare-2", json!({ "oauth_token": primary }));
    bao.write_secret("agents/spare-3", json!({ "oauth_token": &spare[..107] }));
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\nprefix = \"agents\"\npool = \"agent-oauth\"\n\
         field = \"oauth_token\"\nformat = \"claude-oauth\"\n",
    );
    // Under exactly the rendered policy, which now reads the values below the prefix.
    let policy = cw(&config, &bao, &bao.root_token, &["render", "vault-policy"]);
    assert!(
        policy
            .stdout
            .contains("path \"secret/data/agents/*\" {\n  capabilities = [\"read\"]\n}"),
        "{}",
        policy.stdout
    );
    assert!(
        policy.stdout.contains(
            "path \"secret/detailed-metadata/agents/*\" {\n  capabilities = [\"list\"]\n}"
        ),
        "{}",
        policy.stdout
    );
    bao.write_policy("credwatch", &policy.stdout);
    let token = bao.create_token(&["credwatch"]);
    let run = cw(&config, &bao, &token, &["check", "--now", NOW]);
    run.assert_code(2);
    assert!(
        run.stdout
            .contains("agents/spare-2 is the same token as agents/primary"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("agents/spare-3: not a valid `claude-oauth` value: expected exactly 108 characters, found 107"), "{}", run.stdout);
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("agents/spare-3 "))
        .unwrap();
    assert!(row.contains("INVALID"), "{row}");
    for token in [&primary, &spare] {
        assert_no_substring(
            &(run.stdout.clone() + &run.stderr).replace("sk-ant-oat01-", ""),
            &token["sk-ant-oat01-".len()..],
        );
    }
}

#[test]
fn rotating_a_vault_credential_that_states_minted_at_updates_both() {
    let bao = OpenBao::start();
    let (old, new) = (claude_token(61, 108), claude_token(62, 108));
    bao.write_secret("agent", json!({ "oauth_token": old }));
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\npaths = []\nprefix = \"none\"\n\
         [[credential]]\nname = \"primary\"\nminted_at = \"2025-12-10T00:00:00Z\"   # kept in the file\n\
         vault = { path = \"agent\", field = \"oauth_token\" }\nformat = \"claude-oauth\"\n",
    );
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["rotate", "primary", "--minted-at", "2026-11-30T12:00:00Z"])
        .env("VAULT_ADDR", &bao.url)
        .env("VAULT_TOKEN", &bao.root_token)
        .run_with_stdin(&new)
        .assert_code(0);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("minted_at = \"2026-11-30T12:00:00Z\"   # kept in the file"),
        "{text}"
    );
    let check = cw(
        &config,
        &bao,
        &bao.root_token,
        &["check", "--now", NOW, "-o", "json"],
    );
    assert_eq!(
        credential(&json_of(&check), "primary")["expires_at"],
        "2027-11-30T12:00:00Z"
    );
}

#[test]
fn the_policy_for_odd_secret_names_is_accepted_by_the_server_and_works() {
    let bao = OpenBao::start();
    let odd = "agents/q\"uote and back\\slash";
    bao.write_secret(odd, json!({ "k": "v" }));
    bao.write_custom_metadata(odd, json!({ "expires_at": "2027-01-15T00:00:00Z" }));
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\npaths = ['agents/q\"uote and back\\slash']\n",
    );
    let policy = cw(&config, &bao, &bao.root_token, &["render", "vault-policy"]);
    policy.assert_code(0);
    bao.write_policy("odd", &policy.stdout);
    let token = bao.create_token(&["odd"]);
    let run = cw(
        &config,
        &bao,
        &token,
        &["check", "--now", NOW, "-o", "json"],
    );
    run.assert_code(0);
    assert_eq!(
        credential(&json_of(&run), odd)["expires_at"],
        "2027-01-15T00:00:00Z"
    );
}
