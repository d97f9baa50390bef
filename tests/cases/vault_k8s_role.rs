//! `render vault-k8s-role` against a real OpenBao with its real Kubernetes auth method: the
//! script (and, on its own, the JSON requests) create the policy and the role, and credwatch then
//! logs in with a ServiceAccount token and reads its source; a token of another namespace is
//! refused. The cluster's TokenReview API is a loopback stand-in that finds every token authentic
//! as the ServiceAccount its own claims name, so the binding checks are OpenBao's own.

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::cases::values::assert_no_substring;
use crate::support::openbao::{JwtKey, OpenBao};
use crate::support::{Credwatch, Run, Scratch, read_request};

const NOW: &str = "2026-11-30T00:00:00Z";
const SA: &str = "kubernetes.io/serviceaccount/service-account.name";
const NS: &str = "kubernetes.io/serviceaccount/namespace";
const UID: &str = "kubernetes.io/serviceaccount/service-account.uid";

/// `POST /apis/authentication.k8s.io/v1/tokenreviews`: the token's own claims, authenticated.
fn start_token_review() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        // Bounded: the test logs in a handful of times.
        for stream in listener.incoming().take(32) {
            let Ok(mut stream) = stream else { continue };
            let request = read_request(&mut stream);
            let body = request.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            let token = serde_json::from_str::<Value>(body).unwrap_or_default()["spec"]["token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let claims: Value = token
                .split('.')
                .nth(1)
                .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
                .and_then(|p| serde_json::from_slice(&p).ok())
                .unwrap_or_default();
            let answer = json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "status": {
                    "authenticated": true,
                    "user": {
                        "username": format!("system:serviceaccount:{}:{}",
                            claims[NS].as_str().unwrap_or_default(),
                            claims[SA].as_str().unwrap_or_default()),
                        "uid": claims[UID],
                        "groups": ["system:serviceaccounts"],
                    },
                },
            })
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

/// A ServiceAccount token (legacy claims) for `namespace`/`name`.
fn sa_token(key: &JwtKey, namespace: &str, name: &str) -> String {
    key.sign(json!({
        "iss": "kubernetes/serviceaccount",
        NS: namespace,
        SA: name,
        UID: "9c3c3bfa-0000-4000-8000-000000000001",
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    }))
}

fn credwatch(config: &std::path::Path, args: &[&str]) -> Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(args)
        .run()
}

fn check(config: &std::path::Path) -> (Run, Value) {
    let run = credwatch(config, &["check", "--now", NOW, "-o", "json"]);
    let doc = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    (run, doc)
}

#[test]
fn the_rendered_role_lets_the_service_account_in_and_no_one_else() {
    let bao = OpenBao::start();
    bao.enable_auth("kubernetes", "kubernetes");
    bao.api(
        "POST",
        "auth/kubernetes/config",
        Some(json!({
            "kubernetes_host": start_token_review(),
            // No pod here to read the CA from; plain HTTP to the stand-in never uses it.
            "disable_local_ca_jwt": true,
            "kubernetes_ca_cert": rcgen::generate_simple_self_signed(vec!["kubernetes".into()])
                .unwrap()
                .cert
                .pem(),
        })),
    );
    bao.write_secret("ci/deploy-key", json!({ "key": "v" }));
    bao.write_custom_metadata(
        "ci/deploy-key",
        json!({ "expires_at": "2027-06-01T00:00:00Z" }),
    );
    bao.write_secret("other/secret", json!({ "key": "v" }));

    // A token watched by its accessor, through the same login (32 days: the dev server's
    // maximum TTL, past the 30-day warning from NOW).
    let (_, accessor) = bao.create_token_with(json!({ "policies": ["default"], "ttl": "768h" }));

    let s = Scratch::new();
    let key = JwtKey::generate();
    let login =
        "auth = { method = \"kubernetes\", role = \"credwatch\", token_file = \"sa-token\" }";
    let config = s.write(
        "credwatch.toml",
        &format!(
            "[[source]]\nkind = \"vault\"\naddress = \"{url}\"\npaths = [\"ci/deploy-key\"]\nretries = 0\n{login}\n\n\
             [[source]]\nkind = \"vault-token\"\nname = \"tokens\"\naddress = \"{url}\"\nretries = 0\n\
             accessors = {{ deploy-token = \"{accessor}\" }}\n{login}\n",
            url = bao.url
        ),
    );

    // Before the role exists, the login fails.
    s.write("sa-token", &sa_token(&key, "prod-monitoring", "credwatch"));
    let (run, _) = check(&config);
    run.assert_code(3);

    // The script, run by `sh` with an admin token, as the help says.
    let script = credwatch(
        &config,
        &["render", "vault-k8s-role", "--namespace", "prod-monitoring"],
    );
    script.assert_code(0);
    let applied = Command::new("sh")
        .arg("-c")
        .arg(&script.stdout)
        .env("BAO_ADDR", &bao.url)
        .env("BAO_TOKEN", &bao.root_token)
        .env("HOME", s.path(""))
        .output()
        .expect("run sh");
    assert!(
        applied.status.success(),
        "{}{}",
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr)
    );
    let role = bao.api("GET", "auth/kubernetes/role/credwatch", None);
    assert_eq!(
        role["data"]["bound_service_account_names"],
        json!(["credwatch"])
    );
    assert_eq!(
        role["data"]["bound_service_account_namespaces"],
        json!(["prod-monitoring"])
    );
    assert_eq!(role["data"]["token_policies"], json!(["credwatch"]));

    // The ServiceAccount logs in and reads its source with the policy of `render vault-policy`.
    let (run, doc) = check(&config);
    run.assert_code(0);
    let credential = |name: &str| {
        doc["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {doc:#}"))
            .clone()
    };
    assert_eq!(
        credential("ci/deploy-key")["expires_at"],
        "2027-06-01T00:00:00Z",
        "{doc:#}"
    );
    assert_eq!(credential("deploy-token")["status"], "OK", "{doc:#}");
    let token = std::fs::read_to_string(s.path("sa-token")).unwrap();
    assert_no_substring(
        &(run.stdout.clone() + &run.stderr),
        token.split('.').nth(2).unwrap(),
    );

    // Another namespace's ServiceAccount of the same name is refused by the role's binding.
    s.write("sa-token", &sa_token(&key, "staging", "credwatch"));
    let (run, doc) = check(&config);
    run.assert_code(3);
    assert_eq!(doc["sources"][0]["up"], false, "{doc:#}");

    // The JSON requests on their own create the same role and policy.
    bao.api("DELETE", "auth/kubernetes/role/credwatch", None);
    bao.api("DELETE", "sys/policies/acl/credwatch", None);
    let json_out = credwatch(
        &config,
        &[
            "render",
            "vault-k8s-role",
            "--namespace",
            "prod-monitoring",
            "--format",
            "json",
        ],
    );
    json_out.assert_code(0);
    let requests: Vec<Value> = serde_json::from_str(&json_out.stdout).unwrap();
    for r in &requests {
        let path = r["path"].as_str().unwrap().strip_prefix("/v1/").unwrap();
        bao.api(r["method"].as_str().unwrap(), path, Some(r["body"].clone()));
    }
    s.write("sa-token", &sa_token(&key, "prod-monitoring", "credwatch"));
    let (run, _) = check(&config);
    run.assert_code(0);
    // Least privilege: the role's token reads the watched secret's metadata and nothing else.
    let policy = bao.api("GET", "sys/policies/acl/credwatch", None);
    let hcl = policy["data"]["policy"].as_str().unwrap();
    assert!(hcl.contains("secret/metadata/ci/deploy-key"), "{hcl}");
    assert!(hcl.contains("auth/token/lookup-accessor"), "{hcl}");
    assert!(!hcl.contains("other"), "{hcl}");
}
