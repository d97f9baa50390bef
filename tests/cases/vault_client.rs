//! The Vault/OpenBao KV v2 client against a real OpenBao dev server: discovery, metadata,
//! field reads, logins, CAS writes, and how each failure is reported. A loopback fake server is
//! used only for faults a real server does not produce (a hang, garbage answers).
//!
//! Every error is checked for leaks: no token, credential or field value in `Display` or `Debug`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;

use credwatch::credential::Secret;
use credwatch::vault::{Auth, Client, ClientConfig, Summary, VaultError, VersionState};

use crate::support::openbao::{JwtKey, OpenBao, claims, configure_jwt};
use crate::support::{Fault, FaultServer, free_port};

const MOUNT: &str = "secret";

fn config(url: &str) -> ClientConfig {
    let mut config = ClientConfig::new(url);
    config.timeout = Duration::from_secs(5);
    config
}

fn root(bao: &OpenBao) -> Client {
    Client::new(config(&bao.url), Secret::new(bao.root_token.clone())).expect("client")
}

fn with_token(bao: &OpenBao, token: &str) -> Client {
    Client::new(config(&bao.url), Secret::new(token.to_string())).expect("client")
}

/// Asserts that neither `Display` nor `Debug` of `error` holds any of `secrets`.
#[track_caller]
fn assert_no_leak(error: &VaultError, secrets: &[&str]) {
    let shown = format!("{error} {error:?}");
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(
            !shown.contains(secret),
            "error shows a secret `{secret}`: {shown}"
        );
    }
}

#[track_caller]
fn expect_err<T>(result: Result<T, VaultError>) -> VaultError {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn paths(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The summaries of `paths`, read `concurrency` at a time, with every custom_metadata key.
fn read_all(
    client: &Client,
    paths: &[String],
    concurrency: usize,
) -> Vec<(String, Result<Summary, VaultError>)> {
    let read = client.read_summaries(MOUNT, paths, concurrency, &|_| true);
    assert_eq!(read.len(), paths.len());
    paths.iter().cloned().zip(read).collect()
}

#[test]
fn discovery_descends_nested_folders_across_pages() {
    let bao = OpenBao::start();
    let all = [
        "a/b/c/deep",
        "a/b/y",
        "a/z",
        "k1",
        "k2",
        "k3",
        "k4",
        "k5",
        "top",
        "with space/é",
    ];
    for path in all {
        bao.write_secret(path, json!({ "v": "1" }));
    }
    let client = root(&bao);
    assert_eq!(client.list_recursive(MOUNT, "").unwrap(), paths(&all));
    assert_eq!(
        client.list_recursive(MOUNT, "a").unwrap(),
        paths(&["a/b/c/deep", "a/b/y", "a/z"])
    );
    assert_eq!(
        client.list_recursive("/secret/", "/a/b/").unwrap(),
        paths(&["a/b/c/deep", "a/b/y"])
    );
    assert_eq!(
        client.list(MOUNT, "a/b").unwrap(),
        paths(&["c/", "y"]),
        "one folder: keys, folders end in `/`"
    );

    // Pages of two keys: every folder takes several LIST requests, the result is the same.
    let mut small = config(&bao.url);
    small.list_page_size = 2;
    let paged = Client::new(small, Secret::new(bao.root_token.clone())).unwrap();
    assert_eq!(paged.list_recursive(MOUNT, "").unwrap(), paths(&all));
}

#[test]
fn empty_and_missing_folders_list_nothing_but_a_missing_mount_is_an_error() {
    let bao = OpenBao::start();
    let client = root(&bao);
    assert_eq!(
        client.list_recursive(MOUNT, "").unwrap(),
        Vec::<String>::new()
    );
    bao.write_secret("present/x", json!({ "v": "1" }));
    assert!(client.list_recursive(MOUNT, "absent").unwrap().is_empty());
    assert!(
        client
            .list_recursive(MOUNT, "present/x/y")
            .unwrap()
            .is_empty()
    );
    let err = expect_err(client.list_recursive("nomount", ""));
    assert_eq!(err.reason(), "not_found", "{err}");
    assert!(err.to_string().contains("list `nomount/`"), "{err}");
    assert_no_leak(&err, &[&bao.root_token]);
}

#[test]
fn a_policy_that_caps_pages_still_lists_everything() {
    let bao = OpenBao::start();
    let all: Vec<String> = (0..7).map(|i| format!("p/s{i}")).collect();
    for path in &all {
        bao.write_secret(path, json!({ "v": "1" }));
    }
    bao.write_policy(
        "capped",
        r#"path "secret/metadata/*" {
             capabilities = ["list", "read"]
             pagination_limit = 3
           }"#,
    );
    let token = bao.create_token(&["capped"]);
    // A plain LIST is silently cut to the cap: why the client paginates.
    let (status, answer) = bao.request(Some(&token), "LIST", "secret/metadata/p/", None);
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["keys"].as_array().unwrap().len(), 3);

    let client = with_token(&bao, &token);
    assert_eq!(client.list_recursive(MOUNT, "p").unwrap(), all);
}

#[test]
fn listing_is_bounded_in_depth_and_entries() {
    let bao = OpenBao::start();
    bao.write_secret("a/b/c/d", json!({ "v": "1" }));
    for i in 0..5 {
        bao.write_secret(&format!("flat/{i}"), json!({ "v": "1" }));
    }
    let mut shallow = config(&bao.url);
    shallow.max_depth = 1;
    let client = Client::new(shallow, Secret::new(bao.root_token.clone())).unwrap();
    let err = expect_err(client.list_recursive(MOUNT, "a"));
    assert_eq!(err.reason(), "limit_exceeded");
    assert!(err.to_string().contains("a/b/c/"), "{err}");

    let mut narrow = config(&bao.url);
    narrow.max_entries = 3;
    let client = Client::new(narrow, Secret::new(bao.root_token.clone())).unwrap();
    let err = expect_err(client.list_recursive(MOUNT, "flat"));
    assert_eq!(err.reason(), "limit_exceeded");
    assert!(err.to_string().contains("more than 3"), "{err}");
}

#[test]
fn folders_listed_ahead_give_the_walk_its_result_and_its_limit() {
    // One large folder next to small ones: listed ahead of its turn it is over its share of
    // `max_entries` and is listed again in its turn, under the whole limit.
    let bao = OpenBao::start();
    let mut all = Vec::new();
    for i in 0..8 {
        all.push(format!("t/big/{i}"));
    }
    for f in 1..=4 {
        all.push(format!("t/s{f}/x"));
    }
    for p in &all {
        bao.write_secret(p, json!({ "v": "1" }));
    }
    all.sort();
    let mut exact = config(&bao.url);
    exact.max_entries = 12;
    let client = Client::new(exact, Secret::new(bao.root_token.clone())).unwrap();
    assert_eq!(client.list_recursive(MOUNT, "t").unwrap(), all);
    let mut one_less = config(&bao.url);
    one_less.max_entries = 11;
    let client = Client::new(one_less, Secret::new(bao.root_token.clone())).unwrap();
    let err = expect_err(client.list_recursive(MOUNT, "t"));
    assert_eq!(err.reason(), "limit_exceeded");
    assert!(err.to_string().contains("more than 11 secrets"), "{err}");
}

#[test]
fn metadata_holds_times_versions_and_custom_metadata() {
    let bao = OpenBao::start();
    let before = Timestamp::now() - jiff::SignedDuration::from_secs(5);
    bao.write_secret("agent", json!({ "oauth_token": "sk-ant-oat01-first" }));
    bao.write_secret("agent", json!({ "oauth_token": "sk-ant-oat01-second" }));
    bao.write_custom_metadata(
        "agent",
        json!({ "minted_at": "2026-04-18T12:07:09Z", "owner": "platform" }),
    );
    bao.write_secret("plain", json!({ "v": "1" }));
    let after = Timestamp::now() + jiff::SignedDuration::from_secs(5);

    let client = root(&bao);
    let m = client.read_metadata(MOUNT, "agent").unwrap();
    assert_eq!(m.current_version, 2);
    assert!(m.created_time > before && m.created_time < after, "{m:?}");
    assert!(m.updated_time >= m.created_time);
    assert_eq!(m.versions.keys().copied().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(m.versions[&1].created_time, m.created_time);
    assert_eq!(m.custom_metadata["minted_at"], "2026-04-18T12:07:09Z");
    assert_eq!(m.custom_metadata["owner"], "platform");
    assert_eq!(m.current_state(Timestamp::now()), VersionState::Live);
    assert!(
        !format!("{m:?}").contains("sk-ant"),
        "metadata holds no value"
    );

    let plain = client.read_metadata(MOUNT, "plain").unwrap();
    assert!(plain.custom_metadata.is_empty(), "null custom_metadata");
    assert_eq!(plain.current_version, 1);

    let err = expect_err(client.read_metadata(MOUNT, "absent"));
    assert_eq!(err.reason(), "not_found");
    assert!(err.to_string().contains("`secret/absent`"), "{err}");
}

#[test]
fn deleted_and_destroyed_current_versions_are_told_apart() {
    let bao = OpenBao::start();
    let client = root(&bao);
    bao.write_secret("deleted", json!({ "token": "value-deleted" }));
    bao.api("DELETE", "secret/data/deleted", None);
    bao.write_secret("destroyed", json!({ "token": "value-destroyed" }));
    bao.api(
        "POST",
        "secret/destroy/destroyed",
        Some(json!({ "versions": [1] })),
    );
    let now = Timestamp::now() + jiff::SignedDuration::from_secs(1);

    let deleted = client.read_metadata(MOUNT, "deleted").unwrap();
    assert!(deleted.current_is_deleted(now));
    assert!(!deleted.current_is_destroyed());
    assert!(matches!(
        deleted.current_state(now),
        VersionState::Deleted(_)
    ));
    // Before the deletion the same version was live: the state depends on `now` only.
    let long_ago = deleted.created_time - jiff::SignedDuration::from_secs(1);
    assert_eq!(deleted.current_state(long_ago), VersionState::Live);

    let destroyed = client.read_metadata(MOUNT, "destroyed").unwrap();
    assert!(destroyed.current_is_destroyed());
    assert!(!destroyed.current_is_deleted(now));
    assert_eq!(destroyed.current_state(now), VersionState::Destroyed);

    for path in ["deleted", "destroyed"] {
        let err = expect_err(client.read_field(MOUNT, path, "token"));
        assert_eq!(err.reason(), "not_found", "{err}");
        assert!(
            err.to_string().contains("no readable current version"),
            "{err}"
        );
        assert_no_leak(&err, &["value-deleted", "value-destroyed", &bao.root_token]);
    }
}

#[test]
fn many_metadata_reads_keep_the_order_and_report_each_path() {
    let bao = OpenBao::start();
    let mut wanted = Vec::new();
    for i in 0..60 {
        let path = format!("many/s{i:02}");
        bao.write_secret(&path, json!({ "v": i.to_string() }));
        wanted.push(path);
    }
    wanted.insert(17, "many/absent".to_string());
    let client = root(&bao);
    let results = read_all(&client, &wanted, 8);
    assert_eq!(
        results.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        wanted
    );
    for (path, result) in &results {
        match result {
            Ok(m) => assert_eq!(m.current_version, 1, "{path}"),
            Err(e) => {
                assert_eq!(path, "many/absent");
                assert_eq!(e.reason(), "not_found");
            }
        }
    }
    assert_eq!(results.iter().filter(|(_, r)| r.is_err()).count(), 1);
    assert!(read_all(&client, &[], 8).is_empty());
}

#[test]
fn read_field_returns_one_field_and_names_a_missing_one() {
    let bao = OpenBao::start();
    bao.write_secret(
        "agent",
        json!({ "oauth_token": "sk-ant-oat01-abcdef", "note": "other-value-123", "n": 5 }),
    );
    let client = root(&bao);
    let secret = client.read_field(MOUNT, "agent", "oauth_token").unwrap();
    assert_eq!(secret.expose(), "sk-ant-oat01-abcdef");
    assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");

    let err = expect_err(client.read_field(MOUNT, "agent", "missing_field"));
    assert_eq!(err.reason(), "not_found");
    assert!(
        err.to_string().contains("no field `missing_field`"),
        "{err}"
    );
    assert_no_leak(
        &err,
        &["sk-ant-oat01-abcdef", "other-value-123", &bao.root_token],
    );

    let err = expect_err(client.read_field(MOUNT, "agent", "n"));
    assert_eq!(err.reason(), "malformed");
    assert!(err.to_string().contains("holds a number"), "{err}");
    assert_no_leak(&err, &["sk-ant-oat01-abcdef", "other-value-123"]);
}

#[test]
fn read_field_at_reads_the_version_asked_for_whatever_is_current() {
    let bao = OpenBao::start();
    let values = ["sk-ant-oat01-first-111", "sk-ant-oat01-second-222"];
    for value in values {
        bao.write_secret("agent", json!({ "oauth_token": value }));
    }
    let client = root(&bao);
    for (version, value) in [(1, values[0]), (2, values[1])] {
        let secret = client
            .read_field_at(MOUNT, "agent", "oauth_token", version)
            .unwrap();
        assert_eq!(secret.expose(), value, "version {version}");
    }
    assert_eq!(
        client
            .read_field(MOUNT, "agent", "oauth_token")
            .unwrap()
            .expose(),
        values[1]
    );

    // A version that does not exist, and one that was deleted, are not found.
    let err = expect_err(client.read_field_at(MOUNT, "agent", "oauth_token", 3));
    assert_eq!(err.reason(), "not_found", "{err}");
    assert!(
        err.to_string().contains("version 3 is not readable"),
        "{err}"
    );
    bao.api(
        "POST",
        "secret/delete/agent",
        Some(json!({ "versions": [1] })),
    );
    let err = expect_err(client.read_field_at(MOUNT, "agent", "oauth_token", 1));
    assert_eq!(err.reason(), "not_found", "{err}");
    assert!(
        err.to_string().contains("version 1 is not readable"),
        "{err}"
    );
    let err = expect_err(client.read_field_at(MOUNT, "agent", "missing_field", 2));
    assert!(
        err.to_string()
            .contains("version 2 has no field `missing_field`"),
        "{err}"
    );
    assert_no_leak(&err, &[values[0], values[1], &bao.root_token]);
}

#[test]
fn a_metadata_only_policy_reads_metadata_but_no_values() {
    let bao = OpenBao::start();
    bao.write_secret(
        "team/agent",
        json!({ "oauth_token": "sk-ant-oat01-hidden" }),
    );
    bao.write_policy(
        "metadata-only",
        r#"path "secret/metadata/*" { capabilities = ["list", "read"] }"#,
    );
    let token = bao.create_token(&["metadata-only"]);
    let client = with_token(&bao, &token);
    assert_eq!(
        client.list_recursive(MOUNT, "").unwrap(),
        paths(&["team/agent"])
    );
    assert_eq!(
        client
            .read_metadata(MOUNT, "team/agent")
            .unwrap()
            .current_version,
        1
    );
    let err = expect_err(client.read_field(MOUNT, "team/agent", "oauth_token"));
    assert_eq!(err.reason(), "denied", "{err}");
    assert!(
        err.to_string()
            .contains("read field `oauth_token` of `secret/team/agent`"),
        "{err}"
    );
    assert_no_leak(&err, &[&token, "sk-ant-oat01-hidden", &bao.root_token]);

    // Writes need `patch`, which this policy lacks.
    let mut fields = BTreeMap::new();
    fields.insert(
        "oauth_token".to_string(),
        Secret::new("sk-ant-oat01-new".into()),
    );
    let err = expect_err(client.write_cas(MOUNT, "team/agent", &fields, 1));
    assert_eq!(err.reason(), "denied", "{err}");
    assert_no_leak(&err, &[&token, "sk-ant-oat01-new"]);
}

#[test]
fn a_bad_token_is_denied() {
    let bao = OpenBao::start();
    bao.write_secret("x", json!({ "v": "1" }));
    let bogus = "s.this-token-does-not-exist-42";
    let client = with_token(&bao, bogus);
    for err in [
        expect_err(client.read_metadata(MOUNT, "x")),
        expect_err(client.list_recursive(MOUNT, "")),
        expect_err(client.read_field(MOUNT, "x", "v")),
    ] {
        assert_eq!(err.reason(), "denied", "{err}");
        assert_no_leak(&err, &[bogus, &bao.root_token]);
    }
}

#[test]
fn a_sealed_server_is_reported_as_sealed_without_hammering_it() {
    let bao = OpenBao::start();
    for i in 0..3 {
        bao.write_secret(&format!("s{i}"), json!({ "v": "1" }));
    }
    let client = root(&bao);
    bao.seal();
    let err = expect_err(client.read_metadata(MOUNT, "s0"));
    assert_eq!(err.reason(), "sealed", "{err}");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_eq!(
        expect_err(client.list_recursive(MOUNT, "")).reason(),
        "sealed"
    );
    // Sealed is the server's state, not the detailed listing's: no fallback to the plain one.
    assert_eq!(
        expect_err(client.scan(MOUNT, "", &|_| true)).reason(),
        "sealed"
    );
    assert_eq!(
        expect_err(client.read_field(MOUNT, "s0", "v")).reason(),
        "sealed"
    );

    let many: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
    let start = Instant::now();
    let results = read_all(&client, &many, 4);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    for (_, result) in &results {
        let err = result.as_ref().unwrap_err();
        assert_eq!(err.reason(), "sealed", "{err}");
        assert_no_leak(err, &[&bao.root_token]);
    }
}

#[test]
fn an_unreachable_server_fails_fast() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let client = Client::new(config(&url), Secret::new("s.unused-token-1234".into())).unwrap();
    let start = Instant::now();
    let err = expect_err(client.read_metadata(MOUNT, "x"));
    assert_eq!(err.reason(), "unreachable", "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    assert_no_leak(&err, &["s.unused-token-1234"]);
    let many: Vec<String> = (0..500).map(|i| format!("s{i}")).collect();
    let results = read_all(&client, &many, 16);
    assert!(
        results
            .iter()
            .all(|(_, r)| r.as_ref().unwrap_err().reason() == "unreachable")
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn approle_login_yields_a_working_token() {
    let bao = OpenBao::start();
    bao.write_secret("agent", json!({ "v": "1" }));
    bao.write_policy(
        "reader",
        r#"path "secret/metadata/*" { capabilities = ["list", "read"] }"#,
    );
    bao.enable_auth("approle", "approle");
    bao.api(
        "POST",
        "auth/approle/role/credwatch",
        Some(json!({ "token_policies": ["reader"], "token_ttl": "10m" })),
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
    let file = bao.dir().join("secret-id");
    std::fs::write(&file, format!("{secret_id}\n")).unwrap();

    let client = Client::connect(config(&bao.url), &Auth::app_role(&role_id, &file)).unwrap();
    let info = client.login_info().expect("a login");
    assert_eq!(info.method, "approle");
    assert!(info.policies.contains(&"reader".to_string()), "{info:?}");
    assert_eq!(info.lease_duration, Duration::from_secs(600));
    assert_eq!(client.list_recursive(MOUNT, "").unwrap(), paths(&["agent"]));
    // A run leaves no live token behind: once revoked, the login token reads nothing.
    client.revoke_login().unwrap();
    assert_eq!(
        expect_err(client.list_recursive(MOUNT, "")).reason(),
        "denied"
    );

    let wrong = bao.dir().join("wrong-secret-id");
    std::fs::write(&wrong, "00000000-1111-2222-3333-444444444444").unwrap();
    let err = expect_err(Client::connect(
        config(&bao.url),
        &Auth::app_role(&role_id, &wrong),
    ));
    assert_eq!(err.reason(), "denied", "{err}");
    assert!(err.to_string().contains("auth/approle/login"), "{err}");
    assert_no_leak(&err, &[&secret_id, "00000000-1111-2222-3333-444444444444"]);
}

#[test]
fn jwt_login_yields_a_working_token() {
    let bao = OpenBao::start();
    bao.write_secret("agent", json!({ "v": "1" }));
    let key = JwtKey::generate();
    configure_jwt(&bao, "jwt", &key);
    let jwt = key.sign(claims());
    let file = bao.dir().join("jwt");
    std::fs::write(&file, &jwt).unwrap();

    let client = Client::connect(config(&bao.url), &Auth::jwt("credwatch", &file)).unwrap();
    let info = client.login_info().unwrap();
    assert_eq!(info.method, "jwt");
    assert!(info.policies.contains(&"reader".to_string()), "{info:?}");
    assert_eq!(client.list_recursive(MOUNT, "").unwrap(), paths(&["agent"]));

    // A JWT signed by another key is refused, and the message does not carry the JWT.
    let forged = JwtKey::generate().sign(claims());
    std::fs::write(&file, &forged).unwrap();
    let err = expect_err(Client::connect(
        config(&bao.url),
        &Auth::jwt("credwatch", &file),
    ));
    assert_eq!(err.reason(), "denied", "{err}");
    assert_no_leak(&err, &[&forged, &jwt]);
}

#[test]
fn a_kubernetes_login_sends_role_and_service_account_token() {
    // The Kubernetes auth method needs a cluster to review tokens; the request it takes is the
    // JWT method's (`role` + `jwt`), so a JWT method mounted at `kubernetes` stands in for it.
    let bao = OpenBao::start();
    let key = JwtKey::generate();
    configure_jwt(&bao, "kubernetes", &key);
    let file = bao.dir().join("sa-token");
    std::fs::write(&file, key.sign(claims())).unwrap();
    let Auth::Kubernetes { mount, role, .. } = Auth::kubernetes("credwatch") else {
        unreachable!()
    };
    let auth = Auth::Kubernetes {
        mount,
        role,
        jwt_file: file,
    };
    let client = Client::connect(config(&bao.url), &auth).unwrap();
    assert_eq!(client.login_info().unwrap().method, "kubernetes");
    assert!(client.list_recursive(MOUNT, "").unwrap().is_empty());
}

#[test]
fn a_token_file_is_read_and_trimmed() {
    let bao = OpenBao::start();
    bao.write_secret("x", json!({ "v": "1" }));
    let file = bao.dir().join("token");
    std::fs::write(&file, format!("{}\n", bao.root_token)).unwrap();
    let client = Client::connect(config(&bao.url), &Auth::TokenFile(file.clone())).unwrap();
    assert!(client.login_info().is_none());
    assert_eq!(client.read_metadata(MOUNT, "x").unwrap().current_version, 1);
    std::fs::write(&file, "\n").unwrap();
    let err = expect_err(Client::connect(config(&bao.url), &Auth::TokenFile(file)));
    assert_eq!(err.reason(), "config");
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, Secret> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Secret::new(v.to_string())))
        .collect()
}

#[test]
fn write_cas_sets_fields_and_keeps_the_others() {
    let bao = OpenBao::start();
    bao.write_secret(
        "agent",
        json!({ "oauth_token": "sk-ant-oat01-old", "account": "ops@example.com" }),
    );
    let client = root(&bao);
    let version = client
        .write_cas(
            MOUNT,
            "agent",
            &fields(&[("oauth_token", "sk-ant-oat01-new")]),
            1,
        )
        .unwrap();
    assert_eq!(version, 2);
    assert_eq!(
        client
            .read_field(MOUNT, "agent", "oauth_token")
            .unwrap()
            .expose(),
        "sk-ant-oat01-new"
    );
    assert_eq!(
        client
            .read_field(MOUNT, "agent", "account")
            .unwrap()
            .expose(),
        "ops@example.com"
    );
    assert_eq!(
        client
            .read_metadata(MOUNT, "agent")
            .unwrap()
            .current_version,
        2
    );

    // cas = 0 creates a secret that does not exist yet.
    let created = client
        .write_cas(
            MOUNT,
            "fresh",
            &fields(&[("oauth_token", "sk-ant-oat01-fresh")]),
            0,
        )
        .unwrap();
    assert_eq!(created, 1);

    // Patching a secret that does not exist is refused: nothing to keep, nothing to create.
    let err = expect_err(client.write_cas(MOUNT, "absent", &fields(&[("a", "b-value")]), 1));
    assert_eq!(err.reason(), "not_found", "{err}");
}

#[test]
fn write_cas_refuses_when_another_write_came_first() {
    let bao = OpenBao::start();
    bao.write_secret("agent", json!({ "oauth_token": "sk-ant-oat01-v1" }));
    let client = root(&bao);
    let seen = client
        .read_metadata(MOUNT, "agent")
        .unwrap()
        .current_version;
    // Someone else rotates in between.
    bao.write_secret("agent", json!({ "oauth_token": "sk-ant-oat01-theirs" }));
    let err = expect_err(client.write_cas(
        MOUNT,
        "agent",
        &fields(&[("oauth_token", "sk-ant-oat01-ours")]),
        seen,
    ));
    assert_eq!(err.reason(), "cas_conflict", "{err}");
    assert!(matches!(err, VaultError::Cas { cas: 1, .. }), "{err:?}");
    assert_no_leak(
        &err,
        &["sk-ant-oat01-ours", "sk-ant-oat01-theirs", &bao.root_token],
    );
    assert_eq!(
        client
            .read_field(MOUNT, "agent", "oauth_token")
            .unwrap()
            .expose(),
        "sk-ant-oat01-theirs"
    );
    // Creating what already exists is a conflict as well.
    let err = expect_err(client.write_cas(
        MOUNT,
        "agent",
        &fields(&[("oauth_token", "sk-ant-oat01-ours")]),
        0,
    ));
    assert_eq!(err.reason(), "cas_conflict", "{err}");
}

#[test]
fn patch_custom_metadata_keeps_the_other_keys() {
    let bao = OpenBao::start();
    bao.write_secret("agent", json!({ "v": "1" }));
    bao.write_custom_metadata("agent", json!({ "owner": "platform", "minted_at": "old" }));
    let client = root(&bao);
    let mut entries = BTreeMap::new();
    entries.insert("minted_at".to_string(), "2026-11-30T00:00:00Z".to_string());
    entries.insert("rotated_by".to_string(), "credwatch".to_string());
    client
        .patch_custom_metadata(MOUNT, "agent", &entries)
        .unwrap();
    let custom = client
        .read_metadata(MOUNT, "agent")
        .unwrap()
        .custom_metadata;
    assert_eq!(
        custom,
        BTreeMap::from([
            ("minted_at".to_string(), "2026-11-30T00:00:00Z".to_string()),
            ("owner".to_string(), "platform".to_string()),
            ("rotated_by".to_string(), "credwatch".to_string()),
        ])
    );
    let err = expect_err(client.patch_custom_metadata(MOUNT, "absent", &entries));
    assert_eq!(err.reason(), "not_found", "{err}");
}

#[test]
fn a_namespace_is_sent_with_every_request() {
    let bao = OpenBao::start();
    bao.api("POST", "sys/namespaces/team", Some(json!({})));
    let team = Some("team");
    bao.api_in(
        team,
        "POST",
        "sys/mounts/secret",
        Some(json!({ "type": "kv", "options": { "version": "2" } })),
    );
    bao.api_in(
        team,
        "POST",
        "secret/data/in-team",
        Some(json!({ "data": { "token": "team-value" } })),
    );
    bao.write_secret("in-root", json!({ "token": "root-value" }));

    let mut in_team = config(&bao.url);
    in_team.namespace = Some("team".into());
    let client = Client::new(in_team, Secret::new(bao.root_token.clone())).unwrap();
    assert_eq!(
        client.list_recursive(MOUNT, "").unwrap(),
        paths(&["in-team"])
    );
    assert_eq!(
        client
            .read_field(MOUNT, "in-team", "token")
            .unwrap()
            .expose(),
        "team-value"
    );
    assert_eq!(
        root(&bao).list_recursive(MOUNT, "").unwrap(),
        paths(&["in-root"])
    );
}

#[test]
fn tls_is_verified_against_the_configured_ca() {
    let bao = OpenBao::start_tls();
    bao.write_secret("x", json!({ "v": "1" }));
    let mut trusted = config(&bao.url);
    trusted.ca_file = bao.ca_file.clone();
    let client = Client::new(trusted, Secret::new(bao.root_token.clone())).unwrap();
    assert_eq!(client.read_metadata(MOUNT, "x").unwrap().current_version, 1);

    // Without the CA, the dev server's certificate is not trusted.
    let client = root(&bao);
    let err = expect_err(client.read_metadata(MOUNT, "x"));
    assert_eq!(err.reason(), "unreachable", "{err}");
    assert_no_leak(&err, &[&bao.root_token]);
}

#[test]
fn a_server_that_never_answers_times_out_without_retrying() {
    let server = FaultServer::start(Fault::Silence);
    let mut short = config(&server.url);
    short.timeout = Duration::from_millis(400);
    short.retries = 3;
    let client = Client::new(short, Secret::new("s.token-for-silence".into())).unwrap();
    let start = Instant::now();
    let err = expect_err(client.read_metadata(MOUNT, "x"));
    assert_eq!(err.reason(), "timeout", "{err}");
    assert!(err.to_string().contains("no answer within 0.4s"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.request_count(), 1);
    assert_no_leak(&err, &["s.token-for-silence"]);

    // A batch stops at the first hang instead of waiting for each path.
    let many: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
    let start = Instant::now();
    let results = read_all(&client, &many, 2);
    assert!(
        results
            .iter()
            .all(|(_, r)| r.as_ref().unwrap_err().reason() == "timeout")
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_scan_of_a_server_that_never_answers_ends_with_its_timeout() {
    let server = FaultServer::start(Fault::Silence);
    let mut short = config(&server.url);
    short.timeout = Duration::from_millis(300);
    short.retries = 2;
    let client = Client::new(short, Secret::new("s.token-for-silence".into())).unwrap();
    let err = expect_err(client.scan(MOUNT, "agents", &|_| true));
    assert_eq!(err.reason(), "timeout", "{err}");
    assert!(err.to_string().contains("list `secret/agents/`"), "{err}");
    // The detailed page, then (a timeout may be that page's alone) the plain one; neither is
    // retried, and nothing more is asked.
    let requests = server.requests.lock().unwrap();
    let targets: Vec<&str> = requests.iter().map(|r| target(r)).collect();
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(
        targets[0].starts_with("/v1/secret/detailed-metadata/agents/?"),
        "{targets:?}"
    );
    assert!(
        targets[1].starts_with("/v1/secret/metadata/agents/?"),
        "{targets:?}"
    );
    assert_no_leak(&err, &["s.token-for-silence"]);
}

#[test]
fn garbage_answers_are_malformed_and_never_quoted_for_data_reads() {
    let token = "s.token-for-garbage";
    let client = |url: &str| Client::new(config(url), Secret::new(token.into())).unwrap();

    let not_json = FaultServer::start(Fault::Status(200, "<html>proxy login</html>"));
    for err in [
        expect_err(client(&not_json.url).read_metadata(MOUNT, "x")),
        expect_err(client(&not_json.url).list_recursive(MOUNT, "")),
    ] {
        assert_eq!(err.reason(), "malformed", "{err}");
        assert_no_leak(&err, &[token]);
    }

    let wrong_shape = FaultServer::start(Fault::Status(
        200,
        r#"{"data":{"created_time":"yesterday","updated_time":"x","current_version":1}}"#,
    ));
    let err = expect_err(client(&wrong_shape.url).read_metadata(MOUNT, "x"));
    assert_eq!(err.reason(), "malformed");
    assert!(err.to_string().contains("`created_time`"), "{err}");

    let cut = FaultServer::start(Fault::Status(
        200,
        r#"{"data":{"data":{"token":"sk-ant-oat01-cut-off-secret"#,
    ));
    let err = expect_err(client(&cut.url).read_field(MOUNT, "x", "token"));
    assert_eq!(err.reason(), "malformed", "{err}");
    assert_no_leak(&err, &[token, "sk-ant-oat01-cut-off-secret"]);

    // A data read's error body is never quoted, whatever it holds.
    let loud = FaultServer::start(Fault::Status(418, "teapot says sk-ant-oat01-in-error-body"));
    let err = expect_err(client(&loud.url).read_field(MOUNT, "x", "token"));
    assert_eq!(err.reason(), "http_error");
    assert_eq!(
        err.to_string(),
        "read field `token` of `secret/x`: HTTP 418"
    );
}

#[test]
fn server_errors_are_retried_and_client_errors_are_not() {
    let token = "s.token-for-faults";
    let failing = FaultServer::start(Fault::Status(500, r#"{"errors":["internal error"]}"#));
    let mut cfg = config(&failing.url);
    cfg.retries = 2;
    // The waits are recorded, not slept: 100 ms then 200 ms, each with up to a quarter of jitter.
    let waits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = waits.clone();
    let client = Client::new(cfg, Secret::new(token.into()))
        .unwrap()
        .with_retry_sleep(move |d| record.lock().unwrap().push(d));
    let err = expect_err(client.read_metadata(MOUNT, "x"));
    assert_eq!(err.reason(), "http_error");
    assert!(
        err.to_string().contains("HTTP 500: internal error"),
        "{err}"
    );
    assert_eq!(failing.request_count(), 3);
    {
        let waits = waits.lock().unwrap();
        let ms = Duration::from_millis;
        assert_eq!(waits.len(), 2, "{waits:?}");
        for (wait, nominal) in waits.iter().zip([ms(100), ms(200)]) {
            assert!(
                *wait >= nominal && *wait < nominal + nominal / 4,
                "{waits:?}"
            );
        }
    }

    // A write that reached the server is not sent again.
    let err = expect_err(client.write_cas(MOUNT, "x", &fields(&[("k", "v-secret")]), 1));
    assert_eq!(err.reason(), "http_error");
    assert_eq!(failing.request_count(), 4);
    assert_no_leak(&err, &[token, "v-secret"]);

    let refusing = FaultServer::start(Fault::Status(400, r#"{"errors":["bad request"]}"#));
    let mut cfg = config(&refusing.url);
    cfg.retries = 2;
    let client = Client::new(cfg, Secret::new(token.into()))
        .unwrap()
        .with_retry_sleep(|_| panic!("a 400 is not retried"));
    let err = expect_err(client.read_metadata(MOUNT, "x"));
    assert!(err.to_string().contains("HTTP 400: bad request"), "{err}");
    assert_eq!(refusing.request_count(), 1);
}

#[test]
fn a_server_that_ignores_pagination_is_listed_once() {
    // HashiCorp Vault has no `limit`/`after`: every LIST answers with the whole folder.
    let whole = r#"{"data":{"keys":["a","b","c"]}}"#;
    for (page_size, requests) in [(3, 2), (2, 1), (10, 1)] {
        let server = FaultServer::start(Fault::Status(200, whole));
        let mut cfg = config(&server.url);
        cfg.list_page_size = page_size;
        let client = Client::new(cfg, Secret::new("s.token".into())).unwrap();
        assert_eq!(
            client.list(MOUNT, "").unwrap(),
            paths(&["a", "b", "c"]),
            "page size {page_size}"
        );
        assert_eq!(server.request_count(), requests, "page size {page_size}");
        assert!(server.requests.lock().unwrap()[0].contains("list=true&limit="));
    }
}

/// A tree with what a scan must carry from a listing as a read would: several versions, a
/// deleted and a destroyed current version, custom_metadata, nested folders.
fn seed_scan_tree(bao: &OpenBao) -> Vec<String> {
    for i in 1..=3 {
        bao.write_secret("s/agent", json!({ "token": format!("value-{i}") }));
    }
    bao.write_custom_metadata(
        "s/agent",
        json!({ "expires_at": "2027-06-01T00:00:00Z", "owner": "team-a" }),
    );
    bao.write_secret("s/deleted", json!({ "token": "value" }));
    bao.api("DELETE", "secret/data/s/deleted", None);
    bao.write_secret("s/destroyed", json!({ "token": "value" }));
    bao.api(
        "PUT",
        "secret/destroy/s/destroyed",
        Some(json!({ "versions": [1] })),
    );
    for i in 0..5 {
        bao.write_secret(&format!("s/team/t{i}"), json!({ "token": "value" }));
    }
    bao.write_secret("s/team/deep/er/x", json!({ "token": "value" }));
    bao.write_secret("outside", json!({ "token": "value" }));
    let mut all: Vec<String> = ["s/agent", "s/deleted", "s/destroyed", "s/team/deep/er/x"]
        .into_iter()
        .map(String::from)
        .chain((0..5).map(|i| format!("s/team/t{i}")))
        .collect();
    all.sort();
    all
}

#[test]
fn a_scan_carries_each_secrets_metadata_from_the_listing_as_a_read_would() {
    let bao = OpenBao::start();
    let all = seed_scan_tree(&bao);
    // Pages of two: the detailed listing paginates like the plain one.
    let mut small_pages = config(&bao.url);
    small_pages.list_page_size = 2;
    let client = Client::new(small_pages, Secret::new(bao.root_token.clone())).unwrap();
    let scanned = client.scan(MOUNT, "s", &|_| true).expect("scan");
    let found: Vec<String> = scanned.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(found, all);
    assert_eq!(found, client.list_recursive(MOUNT, "s").unwrap());
    let read = read_all(&client, &all, 4);
    for ((path, listed), (_, read)) in scanned.iter().zip(&read) {
        let listed = listed
            .as_ref()
            .unwrap_or_else(|| panic!("{path}: no metadata listed"));
        assert_eq!(listed, read.as_ref().expect("read"), "{path}");
    }
    let agent = scanned[0].1.as_ref().unwrap();
    assert_eq!(agent.current_version, 3);
    assert_eq!(agent.custom("expires_at"), Some("2027-06-01T00:00:00Z"));
    // Only the keys asked for are kept, as in a read.
    let scanned = client.scan(MOUNT, "s", &|k| k == "owner").expect("scan");
    let agent = scanned[0].1.as_ref().unwrap();
    assert_eq!(agent.custom("owner"), Some("team-a"));
    assert_eq!(agent.custom("expires_at"), None);
}

#[test]
fn a_scan_under_a_policy_for_metadata_alone_lists_the_keys_for_reading() {
    let bao = OpenBao::start();
    let all = seed_scan_tree(&bao);
    bao.write_policy(
        "plain",
        r#"path "secret/metadata/*" { capabilities = ["list", "read"] }"#,
    );
    let client = with_token(&bao, &bao.create_token(&["plain"]));
    let scanned = client.scan(MOUNT, "s", &|_| true).expect("scan");
    assert_eq!(
        scanned.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        all
    );
    assert!(
        scanned.iter().all(|(_, s)| s.is_none()),
        "a denied detailed listing carries nothing: {scanned:?}"
    );
}

#[test]
fn a_scan_under_a_capped_detailed_policy_still_carries_everything() {
    let bao = OpenBao::start();
    let all = seed_scan_tree(&bao);
    bao.write_policy(
        "capped",
        r#"path "secret/detailed-metadata/*" {
             capabilities = ["list"]
             pagination_limit = 3
           }
           path "secret/metadata/*" { capabilities = ["list"] }"#,
    );
    let client = with_token(&bao, &bao.create_token(&["capped"]));
    let scanned = client.scan(MOUNT, "s", &|_| true).expect("scan");
    assert_eq!(
        scanned.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        all
    );
    for (path, summary) in &scanned {
        assert!(summary.is_some(), "{path}: no metadata listed");
    }
    // The token may not read any secret's metadata by itself: all of it came from the listing.
    let err = expect_err(client.read_metadata(MOUNT, "s/agent"));
    assert_eq!(err.reason(), "denied", "{err}");
}

#[test]
fn a_scan_of_a_missing_folder_or_mount_says_what_a_listing_says() {
    let bao = OpenBao::start();
    bao.write_secret("here/x", json!({ "token": "value" }));
    let client = root(&bao);
    assert!(
        client
            .scan(MOUNT, "nothing-here", &|_| true)
            .unwrap()
            .is_empty()
    );
    let err = expect_err(client.scan("nomount", "", &|_| true));
    let plain = expect_err(client.list_recursive("nomount", ""));
    assert_eq!(err.reason(), plain.reason(), "{err} / {plain}");
    assert!(err.to_string().contains("list `nomount/`"), "{err}");
    assert_no_leak(&err, &[&bao.root_token]);
}

/// A metadata object as OpenBao lists or reads it, at version 1.
fn standin_metadata() -> serde_json::Value {
    json!({
        "created_time": "2026-06-01T00:00:00Z",
        "updated_time": "2026-06-01T00:00:00Z",
        "current_version": 1,
        "custom_metadata": {"expires_at": "2030-01-01T00:00:00Z"},
        "versions": {"1": {"created_time": "2026-06-01T00:00:00Z", "deletion_time": "", "destroyed": false}}
    })
}

/// The request line's path and query, e.g. `/v1/secret/metadata/a/?list=true&limit=1000`.
fn target(request: &str) -> &str {
    request.split(' ').nth(1).unwrap_or_default()
}

/// A stand-in whose detailed listing fails with HTTP 500 for one folder (a fault a real server
/// shows for a broken storage entry, which cannot be made here), answers another with a page
/// that is not JSON (a proxy's), and works for the third.
fn one_folder_fails(request: &str) -> (u16, String) {
    let path = target(request).split('?').next().unwrap_or_default();
    let page = |keys: serde_json::Value, info: serde_json::Value| {
        json!({"data": {"keys": keys, "key_info": info}}).to_string()
    };
    match path {
        "/v1/secret/detailed-metadata/" => (
            200,
            page(
                json!(["bad/", "good/", "odd/"]),
                json!({"bad/": {}, "good/": {}, "odd/": {}}),
            ),
        ),
        "/v1/secret/detailed-metadata/good/" => {
            (200, page(json!(["g1"]), json!({"g1": standin_metadata()})))
        }
        "/v1/secret/detailed-metadata/bad/" => (500, r#"{"errors":["internal error"]}"#.into()),
        "/v1/secret/metadata/bad/" => (200, json!({"data": {"keys": ["b1"]}}).to_string()),
        "/v1/secret/metadata/bad/b1" => (200, json!({"data": standin_metadata()}).to_string()),
        "/v1/secret/detailed-metadata/odd/" => (200, "<html>proxy</html>".into()),
        "/v1/secret/metadata/odd/" => (200, json!({"data": {"keys": ["o1"]}}).to_string()),
        _ => (404, r#"{"errors":[]}"#.into()),
    }
}

/// A stand-in that answers the detailed listing with 405, and denies its second page: both
/// leave the walk to the plain listing.
fn detailed_not_allowed(request: &str) -> (u16, String) {
    let target = target(request);
    let path = target.split('?').next().unwrap_or_default();
    match path {
        "/v1/secret/detailed-metadata/" if target.contains("after=") => {
            (403, r#"{"errors":["permission denied"]}"#.into())
        }
        "/v1/secret/detailed-metadata/" => (
            200,
            json!({"data": {"keys": ["a"], "key_info": {"a": standin_metadata()}}}).to_string(),
        ),
        "/v1/secret/detailed-metadata/f/" => {
            (405, r#"{"errors":["unsupported operation"]}"#.into())
        }
        "/v1/secret/metadata/" => (200, json!({"data": {"keys": ["a", "b", "f/"]}}).to_string()),
        "/v1/secret/metadata/f/" => (200, json!({"data": {"keys": ["x"]}}).to_string()),
        _ => (404, r#"{"errors":[]}"#.into()),
    }
}

#[test]
fn a_folder_whose_detailed_listing_fails_is_listed_plainly_and_the_others_are_not() {
    let server = FaultServer::start(Fault::Answer(one_folder_fails));
    let mut cfg = config(&server.url);
    cfg.retries = 0;
    let client = Client::new(cfg, Secret::new("s.token".into())).unwrap();
    let scanned = client.scan(MOUNT, "", &|_| true).expect("scan");
    let summary = |path: &str| {
        scanned
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("{path} not found: {scanned:?}"))
            .1
            .clone()
    };
    assert_eq!(scanned.len(), 3, "{scanned:?}");
    assert_eq!(summary("good/g1").unwrap().current_version, 1);
    // Left for a read of its own, which the source then makes.
    assert!(summary("bad/b1").is_none());
    assert!(summary("odd/o1").is_none());
    assert_eq!(
        client.read_summaries(MOUNT, &paths(&["bad/b1"]), 1, &|_| true)[0]
            .as_ref()
            .unwrap()
            .custom("expires_at"),
        Some("2030-01-01T00:00:00Z")
    );
    let requests = server.requests.lock().unwrap();
    let mut plain: Vec<&str> = requests
        .iter()
        .map(|r| target(r).split('?').next().unwrap_or_default())
        .filter(|t| t.starts_with("/v1/secret/metadata/") && t.ends_with('/'))
        .collect();
    plain.sort();
    assert_eq!(
        plain,
        ["/v1/secret/metadata/bad/", "/v1/secret/metadata/odd/"],
        "only the failing folders are listed plainly"
    );
}

#[test]
fn a_detailed_listing_refused_on_any_page_or_folder_leaves_the_walk_to_the_plain_one() {
    let server = FaultServer::start(Fault::Answer(detailed_not_allowed));
    let mut cfg = config(&server.url);
    cfg.retries = 0;
    cfg.list_page_size = 1;
    let client = Client::new(cfg, Secret::new("s.token".into())).unwrap();
    let scanned = client.scan(MOUNT, "", &|_| true).expect("scan");
    // The root's second detailed page is denied: the root is listed plainly (all its keys, none
    // with a summary), and so is every folder after it.
    assert_eq!(
        scanned,
        vec![
            ("a".to_string(), None),
            ("b".to_string(), None),
            ("f/x".to_string(), None)
        ]
    );
    let requests = server.requests.lock().unwrap();
    let detailed = requests
        .iter()
        .filter(|r| target(r).contains("/detailed-metadata/"))
        .count();
    assert_eq!(detailed, 2, "{requests:?}");

    // A 405 at the first folder does the same, from the start.
    let server = FaultServer::start(Fault::Answer(detailed_not_allowed));
    let client = Client::new(config(&server.url), Secret::new("s.token".into())).unwrap();
    let scanned = client.scan(MOUNT, "f", &|_| true).expect("scan");
    assert_eq!(scanned, vec![("f/x".to_string(), None)]);
}
